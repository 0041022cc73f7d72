"""Telegram Desktop group export (``result.json``) → events.

Id mapping, chosen so imported history lines up with live Bot API updates:

* chat id: the export stores the bare peer id. Supergroups and channels are
  ``-100<id>`` in the Bot API, basic groups ``-<id>``; ``community_id`` and
  ``chat_id`` are both that value (a Telegram group is its own community).
* users: ``from_id`` ``"user123"`` → ``user_id "123"``. Posts sent on behalf of a
  chat (``"channel456"``, an anonymous admin or linked channel) get ``user_id ""``
  and ``sender_chat_id "-100456"``.
* forum topics: a ``topic_created`` service message opens a thread whose id is that
  message's id (as in the Bot API). A message's ``thread_id`` is its
  ``message_thread_id`` if present, else the topic its ``reply_to_message_id``
  points into (directly, or via a recent message of that topic). A "reply" to the
  topic root is topic membership, not a reply, so ``reply_to_message_id`` is None
  then. The first message posted in a topic is marked ``is_topic_start``.
* reactions: each ``recent`` entry → ReactionAdded at its own time; when ``count``
  exceeds the known reactors, one ReactionCountChanged carrying the *total* count
  for that emoji (the field's meaning: totals only), so consumers can derive the
  anonymous remainder as ``count - known``.
* joins/leaves: the export names added/removed members without ids, so only the
  acting user is known; ``invite_members``/``remove_members`` entries naming
  someone other than the actor are skipped with a reason.
* edits: the export keeps only the final text (in MessagePosted); no MessageEdited.
* times: ``date_unixtime`` (UTC). ``date`` and the reactors' ``date`` are in the
  exporting machine's local time; its offset is learned from messages carrying
  both, and a message with ``date`` alone is read with the last offset seen (UTC
  before any).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.events import (
    Event,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionCountChanged,
    ThreadOpened,
)
from engine.history._common import BoundedLookup, utc_from_iso, utc_from_unix
from engine.history._jsonexport import read_header, stream_messages
from engine.history.report import EventStream, HistoryFormatError, ImportReport, ProgressCallback
from engine.text import clean_text

SUPERGROUP_TYPES = frozenset({"private_supergroup", "public_supergroup", "private_channel", "public_channel"})
BASIC_GROUP_TYPES = frozenset({"private_group"})
REPLY_LOOKUP_SIZE = 20_000  # recent messages remembered to resolve reply authors and topics

_MEDIA_TYPES = {
    "sticker": "sticker",
    "video_file": "video",
    "animation": "animation",
    "voice_message": "voice",
    "video_message": "video_note",
    "audio_file": "audio",
}
_JOIN_SELF = frozenset({"join_group_by_link", "join_group_by_request"})
_CREATED = frozenset({"create_group", "create_channel", "migrate_from_group"})


def telegram_chat_id(export_id: int | str, chat_type: str) -> str:
    """The Bot API chat id for an export's ``id`` and ``type``.

    ``-100<id>`` for supergroups/channels, ``-<id>`` for basic groups; an id that
    is already negative is returned as is. Raises HistoryFormatError for other
    types (a private chat is not a community) or a non-numeric id.
    """
    text = str(export_id)
    if not (text.lstrip("-").isascii() and text.lstrip("-").isdigit()):
        raise HistoryFormatError(f"chat id {export_id!r} is not numeric")
    if text.startswith("-"):
        return text
    if chat_type in SUPERGROUP_TYPES:
        return f"-100{text}"
    if chat_type in BASIC_GROUP_TYPES:
        return f"-{text}"
    raise HistoryFormatError(f"chat type {chat_type!r} is not a group or channel")


def _peer(value: Any) -> tuple[str, str] | None:
    """``"user123"`` → ("user", "123"); also channel/chat; None if not a peer id."""
    if isinstance(value, int):
        return ("user", str(value))
    if not isinstance(value, str):
        return None
    for prefix in ("user", "channel", "chat"):
        if value.startswith(prefix) and value[len(prefix) :].isascii() and value[len(prefix) :].isdigit():
            return (prefix, value[len(prefix) :])
    return None


def _chat_peer_id(kind: str, raw_id: str) -> str:
    return f"-100{raw_id}" if kind == "channel" else f"-{raw_id}"


def _with_scheme(url: str) -> str:
    return url if "://" in url else f"https://{url}"


def flatten_text(parts: Any) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Plain text, links and mentions of an export ``text``/``text_entities`` value.

    Accepts a string or a list of strings and entity objects; mentions are
    ``@handles`` for ``mention`` entities and numeric user ids for ``mention_name``.
    """
    if isinstance(parts, str):
        return clean_text(parts), (), ()
    if not isinstance(parts, list):
        return "", (), ()
    chunks: list[str] = []
    links: dict[str, None] = {}
    mentions: dict[str, None] = {}
    for part in parts:
        if isinstance(part, str):
            chunks.append(part)
            continue
        if not isinstance(part, dict):
            continue
        text = str(part.get("text", ""))
        chunks.append(text)
        kind = part.get("type")
        if kind in ("link", "url") and text:
            links[_with_scheme(text)] = None
        elif kind == "text_link" and part.get("href"):
            links[str(part["href"])] = None
        elif kind == "mention" and text:
            mentions[text if text.startswith("@") else f"@{text}"] = None
        elif kind == "mention_name" and part.get("user_id") is not None:
            mentions[str(part["user_id"])] = None
    return clean_text("".join(chunks)), tuple(links), tuple(mentions)


def _attachment(message: dict[str, Any]) -> str | None:
    media = message.get("media_type")
    if isinstance(media, str):
        return _MEDIA_TYPES.get(media, media)
    if "photo" in message:
        return "photo"
    if "file" in message:
        return "document"
    for key, kind in (
        ("poll", "poll"),
        ("location_information", "location"),
        ("contact_information", "contact"),
    ):
        if key in message:
            return kind
    return None


class _TelegramMapper:
    """Turns export message objects into events; keeps only bounded state."""

    def __init__(self, file: str, chat_id: str, title: str, report: ImportReport) -> None:
        self.file = file
        self.chat_id = chat_id
        self.title = title
        self.report = report
        self.recent: BoundedLookup[str, tuple[str, str | None]] = BoundedLookup(REPLY_LOOKUP_SIZE)
        self.topics: set[str] = set()
        self.started_topics: set[str] = set()
        self.local_offset = timedelta(0)  # exporting machine's local time minus UTC

    def _base(self, at: datetime, user_id: str, user_name: str, **fields: Any) -> dict[str, Any]:
        return dict(
            platform=Platform.TELEGRAM,
            community_id=self.chat_id,
            chat_id=self.chat_id,
            chat_title=self.title,
            at=at,
            user_id=user_id,
            user_name=user_name,
            **fields,
        )

    def _time(self, message: dict[str, Any], record: str) -> datetime | None:
        unix = message.get("date_unixtime")
        local = message.get("date")
        try:
            if unix is not None:
                at = utc_from_unix(unix)
                if isinstance(local, str):
                    self.local_offset = utc_from_iso(local) - at
                return at
            if isinstance(local, str):
                return utc_from_iso(local) - self.local_offset
        except (ValueError, TypeError, OverflowError):
            pass
        self.report.skip(self.file, record, "date_unixtime", "missing or invalid timestamp")
        return None

    def map(self, index: int, message: Any) -> Iterator[Event]:
        if not isinstance(message, dict):
            self.report.skip(self.file, f"#{index}", "", "record is not an object")
            return
        raw_id = message.get("id")
        if not isinstance(raw_id, int | str) or not (str(raw_id).lstrip("-").isascii() and str(raw_id).lstrip("-").isdigit()):
            self.report.skip(self.file, f"#{index}", "id", "missing or non-numeric message id")
            return
        record = str(raw_id)
        at = self._time(message, record)
        if at is None:
            return
        kind = message.get("type")
        if kind == "message":
            yield from self._message(message, record, at)
        elif kind == "service":
            yield from self._service(message, record, at)
        else:
            self.report.ignored_by_type[f"type:{kind}"] += 1

    def _message(self, message: dict[str, Any], record: str, at: datetime) -> Iterator[Event]:
        sender = _peer(message.get("from_id"))
        if sender is None:
            self.report.skip(self.file, record, "from_id", "missing or unrecognised sender id")
            return
        if sender[0] == "user":
            user_id, sender_chat_id = sender[1], None
        else:
            user_id, sender_chat_id = "", _chat_peer_id(*sender)
        user_name = clean_text(str(message.get("from") or ""))
        entities = message.get("text_entities")
        text, links, mentions = flatten_text(
            entities if isinstance(entities, list) else message.get("text", "")
        )

        reply_to = message.get("reply_to_message_id")
        reply_to = str(reply_to) if isinstance(reply_to, int | str) else None
        replied = self.recent.get(reply_to) if reply_to else None
        thread_id = message.get("message_thread_id")
        thread_id = str(thread_id) if isinstance(thread_id, int | str) else None
        if thread_id is None and reply_to is not None:
            thread_id = reply_to if reply_to in self.topics else (replied[1] if replied else None)
        if reply_to is not None and reply_to == thread_id:
            reply_to = None  # the topic root: membership, not a reply
            replied = None
        is_topic_start = (
            thread_id is not None and thread_id in self.topics and thread_id not in self.started_topics
        )
        if is_topic_start and thread_id is not None:
            self.started_topics.add(thread_id)
        self.recent[record] = (user_id, thread_id)

        yield MessagePosted(
            **self._base(at, user_id, user_name),
            message_id=record,
            thread_id=thread_id,
            text=text,
            reply_to_message_id=reply_to,
            reply_to_user_id=(replied[0] or None) if replied else None,
            mentions=mentions,
            links=links,
            attachment=_attachment(message),
            forwarded="forwarded_from" in message,
            sender_chat_id=sender_chat_id,
            is_topic_start=is_topic_start,
        )
        yield from self._reactions(message, record, at, thread_id, user_id or None)

    def _reactions(
        self, message: dict[str, Any], record: str, at: datetime, thread_id: str | None, author: str | None
    ) -> Iterator[Event]:
        reactions = message.get("reactions", [])
        if not isinstance(reactions, list):
            self.report.skip(self.file, record, "reactions", "reactions is not a list")
            return
        for reaction in reactions:
            if not isinstance(reaction, dict) or not isinstance(reaction.get("count", 0), int):
                self.report.skip(self.file, record, "reactions", "malformed reaction")
                continue
            if reaction.get("type") == "custom_emoji":
                emoji = f"custom:{reaction.get('document_id', '')}"
            elif reaction.get("type") == "paid":
                emoji = "⭐"
            else:
                emoji = str(reaction.get("emoji") or "")
            if not emoji:
                self.report.skip(self.file, record, "reactions", "reaction without emoji")
                continue
            known = 0
            latest = at
            for recent in reaction.get("recent") or []:
                who = _peer(recent.get("from_id")) if isinstance(recent, dict) else None
                if who is None or who[0] != "user":
                    continue  # reacted as a channel: counted in the total only
                when = at
                if isinstance(recent.get("date"), str):
                    try:
                        # reactors' dates are local time; never before the message itself
                        when = max(at, utc_from_iso(recent["date"]) - self.local_offset)
                    except ValueError:
                        self.report.skip(self.file, record, "reactions.recent.date", "invalid reaction date")
                known += 1
                latest = max(latest, when)
                yield ReactionAdded(
                    **self._base(when, who[1], clean_text(str(recent.get("from") or ""))),
                    message_id=record,
                    thread_id=thread_id,
                    emoji=emoji,
                    target_user_id=author,
                )
            count = reaction.get("count", known)
            if count > known:
                yield ReactionCountChanged(
                    **self._base(latest, "", ""),
                    message_id=record,
                    thread_id=thread_id,
                    emoji=emoji,
                    count=count,
                )

    def _service(self, message: dict[str, Any], record: str, at: datetime) -> Iterator[Event]:
        action = message.get("action")
        actor = _peer(message.get("actor_id"))
        actor_id = actor[1] if actor and actor[0] == "user" else ""
        actor_name = clean_text(str(message.get("actor") or ""))
        if action == "topic_created":
            self.topics.add(record)
            yield ThreadOpened(
                **self._base(at, actor_id, actor_name),
                message_id=record,
                thread_id=record,
                title=clean_text(str(message.get("title") or "")),
            )
            return
        if action not in _JOIN_SELF | _CREATED | {"invite_members", "remove_members"}:
            self.report.ignored_by_type[f"service:{action}"] += 1
            return
        if not actor_id:
            self.report.skip(self.file, record, "actor_id", f"{action} without a user actor")
            return
        if action in _JOIN_SELF or action in _CREATED:
            yield MemberJoined(**self._base(at, actor_id, actor_name), message_id=record)
            return
        members = message.get("members") or []
        if not isinstance(members, list):
            self.report.skip(self.file, record, "members", "members is not a list")
            return
        for name in members:
            if name == message.get("actor"):
                event_type = MemberJoined if action == "invite_members" else MemberLeft
                yield event_type(**self._base(at, actor_id, actor_name), message_id=record)
            else:
                # the export names other added/removed members but gives no id
                self.report.skip(self.file, record, "members", f"{action}: member id not in export")


def read_telegram_export(path: str | Path, *, progress: ProgressCallback | None = None) -> EventStream:
    """Stream a Telegram Desktop group export (``result.json``) as events.

    Returns an :class:`EventStream` (iterate it; its ``report`` fills in as you
    go). Reads the header eagerly: raises HistoryFormatError before any event if
    the file is not a single-group Telegram export. Malformed messages are skipped
    and listed in the report with their id and field.
    """
    path = Path(path)
    header = read_header(path, ("id", "type"), "a Telegram group export")
    chat_id = telegram_chat_id(header["id"], str(header["type"]))
    report = ImportReport(source=f"telegram:{path.name}")
    mapper = _TelegramMapper(path.name, chat_id, clean_text(str(header.get("name") or "")), report)
    return EventStream(stream_messages(path, report, progress, mapper.map), report)
