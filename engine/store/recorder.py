"""Turn one platform-neutral event into rows, inside the writer's transaction.

Every insert that could race a redelivery is an ``INSERT ... ON CONFLICT DO NOTHING``
on a unique key, never a lookup followed by an insert.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.events import (
    ButtonClicked,
    ChatMoved,
    CommandInvoked,
    Event,
    MessageEdited,
    MessagePosted,
    ReactionAdded,
    ReactionCountChanged,
    ReactionRemoved,
    ThreadOpened,
)
from engine.store.base import table_of
from engine.store.models import (
    Account,
    Chat,
    Community,
    CommunityMember,
    Interaction,
    Member,
    MembershipEvent,
    Message,
    ProcessedEvent,
    Reaction,
    ReactionCount,
    Thread,
)
from engine.text import clean_text

log = logging.getLogger(__name__)
MAX_KEY = 255
RECENT_MESSAGES = 50_000
_cm = table_of(CommunityMember)
# Statements the writer runs for every first-seen member, built once (see insert_ignore).
_ACCOUNT_BY_EXT = select(Account.id, Account.member_id).where(
    Account.platform == bindparam("platform"), Account.external_id == bindparam("external_id"))
_ACCOUNTS_BY_EXT = select(Account.external_id, Account.id, Account.member_id).where(
    Account.platform == bindparam("platform"), Account.external_id.in_(bindparam("ids", expanding=True)))
_PREFETCH_CHUNK = 500
# Names follow the newest event that carries them (a rename, a member first seen through a
# nameless event); an older event replayed later (an import) never turns one back.
_RENAME_ACCOUNT = (
    update(table_of(Account))
    .where(Account.id == bindparam("acc"),
           (Account.name_at.is_(None)) | (Account.name_at <= bindparam("at")),
           (Account.display_name != bindparam("name")) | (Account.username != bindparam("uname")))
    .values(display_name=bindparam("name"), username=bindparam("uname"), name_at=bindparam("at"))
)
_RENAME_MEMBER = update(table_of(Member)).where(Member.id == bindparam("m")).values(display_name=bindparam("name"))
_NEW_MEMBER = table_of(Member).insert().returning(table_of(Member).c.id)
_OPTED_OUT = (
    select(CommunityMember.member_id)
    .where(CommunityMember.member_id == bindparam("member_id"), CommunityMember.dm_opt_out.is_(True))
    .limit(1)
)
_TOUCH = (
    _cm.update()
    .where(_cm.c.community_id == bindparam("c"), _cm.c.member_id == bindparam("m"),
           _cm.c.last_seen_at < bindparam("at"))
    .values(last_seen_at=bindparam("at"))
)
_TICK = timedelta(microseconds=1)
_me = table_of(MembershipEvent)
_MEMBERSHIP_EVENT = _me.insert().values(
    community_id=bindparam("c"), member_id=bindparam("m"), kind=bindparam("kind"), at=bindparam("at"))
_SET_LEFT = (
    _cm.update()
    .where(_cm.c.community_id == bindparam("c"), _cm.c.member_id == bindparam("m"))
    .values(left_at=bindparam("left_at"))
)
_CLAIM_STMTS: dict[str, Any] = {}
_rc = table_of(ReactionCount)
_SET_REACTION_COUNT = (
    _rc.update()
    .where(_rc.c.chat_id == bindparam("chat"), _rc.c.message_external_id == bindparam("msg"),
           _rc.c.emoji == bindparam("e"))
    .values(count=bindparam("n"), at=bindparam("t"))
)


_IGNORE_STMTS: dict[tuple[str, str, str], Any] = {}


def insert_ignore(session: Session, table: Table, values: dict[str, Any], *, returning: Any = None) -> Any:
    """INSERT that does nothing on a unique-key conflict.

    Returns the ``returning`` column's value for a new row, None when the row existed
    (or, without ``returning``, True/False for inserted or not).
    """
    dialect = session.get_bind().dialect.name
    column = table.c[returning.key] if returning is not None else next(iter(table.primary_key.columns))
    key = (dialect, table.name, column.key)
    stmt = _IGNORE_STMTS.get(key)
    if stmt is None:
        # Built once and executed with parameters: building a statement with its values
        # each time costs more than the insert itself on the writer's hot path. RETURNING
        # (not rowcount, unreliable here on some drivers) says whether a row was made.
        ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        stmt = _IGNORE_STMTS[key] = ins.on_conflict_do_nothing().returning(column)
    row = session.connection().execute(stmt, values).first()
    if returning is not None:
        return None if row is None else row[0]
    return row is not None


@dataclass
class IdCache:
    """Ids the single writer has already resolved. Cleared whenever a batch rolls back."""

    communities: dict[tuple[str, str], int] = field(default_factory=dict)
    accounts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    chats: dict[tuple[str, str], int] = field(default_factory=dict)
    threads: dict[tuple[int, str], int] = field(default_factory=dict)
    memberships: set[tuple[int, int]] = field(default_factory=set)
    # Recent messages' (id, author), so replies and reactions need no lookup.
    recent: OrderedDict[tuple[int, str], tuple[int, int | None]] = field(default_factory=OrderedDict)
    # The names and titles last written, so an unchanged one costs no statement.
    names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    titles: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # The raw (uncleaned) name fields and titles last seen: the common case, an unchanged
    # name, then costs one dict lookup and no cleaning.
    seen_names: dict[tuple[str, str], tuple[str | None, str | None]] = field(default_factory=dict)
    seen_titles: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def clear(self) -> None:
        self.recent.clear()
        self.names.clear()
        self.titles.clear()
        self.seen_names.clear()
        self.seen_titles.clear()
        self.communities.clear()
        self.accounts.clear()
        self.chats.clear()
        self.threads.clear()
        self.memberships.clear()


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the recorder resolved for an event: internal ids for later projections."""

    event: Event
    community_id: int
    chat_id: int
    member_id: int | None  # None for anonymous events
    thread_id: int | None = None
    message_id: int | None = None  # the stored message (posted, or the reaction's target)
    target_member_id: int | None = None  # replied-to / reacted-to author
    repeat: bool = False  # a redelivery the dedup key could not tell apart: nothing to project


@dataclass
class RecorderOptions:
    keep_message_text: bool = True
    max_text_length: int = 16_384


def clean_field(value: object, limit: int) -> str:
    """A text field (title, name, username, emoji) as stored: cleaned like message text and
    cut to ``limit``; a value that is not a string is stored as "" rather than failing the
    event (and every later event of its chat with it)."""
    if not isinstance(value, str):
        return ""
    return clean_text(value[:limit])


def dedup_key(event: Event) -> str:
    key = event.dedup_key
    if len(key) > MAX_KEY:
        key = key[:200] + "#" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return key


class Recorder:
    """Writes the core rows for events. Stateless apart from its id cache."""

    def __init__(self, options: RecorderOptions | None = None) -> None:
        self.options = options or RecorderOptions()
        self.cache = IdCache()
        # Written once per batch (one executemany / a few updates), not once per event.
        self._interactions: list[dict[str, Any]] = []
        self._last_seen: dict[tuple[int, int], datetime] = {}
        # Set by the event being recorded: a member it created (who can have no community
        # row yet) and a community row it inserted (whose left_at is still empty).
        self._new_member: int | None = None
        # Accounts a batch's prefetch found missing; good until the batch's next flush.
        self._absent: set[tuple[str, str]] = set()
        self._new_membership: tuple[int, int] | None = None

    def reset(self) -> None:
        """Forget everything in memory (after a rollback)."""
        self.cache.clear()
        self._interactions.clear()
        self._last_seen.clear()
        self._absent.clear()

    def flush(self, session: Session) -> None:
        """Write what was deferred for the batch; call inside its transaction, last."""
        self._absent.clear()  # a write job may follow, and it could add accounts
        if self._interactions:
            session.connection().execute(table_of(Interaction).insert(), self._interactions)
            self._interactions = []
        if self._last_seen:
            # One executemany (pipelined by psycopg) instead of a round trip per member.
            session.connection().execute(
                _TOUCH,
                [{"c": c, "m": m, "at": at} for (c, m), at in self._last_seen.items()],
            )
            self._last_seen.clear()

    def _remember(self, chat_id: int, external_id: str, message_id: int, author: int | None) -> None:
        self.cache.recent[(chat_id, external_id)] = (message_id, author)
        if len(self.cache.recent) > RECENT_MESSAGES:
            self.cache.recent.popitem(last=False)

    # -- idempotency -------------------------------------------------------------------
    def claim(self, session: Session, event: Event) -> bool:
        """Mark the event handled; False if it was already (a redelivery)."""
        return bool(
            insert_ignore(
                session, table_of(ProcessedEvent), {"key": dedup_key(event), "at": event.at}
            )
        )

    def claim_many(self, session: Session, events: list[Event]) -> list[bool]:
        """Claim several events in one statement; per event, True if it is new.

        When the same key appears twice in ``events``, only its first occurrence is new.
        """
        keys = [dedup_key(e) for e in events]
        rows = {k: {"key": k, "at": e.at} for k, e in zip(keys, events, strict=True)}
        dialect = session.get_bind().dialect.name
        stmt = _CLAIM_STMTS.get(dialect)
        if stmt is None:
            # One statement built once, run as an executemany: SQLAlchemy's "insertmanyvalues"
            # sends it as multi-row INSERTs with RETURNING, and no per-batch compile is paid.
            ins = postgresql.insert(table_of(ProcessedEvent)) if dialect == "postgresql" else sqlite.insert(table_of(ProcessedEvent))
            stmt = _CLAIM_STMTS[dialect] = ins.on_conflict_do_nothing().returning(ProcessedEvent.key)
        fresh = set(session.connection().execute(stmt, list(rows.values())).scalars())
        out = []
        for key in keys:
            out.append(key in fresh)
            fresh.discard(key)
        return out

    def prefetch_accounts(self, session: Session, events: list[Event]) -> None:
        """Resolve the accounts of a batch's not yet cached users in one query per platform,
        so each first-seen member costs no lookup of its own (many in an import)."""
        wanted: dict[str, set[str]] = {}
        for event in events:
            if event.user_id and (str(event.platform), event.user_id) not in self.cache.accounts:
                wanted.setdefault(str(event.platform), set()).add(event.user_id)
        conn = session.connection()
        for platform, ids in wanted.items():
            todo = sorted(ids)
            for start in range(0, len(todo), _PREFETCH_CHUNK):
                chunk = todo[start:start + _PREFETCH_CHUNK]
                found = set()
                for ext, acc_id, member_id in conn.execute(_ACCOUNTS_BY_EXT, {"platform": platform, "ids": chunk}):
                    self.cache.accounts[(platform, ext)] = (int(acc_id), int(member_id))
                    found.add(ext)
                self._absent.update((platform, ext) for ext in chunk if ext not in found)

    # -- identity resolution ------------------------------------------------------------
    def community(self, session: Session, platform: str, external_id: str, title: str, at: datetime) -> int:
        key = (platform, external_id)
        if (hit := self.cache.communities.get(key)) is not None:
            if title:
                self._retitle(session, Community, hit, ("community", platform, external_id), title)
            return hit
        cid = insert_ignore(
            session,
            table_of(Community),
            {"platform": platform, "external_id": external_id, "title": clean_field(title, 256), "settings": {}, "created_at": at},
            returning=Community.id,
        )
        if cid is None:
            cid = session.connection().execute(
                select(Community.id).where(Community.platform == platform, Community.external_id == external_id)
            ).scalar_one()
        self.cache.communities[key] = cid
        if title:
            self._retitle(session, Community, int(cid), ("community", platform, external_id), title)
        return int(cid)

    def _retitle(self, session: Session, model: type[Community] | type[Chat], row_id: int,
                 key: tuple[str, str, str], title: str) -> None:
        """A community's or chat's title follows the latest event that names it."""
        if self.cache.seen_titles.get(key) == title:
            return
        raw, title = title, clean_text(title)[:256]
        if not title or self.cache.titles.get(key) == title:
            self.cache.seen_titles[key] = raw
            return
        session.connection().execute(
            update(table_of(model)).where(model.id == row_id, model.title != title).values(title=title))
        self.cache.titles[key] = title
        self.cache.seen_titles[key] = raw

    def _rename(self, session: Session, event: Event, key: tuple[str, str], ids: tuple[int, int]) -> None:
        """Account (and member) names follow the latest event that carries a name."""
        raw = (event.user_name, event.username)
        if self.cache.seen_names.get(key) == raw:
            return
        name = clean_text(event.user_name)[:256] if event.user_name else ""
        uname = clean_text(event.username)[:128] if event.username else ""
        if not name and not uname:
            return
        known = self.cache.names.get(key)
        conn = session.connection()
        if not name or not uname:  # the event carries one of the two: keep the other as stored
            if known is None:
                row = conn.execute(select(Account.display_name, Account.username).where(Account.id == ids[0])).first()
                if row is None:
                    return
                known = (row[0] or "", row[1] or "")
            name, uname = name or known[0], uname or known[1]
        if known == (name, uname):
            self.cache.names[key] = known
            self.cache.seen_names[key] = raw
            return
        changed = conn.execute(_RENAME_ACCOUNT, {"acc": ids[0], "at": event.at, "name": name, "uname": uname}).rowcount
        if changed:
            conn.execute(_RENAME_MEMBER, {"m": ids[1], "name": name})
            self.cache.names[key] = (name, uname)
            self.cache.seen_names[key] = raw
        else:  # the name was stored already, or this event is older than the stored name
            row = conn.execute(select(Account.display_name, Account.username).where(Account.id == ids[0])).first()
            if row is not None:
                self.cache.names[key] = (row[0] or "", row[1] or "")
            if self.cache.names.get(key) == (name, uname):
                self.cache.seen_names[key] = raw
            else:
                self.cache.seen_names.pop(key, None)

    def account(self, session: Session, event: Event) -> tuple[int, int]:
        """(account id, member id) for the event's user, creating both on first sight."""
        key = (str(event.platform), event.user_id)
        if (hit := self.cache.accounts.get(key)) is not None:
            self._rename(session, event, key, hit)
            return hit
        conn = session.connection()
        by_ext = {"platform": key[0], "external_id": key[1]}
        row = None if key in self._absent else conn.execute(_ACCOUNT_BY_EXT, by_ext).first()
        if row is None:
            name = clean_field(event.user_name or event.username or event.user_id, 256)
            member_id = conn.execute(_NEW_MEMBER, {"display_name": name, "created_at": event.at}).scalar_one()
            acc_id = insert_ignore(
                session,
                table_of(Account),
                {
                    "platform": key[0],
                    "external_id": key[1],
                    "member_id": member_id,
                    "username": clean_field(event.username, 128),
                    "display_name": name,
                    "is_bot": event.is_bot,
                    "created_at": event.at,
                    "name_at": event.at,
                },
                returning=Account.id,
            )
            if acc_id is None:  # another writer won the race: drop our orphan member
                session.connection().execute(table_of(Member).delete().where(Member.id == member_id))
                row = conn.execute(_ACCOUNT_BY_EXT, by_ext).one()
                result = (int(row[0]), int(row[1]))
            else:
                result = (int(acc_id), int(member_id))
                self._new_member = result[1]
                self.cache.names[key] = (name, clean_text(event.username)[:128])
                self.cache.accounts[key] = result
                return result
        else:
            result = (int(row[0]), int(row[1]))
        self.cache.accounts[key] = result
        self._rename(session, event, key, result)
        return result

    def chat(self, session: Session, event: Event, community_id: int) -> int:
        key = (str(event.platform), event.chat_id)
        if (hit := self.cache.chats.get(key)) is not None:
            if event.chat_title:
                self._retitle(session, Chat, hit, ("chat", *key), event.chat_title)
            return hit
        chat_id = insert_ignore(
            session,
            table_of(Chat),
            {
                "community_id": community_id,
                "platform": key[0],
                "external_id": key[1],
                "title": clean_field(event.chat_title, 256),
                "is_private": event.is_private,
            },
            returning=Chat.id,
        )
        if chat_id is None:
            chat_id = session.connection().execute(
                select(Chat.id).where(Chat.platform == key[0], Chat.external_id == key[1])
            ).scalar_one()
        self.cache.chats[key] = chat_id
        if event.chat_title:
            self._retitle(session, Chat, int(chat_id), ("chat", *key), event.chat_title)
        return int(chat_id)

    def thread(self, session: Session, chat_id: int, external_id: str, at: datetime,
               title: str = "", created_by: int | None = None) -> int:
        key = (chat_id, external_id)
        if (hit := self.cache.threads.get(key)) is not None:
            return hit
        tid = insert_ignore(
            session,
            table_of(Thread),
            {"chat_id": chat_id, "external_id": external_id, "title": clean_field(title, 512),
             "created_at": at, "created_by": created_by},
            returning=Thread.id,
        )
        if tid is None:
            tid = session.connection().execute(
                select(Thread.id).where(Thread.chat_id == chat_id, Thread.external_id == external_id)
            ).scalar_one()
            if title:
                session.connection().execute(update(Thread).where(Thread.id == tid, Thread.title == "").values(title=clean_field(title, 512)))
        self.cache.threads[key] = tid
        return int(tid)

    def membership(self, session: Session, community_id: int, member_id: int, at: datetime) -> None:
        key = (community_id, member_id)
        if key in self.cache.memberships:
            if at > self._last_seen.get(key, at - _TICK):
                self._last_seen[key] = at
            return
        # An opt-out from DMs follows the member into communities they join later (a member
        # created by this very event has no community yet, so nothing to look up).
        opted_out = member_id != self._new_member and (
            session.connection().execute(_OPTED_OUT, {"member_id": member_id}).first() is not None)
        inserted = insert_ignore(
            session,
            table_of(CommunityMember),
            {"community_id": community_id, "member_id": member_id, "joined_at": at,
             "last_seen_at": at, "role": 0, "dm_opt_out": opted_out},
        )
        if not inserted:
            session.connection().execute(
                update(CommunityMember)
                .where(CommunityMember.community_id == community_id,
                       CommunityMember.member_id == member_id,
                       CommunityMember.last_seen_at < at)
                .values(last_seen_at=at)
            )
        else:
            self._new_membership = key
        self.cache.memberships.add(key)

    def member_of(self, session: Session, platform: str, external_id: str | None) -> int | None:
        """The member id behind a platform account, if Cohort has seen it."""
        if not external_id:
            return None
        if (hit := self.cache.accounts.get((platform, external_id))) is not None:
            return hit[1]
        found = session.connection().execute(
            select(Account.id, Account.member_id).where(
                Account.platform == platform, Account.external_id == external_id
            )
        ).first()
        if found is None:
            return None
        self.cache.accounts[(platform, external_id)] = (int(found[0]), int(found[1]))
        return int(found[1])

    # -- the event itself ------------------------------------------------------------
    def record(self, session: Session, event: Event) -> Recorded:
        """Write the core rows for ``event``. The caller has already claimed it."""
        platform = str(event.platform)
        self._new_member = self._new_membership = None
        community_id = self.community(session, platform, event.community_id, event.chat_title if event.chat_id == event.community_id else "", event.at)
        chat_id = self.chat(session, event, community_id)
        member_id: int | None = None
        if event.user_id:
            _, member_id = self.account(session, event)
            if not event.is_private:
                self.membership(session, community_id, member_id, event.at)
        thread_id = (
            self.thread(session, chat_id, event.thread_id, event.at)
            if event.thread_id
            else None
        )
        base = Recorded(event, community_id, chat_id, member_id, thread_id)
        method = getattr(self, f"_on_{event.kind}", None)
        return method(session, base) if method else base

    def _log(self, session: Session, rec: Recorded, kind: str, *, target: int | None = None,
             message_id: int | None = None, weight: float = 1.0) -> None:
        if rec.member_id is None:
            return
        self._interactions.append({
            "community_id": rec.community_id, "member_id": rec.member_id, "kind": kind,
            "target_member_id": target, "item_id": None, "message_id": message_id,
            "thread_id": rec.thread_id, "weight": weight, "at": rec.event.at,
        })

    def _stored_text(self, text: str) -> tuple[str | None, bool]:
        if not self.options.keep_message_text:
            return None, False
        limit = self.options.max_text_length
        return (text[:limit], True) if len(text) > limit else (text, False)

    def _message_row(self, session: Session, rec: Recorded, external_id: str) -> tuple[int, int | None] | None:
        if (hit := self.cache.recent.get((rec.chat_id, external_id))) is not None:
            return hit
        row = session.connection().execute(
            select(Message.id, Message.author_id).where(
                Message.chat_id == rec.chat_id, Message.external_id == external_id
            )
        ).first()
        return (int(row[0]), row[1]) if row else None

    def _on_message(self, session: Session, rec: Recorded) -> Recorded:
        ev = rec.event
        assert isinstance(ev, MessagePosted)
        text = clean_text(ev.text)
        stored, truncated = self._stored_text(text)
        reply_author = None
        if ev.reply_to_message_id:
            target = self._message_row(session, rec, ev.reply_to_message_id)
            reply_author = target[1] if target else self.member_of(session, str(ev.platform), ev.reply_to_user_id)
        if ev.is_topic_start and rec.thread_id is not None:
            session.connection().execute(update(Thread).where(Thread.id == rec.thread_id, Thread.created_by.is_(None)).values(created_by=rec.member_id))
        msg_id = insert_ignore(
            session,
            table_of(Message),
            {
                "community_id": rec.community_id, "chat_id": rec.chat_id, "thread_id": rec.thread_id,
                "external_id": ev.message_id or "", "author_id": rec.member_id,
                "reply_to_external_id": ev.reply_to_message_id, "reply_to_author_id": reply_author,
                "posted_at": ev.at, "text_length": len(text), "text": stored,
                "text_truncated": truncated, "links": [clean_text(u) for u in ev.links],
                "mentions": [clean_text(m) for m in ev.mentions], "attachment": ev.attachment,
                "is_bot": ev.is_bot, "is_command": False, "is_topic_start": ev.is_topic_start,
                "forwarded": ev.forwarded,
            },
            returning=Message.id,
        )
        if msg_id is None:  # the same message id arrived under another dedup key
            return rec
        self._remember(rec.chat_id, ev.message_id or "", msg_id, rec.member_id)
        self._log(session, rec, "message", message_id=msg_id, weight=float(len(text)))
        if reply_author is not None and reply_author != rec.member_id:
            self._log(session, rec, "reply", target=reply_author, message_id=msg_id)
        for mention in ev.mentions:
            target_member = self.member_of(session, str(ev.platform), mention)
            if target_member is not None and target_member != rec.member_id:
                self._log(session, rec, "mention", target=target_member, message_id=msg_id)
        # Shared links are logged per catalog item (with item_id) by the catalog projection.
        return Recorded(ev, rec.community_id, rec.chat_id, rec.member_id, rec.thread_id, msg_id, reply_author)

    def _on_message_edited(self, session: Session, rec: Recorded) -> Recorded:
        ev = rec.event
        assert isinstance(ev, MessageEdited)
        text = clean_text(ev.text)
        stored, truncated = self._stored_text(text)
        session.connection().execute(
            update(Message)
            .where(Message.chat_id == rec.chat_id, Message.external_id == (ev.message_id or ""))
            .values(edited_at=ev.at, text=stored, text_truncated=truncated, text_length=len(text),
                    links=[clean_text(u) for u in ev.links], mentions=[clean_text(m) for m in ev.mentions])
        )
        return rec

    def _on_message_deleted(self, session: Session, rec: Recorded) -> Recorded:
        session.connection().execute(
            update(Message)
            .where(Message.chat_id == rec.chat_id, Message.external_id == (rec.event.message_id or ""))
            .values(deleted_at=rec.event.at)
        )
        return rec

    def _reaction_target(self, session: Session, rec: Recorded, target_user: str | None) -> tuple[int | None, int | None]:
        found = self._message_row(session, rec, rec.event.message_id or "")
        if found:
            return found
        return None, self.member_of(session, str(rec.event.platform), target_user)

    def _on_reaction_added(self, session: Session, rec: Recorded) -> Recorded:
        ev = rec.event
        assert isinstance(ev, ReactionAdded)
        if rec.member_id is None:
            return rec
        msg_id, target = self._reaction_target(session, rec, ev.target_user_id)
        new = insert_ignore(
            session, table_of(Reaction),
            {"chat_id": rec.chat_id, "message_external_id": ev.message_id or "", "member_id": rec.member_id,
             "target_member_id": target, "emoji": clean_field(ev.emoji, 64), "at": ev.at},
        )
        if not new:
            # Re-added after a removal, or a redelivery that came with a new time (Discord's
            # reaction payloads have none, so the key differs): only the first changes anything.
            readded = session.connection().execute(
                update(Reaction)
                .where(Reaction.chat_id == rec.chat_id, Reaction.message_external_id == (ev.message_id or ""),
                       Reaction.member_id == rec.member_id, Reaction.emoji == clean_field(ev.emoji, 64),
                       Reaction.removed_at.is_not(None))
                .values(removed_at=None)
            ).rowcount
            if not readded:
                return replace(rec, repeat=True)
        self._log(session, rec, "reaction", target=target, message_id=msg_id)
        return Recorded(ev, rec.community_id, rec.chat_id, rec.member_id, rec.thread_id, msg_id, target)

    def _on_reaction_removed(self, session: Session, rec: Recorded) -> Recorded:
        ev = rec.event
        assert isinstance(ev, ReactionRemoved)
        session.connection().execute(
            update(Reaction)
            .where(Reaction.chat_id == rec.chat_id, Reaction.message_external_id == (ev.message_id or ""),
                   Reaction.member_id == rec.member_id, Reaction.emoji == clean_field(ev.emoji, 64))
            .values(removed_at=ev.at)
        )
        msg_id, target = self._reaction_target(session, rec, ev.target_user_id)
        return Recorded(ev, rec.community_id, rec.chat_id, rec.member_id, rec.thread_id, msg_id, target)

    def _on_reaction_count(self, session: Session, rec: Recorded) -> Recorded:
        ev = rec.event
        assert isinstance(ev, ReactionCountChanged)
        emoji = clean_field(ev.emoji, 64)
        if not insert_ignore(
            session, table_of(ReactionCount),
            {"chat_id": rec.chat_id, "message_external_id": ev.message_id or "", "emoji": emoji,
             "count": ev.count, "at": ev.at},
        ):
            session.connection().execute(_SET_REACTION_COUNT, {
                "chat": rec.chat_id, "msg": ev.message_id or "", "e": emoji, "n": ev.count, "t": ev.at})
        msg_id, target = self._reaction_target(session, rec, None)
        return Recorded(ev, rec.community_id, rec.chat_id, rec.member_id, rec.thread_id, msg_id, target)

    def _on_member_joined(self, session: Session, rec: Recorded) -> Recorded:
        if rec.member_id is not None:
            conn = session.connection()
            key = (rec.community_id, rec.member_id)
            conn.execute(_MEMBERSHIP_EVENT, {"c": key[0], "m": key[1], "kind": "joined", "at": rec.event.at})
            if key != self._new_membership:  # a row this event inserted has no left_at to clear
                conn.execute(_SET_LEFT, {"c": key[0], "m": key[1], "left_at": None})
            self._log(session, rec, "join")
        return rec

    def _on_member_left(self, session: Session, rec: Recorded) -> Recorded:
        if rec.member_id is not None:
            conn = session.connection()
            c, m, at = rec.community_id, rec.member_id, rec.event.at
            conn.execute(_MEMBERSHIP_EVENT, {"c": c, "m": m, "kind": "left", "at": at})
            conn.execute(_SET_LEFT, {"c": c, "m": m, "left_at": at})
            self._log(session, rec, "leave")
        return rec

    def _on_thread_opened(self, session: Session, rec: Recorded) -> Recorded:
        ev = rec.event
        assert isinstance(ev, ThreadOpened)
        if rec.thread_id is not None:
            session.connection().execute(update(Thread).where(Thread.id == rec.thread_id).values(
                title=clean_field(ev.title, 512), created_by=rec.member_id))
        self._log(session, rec, "thread_opened")
        return rec

    def _on_chat_moved(self, session: Session, rec: Recorded) -> Recorded:
        """Re-key the chat (and a community identified by it) to its new platform id, so
        the group's history, points and settings carry on under the new id. If the new id
        already has a chat of its own, both are kept and a warning is logged."""
        ev = rec.event
        assert isinstance(ev, ChatMoved)
        platform, old, new = str(ev.platform), ev.chat_id, ev.new_chat_id
        conn = session.connection()
        if not new or new == old:
            return rec
        taken = conn.execute(select(Chat.id).where(Chat.platform == platform, Chat.external_id == new)).first()
        if taken is not None:
            log.warning("%s chat %s moved to %s, which already has history; kept apart", platform, old, new)
            return rec
        conn.execute(update(Chat).where(Chat.platform == platform, Chat.external_id == old).values(external_id=new))
        if not conn.execute(select(Community.id).where(Community.platform == platform,
                                                       Community.external_id == new)).first():
            conn.execute(update(Community).where(Community.platform == platform, Community.external_id == old)
                         .values(external_id=new))
        self.cache.clear()  # ids are keyed by external id
        return rec

    def _on_command(self, session: Session, rec: Recorded) -> Recorded:
        ev = rec.event
        assert isinstance(ev, CommandInvoked)
        self._log(session, rec, f"command:{ev.name[:24]}")
        return rec

    def _on_button_clicked(self, session: Session, rec: Recorded) -> Recorded:
        ev = rec.event
        assert isinstance(ev, ButtonClicked)
        self._log(session, rec, "click")
        return rec
