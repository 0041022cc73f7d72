"""Discord gateway payloads → Cohort events, as pure functions of raw dicts.

Every function here takes the ``d`` object of one gateway dispatch (exactly as Discord
sends it, or as dpytest builds it) plus a :class:`GatewayContext` that answers the few
questions a payload cannot (which channel is a thread's parent, the bot's own id, the
command prefix). Nothing here touches the network or a discord.py object, so the
translation is tested on JSON fixtures alone.

Choices worth knowing:

* **Threads and forum posts**: ``chat_id`` is the *parent* channel and ``thread_id`` the
  thread's own channel id. A forum is then one chat with one thread per post, the same
  shape as a Telegram forum group with topics, so per-channel statistics stay meaningful.
  A forum post's starter message has the thread's id, which marks ``is_topic_start``.
  When the parent is unknown (thread not in cache) the thread is treated as a channel.
* **DMs**: ``is_private=True`` and ``community_id=""``.
* **Member events** have no channel; ``chat_id`` is the guild id (as on Telegram, where a
  group's chat id is its community id).
* **Prefix commands** (``!help``) become :class:`CommandInvoked` instead of a message; a
  prefix followed by an unknown word stays a message when the command names are known.
* **Mentions** are user ids, both in ``mentions`` and in command ``args``.
* The bot's own messages and reactions are skipped; other bots and webhooks are recorded
  with ``is_bot=True``. System messages (joins, pins, boosts, ...) are skipped with a log
  line; joins arrive as ``GUILD_MEMBER_ADD``.

No function raises on a malformed payload: :func:`translate` logs and returns ``[]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.events import (
    ButtonClicked,
    CommandInvoked,
    Event,
    MemberJoined,
    MemberLeft,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ThreadOpened,
    utcnow,
)

log = logging.getLogger(__name__)

Payload = Mapping[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000

# Message types that are people talking; every other type is a system message.
DEFAULT, REPLY = 0, 19
USER_MESSAGE_TYPES = frozenset({DEFAULT, REPLY})

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types)
DM_TYPES = frozenset({1, 3})
THREAD_TYPES = frozenset({10, 11, 12})

# message_reference.type: 0 = reply (default), 1 = forward
REFERENCE_FORWARD = 1

INTERACTION_COMPONENT = 3
COMPONENT_BUTTON = 2

_MENTION = re.compile(r"<@!?(\d{1,21})>")
_LINK = re.compile(r"https?://[^\s<>\"'`|]+", re.IGNORECASE)
_LINK_TAIL = ".,;:!?)]}*_~"
_COMMAND = re.compile(r"([A-Za-z][\w-]{0,31})(?:\s+(.*))?\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What the adapter's cache knows about a channel or thread."""

    id: str
    name: str = ""
    parent_id: str | None = None  # set for threads and forum posts
    is_thread: bool = False
    is_private: bool = False  # a DM (or group DM) with the bot


def _no_channel(_channel_id: str) -> ChannelInfo | None:
    return None


def _no_member(_guild_id: str, _user_id: str) -> tuple[str, str]:
    return "", ""


def _no_name(_guild_id: str) -> str:
    return ""


@dataclass(frozen=True, slots=True)
class GatewayContext:
    """The answers a payload cannot give itself. Defaults make a context fit for tests.

    ``command_names`` limits prefix commands to known names (``None``: any word is one);
    ``channel`` looks a channel id up in the client's cache; ``now`` is the clock for
    payloads that carry no timestamp (reactions, removals).
    """

    bot_user_id: str = ""
    prefix: str = "!"
    command_names: frozenset[str] | None = None
    channel: Callable[[str], ChannelInfo | None] = _no_channel
    guild_name: Callable[[str], str] = _no_name
    # (display name, username) of a guild member, for payloads that carry only an id
    member_name: Callable[[str, str], tuple[str, str]] = _no_member
    now: Callable[[], datetime] = field(default=utcnow)


# -- small readers -------------------------------------------------------------------
def snowflake(value: Any) -> str | None:
    """A snowflake as a string (Discord sends strings, dpytest ints); None when absent/bad."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:  # "²".isdigit() is True
        return value
    return None


def snowflake_time(value: Any) -> datetime | None:
    """When a snowflake was minted (every Discord id embeds its creation time)."""
    sid = snowflake(value)
    if sid is None:
        return None
    ms = (int(sid) >> 22) + DISCORD_EPOCH_MS
    try:
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (or a datetime, as dpytest sends) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def display_name(user: Payload, member: Payload | None = None) -> str:
    """Nickname in the guild, else global display name, else username."""
    nick = _str(_dict(member).get("nick"))
    return nick or _str(user.get("global_name")) or _str(user.get("username"))


def emoji_text(emoji: Payload) -> str:
    """``<:name:id>`` (``<a:name:id>`` animated) for custom emoji, the character for unicode.

    Returns "" when the payload names neither (a deleted custom emoji may come nameless,
    in which case the id alone still identifies it).
    """
    eid = snowflake(emoji.get("id"))
    name = _str(emoji.get("name"))
    if eid:
        return f"<{'a' if emoji.get('animated') else ''}:{name or '_'}:{eid}>"
    return name


def links_in(text: str) -> tuple[str, ...]:
    """http(s) links in order of appearance, trailing punctuation and ``<>`` stripped."""
    out: list[str] = []
    for m in _LINK.finditer(text):
        url = m.group(0).rstrip(_LINK_TAIL)
        if url and url not in out:
            out.append(url)
    return tuple(out)


def embed_links(data: Payload) -> tuple[str, ...]:
    """The http(s) URLs of a message's embeds (a link preview, a webhook's or bot's card)."""
    out: list[str] = []
    for embed in _list(data.get("embeds"))[:10]:
        url = _str(_dict(embed).get("url"))[:2048]
        if url.lower().startswith(("http://", "https://")) and url not in out:
            out.append(url)
    return tuple(out)


def mentions_in(data: Payload) -> tuple[str, ...]:
    """User ids mentioned: the payload's ``mentions`` list, then ``<@id>`` in the text."""
    out: list[str] = []
    for user in _list(data.get("mentions")):
        uid = snowflake(_dict(user).get("id"))
        if uid and uid not in out:
            out.append(uid)
    for m in _MENTION.finditer(_str(data.get("content"))):
        if m.group(1) not in out:
            out.append(m.group(1))
    return tuple(out)


def attachment_kind(data: Payload) -> str | None:
    """Cohort's word for what a message carries: photo, video, audio, document, sticker, poll."""
    files = _list(data.get("attachments"))
    if files:
        first = _dict(files[0])
        ctype = _str(first.get("content_type")).lower()
        name = _str(first.get("filename")).lower()
        if ctype.startswith("image/") or name.endswith((".png", ".jpg", ".jpeg", ".gif", ".webp")):
            return "photo"
        if ctype.startswith("video/") or name.endswith((".mp4", ".mov", ".webm")):
            return "video"
        if ctype.startswith("audio/") or name.endswith((".mp3", ".ogg", ".wav", ".m4a")):
            return "voice" if first.get("waveform") else "audio"
        return "document"
    if _list(data.get("sticker_items")) or _list(data.get("stickers")):
        return "sticker"
    if data.get("poll"):
        return "poll"
    return None


@dataclass(frozen=True, slots=True)
class Place:
    """Where an event happened, in Cohort's terms."""

    community_id: str
    chat_id: str
    thread_id: str | None
    chat_title: str
    is_private: bool


def place(channel_id: str, guild_id: str | None, ctx: GatewayContext,
          channel_payload: Payload | None = None) -> Place:
    """Resolve a channel id to community / chat / thread (see the module doc for the choice).

    ``channel_payload`` is a partial channel object some payloads carry (interactions);
    it is preferred to the cache because it is fresher.
    """
    info = ctx.channel(channel_id)
    partial = _dict(channel_payload)
    ctype = partial.get("type")
    parent = snowflake(partial.get("parent_id")) if ctype in THREAD_TYPES else None
    if parent is None and info is not None and info.is_thread:
        parent = info.parent_id
    title = _str(partial.get("name")) or (info.name if info else "")
    if guild_id is None:
        return Place("", channel_id, None, title, True)
    if parent:
        parent_info = ctx.channel(parent)
        return Place(guild_id, parent, channel_id, parent_info.name if parent_info else "", False)
    return Place(guild_id, channel_id, None, title, False)


def _author(data: Payload) -> tuple[Payload, Payload]:
    return _dict(data.get("author")), _dict(data.get("member"))


def _is_bot(user: Payload, data: Payload) -> bool:
    return bool(user.get("bot") or user.get("system") or data.get("webhook_id"))


def _command_args(rest: str) -> tuple[str, ...]:
    """Whitespace-split arguments, a ``<@id>`` / ``<@!id>`` mention becoming the bare id."""
    out: list[str] = []
    for token in rest.split():
        m = _MENTION.fullmatch(token)
        out.append(m.group(1) if m else token)
    return tuple(out)


def parse_command(text: str, prefix: str, names: frozenset[str] | None) -> tuple[str, tuple[str, ...]] | None:
    """``(name, args)`` if ``text`` is a prefix command, else None.

    A prefix followed by a word that is not a known command (when ``names`` is given) is
    ordinary chat: ``!nice`` in a Discord channel is usually not meant for the bot.
    """
    if not prefix or not text.startswith(prefix):
        return None
    m = _COMMAND.match(text[len(prefix):].strip())
    if m is None:
        return None
    name = m.group(1).lower()
    if names is not None and name not in names:
        return None
    return name, _command_args(m.group(2) or "")


# -- one function per dispatch type ------------------------------------------------------
def message_created(data: Payload, ctx: GatewayContext) -> list[Event]:
    """MESSAGE_CREATE → MessagePosted, or CommandInvoked for a prefix command, or nothing."""
    mtype = data.get("type", DEFAULT)
    if mtype not in USER_MESSAGE_TYPES:
        log.info("discord: skipping system message type %s in channel %s", mtype, data.get("channel_id"))
        return []
    message_id = snowflake(data.get("id"))
    channel_id = snowflake(data.get("channel_id"))
    user, member = _author(data)
    user_id = snowflake(user.get("id")) or ""
    if message_id is None or channel_id is None or not user_id:
        log.warning("discord: MESSAGE_CREATE without id/channel/author, skipped")
        return []
    if user_id == ctx.bot_user_id:
        return []  # our own replies are not community activity
    where = place(channel_id, snowflake(data.get("guild_id")), ctx)
    text = _str(data.get("content"))
    at = timestamp(data.get("timestamp")) or snowflake_time(message_id) or ctx.now()
    ref = _dict(data.get("message_reference"))
    forwarded = ref.get("type") == REFERENCE_FORWARD
    reply_to = None if forwarded else snowflake(ref.get("message_id"))
    replied = _dict(data.get("referenced_message"))
    reply_user = snowflake(_dict(replied.get("author")).get("id")) if reply_to else None
    common: dict[str, Any] = {
        "platform": Platform.DISCORD,
        "community_id": where.community_id,
        "chat_id": where.chat_id,
        "thread_id": where.thread_id,
        "user_id": user_id,
        "at": at,
        "message_id": message_id,
        "user_name": display_name(user, member),
        "username": _str(user.get("username")),
        "is_bot": _is_bot(user, data),
        "is_private": where.is_private,
        "chat_title": where.chat_title,
    }
    mentions = mentions_in(data)
    if not common["is_bot"]:
        command = parse_command(text, ctx.prefix, ctx.command_names)
        if command is not None:
            return [CommandInvoked(
                **common, name=command[0], args=command[1], raw_text=text,
                reply_to_message_id=reply_to, reply_to_user_id=reply_user, mentions=mentions,
            )]
    return [MessagePosted(
        **common,
        text=text,
        reply_to_message_id=reply_to,
        reply_to_user_id=reply_user,
        mentions=mentions,
        links=tuple(dict.fromkeys((*links_in(text), *embed_links(data)))),
        attachment=attachment_kind(data),
        forwarded=forwarded,
        sender_chat_id=snowflake(data.get("webhook_id")),
        is_topic_start=where.thread_id is not None and where.thread_id == message_id,
    )]


def message_updated(data: Payload, ctx: GatewayContext) -> list[Event]:
    """MESSAGE_UPDATE → MessageEdited, only for real edits.

    Discord also sends updates when it unfurls a link (no ``edited_timestamp``) or changes
    only embeds (no ``content``); those are not edits. Works for uncached messages.
    """
    message_id = snowflake(data.get("id"))
    channel_id = snowflake(data.get("channel_id"))
    edited = timestamp(data.get("edited_timestamp"))
    if message_id is None or channel_id is None or edited is None or "content" not in data:
        return []
    user, member = _author(data)
    user_id = snowflake(user.get("id")) or ""
    if user_id and user_id == ctx.bot_user_id:
        return []
    where = place(channel_id, snowflake(data.get("guild_id")), ctx)
    text = _str(data.get("content"))
    return [MessageEdited(
        platform=Platform.DISCORD, community_id=where.community_id, chat_id=where.chat_id,
        thread_id=where.thread_id, user_id=user_id, at=edited, message_id=message_id,
        user_name=display_name(user, member) if user else "", username=_str(user.get("username")),
        is_bot=_is_bot(user, data) if user else False, is_private=where.is_private,
        chat_title=where.chat_title, text=text, links=links_in(text), mentions=mentions_in(data),
    )]


def _deleted(message_id: str, channel_id: str, guild_id: str | None, ctx: GatewayContext) -> MessageDeleted:
    where = place(channel_id, guild_id, ctx)
    return MessageDeleted(
        platform=Platform.DISCORD, community_id=where.community_id, chat_id=where.chat_id,
        thread_id=where.thread_id, user_id="", at=ctx.now(), message_id=message_id,
        is_private=where.is_private, chat_title=where.chat_title,
    )


def message_deleted(data: Payload, ctx: GatewayContext) -> list[Event]:
    """MESSAGE_DELETE → MessageDeleted (who deleted it is not in the payload)."""
    message_id, channel_id = snowflake(data.get("id")), snowflake(data.get("channel_id"))
    if message_id is None or channel_id is None:
        return []
    return [_deleted(message_id, channel_id, snowflake(data.get("guild_id")), ctx)]


def messages_deleted_bulk(data: Payload, ctx: GatewayContext) -> list[Event]:
    """MESSAGE_DELETE_BULK → one MessageDeleted per id."""
    channel_id = snowflake(data.get("channel_id"))
    if channel_id is None:
        return []
    guild_id = snowflake(data.get("guild_id"))
    ids = [snowflake(i) for i in _list(data.get("ids"))]
    return [_deleted(i, channel_id, guild_id, ctx) for i in ids if i]


def _reaction(data: Payload, ctx: GatewayContext, added: bool) -> list[Event]:
    user_id = snowflake(data.get("user_id"))
    channel_id = snowflake(data.get("channel_id"))
    message_id = snowflake(data.get("message_id"))
    emoji = emoji_text(_dict(data.get("emoji")))
    if user_id is None or channel_id is None or message_id is None:
        log.warning("discord: reaction payload without user/channel/message, skipped")
        return []
    if not emoji:
        log.info("discord: reaction with an unknown emoji on message %s, skipped", message_id)
        return []
    if user_id == ctx.bot_user_id:
        return []
    member = _dict(data.get("member"))
    user = _dict(member.get("user"))
    where = place(channel_id, snowflake(data.get("guild_id")), ctx)
    cls = ReactionAdded if added else ReactionRemoved
    return [cls(
        platform=Platform.DISCORD, community_id=where.community_id, chat_id=where.chat_id,
        thread_id=where.thread_id, user_id=user_id, at=ctx.now(), message_id=message_id,
        user_name=display_name(user, member) if user else "", username=_str(user.get("username")),
        is_bot=bool(user.get("bot")), is_private=where.is_private, chat_title=where.chat_title,
        emoji=emoji, target_user_id=snowflake(data.get("message_author_id")),
    )]


def reaction_added(data: Payload, ctx: GatewayContext) -> list[Event]:
    """MESSAGE_REACTION_ADD → ReactionAdded (raw: counts for uncached messages too)."""
    return _reaction(data, ctx, added=True)


def reaction_removed(data: Payload, ctx: GatewayContext) -> list[Event]:
    """MESSAGE_REACTION_REMOVE → ReactionRemoved."""
    return _reaction(data, ctx, added=False)


def _member_event(data: Payload, ctx: GatewayContext, joined: bool) -> list[Event]:
    guild_id = snowflake(data.get("guild_id"))
    user = _dict(data.get("user"))
    user_id = snowflake(user.get("id"))
    if guild_id is None or user_id is None:
        log.warning("discord: member event without guild/user, skipped")
        return []
    if user_id == ctx.bot_user_id:
        return []
    common: dict[str, Any] = {
        "platform": Platform.DISCORD, "community_id": guild_id, "chat_id": guild_id,
        "user_id": user_id, "user_name": display_name(user, data),
        "username": _str(user.get("username")), "is_bot": bool(user.get("bot")),
        "chat_title": ctx.guild_name(guild_id),
    }
    if joined:
        return [MemberJoined(**common, at=timestamp(data.get("joined_at")) or ctx.now())]
    return [MemberLeft(**common, at=ctx.now())]


def member_added(data: Payload, ctx: GatewayContext) -> list[Event]:
    """GUILD_MEMBER_ADD → MemberJoined (``at`` from ``joined_at`` so redeliveries dedupe)."""
    return _member_event(data, ctx, joined=True)


def member_removed(data: Payload, ctx: GatewayContext) -> list[Event]:
    """GUILD_MEMBER_REMOVE → MemberLeft (leave, kick or ban alike)."""
    return _member_event(data, ctx, joined=False)


def thread_created(data: Payload, ctx: GatewayContext) -> list[Event]:
    """THREAD_CREATE → ThreadOpened, only for a thread created just now.

    Discord also sends THREAD_CREATE when the bot is added to an existing private thread;
    that one lacks ``newly_created``.
    """
    if not data.get("newly_created"):
        return []
    thread_id = snowflake(data.get("id"))
    parent_id = snowflake(data.get("parent_id"))
    guild_id = snowflake(data.get("guild_id"))
    if thread_id is None or parent_id is None or guild_id is None:
        return []
    meta = _dict(data.get("thread_metadata"))
    parent = ctx.channel(parent_id)
    owner = snowflake(data.get("owner_id")) or ""
    name, username = ctx.member_name(guild_id, owner) if owner else ("", "")
    return [ThreadOpened(
        platform=Platform.DISCORD, community_id=guild_id, chat_id=parent_id, thread_id=thread_id,
        user_id=owner, user_name=name, username=username,
        at=timestamp(meta.get("create_timestamp")) or snowflake_time(thread_id) or ctx.now(),
        chat_title=parent.name if parent else "", title=_str(data.get("name")),
    )]


def interaction_created(data: Payload, ctx: GatewayContext) -> list[Event]:
    """INTERACTION_CREATE for a button → ButtonClicked (``click_id`` = the interaction id).

    Application commands are not translated here: discord.py's CommandTree parses their
    typed options (see ``commands.py``). Select menus and modals are not used by Cohort.
    """
    if data.get("type") != INTERACTION_COMPONENT:
        return []
    inner = _dict(data.get("data"))
    if inner.get("component_type") != COMPONENT_BUTTON:
        log.info("discord: component type %s not handled", inner.get("component_type"))
        return []
    interaction_id = snowflake(data.get("id"))
    channel_id = snowflake(data.get("channel_id")) or snowflake(_dict(data.get("channel")).get("id"))
    member = _dict(data.get("member"))
    user = _dict(member.get("user")) or _dict(data.get("user"))
    user_id = snowflake(user.get("id"))
    if interaction_id is None or channel_id is None or user_id is None:
        log.warning("discord: button interaction without id/channel/user, skipped")
        return []
    where = place(channel_id, snowflake(data.get("guild_id")), ctx, _dict(data.get("channel")))
    return [ButtonClicked(
        platform=Platform.DISCORD, community_id=where.community_id, chat_id=where.chat_id,
        thread_id=where.thread_id, user_id=user_id,
        at=snowflake_time(interaction_id) or ctx.now(),
        message_id=snowflake(_dict(data.get("message")).get("id")),
        user_name=display_name(user, member), username=_str(user.get("username")),
        is_bot=bool(user.get("bot")), is_private=where.is_private, chat_title=where.chat_title,
        data=_str(inner.get("custom_id")), click_id=interaction_id,
    )]


TRANSLATORS: dict[str, Callable[[Payload, GatewayContext], list[Event]]] = {
    "MESSAGE_CREATE": message_created,
    "MESSAGE_UPDATE": message_updated,
    "MESSAGE_DELETE": message_deleted,
    "MESSAGE_DELETE_BULK": messages_deleted_bulk,
    "MESSAGE_REACTION_ADD": reaction_added,
    "MESSAGE_REACTION_REMOVE": reaction_removed,
    "GUILD_MEMBER_ADD": member_added,
    "GUILD_MEMBER_REMOVE": member_removed,
    "THREAD_CREATE": thread_created,
    "INTERACTION_CREATE": interaction_created,
}
"""The dispatch types Cohort listens to; everything else is discord.py's business only."""


def translate(event_type: str, data: Any, ctx: GatewayContext) -> list[Event]:
    """Cohort events for one gateway dispatch (``t`` and ``d``). Never raises.

    Returns ``[]`` for types Cohort ignores, for skipped payloads (own messages, system
    messages) and for malformed ones, which are logged with their type.
    """
    fn = TRANSLATORS.get(event_type)
    if fn is None:
        return []
    if not isinstance(data, Mapping):
        log.warning("discord: %s payload is not an object, skipped", event_type)
        return []
    try:
        return fn(data, ctx)
    except Exception:  # a malformed payload must never take the gateway down
        log.exception("discord: could not translate %s, skipped", event_type)
        return []
