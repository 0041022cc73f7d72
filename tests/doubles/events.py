"""Small factories for platform-neutral events in tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.events import CommandInvoked, MessagePosted, Platform, ReactionAdded

_ids = itertools.count(1)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(minutes: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes)


def base(user: str, *, community: str = "g1", chat: str | None = None, minutes: float = 0,
         platform: Platform = Platform.CONSOLE, **kw: Any) -> dict[str, Any]:
    return {"platform": platform, "community_id": community, "chat_id": chat or community,
            "user_id": user, "user_name": user.title(), "username": user, "at": at(minutes), **kw}


def message(user: str, text: str = "hello there, a normal message", *, mid: str | None = None, **kw: Any) -> MessagePosted:
    return MessagePosted(**base(user, **kw), message_id=mid or f"m{next(_ids)}", text=text)


def reply(user: str, to: MessagePosted, text: str = "here is how you can do that", **kw: Any) -> MessagePosted:
    return MessagePosted(**base(user, **kw), message_id=f"m{next(_ids)}", text=text,
                         reply_to_message_id=to.message_id, reply_to_user_id=to.user_id)


def react(user: str, to: MessagePosted, emoji: str = "👍", **kw: Any) -> ReactionAdded:
    return ReactionAdded(**base(user, **kw), message_id=to.message_id, emoji=emoji, target_user_id=to.user_id)


def command(user: str, name: str, *args: str, **kw: Any) -> CommandInvoked:
    return CommandInvoked(**base(user, **kw), message_id=f"c{next(_ids)}", name=name, args=args,
                          raw_text="/" + " ".join((name, *args)))
