"""Catalog projection: shared links and forum threads become items, and what members do
with them (shares, reactions, thread replies, button clicks) lands in the interaction log.

Runs in the writer's transaction for every stored event. Work for one event is done in
a SAVEPOINT so a catalog problem is logged and never costs the event itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from engine.args import is_ascii_number
from engine.catalog import service
from engine.catalog.items import ItemSpec, key_from_url, slugify, unique_key
from engine.catalog.tables import CatalogItem, CatalogItemMessage, RecommendationImpression
from engine.events import ButtonClicked, MessagePosted, ReactionAdded, ThreadOpened
from engine.store.base import table_of
from engine.store.community_settings import lookup, stored_settings
from engine.store.models import Interaction
from engine.store.recorder import Recorded
from engine.store.writer import Notice
from engine.text import normalize_url

log = logging.getLogger(__name__)
_HASHTAG = re.compile(r"(?<![\w#])#([\w][\w+.-]{0,31})", re.UNICODE)
_URL = re.compile(r"https?://\S+")
_THREAD_CACHE = 20_000


def click_data(impression_id: int, action: str) -> str:
    """Button data for a recommendation: ``rec:<impression id>:<action>`` (like | done)."""
    return f"rec:{impression_id}:{action}"


def parse_click(data: str) -> tuple[int, str] | None:
    """``(impression id, action)`` from :func:`click_data` output, or None for other data."""
    parts = data.split(":")
    if len(parts) == 3 and parts[0] == "rec" and is_ascii_number(parts[1]) and parts[2] in ("like", "done"):
        return int(parts[1]), parts[2]
    return None


# Discord's markup for user, role and channel mentions (<@1>, <@!1>, <@&1>, <#1>) and custom
# emoji (<:name:1>, <a:name:1>): a title shows none of it.
_MENTION = re.compile(r"<(?:@[!&]?|#)\d+>")
_CUSTOM_EMOJI = re.compile(r"<a?:\w+:\d+>")


def _title_from_text(text: str, url: str) -> str:
    text = _CUSTOM_EMOJI.sub("", _MENTION.sub("", text))
    title = _HASHTAG.sub("", _URL.sub("", text)).strip(" \n\t-–—:|,")
    title = re.sub(r"\s+", " ", title)
    return (title[:120] + "…") if len(title) > 120 else (title or url[:200])


_ITEMS_OF_MESSAGE = select(CatalogItemMessage.item_id).where(
    CatalogItemMessage.message_id == bindparam("message_id"))
# service.log_interaction's row, from a Core statement built once: replies in item threads
# and reactions to shared links are frequent, and building the insert (and the ORM's bulk
# insert path) cost more than running it.
_LOG_ITEM = insert(table_of(Interaction)).values(
    community_id=bindparam("c"), member_id=bindparam("m"), kind=bindparam("kind"), target_member_id=None,
    item_id=bindparam("item"), message_id=bindparam("msg"), thread_id=bindparam("thread"), weight=1.0,
    at=bindparam("at"))


# Keys from ``lo`` up to (not with) ``hi``: a range on the (community_id, key) index, where
# service.free_key's LIKE reads the community's whole catalog for every new thread (a long
# import made that quadratic).
_KEYS_BETWEEN = select(CatalogItem.key).where(
    CatalogItem.community_id == bindparam("c"), CatalogItem.key >= bindparam("lo"),
    CatalogItem.key < bindparam("hi"))


def _free_key(session: Session, community_id: int, wanted: str) -> str:
    """What ``service.free_key`` returns, read through the index on SQLite; elsewhere that
    function. unique_key only asks about ``wanted`` and ``stem-N``: in SQLite's byte-wise
    text order both lie from ``stem`` up to ``stem.`` ('.' follows '-'), and other keys in
    that range change nothing."""
    if session.get_bind().dialect.name != "sqlite":
        return service.free_key(session, community_id, wanted)
    stem = wanted[:60]
    hi = f"{stem}."
    taken = set(session.scalars(_KEYS_BETWEEN, {"c": community_id, "lo": stem, "hi": hi}))
    if not stem <= wanted < hi:  # a longer wanted can sort past the range: ask for it alone
        taken |= set(session.scalars(_KEYS_BETWEEN, {"c": community_id, "lo": wanted, "hi": f"{wanted}\x00"}))
    return unique_key(wanted, taken)


def _log_item(session: Session, rec: Recorded, item_id: int, kind: str, at: datetime, *,
              message_id: int | None = None, thread_id: int | None = None) -> None:
    session.flush()  # what session.execute's autoflush did
    session.connection().execute(_LOG_ITEM, {"c": rec.community_id, "m": rec.member_id, "kind": kind, "item": item_id,
                                "msg": message_id, "thread": thread_id, "at": at})


class CatalogProjection:
    """Writer projection turning chat activity into catalog items and item interactions."""

    name = "catalog"

    def __init__(self) -> None:
        self._thread_items: dict[int, int | None] = {}

    def reset(self) -> None:
        """Forget cached thread → item lookups (after a rollback)."""
        self._thread_items.clear()

    def project(self, session: Session, recorded: Recorded) -> Sequence[Notice]:
        """Apply one stored event; returns points notices from completions (else none)."""
        ev = recorded.event
        if recorded.member_id is None or ev.is_bot:
            return ()
        # The common cases read first and write only when an item is involved, with no
        # savepoint: a savepoint per chat message would cost more than the message itself.
        if isinstance(ev, ReactionAdded):
            self._on_reaction(session, recorded, ev)
            return ()
        if isinstance(ev, MessagePosted) and not ev.links:
            if recorded.thread_id is not None:
                self._on_thread_reply(session, recorded, ev)
            return ()
        relevant = isinstance(ev, MessagePosted | ThreadOpened) or (
            isinstance(ev, ButtonClicked) and (ev.data.startswith("done:") or ev.data.startswith("rec:"))
        )
        if not relevant:
            return ()
        try:
            with session.begin_nested():
                return self._apply(session, recorded)
        except Exception:
            self._thread_items.clear()
            log.exception("catalog projection skipped %s", ev.dedup_key)
            return ()

    def _apply(self, session: Session, rec: Recorded) -> Sequence[Notice]:
        ev = rec.event
        assert rec.member_id is not None
        if isinstance(ev, MessagePosted):
            self._on_message(session, rec, ev)
        elif isinstance(ev, ThreadOpened):
            self._on_thread(session, rec, ev)
        elif isinstance(ev, ButtonClicked):
            return self._on_click(session, rec, ev)
        return ()

    def _thread_item(self, session: Session, thread_id: int) -> int | None:
        if thread_id not in self._thread_items:
            if len(self._thread_items) > _THREAD_CACHE:
                self._thread_items.clear()
            self._thread_items[thread_id] = session.scalars(
                select(CatalogItem.id).where(CatalogItem.thread_id == thread_id)).first()
        return self._thread_items[thread_id]

    def _on_reaction(self, session: Session, rec: Recorded, ev: ReactionAdded) -> None:
        """A reaction on a message that carried items is an interaction with each item."""
        if rec.message_id is None or rec.member_id is None:
            return
        items = session.execute(_ITEMS_OF_MESSAGE, {"message_id": rec.message_id}).scalars().all()
        for item_id in items:
            _log_item(session, rec, item_id, "reaction", ev.at, message_id=rec.message_id)

    def _on_thread_reply(self, session: Session, rec: Recorded, ev: MessagePosted) -> None:
        """A reply inside a thread that is a catalog item is an interaction with it."""
        if rec.thread_id is None or rec.member_id is None or ev.is_topic_start:
            return
        item_id = self._thread_item(session, rec.thread_id)
        if item_id is not None:
            _log_item(session, rec, item_id, "reply_in_thread", ev.at, message_id=rec.message_id,
                      thread_id=rec.thread_id)

    def _on_message(self, session: Session, rec: Recorded, ev: MessagePosted) -> None:
        assert rec.member_id is not None
        self._on_thread_reply(session, rec, ev)
        tags = tuple(dict.fromkeys(t.lower() for t in _HASHTAG.findall(ev.text)))
        for raw in dict.fromkeys(ev.links):
            try:
                url = normalize_url(raw)
            except ValueError:
                continue  # not an http(s) link (mailto:, tg://...): nothing to recommend
            item_id = session.scalars(select(CatalogItem.id).where(
                CatalogItem.community_id == rec.community_id, CatalogItem.url == url)).first()
            if item_id is None:
                key = _free_key(session, rec.community_id, key_from_url(url))
                spec = ItemSpec(key=key, title=_title_from_text(ev.text, url), url=url, kind="link", tags=tags)
                item_id = service.add_item(session, rec.community_id, spec, at=ev.at).id
            if rec.message_id is not None and session.get(CatalogItemMessage, (rec.message_id, item_id)) is None:
                session.add(CatalogItemMessage(message_id=rec.message_id, item_id=item_id))
                session.flush()
            _log_item(session, rec, item_id, "share", ev.at, message_id=rec.message_id, thread_id=rec.thread_id)

    def _on_thread(self, session: Session, rec: Recorded, ev: ThreadOpened) -> None:
        assert rec.member_id is not None
        if rec.thread_id is None or self._thread_item(session, rec.thread_id) is not None:
            return
        title = (ev.title or f"thread {ev.thread_id}").strip()[:256]
        key = _free_key(session, rec.community_id, f"thread-{slugify(title, str(ev.thread_id))}"[:60])
        tags = tuple(dict.fromkeys(t.lower() for t in _HASHTAG.findall(title)))
        spec = ItemSpec(key=key, title=title, kind="thread", tags=tags)
        item = service.add_item(session, rec.community_id, spec, at=ev.at, thread_id=rec.thread_id)
        self._thread_items[rec.thread_id] = item.id
        _log_item(session, rec, item.id, "share", ev.at, thread_id=rec.thread_id)

    def _on_click(self, session: Session, rec: Recorded, ev: ButtonClicked) -> Sequence[Notice]:
        """Apply a catalog button press; the "click" notice tells the presser what it did."""
        assert rec.member_id is not None
        if ev.data.startswith("done:"):
            item = service.find_item(session, rec.community_id, ev.data.removeprefix("done:"))
            if item is None:
                return (_click_notice(session, rec.community_id, rec.member_id, "gone"),)
            return self._done(session, rec.community_id, rec.member_id, item, ev.at)
        parsed = parse_click(ev.data)
        if parsed is None:
            return ()
        impression_id, action = parsed
        shown = session.get(RecommendationImpression, impression_id)
        # Only the member it was shown to counts (a forwarded keyboard is not a click-through).
        if shown is None or shown.member_id != rec.member_id:
            return (_click_notice(session, rec.community_id, rec.member_id, "not_yours"),)
        session.execute(update(RecommendationImpression).where(
            RecommendationImpression.id == impression_id, RecommendationImpression.clicked_at.is_(None))
            .values(clicked_at=ev.at))
        service.log_interaction(session, shown.community_id, rec.member_id, shown.item_id, "click", ev.at)
        item = session.get(CatalogItem, shown.item_id)
        if item is None:
            return (_click_notice(session, rec.community_id, rec.member_id, "gone"),)
        if action == "done":
            return self._done(session, shown.community_id, rec.member_id, item, ev.at)
        return (_click_notice(session, shown.community_id, rec.member_id, action, title=item.title),)

    def _done(self, session: Session, community_id: int, member_id: int, item: CatalogItem,
              at: datetime) -> Sequence[Notice]:
        result = service.complete(session, community_id, member_id, item, at)
        if not result.new:
            return (_click_notice(session, community_id, member_id, "already_done", title=item.title),)
        return (_click_notice(session, community_id, member_id, "done", title=item.title, points=result.points),
                *result.notices)


def _click_notice(session: Session, community_id: int, member_id: int, action: str, **data: Any) -> Notice:
    """What a button press did, with the community's reply language for the answer."""
    language = lookup(stored_settings(session, community_id), "language", None)
    return Notice("click", community_id, member_id, {"action": action, "language": language, **data})
