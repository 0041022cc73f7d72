"""DiscordChatExporter JSON (one channel or thread per file) → events.

Id mapping, chosen to match live gateway events:

* ``community_id`` is the guild id; ``chat_id`` the text channel.
* threads (channel type ``Guild*Thread``): DiscordChatExporter writes the thread's
  parent channel as its ``categoryId``, so ``chat_id = categoryId`` and
  ``thread_id = channel.id``; if ``categoryId`` is missing the thread's own id is
  the chat (its messages then still carry ``thread_id``). A thread export opens
  with a ThreadOpened (title = thread name) at its first message; a
  ``ThreadCreated`` system message in the parent export maps to the same event
  (same dedup_key), so importing both files yields one thread.
* a forum post's starter message (its id is the thread's id) is ``is_topic_start``.
* ``user_name`` is the guild nickname when set, else the account name;
  ``username`` is the account name.
* reactions: every listed user → ReactionAdded at the message's time (the export
  has no reaction times); when ``count`` exceeds the listed users, one
  ReactionCountChanged with the total. Custom emoji are written ``<:name:id>``
  (``<a:name:id>`` animated), as the live gateway adapter writes them.
* member joins: ``chat_id`` is the guild id, as for live member events.
* slash-command responses (``ChatInputCommand``) → a CommandInvoked for the
  invoking user and a MessagePosted for the bot's answer.
* edits are not replayed: MessagePosted carries the final content.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.events import (
    CommandInvoked,
    Event,
    MemberJoined,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionCountChanged,
    ThreadOpened,
)
from engine.history._common import BoundedLookup, utc_from_iso
from engine.history._jsonexport import read_header, stream_messages
from engine.history.report import EventStream, HistoryFormatError, ImportReport, ProgressCallback
from engine.text import clean_text, find_links

THREAD_TYPES = frozenset({"GuildPublicThread", "GuildPrivateThread", "GuildNewsThread"})
REPLY_LOOKUP_SIZE = 20_000
_POSTED = frozenset({"Default", "Reply", "ChatInputCommand", "ContextMenuCommand"})
_IMAGE = (".png", ".jpg", ".jpeg", ".gif", ".webp")
_VIDEO = (".mp4", ".mov", ".webm", ".mkv")
_AUDIO = (".mp3", ".ogg", ".wav", ".m4a")


def _snowflake(value: Any) -> str | None:
    text = str(value) if isinstance(value, int | str) else ""
    return text if text.isascii() and text.isdigit() else None


def _emoji(raw: Any) -> str:
    if not isinstance(raw, dict):
        return ""
    name = str(raw.get("name") or "")
    custom_id = _snowflake(raw.get("id"))
    if custom_id:  # as the live gateway adapter writes it
        return f"<{'a' if raw.get('isAnimated') else ''}:{name or '_'}:{custom_id}>"
    return name


def _attachment(message: dict[str, Any]) -> str | None:
    if message.get("stickers"):
        return "sticker"
    attachments = message.get("attachments") or []
    if not attachments or not isinstance(attachments[0], dict):
        return None
    name = str(attachments[0].get("fileName") or attachments[0].get("url") or "").lower()
    for suffixes, kind in ((_IMAGE, "photo"), (_VIDEO, "video"), (_AUDIO, "audio")):
        if name.endswith(suffixes):
            return kind
    return "document"


class _DiscordMapper:
    """Turns DiscordChatExporter message objects into events with bounded state."""

    def __init__(self, file: str, header: dict[str, Any], report: ImportReport) -> None:
        guild, channel = header["guild"], header["channel"]
        self.file = file
        self.report = report
        self.guild_id = str(guild["id"])
        channel_id = str(channel["id"])
        self.is_thread = channel.get("type") in THREAD_TYPES
        parent = _snowflake(channel.get("categoryId"))
        self.chat_id = parent if self.is_thread and parent else channel_id
        self.thread_id = channel_id if self.is_thread else None
        self.thread_title = clean_text(str(channel.get("name") or ""))
        self.chat_title = clean_text(
            str((channel.get("category") if self.is_thread else None) or channel.get("name") or "")
        )
        self.authors: BoundedLookup[str, str] = BoundedLookup(REPLY_LOOKUP_SIZE)
        self.thread_announced = False

    def _base(self, at: datetime, user: dict[str, Any], **fields: Any) -> dict[str, Any]:
        name = str(user.get("name") or "")
        fields.setdefault("thread_id", self.thread_id)
        return dict(
            platform=Platform.DISCORD,
            community_id=self.guild_id,
            chat_id=self.chat_id,
            chat_title=self.chat_title,
            at=at,
            user_id=_snowflake(user.get("id")) or "",
            user_name=clean_text(str(user.get("nickname") or name)),
            username=clean_text(name),
            is_bot=bool(user.get("isBot")),
            **fields,
        )

    def map(self, index: int, message: Any) -> Iterator[Event]:
        if not isinstance(message, dict):
            self.report.skip(self.file, f"#{index}", "", "record is not an object")
            return
        message_id = _snowflake(message.get("id"))
        if message_id is None:
            self.report.skip(self.file, f"#{index}", "id", "missing or non-numeric message id")
            return
        try:
            at = utc_from_iso(str(message.get("timestamp")))
        except ValueError:
            self.report.skip(self.file, message_id, "timestamp", "missing or invalid timestamp")
            return
        author = message.get("author")
        if not isinstance(author, dict) or _snowflake(author.get("id")) is None:
            self.report.skip(self.file, message_id, "author", "missing author or author id")
            return
        kind = message.get("type")
        if self.is_thread and not self.thread_announced:
            self.thread_announced = True
            # the export does not say who opened the thread; a forum post's starter shares its id
            opener = author if message_id == self.thread_id else {}
            yield ThreadOpened(**self._base(at, opener), title=self.thread_title)
        if kind in _POSTED:
            yield from self._posted(message, message_id, at, author)
        elif kind == "GuildMemberJoin":
            # member events belong to the guild, not a channel (as in the live adapter)
            yield MemberJoined(
                **{**self._base(at, author, thread_id=None), "chat_id": self.guild_id}, message_id=message_id
            )
        elif kind == "ThreadCreated":
            thread = _snowflake((message.get("reference") or {}).get("channelId"))
            if thread is None:
                self.report.skip(self.file, message_id, "reference.channelId", "thread id missing")
                return
            title = clean_text(str(message.get("content") or ""))
            yield ThreadOpened(**self._base(at, author, thread_id=thread), message_id=message_id, title=title)
        else:
            self.report.ignored_by_type[f"type:{kind}"] += 1

    def _posted(
        self, message: dict[str, Any], message_id: str, at: datetime, author: dict[str, Any]
    ) -> Iterator[Event]:
        content = clean_text(str(message.get("content") or ""))
        reference = message.get("reference")
        reference = reference if isinstance(reference, dict) else {}
        reply_to = _snowflake(reference.get("messageId")) if message.get("type") == "Reply" else None
        mentions = tuple(
            dict.fromkeys(
                m_id
                for m in message.get("mentions") or []
                if isinstance(m, dict) and (m_id := _snowflake(m.get("id")))
            )
        )
        interaction = message.get("interaction")
        if isinstance(interaction, dict) and isinstance(interaction.get("user"), dict):
            yield CommandInvoked(
                **self._base(at, interaction["user"]),
                message_id=message_id,
                name=str(interaction.get("name") or "").lower(),
                raw_text=f"/{interaction.get('name') or ''}",
            )
        # a forum post's starter message shares the thread's id (the live adapter's rule too)
        is_topic_start = self.is_thread and message_id == self.thread_id
        author_id = _snowflake(author.get("id")) or ""
        self.authors[message_id] = author_id
        yield MessagePosted(
            **self._base(at, author),
            message_id=message_id,
            text=content,
            reply_to_message_id=reply_to,
            reply_to_user_id=self.authors.get(reply_to) if reply_to else None,
            mentions=mentions,
            links=find_links(content),
            attachment=_attachment(message),
            is_topic_start=is_topic_start,
        )
        yield from self._reactions(message, message_id, at, author_id)

    def _reactions(
        self, message: dict[str, Any], message_id: str, at: datetime, author_id: str
    ) -> Iterator[Event]:
        for reaction in message.get("reactions") or []:
            emoji = _emoji(reaction.get("emoji")) if isinstance(reaction, dict) else ""
            count = reaction.get("count", 0) if isinstance(reaction, dict) else None
            if not emoji or not isinstance(count, int):
                self.report.skip(self.file, message_id, "reactions", "malformed reaction")
                continue
            known = 0
            for user in reaction.get("users") or []:
                if not isinstance(user, dict) or _snowflake(user.get("id")) is None:
                    continue
                known += 1
                yield ReactionAdded(
                    **self._base(at, user),
                    message_id=message_id,
                    emoji=emoji,
                    target_user_id=author_id or None,
                )
            if count > known:
                yield ReactionCountChanged(
                    **self._base(at, {}), message_id=message_id, emoji=emoji, count=count
                )


def read_discord_export(path: str | Path, *, progress: ProgressCallback | None = None) -> EventStream:
    """Stream a DiscordChatExporter JSON export of one guild channel or thread as events.

    Returns an :class:`EventStream` whose ``report`` fills in as it is iterated.
    Raises HistoryFormatError before any event if the file is not such an export
    (or is a DM export, which is not a community).
    """
    path = Path(path)
    header = read_header(path, ("guild", "channel"), "a DiscordChatExporter export")
    guild, channel = header["guild"], header["channel"]
    if not isinstance(guild, dict) or not isinstance(channel, dict):
        raise HistoryFormatError(f"{path.name}: 'guild' and 'channel' must be objects")
    if _snowflake(guild.get("id")) in (None, "0") or _snowflake(channel.get("id")) is None:
        raise HistoryFormatError(f"{path.name}: not a guild channel export (guild id {guild.get('id')!r})")
    report = ImportReport(source=f"discord:{path.name}")
    mapper = _DiscordMapper(path.name, header, report)
    return EventStream(stream_messages(path, report, progress, mapper.map), report)
