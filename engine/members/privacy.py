"""Privacy: DM opt-out, data export (``/mydata``) and erasure (``/forget``).

The hooks
---------
Every capability that stores member data declares a :class:`PrivacyHook` in its
``Module.privacy`` (an object with ``name``, ``forget_member(session, member_id) -> int``
and ``export_member(session, member_id) -> dict``; :class:`ModuleHook` adapts a module
exposing those as module-level functions), and optionally, for ``/link`` (see
:mod:`engine.members.linking`):

* ``before_merge(session, keep_id, drop_id) -> int``: runs *before* the generic FK
  re-pointing, to fold per-member state a unique key would otherwise make collide (the
  dropped member's colliding row is deleted by the generic step);
* ``after_merge(session, keep_id) -> int``: runs *after* it, to rebuild derived caches
  (e.g. a balance recomputed from the re-pointed ledger).

The composition root collects them in the capability list's order and hands them to the
callers (``privacy_hooks``); nothing here names a module. Two hooks wrapping the very
same ``forget_member`` function count once.

Forgetting runs every hook in order inside the caller's transaction, then :data:`CORE`
(the core tables), which also sweeps any reference to the member a hook left behind
(:func:`engine.members.refs.sweep_member`) and finally deletes the member row.
Everything happens in one transaction: it all goes or nothing does.

Messages: anonymised, not deleted
---------------------------------
A forgotten member's messages keep their row (community, chat, thread, time, platform
message id) with ``author_id``, text, text length, links, mentions and attachment kind
cleared. Other members' replies, reactions and interactions point at these rows and
thread statistics count them; anonymous posts (author NULL) are already a normal case
for every reader. Nothing that says who wrote it or what it said remains.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from engine.members.refs import affected, sweep_member
from engine.store.models import (
    Account,
    AuditEntry,
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

log = logging.getLogger(__name__)

@runtime_checkable
class PrivacyHook(Protocol):
    """One module's share of erasing and exporting a member."""

    @property
    def name(self) -> str: ...

    def forget_member(self, session: Session, member_id: int) -> int:
        """Delete or anonymise the member's rows; returns how many rows changed."""
        ...

    def export_member(self, session: Session, member_id: int) -> dict[str, Any]:
        """The member's data held by this module, JSON-serialisable."""
        ...


@dataclass(frozen=True, slots=True)
class ModuleHook:
    """Adapts a module with module-level hook functions to :class:`PrivacyHook`."""

    name: str
    module: ModuleType

    def forget_member(self, session: Session, member_id: int) -> int:
        return int(self.module.forget_member(session, member_id))

    def export_member(self, session: Session, member_id: int) -> dict[str, Any]:
        return dict(self.module.export_member(session, member_id))

    def before_merge(self, session: Session, keep_id: int, drop_id: int) -> int:
        fn = getattr(self.module, "before_merge", None)
        return int(fn(session, keep_id, drop_id) or 0) if fn is not None else 0

    def after_merge(self, session: Session, keep_id: int) -> int:
        fn = getattr(self.module, "after_merge", None)
        return int(fn(session, keep_id) or 0) if fn is not None else 0


def distinct(hooks: Sequence[PrivacyHook]) -> list[PrivacyHook]:
    """``hooks`` without repeats (two wrapping the same ``forget_member`` count once)."""
    seen: set[object] = set()
    result = []
    for hook in hooks:
        fn = getattr(hook, "module", None)
        key = getattr(fn, "forget_member", None) if fn is not None else hook
        if id(key) in seen:
            continue
        seen.add(id(key))
        result.append(hook)
    return result


def before_merge(hook: PrivacyHook, session: Session, keep_id: int, drop_id: int) -> int:
    fn = getattr(hook, "before_merge", None)
    return int(fn(session, keep_id, drop_id) or 0) if fn is not None else 0


def after_merge(hook: PrivacyHook, session: Session, keep_id: int) -> int:
    fn = getattr(hook, "after_merge", None)
    return int(fn(session, keep_id) or 0) if fn is not None else 0


# -- opt-out -----------------------------------------------------------------------------
def set_dm_opt_out(session: Session, member_id: int, opt_out: bool) -> int:
    """Set ``dm_opt_out`` on every membership of the member; returns memberships changed.

    The choice is the person's, not a community's: :func:`is_opted_out` reads it across all
    their memberships, so it also covers communities they join later.
    """
    return affected(
        session,
        update(CommunityMember)
        .where(CommunityMember.member_id == member_id, CommunityMember.dm_opt_out.is_not(opt_out))
        .values(dm_opt_out=opt_out),
    )


def is_opted_out(session: Session, member_id: int, community_id: int | None = None) -> bool:
    """Whether the member opted out of private messages from Cohort.

    An opt-out follows the person: a membership made after ``/optout`` (a community joined
    later) starts with the flag off, yet any opted-out membership counts. ``community_id``
    is accepted for callers that have one and does not narrow the answer.
    """
    query = select(func.count()).where(CommunityMember.member_id == member_id, CommunityMember.dm_opt_out)
    return bool(session.execute(query).scalar_one())


# -- the core hook -------------------------------------------------------------------------
def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _private_communities(session: Session, member_id: int) -> list[int]:
    """Communities that are nothing but this member's private chat with the bot.

    Adapters record a DM as its own community holding one private chat (for Telegram its
    id is the user's id), so such rows are personal data too. A community qualifies when
    all its chats are private, the member acted there and nobody else did.
    """
    acted = select(Interaction.community_id).where(Interaction.member_id == member_id).union(
        select(Message.community_id).where(Message.author_id == member_id)
    )
    candidates = [int(c) for c in session.execute(acted).scalars()]
    result: list[int] = []
    for cid in candidates:
        public_chat = session.execute(
            select(exists().where(Chat.community_id == cid, Chat.is_private.is_(False)))
        ).scalar_one()
        others = session.execute(
            select(
                exists().where(Interaction.community_id == cid, Interaction.member_id != member_id)
                | exists().where(
                    Message.community_id == cid, Message.author_id.is_not(None), Message.author_id != member_id
                )
                | exists().where(CommunityMember.community_id == cid)
            )
        ).scalar_one()
        has_chat = session.execute(select(exists().where(Chat.community_id == cid))).scalar_one()
        if has_chat and not public_chat and not others:
            result.append(cid)
    return result


def _own_private_chats(session: Session, member_id: int, accounts: list[tuple[str, str]]) -> list[tuple[int, str, str]]:
    """(chat id, platform, external id) of the member's own private chats with the bot.

    Adapters record every DM in one shared per-platform community (``community_id=""``),
    so the chat, not the community, is what belongs to the member: a private chat named
    after one of their accounts (Telegram: the DM's chat id is the user id) or one where
    they wrote or reacted, as long as no other person wrote there (a group DM stays).
    """
    named = [(Chat.platform == p) & (Chat.external_id == e) for p, e in accounts]
    acted = or_(
        Chat.id.in_(select(Message.chat_id).where(Message.author_id == member_id)),
        Chat.id.in_(select(Reaction.chat_id).where(Reaction.member_id == member_id)),
        *named,
    )
    rows = session.execute(select(Chat.id, Chat.platform, Chat.external_id).where(Chat.is_private.is_(True), acted))
    result = []
    for chat_id, platform, external_id in rows:
        someone_else = session.execute(select(exists().where(
            Message.chat_id == chat_id, Message.author_id.is_not(None), Message.author_id != member_id,
            Message.is_bot.is_(False)))).scalar_one()
        if not someone_else:
            result.append((int(chat_id), str(platform), str(external_id)))
    return result


def _like_literal(text: str) -> str:
    """``text`` LIKE-escaped (with ``\\``) so an id is matched literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _processed_keys_filter(accounts: list[tuple[str, str]], private_chats: Sequence[tuple[str, str]] = ()) -> Any:
    """Dedup keys that embed one of these platform user ids (reactions, joins, clicks) or
    name one of the member's private chats (every event there: ``<platform>:<chat>:...``;
    on Telegram the DM chat id is the user id, e.g. ``telegram:<user>:<message>:command``).

    See ``Event.dedup_key`` and subclasses for the formats matched here.
    """
    lit = _like_literal
    clauses = [ProcessedEvent.key.like(f"{lit(p)}:{lit(chat)}:%", escape="\\") for p, chat in private_chats]
    for platform, ext in accounts:
        p, u = lit(platform), lit(ext)
        for pattern in (
            f"{p}:%:reaction:{u}:%",
            f"{p}:%:unreaction:{u}:%",
            f"{p}:%:{u}:joined:%",
            f"{p}:%:{u}:left:%",
            f"{p}:click:%:{u}:%",
        ):
            clauses.append(ProcessedEvent.key.like(pattern, escape="\\"))
    return or_(*clauses) if clauses else None


class CoreHook:
    """Erases and exports the member's rows in the core tables (``engine.store.models``).

    Runs last: after the core tables it sweeps leftover references in any table and then
    deletes the member row itself.
    """

    name = "core"

    def forget_member(self, session: Session, member_id: int) -> int:
        """Erase the member from the core tables; returns rows deleted or changed."""
        rows = 0
        accounts = [
            (str(p), str(e))
            for p, e in session.execute(
                select(Account.platform, Account.external_id).where(Account.member_id == member_id)
            )
        ]
        private = _private_communities(session, member_id)
        own_chats = _own_private_chats(session, member_id, accounts)

        def run(stmt: Any) -> None:
            nonlocal rows
            rows += affected(session, stmt)

        run(
            update(Message)
            .where(Message.author_id == member_id)
            .values(author_id=None, text=None, text_length=0, text_truncated=False, links=[],
                    mentions=[], attachment=None)
        )
        run(update(Message).where(Message.reply_to_author_id == member_id).values(reply_to_author_id=None))
        run(update(Thread).where(Thread.created_by == member_id).values(created_by=None))
        run(delete(Reaction).where(Reaction.member_id == member_id))
        run(update(Reaction).where(Reaction.target_member_id == member_id).values(target_member_id=None))
        run(delete(Interaction).where(Interaction.member_id == member_id))
        run(update(Interaction).where(Interaction.target_member_id == member_id).values(target_member_id=None))
        run(delete(MembershipEvent).where(MembershipEvent.member_id == member_id))
        run(delete(CommunityMember).where(CommunityMember.member_id == member_id))
        # Audit entries keep what happened; who it was and any free text about them go.
        touched = or_(AuditEntry.actor_id == member_id, AuditEntry.target_member_id == member_id)
        run(update(AuditEntry).where(touched).values(details={"redacted": "member forgotten"}))
        run(update(AuditEntry).where(AuditEntry.actor_id == member_id).values(actor_id=None))
        run(update(AuditEntry).where(AuditEntry.target_member_id == member_id).values(target_member_id=None))
        keys = _processed_keys_filter(accounts, [(p, e) for _, p, e in own_chats])
        if keys is not None:
            run(delete(ProcessedEvent).where(keys))
        if own_chats:
            # The member's DMs with the bot: the chat row (its title can be their name) and
            # everything in it go; nobody else's data is there.
            ids = [cid for cid, _, _ in own_chats]
            try:
                with session.begin_nested():
                    in_dm = select(Message.id).where(Message.chat_id.in_(ids))
                    run(update(Interaction).where(Interaction.message_id.in_(in_dm)).values(message_id=None))
                    run(delete(Reaction).where(Reaction.chat_id.in_(ids)))
                    run(delete(ReactionCount).where(ReactionCount.chat_id.in_(ids)))
                    run(delete(Message).where(Message.chat_id.in_(ids)))
                    in_threads = select(Thread.id).where(Thread.chat_id.in_(ids))
                    run(update(Interaction).where(Interaction.thread_id.in_(in_threads)).values(thread_id=None))
                    run(delete(Thread).where(Thread.chat_id.in_(ids)))
                    run(delete(Chat).where(Chat.id.in_(ids)))
            except Exception:
                log.exception("could not delete the private chats %s; kept", ids)
        if private:
            # Savepoint: a table of another module referencing communities without
            # ON DELETE CASCADE must not abort the whole erasure.
            try:
                with session.begin_nested():
                    run(delete(Message).where(Message.community_id.in_(private)))
                    run(delete(Chat).where(Chat.community_id.in_(private)))
                    run(delete(Community).where(Community.id.in_(private)))
            except Exception:
                log.exception("could not delete private-chat communities %s; kept", private)
        run(delete(Account).where(Account.member_id == member_id))
        leftovers = sweep_member(session, member_id)
        if leftovers:
            log.warning("forget: rows with no privacy hook were swept: %s", leftovers)
            rows += sum(leftovers.values())
        run(delete(Member).where(Member.id == member_id))
        return rows

    def export_member(self, session: Session, member_id: int) -> dict[str, Any]:
        """The member's core rows: profile, accounts, memberships, messages, reactions,
        interactions, membership events and audit entries about them."""
        member = session.get(Member, member_id)
        if member is None:
            return {}
        community = {
            int(c.id): {"platform": c.platform, "id": c.external_id, "title": c.title}
            for c in session.execute(select(Community)).scalars()
        }
        chats = {
            int(c.id): {"platform": c.platform, "id": c.external_id, "title": c.title}
            for c in session.execute(
                select(Chat).where(Chat.id.in_(select(Message.chat_id).where(Message.author_id == member_id)))
            ).scalars()
        }
        chats_by_id = dict(chats)
        for c in session.execute(
            select(Chat).where(Chat.id.in_(select(Reaction.chat_id).where(Reaction.member_id == member_id)))
        ).scalars():
            chats_by_id[int(c.id)] = {"platform": c.platform, "id": c.external_id, "title": c.title}

        def cname(cid: int | None) -> Any:
            return community.get(int(cid)) if cid is not None else None

        return {
            "member": {"id": member.id, "display_name": member.display_name, "created_at": _iso(member.created_at)},
            "accounts": [
                {"platform": a.platform, "user_id": a.external_id, "username": a.username,
                 "display_name": a.display_name, "is_bot": a.is_bot, "dm_reachable": a.dm_reachable,
                 "created_at": _iso(a.created_at)}
                for a in session.execute(select(Account).where(Account.member_id == member_id)).scalars()
            ],
            "memberships": [
                {"community": cname(m.community_id), "joined_at": _iso(m.joined_at),
                 "last_seen_at": _iso(m.last_seen_at), "left_at": _iso(m.left_at), "role": m.role,
                 "dm_opt_out": m.dm_opt_out}
                for m in session.execute(
                    select(CommunityMember).where(CommunityMember.member_id == member_id)
                ).scalars()
            ],
            "messages": [
                {"community": cname(m.community_id), "chat": chats_by_id.get(int(m.chat_id)),
                 "message_id": m.external_id, "posted_at": _iso(m.posted_at), "edited_at": _iso(m.edited_at),
                 "deleted_at": _iso(m.deleted_at), "text": m.text, "text_length": m.text_length,
                 "links": m.links, "attachment": m.attachment, "reply_to_message_id": m.reply_to_external_id}
                for m in session.execute(
                    select(Message).where(Message.author_id == member_id).order_by(Message.posted_at)
                ).scalars()
            ],
            "reactions": [
                {"chat": chats_by_id.get(int(r.chat_id)), "message_id": r.message_external_id,
                 "emoji": r.emoji, "at": _iso(r.at), "removed_at": _iso(r.removed_at)}
                for r in session.execute(
                    select(Reaction).where(Reaction.member_id == member_id).order_by(Reaction.at)
                ).scalars()
            ],
            # Targets are other people; only what the member did is theirs to receive.
            "interactions": [
                {"community": cname(i.community_id), "kind": i.kind, "weight": i.weight, "at": _iso(i.at)}
                for i in session.execute(
                    select(Interaction).where(Interaction.member_id == member_id).order_by(Interaction.at)
                ).scalars()
            ],
            "membership_events": [
                {"community": cname(e.community_id), "kind": e.kind, "at": _iso(e.at)}
                for e in session.execute(
                    select(MembershipEvent).where(MembershipEvent.member_id == member_id)
                ).scalars()
            ],
            "audit_entries": [
                {"community": cname(a.community_id), "action": a.action, "at": _iso(a.at),
                 "as": "actor" if a.actor_id == member_id else "target", "details": a.details}
                for a in session.execute(
                    select(AuditEntry).where(
                        or_(AuditEntry.actor_id == member_id, AuditEntry.target_member_id == member_id)
                    ).order_by(AuditEntry.at)
                ).scalars()
            ],
        }


CORE = CoreHook()


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What :func:`forget_member` did: rows per hook name (no personal data)."""

    member_id: int
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def forget_member(session: Session, member_id: int, hooks: Sequence[PrivacyHook]) -> ForgetReport:
    """Erase a member everywhere: the capabilities' ``hooks`` in order, then the core hook.

    Returns rows changed per hook.
    Raises LookupError if the member does not exist; whatever a hook raises propagates
    (the caller's transaction then rolls back and nothing is erased).
    """
    if session.get(Member, member_id) is None:
        raise LookupError(f"member {member_id} does not exist")
    rows: dict[str, int] = {}
    for hook in (*distinct(hooks), CORE):
        rows[hook.name] = hook.forget_member(session, member_id)
    return ForgetReport(member_id, rows)


def export_member(session: Session, member_id: int, hooks: Sequence[PrivacyHook]) -> dict[str, Any]:
    """Everything Cohort holds about a member: ``{"core": {...}, <hook name>: {...}}``.

    Values are JSON-serialisable (datetimes as ISO strings in the core section; modules
    are asked to do the same). Raises LookupError if the member does not exist.
    """
    if session.get(Member, member_id) is None:
        raise LookupError(f"member {member_id} does not exist")
    data: dict[str, Any] = {"core": CORE.export_member(session, member_id)}
    for hook in distinct(hooks):
        data[hook.name] = hook.export_member(session, member_id)
    return data
