"""The ``cohort`` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot import __version__
from bot.bootstrap import App, build_adapters, build_app
from bot.settings import Settings, SettingsError, load_settings, redacted

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Cohort: the community manager for learning communities.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema (Alembic).")
config_app = typer.Typer(no_args_is_help=True, help="Settings.")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="a TOML file with your settings")]
_state: dict[str, Path | None] = {"config": None}

log = logging.getLogger("cohort")


@app.callback()
def _main(config: ConfigOpt = None) -> None:
    _state["config"] = config
    if config is not None:  # child processes (scheduled jobs) read the same file
        os.environ["COHORT_CONFIG"] = str(config)


def settings_or_exit() -> Settings:
    """Load settings; on a bad setting print what and how to fix it, exit 2."""
    try:
        settings = load_settings(_state["config"])
    except SettingsError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step is noise
    return settings


def ready_app(settings: Settings) -> App:
    """Build the app with its schema migrated to the newest revision."""
    from engine.store import migrate

    application = build_app(settings)
    migrate.upgrade(application.store.engine)
    return application


@app.command()
def version() -> None:
    """Print Cohort's version."""
    typer.echo(f"cohort {__version__}")


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings, secrets redacted."""
    typer.echo(json.dumps(redacted(settings_or_exit()), indent=2, ensure_ascii=False))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database up (to the newest revision by default)."""
    from engine.store import migrate
    from engine.store.db import make_engine

    s = settings_or_exit()
    migrate.upgrade(make_engine(s.storage.url), revision)
    typer.echo(f"database at {migrate.current(make_engine(s.storage.url))}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="target revision, e.g. -1 or base")]) -> None:
    """Migrate the database down to REVISION."""
    from engine.store import migrate
    from engine.store.db import make_engine

    s = settings_or_exit()
    migrate.downgrade(make_engine(s.storage.url), revision)
    typer.echo(f"database at {migrate.current(make_engine(s.storage.url))}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and whether it is the newest."""
    from engine.store import migrate
    from engine.store.db import make_engine

    s = settings_or_exit()
    engine = make_engine(s.storage.url)
    cur = migrate.current(engine)
    typer.echo(f"{cur or '(empty)'}{' (head)' if cur == migrate.head() else ' (head is ' + str(migrate.head()) + ')'}")


async def run_console(
    application: App, banner: str = "", *, user: str | None = None, community: str | None = None
) -> None:
    """Chat in the terminal as ``user`` (default: the ``console.user`` setting), with the
    owner role, in ``community`` (default: ``console.community``), until /quit."""
    import itertools

    from bot.adapters.console import ConsoleAdapter, ConsoleState
    from bot.demo import console_counter_start
    from bot.ports import Role

    # The terminal is the chat now: only warnings and errors interrupt it.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.WARNING)
    s = application.settings
    state = ConsoleState(community=community or s.console.community, user=user or s.console.user,
                         chat=s.console.chat)
    state.roles[state.user] = Role.OWNER  # the person at the terminal runs this community
    # Message numbers go on from the last session's: reused numbers would be dropped as redeliveries.
    first = await application.store.read(lambda session: console_counter_start(session, (state.community,)))
    state.counter = itertools.count(first)
    console = ConsoleAdapter(application.dispatch, state)
    application.services["console"] = console
    typer.echo(banner or (
        "Cohort console. You are the owner; type messages or commands (/help).\n"
        "Console: /as NAME [role] · /in #chat | /in dm · /topic NAME · /reply N text · /react N 👍 · /click N · /quit"
    ))
    await console.run()


async def run_demo_console(
    application: App, *, seed_if_empty: bool, options: Any = None, train: bool = True
) -> None:
    """The no-token experience: seed the demo community on an empty database (or from
    ``COHORT_DEMO_FROM``), then chat in it as its most active member. A database that
    already holds other communities opens the plain console instead. ``options`` is a
    ``bot.demo.DemoOptions`` (default: 150 members × 60 days)."""
    from bot import demo
    from engine.history import HistoryFormatError

    options = options or demo.DemoOptions(community_id=application.settings.console.community)
    seeded = False
    notes: list[str] = []
    if seed_if_empty and not await demo.has_any_community(application):
        source = demo.demo_source()
        typer.echo(f"First start: seeding a demo community from {source or 'the simulator'} "
                   f"({'' if source else f'{options.members} members × {options.days} days, '}one-off, under a minute)…")
        try:
            notes = await demo.seed_demo(application, options, source=source)
        except HistoryFormatError as exc:
            typer.secho(f"{demo.DEMO_FROM_ENV}: {exc}", fg="red", err=True)
            raise typer.Exit(2) from exc
        seeded = True
        if source is None and train:
            typer.echo("Training recommendations (in a separate process)…")
            notes.append(await asyncio.to_thread(demo.train_recommendations, _state["config"],
                                                 community_id=options.community_id))
    info = await demo.demo_info(application, options.community_id, seeded=seeded, notes=notes)
    if info is None:
        await run_console(application)
        return
    await run_console(application, demo.banner(application, info), user=info.user_id,
                      community=info.community_id)


def start_scheduler(application: App) -> None:
    """Start the scheduler on the running loop when enabled in the settings."""
    if application.settings.scheduler.enabled:
        from bot.bootstrap import build_scheduler

        build_scheduler(application).start()


async def run_adapters(application: App) -> None:
    start_scheduler(application)
    adapters = build_adapters(application)
    for adapter in adapters:
        for finding in await adapter.doctor():
            level = {"ok": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}[finding.severity]
            log.log(level, "%s: %s%s", finding.check, finding.detail, f" — fix: {finding.fix}" if finding.fix else "")
        await adapter.start()
        log.info("%s adapter running", adapter.name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for adapter in reversed(adapters):
        await adapter.stop()
    if "scheduler" in application.services:
        application.services["scheduler"].shutdown()


DemoOpt = Annotated[bool | None, typer.Option(
    "--demo/--no-demo",
    help="seed a simulated community on an empty database (or from COHORT_DEMO_FROM) and chat in it; "
         "default: on for `run` without tokens, off for `console`")]


@app.command()
def run(demo: DemoOpt = None) -> None:
    """Run the bot: Telegram and/or Discord when their tokens are set, else the console
    (with a demo community on the first start)."""
    s = settings_or_exit()
    has_tokens = s.telegram_token is not None or s.discord_token is not None
    if has_tokens and demo:
        typer.secho("--demo runs in the console; unset TELEGRAM_TOKEN/DISCORD_TOKEN or use "
                    "`cohort console --demo`", fg="red", err=True)
        raise typer.Exit(2)
    application = ready_app(s)
    application.start()
    try:
        if not has_tokens:
            typer.echo("No TELEGRAM_TOKEN or DISCORD_TOKEN set: starting the console.")
            if demo is False:
                asyncio.run(run_console(application))
            else:
                asyncio.run(run_demo_console(application, seed_if_empty=True))
        else:
            asyncio.run(run_adapters(application))
    finally:
        application.stop()


@app.command()
def console(demo: DemoOpt = None) -> None:
    """Chat with Cohort in this terminal, as any member, through the real handlers and store.

    With --demo: seed the demo community if the database is empty and be its most active member."""
    s = settings_or_exit()
    application = ready_app(s)
    application.start()
    try:
        if demo:
            asyncio.run(run_demo_console(application, seed_if_empty=True))
        else:
            asyncio.run(run_console(application))
    finally:
        application.stop()


@app.command()
def doctor() -> None:
    """Check the configured platforms and say how to fix what is wrong."""
    s = settings_or_exit()
    application = build_app(s)

    async def check() -> int:
        worst = 0
        typer.echo("\n".join(await _dead_letter_lines(application)))
        adapters = build_adapters(application)
        if not adapters:
            typer.echo("no TELEGRAM_TOKEN or DISCORD_TOKEN set: only the console would run")
        for adapter in adapters:
            for f in await adapter.doctor():
                mark = {"ok": "✓", "warning": "!", "error": "✗"}[f.severity]
                typer.echo(f"{mark} [{adapter.name}] {f.check}: {f.detail}")
                if f.fix:
                    typer.echo(f"    fix: {f.fix}")
                worst = max(worst, {"ok": 0, "warning": 0, "error": 1}[f.severity])
        return worst

    raise typer.Exit(asyncio.run(check()))


async def _dead_letter_lines(application: App) -> list[str]:
    from engine.ingest.dead_letters import doctor_lines

    try:
        return await application.store.read(doctor_lines)
    except Exception as exc:  # e.g. the schema is not upgraded yet
        return [f"! [ingest] dead letters: cannot read them ({type(exc).__name__}); run `cohort db upgrade`"]


# Capability modules add their own sub-commands: each exposes ``cli: typer.Typer`` and a
# ``CLI_NAME``; they use ``settings_or_exit`` / ``ready_app`` from here.
CLI_MODULES: tuple[str, ...] = (
    "bot.adapters.discord.cli",
    "bot.history_cli",
    "bot.recsys_cli",
    "bot.handlers.catalog",
    "bot.audit_cli",
)


def _add_capability_commands() -> None:
    import importlib

    for name in CLI_MODULES:
        module = importlib.import_module(name)
        app.add_typer(module.cli, name=module.CLI_NAME)


def main() -> None:
    _add_capability_commands()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
