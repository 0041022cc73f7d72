"""Every command the router knows, with odd arguments, as an owner, a plain member and in a
private chat: each gets a reply of its own (never the "something went wrong" fallback), and
nothing logs an error or a traceback. The list of commands comes from the router itself, so a
capability added later is swept too."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

from bot.bootstrap import App
from bot.ports import Capability, Role
from engine.events import Platform
from tests.members.fakes import Clock, ModeratingMessenger, cmd, msg

HUGE = "9" * 5000
ODD = [(), ("²",), ("-1",), ("0",), ("@nobody",), (HUGE,), ("\u200b",), ("<b>x</b>&amp;",),
       ("'; DROP TABLE members;--",), ("😀" * 300,), ("١٢",), ("a", "b", "c", "d", "e", "f", "g"),
       ("x" * 70_000,), ("@",), ("#",), ("<@123>",)]
WITH_SUB = [(), ("²",), ("@nobody",), ("-1", "x"), (HUGE,), ("@bob", "²"), ("@boss",), ("on", "off")]
# words a usage line offers as sub-commands: "/nudge on|off|preview @member|report"
_SUB = re.compile(r"(?<![@#<\w])([a-z][a-z_.]{1,20})(?![\w>])")


def sub_commands(usage: str, name: str) -> list[str]:
    words = dict.fromkeys(w for w in _SUB.findall(usage.lower()) if w != name)
    return [w for w in words if w not in {"member", "id", "n", "reason", "duration", "text", "key", "value"}][:12]


@pytest.fixture
async def world(app: App) -> ModeratingMessenger:
    app.clock = Clock()
    m = ModeratingMessenger(Platform.TELEGRAM, roles={"boss": Role.OWNER},
                            capabilities=frozenset({Capability.REPLY, Capability.SEND, Capability.DM,
                                                    Capability.BUTTONS, Capability.MODERATE}))
    for i, user in enumerate(("boss", "bob")):
        await app.dispatch(msg(user, f"hello from {user}", minutes=i), m)
    return m


def _calls(app: App, full: bool) -> list[tuple[str, tuple[str, ...]]]:
    calls: list[tuple[str, tuple[str, ...]]] = []
    for spec in app.router.commands:
        calls += [(spec.name, args) for args in (ODD if full else ODD[:8])]
        for word in sub_commands(spec.usage, spec.name) if full else ():
            calls += [(spec.name, (word, *args)) for args in WITH_SUB]
    return calls


# The default run sweeps the owner with the first odd arguments; CI (slow) sweeps every
# sub-command a usage line names, as owner, member and in private (~3,700 commands).
@pytest.mark.parametrize("who, private, full", [
    ("boss", False, False),
    pytest.param("boss", False, True, marks=pytest.mark.slow),
    pytest.param("bob", False, True, marks=pytest.mark.slow),
    pytest.param("bob", True, True, marks=pytest.mark.slow),
])
async def test_every_command_with_odd_arguments_gets_a_clear_reply(
        app: App, world: ModeratingMessenger, caplog: pytest.LogCaptureFixture,
        who: str, private: bool, full: bool) -> None:
    caplog.set_level(logging.INFO)
    calls = _calls(app, full)
    assert len(app.router.commands) >= 30 and len(calls) > (1000 if full else 300)  # it covers the commands
    silent, fallback = [], []
    clock = app.clock
    assert isinstance(clock, Clock)
    for i, (name, args) in enumerate(calls):
        clock.now += timedelta(minutes=1)  # spaced out: the command budget never silences the sweep
        before = len(world.out)
        await app.dispatch(cmd(who, name, *args, private=private, minutes=10 + i), world)
        said = [o.plain for o in world.out[before:] if o.to == who]
        if not said:
            silent.append((name, args[:2]))
        elif any("went wrong" in s for s in said):
            fallback.append((name, args[:2]))
    broken = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not fallback, fallback[:20]
    assert not broken, "\n".join(f"{r.getMessage()[:200]} {r.exc_info[1]!r:.300}" if r.exc_info else r.getMessage()[:300]
                                  for r in broken[:30])
    assert not silent, silent[:20]
