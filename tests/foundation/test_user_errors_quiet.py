"""User-caused errors are a reply, not a log entry: /config typos, /points take beyond the
balance, a bad /item, a bad timezone get their polite reply with nothing at WARNING or
above and no traceback; a platform refusal during a command is one WARNING line."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from bot.bootstrap import App
from bot.ports import Button, PlatformError, Role, SentMessage
from engine.events import Platform
from tests.members.fakes import FakeMessenger, cmd, msg

MISTAKES = [
    (("config", "points.nope", "1"), "valid keys"),
    (("config", "points.daily_cap", "lots"), "whole number"),
    (("config", "points.streak_milestones", "3-5"), "DAYS:POINTS"),
    (("config", "timezone", "Mars/Olympus"), "Timezone not changed"),
    (("config", "colour", "blue"), "Settings you can change"),
    (("points", "take", "@bob", "500", "spam"), "bob"),
    (("item", "add", "not-a-url"), "bad URL"),
    (("item", "edit", "no-such-item", "title", "New"), "no-such-item"),
    (("item", "remove", "no-such-item"), "no-such-item"),
    (("badge", "grant", "@bob", "wizard"), "Unknown badge"),
]


@pytest.mark.parametrize("args, said", MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
async def test_user_mistakes_are_replied_not_logged(app: App, caplog: pytest.LogCaptureFixture,
                                                    args: tuple[str, ...], said: str) -> None:
    tg = FakeMessenger(Platform.TELEGRAM, roles={"boss": Role.OWNER})
    for user in ("boss", "bob"):
        await app.dispatch(msg(user, f"hello, this is {user} saying hi"), tg)
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    await app.dispatch(cmd("boss", *args), tg)
    reply = tg.last_reply("boss")
    assert said.lower() in reply.lower() and "went wrong" not in reply
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == [], caplog.text


class RefusingMessenger(FakeMessenger):
    """Every reply fails as a platform would (a 403 or a flood wait past the bound)."""

    async def reply(self, to: object, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        raise PlatformError("sendMessage: flood control, retry after 120s")


async def test_a_platform_refusal_during_a_command_is_one_warning_without_traceback(
        app: App, caplog: pytest.LogCaptureFixture) -> None:
    m = RefusingMessenger(Platform.TELEGRAM)
    await app.dispatch(msg("bob", "hello, this is bob saying hi"), m)
    caplog.clear()
    await app.dispatch(cmd("bob", "help"), m)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud and all(r.levelname == "WARNING" and not r.exc_info for r in loud), caplog.text
    assert "flood control" in loud[0].getMessage()
