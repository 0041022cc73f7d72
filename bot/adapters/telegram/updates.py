"""Raw Bot API updates → platform-neutral events. Pure: no I/O, no PTB types, never raises.

Decisions worth knowing:

* A message with ``sender_chat`` (an anonymous group admin, a post of the linked channel,
  a message sent "as" a channel) is anonymous: ``user_id`` is ``""`` and ``sender_chat_id``
  names the chat. Telegram fills ``from`` with placeholder bots (@GroupAnonymousBot,
  @Channel_Bot) there; counting those as members would credit a fake person.
* ``at`` always comes from the update's own ``date``/``edit_date`` so that a redelivered
  update produces the same dedup key. Only callback queries carry no date (their key uses
  the callback query id instead).
* Private chats have ``community_id == ""``; handlers resolve the member's community.
* A forum message carries a ``reply_to_message`` pointing at the topic's creation message
  even when the author did not reply to anything; that is not treated as a reply.
* Per-user reactions by an anonymous ``actor_chat`` are skipped: their totals arrive as
  ``message_reaction_count``.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from engine.events import (
    ButtonClicked,
    ChatMoved,
    CommandInvoked,
    Event,
    MemberJoined,
    MemberLeft,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionCountChanged,
    ReactionRemoved,
    ThreadOpened,
    utcnow,
)

log = logging.getLogger(__name__)

ALLOWED_UPDATES: tuple[str, ...] = (
    "message",
    "edited_message",
    "callback_query",
    "message_reaction",
    "message_reaction_count",
    "chat_member",
    "my_chat_member",
)

TG = Platform.TELEGRAM
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")
# Checked in this order: an animation also carries a ``document`` field.
_ATTACHMENTS = (
    "animation", "photo", "video", "video_note", "voice", "audio", "document", "sticker",
    "poll", "location", "venue", "contact", "dice", "story", "paid_media",
)
_IN_CHAT = frozenset({"creator", "administrator", "member"})

Json = Mapping[str, Any]


def to_events(update_json: Mapping[str, Any], bot_username: str, bot_id: int) -> list[Event]:
    """The events one raw update stands for (often one, sometimes none or several).

    Returns ``[]`` for update kinds Cohort does not use, commands addressed to another
    bot, service messages it ignores and malformed updates (which are logged). Never raises.
    """
    try:
        return _convert(update_json, bot_username, bot_id)
    except Exception as exc:  # malformed input must never stop polling
        uid = update_json.get("update_id") if isinstance(update_json, Mapping) else None
        log.warning("telegram update %s skipped, malformed: %r", uid, exc)
        return []


def _convert(update: Json, bot_username: str, bot_id: int) -> list[Event]:
    if not isinstance(update, Mapping):
        raise TypeError(f"update is a {type(update).__name__}, not an object")
    if (msg := update.get("message")) is not None:
        return _message(msg, bot_username, bot_id)
    if (msg := update.get("edited_message")) is not None:
        return _edited(msg)
    if (cq := update.get("callback_query")) is not None:
        return _callback(cq)
    if (mr := update.get("message_reaction")) is not None:
        return _reaction(mr)
    if (mrc := update.get("message_reaction_count")) is not None:
        return _reaction_count(mrc)
    if (cm := update.get("chat_member")) is not None:
        return _chat_member(cm, bot_id)
    if (mcm := update.get("my_chat_member")) is not None:
        _log_my_chat_member(mcm)
        return []
    kinds = sorted(k for k in update if k != "update_id")
    log.info("telegram update %s of unused kind %s ignored", update.get("update_id"), kinds)
    return []


# -- shared pieces ---------------------------------------------------------------------
def _ts(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def _name(user: Json) -> str:
    return " ".join(p for p in (user.get("first_name") or "", user.get("last_name") or "") if p)


def _chat_fields(chat: Json) -> dict[str, Any]:
    chat_id = str(int(chat["id"]))
    private = chat.get("type") == "private"
    title = chat.get("title") or ""
    return {
        "platform": TG,
        "community_id": "" if private else chat_id,
        "chat_id": chat_id,
        "is_private": private,
        "chat_title": title,
    }


def _actor(msg: Json) -> dict[str, Any]:
    """user_id/user_name/username/is_bot of whoever posted ``msg`` (anonymous → "")."""
    sender_chat = msg.get("sender_chat")
    if sender_chat:
        return {"user_id": "", "user_name": sender_chat.get("title") or "",
                "username": sender_chat.get("username") or "", "is_bot": False}
    user = msg.get("from")
    if not user:
        return {"user_id": "", "user_name": "", "username": "", "is_bot": False}
    return _user_fields(user)


def _user_fields(user: Json) -> dict[str, Any]:
    return {"user_id": str(int(user["id"])), "user_name": _name(user),
            "username": user.get("username") or "", "is_bot": bool(user.get("is_bot"))}


def _thread(msg: Json) -> str | None:
    # ``message_thread_id`` without ``is_topic_message`` is a reply thread in a plain group.
    if msg.get("is_topic_message") and msg.get("message_thread_id") is not None:
        return str(int(msg["message_thread_id"]))
    return None


def _utf16_slice(text: str, offset: int, length: int) -> str:
    # Entity offsets count UTF-16 code units, not Python characters.
    raw = text.encode("utf-16-le", "surrogatepass")
    return raw[2 * offset : 2 * (offset + length)].decode("utf-16-le", "replace")


def _entities(text: str, entities: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(links, mentions) from message entities, in order, without repeats."""
    links: dict[str, None] = {}
    mentions: dict[str, None] = {}
    for ent in entities or ():
        kind = ent.get("type")
        if kind == "url":
            links.setdefault(_utf16_slice(text, int(ent["offset"]), int(ent["length"])), None)
        elif kind == "text_link" and ent.get("url"):
            links.setdefault(str(ent["url"]), None)
        elif kind == "mention":
            mentions.setdefault(_utf16_slice(text, int(ent["offset"]), int(ent["length"])), None)
        elif kind == "text_mention" and ent.get("user"):
            mentions.setdefault(str(int(ent["user"]["id"])), None)
    return tuple(links), tuple(mentions)


def _text(msg: Json) -> tuple[str, Any]:
    if msg.get("text") is not None:
        return str(msg["text"]), msg.get("entities")
    return str(msg.get("caption") or ""), msg.get("caption_entities")


def _reply(msg: Json, thread_id: str | None) -> tuple[str | None, str | None]:
    target = msg.get("reply_to_message")
    if not target:
        return None, None
    # In a forum every topic message "replies" to the topic's creation message.
    if thread_id is not None and (
        target.get("forum_topic_created") is not None or str(target.get("message_id")) == thread_id
    ):
        return None, None
    author = None if target.get("sender_chat") else target.get("from")
    return str(int(target["message_id"])), (str(int(author["id"])) if author else None)


def split_args(rest: str) -> tuple[str, ...]:
    """Command arguments, shell-like (quotes group words); falls back to whitespace on bad quoting.

    Backslashes are kept as typed. Never raises.
    """
    try:
        lexer = shlex.shlex(rest, posix=True)
        lexer.whitespace_split = True
        lexer.escape = ""  # Windows paths and regexes keep their backslashes
        lexer.commenters = ""  # "#tag" is an argument, not a comment
        return tuple(lexer)
    except ValueError:  # an unbalanced quote
        return tuple(rest.split())


# -- messages ---------------------------------------------------------------------------
def _message(msg: Json, bot_username: str, bot_id: int) -> list[Event]:
    base = {**_chat_fields(msg["chat"]), **_actor(msg), "at": _ts(msg["date"]),
            "message_id": str(int(msg["message_id"])), "thread_id": _thread(msg)}

    if (joined := msg.get("new_chat_members")) is not None:
        inviter = (msg.get("from") or {}).get("id")
        out: list[Event] = []
        for user in joined:
            if int(user["id"]) == bot_id:
                continue  # the bot being added is my_chat_member business
            invited_by = str(inviter) if inviter is not None and inviter != user["id"] else None
            out.append(MemberJoined(**{**base, **_user_fields(user)}, invited_by=invited_by))
        return out
    if (left := msg.get("left_chat_member")) is not None:
        if int(left["id"]) == bot_id:
            return []
        return [MemberLeft(**{**base, **_user_fields(left)})]
    # A group upgraded to a supergroup gets a new id; Telegram says so in both chats.
    if (moved_to := msg.get("migrate_to_chat_id")) is not None:
        return [ChatMoved(**base, new_chat_id=str(int(moved_to)))]
    if (moved_from := msg.get("migrate_from_chat_id")) is not None:
        old = str(int(moved_from))
        return [ChatMoved(**{**base, "chat_id": old, "community_id": old, "thread_id": None},
                          new_chat_id=base["chat_id"])]
    if (topic := msg.get("forum_topic_created")) is not None:
        thread = str(int(msg.get("message_thread_id") or msg["message_id"]))
        return [ThreadOpened(**{**base, "thread_id": thread}, title=str(topic.get("name") or ""))]

    text, entities = _text(msg)
    links, mentions = _entities(text, entities)
    reply_id, reply_user = _reply(msg, base["thread_id"])

    if msg.get("text") is not None and (cmd := _COMMAND.match(text)):
        target = cmd.group(2)
        if target and target.lower() != bot_username.lower():
            return []  # addressed to another bot in the same group
        name = cmd.group(1).lower()
        rest = text[cmd.end():].strip()
        if name == "start" and base["is_private"]:
            args: tuple[str, ...] = (rest,) if rest else ()  # deep-link payload, one token
        else:
            args = split_args(rest)
        return [CommandInvoked(**base, name=name, args=args, raw_text=text,
                               reply_to_message_id=reply_id, reply_to_user_id=reply_user,
                               mentions=mentions)]

    attachment = next((kind for kind in _ATTACHMENTS if msg.get(kind)), None)
    if not text and attachment is None:
        log.debug("telegram service message %s in %s ignored: %s", base["message_id"],
                  base["chat_id"], sorted(k for k in msg if k not in ("chat", "from", "date")))
        return []
    sender_chat = msg.get("sender_chat")
    forwarded = any(k in msg for k in ("forward_origin", "forward_from", "forward_from_chat",
                                       "forward_sender_name", "forward_date"))
    return [MessagePosted(
        **base, text=text, reply_to_message_id=reply_id, reply_to_user_id=reply_user,
        mentions=mentions, links=links, attachment=attachment, forwarded=forwarded,
        sender_chat_id=str(int(sender_chat["id"])) if sender_chat else None,
    )]


def _edited(msg: Json) -> list[Event]:
    text, entities = _text(msg)
    links, mentions = _entities(text, entities)
    when = msg.get("edit_date") or msg["date"]
    return [MessageEdited(**_chat_fields(msg["chat"]), **_actor(msg), at=_ts(when),
                          message_id=str(int(msg["message_id"])), thread_id=_thread(msg),
                          text=text, links=links, mentions=mentions)]


# -- buttons, reactions, membership ---------------------------------------------------------
def _callback(cq: Json) -> list[Event]:
    msg = cq.get("message")
    if not msg or not msg.get("chat"):
        # Inline-mode messages have no chat; Cohort never sends any.
        log.info("telegram callback query %s without a message ignored", cq.get("id"))
        return []
    return [ButtonClicked(**_chat_fields(msg["chat"]), **_user_fields(cq["from"]), at=utcnow(),
                          message_id=str(int(msg["message_id"])), thread_id=_thread(msg),
                          data=str(cq.get("data") or ""), click_id=str(cq["id"]))]


def _reaction_key(reaction: Json) -> str:
    kind = reaction.get("type")
    if kind == "emoji":
        return str(reaction.get("emoji") or "")
    if kind == "custom_emoji":
        return f"custom:{reaction.get('custom_emoji_id')}"
    return str(kind or "unknown")  # "paid" stars and future kinds


def _reaction(mr: Json) -> list[Event]:
    user = mr.get("user")
    if not user:
        return []  # anonymous admin or channel: the count update covers it
    base = {**_chat_fields(mr["chat"]), **_user_fields(user), "at": _ts(mr["date"]),
            "message_id": str(int(mr["message_id"]))}
    old = [_reaction_key(r) for r in mr.get("old_reaction") or ()]
    new = [_reaction_key(r) for r in mr.get("new_reaction") or ()]
    out: list[Event] = [ReactionRemoved(**base, emoji=e) for e in old if e not in new]
    out += [ReactionAdded(**base, emoji=e) for e in new if e not in old]
    return out


def _reaction_count(mrc: Json) -> list[Event]:
    base = {**_chat_fields(mrc["chat"]), "user_id": "", "at": _ts(mrc["date"]),
            "message_id": str(int(mrc["message_id"]))}
    return [ReactionCountChanged(**base, emoji=_reaction_key(r["type"]), count=int(r["total_count"]))
            for r in mrc.get("reactions") or ()]


def _is_in(member: Json) -> bool:
    status = member.get("status")
    return status in _IN_CHAT or (status == "restricted" and bool(member.get("is_member")))


def _chat_member(cm: Json, bot_id: int) -> list[Event]:
    old, new = cm["old_chat_member"], cm["new_chat_member"]
    user = new["user"]
    if int(user["id"]) == bot_id:
        return []
    base = {**_chat_fields(cm["chat"]), **_user_fields(user), "at": _ts(cm["date"])}
    was, now = _is_in(old), _is_in(new)
    if not was and now:
        actor = (cm.get("from") or {}).get("id")
        invited_by = str(actor) if actor is not None and actor != user["id"] else None
        return [MemberJoined(**base, invited_by=invited_by)]
    if was and not now:
        return [MemberLeft(**base)]
    return []  # promotions, restrictions: roles are read live by role_of


def dm_status_change(update_json: Mapping[str, Any]) -> tuple[str, bool] | None:
    """``(user_id, reachable)`` when a member blocked (False) or unblocked/started (True) the
    bot in their private chat, from a ``my_chat_member`` update; None otherwise. Never raises."""
    try:
        mcm = update_json.get("my_chat_member")
        if not mcm or (mcm.get("chat") or {}).get("type") != "private":
            return None
        status = (mcm.get("new_chat_member") or {}).get("status")
        user = mcm.get("from") or {}
        if status not in ("kicked", "member") or "id" not in user:
            return None
        return str(int(user["id"])), status == "member"
    except Exception:
        return None


def _log_my_chat_member(mcm: Json) -> None:
    chat = mcm.get("chat") or {}
    old = (mcm.get("old_chat_member") or {}).get("status")
    new = (mcm.get("new_chat_member") or {}).get("status")
    who = (mcm.get("from") or {}).get("id")
    log.info("telegram: bot status in chat %s (%s) changed %s → %s by user %s",
             chat.get("id"), chat.get("title") or chat.get("type"), old, new, who)
