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
* Every text field (message text, captions, titles, names, usernames, button data) is
  cleaned like message text (:func:`engine.text.clean_text`) and bounded in length; a
  display field of the wrong type is treated as empty. Ids, dates and structure of the
  wrong type make the update malformed: :func:`convert_update` says why, for quarantine.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
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
from engine.text import clean_text

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
# Telegram's own limits are far lower (4096 characters of text, 64 bytes of button data);
# these only keep a forged or broken update from costing more than a real one.
MAX_TEXT = 32_768
MAX_NAME = 256
MAX_USERNAME = 128
MAX_DATA = 256
MAX_REASON = 200
_ID_LIMIT = 2**63


class Malformed(ValueError):
    """An update whose structure or ids are not what the Bot API sends."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """The events of one update, or why it could not be converted (``problem``)."""

    events: list[Event]
    problem: str | None = None


def convert_update(update_json: Any, bot_username: str, bot_id: int) -> Conversion:
    """Convert one raw update. A malformed or unknown update gives no events and a short
    ``problem`` (at most ``MAX_REASON`` characters, no payload). Never raises."""
    try:
        return Conversion(_convert(update_json, bot_username, bot_id))
    except RecursionError:
        return Conversion([], "nested too deeply")
    except Exception as exc:  # malformed input must never stop ingest
        return Conversion([], _reason(exc))


def _reason(exc: BaseException) -> str:
    text = clean_text(str(exc)).replace("\n", " ")
    if len(text) > MAX_REASON - 40:
        text = text[: MAX_REASON - 41] + "…"
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, Malformed) else text


def to_events(update_json: Mapping[str, Any], bot_username: str, bot_id: int) -> list[Event]:
    """The events one raw update stands for (often one, sometimes none or several).

    Returns ``[]`` for update kinds Cohort does not use, commands addressed to another
    bot, service messages it ignores and malformed updates (logged in one short line).
    Never raises. The adapter uses :func:`convert_update`, which also says why.
    """
    conversion = convert_update(update_json, bot_username, bot_id)
    if conversion.problem is not None:
        uid = update_json.get("update_id") if isinstance(update_json, Mapping) else None
        log.warning("telegram update %s skipped: %s", _shown_id(uid), conversion.problem)
    return conversion.events


def _shown_id(value: Any) -> str:
    return str(value) if isinstance(value, int) and abs(value) < _ID_LIMIT else "(no id)"


def _convert(update: Json, bot_username: str, bot_id: int) -> list[Event]:
    if not isinstance(update, Mapping):
        raise Malformed(f"update is a {type(update).__name__}, not an object")
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
    kinds = [clean_text(str(k))[:40] for k in list(update)[:5] if k != "update_id"]
    raise Malformed(f"unknown update kind {kinds}" if kinds else "no update kind")


# -- shared pieces ---------------------------------------------------------------------
def _obj(value: Any, what: str) -> Json:
    if not isinstance(value, Mapping):
        raise Malformed(f"{what} is {_type(value)}, not an object")
    return value


def _type(value: Any) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


def _int(value: Any, what: str) -> int:
    """A JSON integer as Telegram sends it (not a bool, a float or a string)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"{what} is {_type(value)}, not an integer")
    if not -_ID_LIMIT < value < _ID_LIMIT:
        raise Malformed(f"{what} is out of range")
    return value


def _id(value: Any, what: str) -> str:
    return str(_int(value, what))


def _ts(value: Any, what: str = "date") -> datetime:
    seconds = _int(value, what)
    if not 0 <= seconds < 2**37:  # until the year 6325
        raise Malformed(f"{what} is out of range")
    return datetime.fromtimestamp(seconds, UTC)


def _field(value: Any, limit: int = MAX_NAME) -> str:
    """A display string (title, name, username): cleaned, bounded; anything else is ""."""
    if not isinstance(value, str):
        return ""
    return clean_text(value[:limit])


def _name(user: Json) -> str:
    return " ".join(p for p in (_field(user.get("first_name")), _field(user.get("last_name"))) if p)[:MAX_NAME]


def _chat_fields(chat: Any) -> dict[str, Any]:
    chat = _obj(chat, "chat")
    chat_id = _id(chat.get("id"), "chat.id")
    private = chat.get("type") == "private"
    title = _field(chat.get("title"))
    return {
        "platform": TG,
        "community_id": "" if private else chat_id,
        "chat_id": chat_id,
        "is_private": private,
        "chat_title": title,
        "chat_username": "" if private else _field(chat.get("username"), MAX_USERNAME),
    }


def _actor(msg: Json) -> dict[str, Any]:
    """user_id/user_name/username/is_bot of whoever posted ``msg`` (anonymous → "")."""
    sender_chat = msg.get("sender_chat")
    if sender_chat:
        sender_chat = _obj(sender_chat, "sender_chat")
        return {"user_id": "", "user_name": _field(sender_chat.get("title")),
                "username": _field(sender_chat.get("username"), MAX_USERNAME), "is_bot": False}
    user = msg.get("from")
    if not user:
        return {"user_id": "", "user_name": "", "username": "", "is_bot": False}
    return _user_fields(user)


def _user_fields(user: Any, what: str = "from") -> dict[str, Any]:
    user = _obj(user, what)
    return {"user_id": _id(user.get("id"), f"{what}.id"), "user_name": _name(user),
            "username": _field(user.get("username"), MAX_USERNAME), "is_bot": user.get("is_bot") is True}


def _thread(msg: Json) -> str | None:
    # ``message_thread_id`` without ``is_topic_message`` is a reply thread in a plain group.
    if msg.get("is_topic_message") and msg.get("message_thread_id") is not None:
        return _id(msg["message_thread_id"], "message_thread_id")
    return None


def _utf16_slice(text: str, offset: int, length: int) -> str:
    # Entity offsets count UTF-16 code units, not Python characters.
    raw = text.encode("utf-16-le", "surrogatepass")
    return raw[2 * offset : 2 * (offset + length)].decode("utf-16-le", "replace")


def _entities(text: str, entities: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(links, mentions) from message entities, in order, without repeats. An entity of the
    wrong shape makes the update malformed; one pointing outside the text gives nothing."""
    links: dict[str, None] = {}
    mentions: dict[str, None] = {}
    if entities is None:
        return (), ()
    if not isinstance(entities, list):
        raise Malformed(f"entities is {_type(entities)}, not a list")
    for ent in entities[:200]:
        ent = _obj(ent, "entity")
        kind = ent.get("type")
        if kind == "url":
            links.setdefault(_span(text, ent), None)
        elif kind == "text_link" and isinstance(ent.get("url"), str):
            links.setdefault(clean_text(ent["url"][:2048]), None)
        elif kind == "mention":
            mentions.setdefault(_span(text, ent), None)
        elif kind == "text_mention" and ent.get("user"):
            mentions.setdefault(_id(_obj(ent["user"], "entity.user").get("id"), "entity.user.id"), None)
    links.pop("", None)
    mentions.pop("", None)
    return tuple(links), tuple(mentions)


def _span(text: str, ent: Json) -> str:
    offset, length = _int(ent.get("offset"), "offset"), _int(ent.get("length"), "length")
    if offset < 0 or length <= 0 or length > 2048:
        return ""
    return clean_text(_utf16_slice(text, offset, length))


def _text(msg: Json) -> tuple[str, Any]:
    if (text := msg.get("text")) is not None:
        if not isinstance(text, str):
            raise Malformed(f"text is {_type(text)}, not a string")
        return clean_text(text[:MAX_TEXT]), msg.get("entities")
    caption = msg.get("caption")
    if caption is not None and not isinstance(caption, str):
        raise Malformed(f"caption is {_type(caption)}, not a string")
    return clean_text((caption or "")[:MAX_TEXT]), msg.get("caption_entities")


def _reply(msg: Json, thread_id: str | None) -> tuple[str | None, str | None]:
    target = msg.get("reply_to_message")
    if not target:
        return None, None
    target = _obj(target, "reply_to_message")
    # In a forum every topic message "replies" to the topic's creation message.
    if thread_id is not None and (
        target.get("forum_topic_created") is not None or str(target.get("message_id")) == thread_id
    ):
        return None, None
    author = None if target.get("sender_chat") else target.get("from")
    author_id = _id(_obj(author, "reply_to_message.from").get("id"), "reply_to_message.from.id") if author else None
    return _id(target.get("message_id"), "reply_to_message.message_id"), author_id


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
def _message(msg: Any, bot_username: str, bot_id: int) -> list[Event]:
    msg = _obj(msg, "message")
    base = {**_chat_fields(msg.get("chat")), **_actor(msg), "at": _ts(msg.get("date")),
            "message_id": _id(msg.get("message_id"), "message_id"), "thread_id": _thread(msg)}

    if (joined := msg.get("new_chat_members")) is not None:
        if not isinstance(joined, list):
            raise Malformed(f"new_chat_members is {_type(joined)}, not a list")
        inviter = base["user_id"] or None
        out: list[Event] = []
        for user in joined[:200]:
            fields = _user_fields(user, "new_chat_members[]")
            if fields["user_id"] == str(bot_id):
                continue  # the bot being added is my_chat_member business
            invited_by = inviter if inviter != fields["user_id"] else None
            out.append(MemberJoined(**{**base, **fields}, invited_by=invited_by))
        return out
    if (left := msg.get("left_chat_member")) is not None:
        fields = _user_fields(left, "left_chat_member")
        if fields["user_id"] == str(bot_id):
            return []
        return [MemberLeft(**{**base, **fields})]
    # A group upgraded to a supergroup gets a new id; Telegram says so in both chats.
    if (moved_to := msg.get("migrate_to_chat_id")) is not None:
        return [ChatMoved(**base, new_chat_id=_id(moved_to, "migrate_to_chat_id"))]
    if (moved_from := msg.get("migrate_from_chat_id")) is not None:
        old = _id(moved_from, "migrate_from_chat_id")
        return [ChatMoved(**{**base, "chat_id": old, "community_id": old, "thread_id": None},
                          new_chat_id=base["chat_id"])]
    if (topic := msg.get("forum_topic_created")) is not None:
        topic = _obj(topic, "forum_topic_created")
        thread_raw = msg.get("message_thread_id")
        thread = _id(thread_raw, "message_thread_id") if thread_raw is not None else base["message_id"]
        return [ThreadOpened(**{**base, "thread_id": thread}, title=_field(topic.get("name"), 512))]

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
        sender_chat_id=_id(sender_chat.get("id"), "sender_chat.id") if sender_chat else None,
    )]


def _edited(msg: Any) -> list[Event]:
    msg = _obj(msg, "edited_message")
    text, entities = _text(msg)
    links, mentions = _entities(text, entities)
    when = msg.get("edit_date") or msg.get("date")
    return [MessageEdited(**_chat_fields(msg.get("chat")), **_actor(msg), at=_ts(when),
                          message_id=_id(msg.get("message_id"), "message_id"), thread_id=_thread(msg),
                          text=text, links=links, mentions=mentions)]


# -- buttons, reactions, membership ---------------------------------------------------------
def _callback(cq: Any) -> list[Event]:
    cq = _obj(cq, "callback_query")
    msg = cq.get("message")
    if not msg or not isinstance(msg, Mapping) or not msg.get("chat"):
        # Inline-mode messages have no chat; Cohort never sends any.
        log.info("telegram callback query without a message ignored")
        return []
    click_id = cq.get("id")
    if not isinstance(click_id, str) or not click_id or len(click_id) > 64:
        raise Malformed(f"callback_query.id is {_type(click_id)}, not a short string")
    data = cq.get("data")
    return [ButtonClicked(**_chat_fields(msg["chat"]), **_user_fields(cq.get("from")), at=utcnow(),
                          message_id=_id(msg.get("message_id"), "message.message_id"), thread_id=_thread(msg),
                          data=_field(data, MAX_DATA), click_id=clean_text(click_id))]


def _reaction_key(reaction: Any) -> str:
    reaction = _obj(reaction, "reaction type")
    kind = reaction.get("type")
    if kind == "emoji":
        return _field(reaction.get("emoji"), 64)
    if kind == "custom_emoji":
        return f"custom:{_field(reaction.get('custom_emoji_id'), 56)}"
    return _field(kind, 64) or "unknown"  # "paid" stars and future kinds


def _reactions(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{what} is {_type(value)}, not a list")
    return value[:100]


def _reaction(mr: Any) -> list[Event]:
    mr = _obj(mr, "message_reaction")
    user = mr.get("user")
    if not user:
        return []  # anonymous admin or channel: the count update covers it
    base = {**_chat_fields(mr.get("chat")), **_user_fields(user, "user"), "at": _ts(mr.get("date")),
            "message_id": _id(mr.get("message_id"), "message_id")}
    old = [_reaction_key(r) for r in _reactions(mr.get("old_reaction"), "old_reaction")]
    new = [_reaction_key(r) for r in _reactions(mr.get("new_reaction"), "new_reaction")]
    out: list[Event] = [ReactionRemoved(**base, emoji=e) for e in old if e not in new]
    out += [ReactionAdded(**base, emoji=e) for e in new if e not in old]
    return out


def _reaction_count(mrc: Any) -> list[Event]:
    mrc = _obj(mrc, "message_reaction_count")
    base = {**_chat_fields(mrc.get("chat")), "user_id": "", "at": _ts(mrc.get("date")),
            "message_id": _id(mrc.get("message_id"), "message_id")}
    out: list[Event] = []
    for r in _reactions(mrc.get("reactions"), "reactions"):
        r = _obj(r, "reaction count")
        out.append(ReactionCountChanged(**base, emoji=_reaction_key(r.get("type")),
                                        count=_int(r.get("total_count"), "total_count")))
    return out


def _is_in(member: Json) -> bool:
    status = member.get("status")
    return status in _IN_CHAT or (status == "restricted" and bool(member.get("is_member")))


def _chat_member(cm: Any, bot_id: int) -> list[Event]:
    cm = _obj(cm, "chat_member")
    old = _obj(cm.get("old_chat_member"), "old_chat_member")
    new = _obj(cm.get("new_chat_member"), "new_chat_member")
    fields = _user_fields(new.get("user"), "new_chat_member.user")
    if fields["user_id"] == str(bot_id):
        return []
    base = {**_chat_fields(cm.get("chat")), **fields, "at": _ts(cm.get("date"))}
    was, now = _is_in(old), _is_in(new)
    if not was and now:
        actor = cm.get("from")
        actor_id = _user_fields(actor)["user_id"] if actor else None
        invited_by = actor_id if actor_id != fields["user_id"] else None
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
        return _id(user["id"], "from.id"), status == "member"
    except Exception:
        return None


def _log_my_chat_member(mcm: Any) -> None:
    mcm = _obj(mcm, "my_chat_member")
    chat = _obj(mcm.get("chat"), "chat")
    chat_id = _id(chat.get("id"), "chat.id")
    old = _field((mcm.get("old_chat_member") or {}).get("status"), 20)
    new = _field((mcm.get("new_chat_member") or {}).get("status"), 20)
    who = _user_fields(mcm["from"])["user_id"] if mcm.get("from") else "?"
    log.info("telegram: bot status in chat %s (%s) changed %s → %s by user %s",
             chat_id, _field(chat.get("title"), 60) or _field(chat.get("type"), 20), old, new, who)
