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
from engine.events import MessagePosted, utcnow
from engine.store.store import Store
from tests.members.fakes import FakeMessenger, cmd, msg


class Greeter:
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting


async def test_a_module_brings_commands_handlers_and_services(settings: Settings) -> None:
    seen: list[str] = []

    greeter = Greeter("hi" if settings.language == "en" else "你好")  # a service only this capability uses

    async def hello(ctx: CommandContext, store: Store) -> None:  # ``store``: a field of the typed Deps
        assert isinstance(store, Store)
        await ctx.reply(f"{greeter.greeting}, {ctx.event.user_id}")

    async def count(event: MessagePosted) -> None:
        seen.append(event.text)

    module = Module(
        "greeter",
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
        check_injectable("job", needs, None)


def test_a_service_a_capability_shares_is_a_typed_field_it_provides(settings: Settings) -> None:
    app = build_app(settings)
    assert app.deps.automod is not None and app.deps.recommender is not None  # moderation, recommend
    assert app.deps.clock() <= utcnow()
    bare = build_app(settings, modules=[Module("a")])
    assert bare.deps.automod is None

    async def needs(ctx: CommandContext, automod: object) -> None: ...

    with pytest.raises(RuntimeError, match="automod"):  # moderation is not running: nobody provides it
        build_app(settings, modules=[Module("w", commands=(CommandSpec("w", needs),))])


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


def test_the_shipped_capabilities_are_consistent(settings: Settings) -> None:
    mods = capabilities(settings)
    validate_modules(mods)
    assert "notifier" in {m.name for m in mods}


def test_the_sdk_contract_covers_every_bot_module_but_the_adapters() -> None:
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    contracts = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (sdk,) = [c for c in contracts if c["name"] == "only bot.adapters imports chat SDKs"]
    modules = {f"bot.{p.stem}" for p in (root / "bot").glob("*.py") if p.stem != "__init__"}
    packages = {f"bot.{p.name}" for p in (root / "bot").iterdir() if (p / "__init__.py").exists()}
    assert set(sdk["source_modules"]) == modules | packages - {"bot.adapters"}
