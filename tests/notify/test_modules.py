"""The capability-module contract: one list builds commands, handlers, projections and
services; a missing dependency or a duplicate declaration fails at start."""

from __future__ import annotations

import pytest

from bot.bootstrap import build_app, capabilities
from bot.modules import (
    Daily,
    EventHandler,
    JobSpec,
    Module,
    SettingSpec,
    check_injectable,
    text,
    validate_modules,
)
from bot.ports import Role
from bot.router import CommandContext, CommandSpec
from bot.settings import Settings
from engine.events import MessagePosted
from tests.members.fakes import FakeMessenger, cmd, msg


class Greeter:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting


async def test_a_module_brings_commands_handlers_and_services(settings: Settings) -> None:
    seen: list[str] = []

    async def hello(ctx: CommandContext, greeter: Greeter) -> None:
        await ctx.reply(f"{greeter.greeting}, {ctx.event.user_id}")

    async def count(event: MessagePosted) -> None:
        seen.append(event.text)

    module = Module(
        "greeter",
        provides={"greeter": lambda settings: Greeter("hi" if settings.language == "en" else "你好")},
        commands=(CommandSpec("hello", hello, Role.MEMBER, "say hello"),),
        handlers=(EventHandler((MessagePosted,), count),),
        messages={"hi": {"en": "hi {name}", "zh": "你好 {name}"}},
    )
    app = build_app(settings, modules=[module])
    app.store.create_schema()
    app.start()
    try:
        fake = FakeMessenger()
        await app.dispatch(msg("ada", "first"), fake)
        await app.dispatch(cmd("ada", "hello"), fake)
        assert seen == ["first"]
        assert fake.last_reply("ada") == "hi, ada"
    finally:
        app.stop()
    assert text(module.messages, "hi", "zh", name="Ada") == "你好 Ada"
    assert text(module.messages, "hi", "fr", name="Ada") == "hi Ada"


def test_a_missing_dependency_fails_at_start(settings: Settings) -> None:
    async def needs(ctx: CommandContext, weather: object) -> None: ...

    with pytest.raises(RuntimeError, match="weather"):
        build_app(settings, modules=[Module("w", commands=(CommandSpec("w", needs),))])
    with pytest.raises(RuntimeError, match="weather"):
        check_injectable("job", needs, {"store"})


def test_duplicates_are_refused() -> None:
    async def work() -> None: ...

    job = JobSpec("a.daily", Daily(at="08:00"), work)
    with pytest.raises(ValueError, match=r"a\.daily"):
        validate_modules([Module("a", jobs=(job,)), Module("b", jobs=(job,))])
    with pytest.raises(ValueError, match="module 'a'"):
        validate_modules([Module("a"), Module("a")])


def test_setting_specs_parse_and_validate() -> None:
    def positive(v: int) -> int:
        if v <= 0:
            raise ValueError("must be positive")
        return v

    spec = SettingSpec("points.cap", int, 10, validate=positive)
    assert spec.clean("12") == 12
    for bad in ("²", "-3", "x", "9" * 40, True):
        with pytest.raises(ValueError):
            spec.clean(bad)
    assert SettingSpec("x.on", bool, False).clean("on") is True


def test_the_shipped_capabilities_are_consistent() -> None:
    mods = capabilities()
    validate_modules(mods)
    assert "notifier" in {m.name for m in mods}
