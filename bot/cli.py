"""The ``cohort`` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot import __version__
from bot.adapters.base import Finding
from bot.bootstrap import App, build_adapters, build_app, capabilities
from bot.cli_setup import ready_app, settings_or_exit
from bot.logs import redact, secrets_of
from bot.settings import Settings, redacted

# Plain help (no Rich panels): Rich renders every flag, --help included, as "<bool>".
app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  help="Cohort: the community manager for learning communities.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema (Alembic).")
config_app = typer.Typer(no_args_is_help=True, help="Settings.")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="a TOML file with your settings")]

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

log = logging.getLogger("cohort")


@app.callback()
def _main(config: ConfigOpt = None) -> None:
    if config is not None:  # settings_or_exit and child processes (scheduled jobs) read it
        os.environ["COHORT_CONFIG"] = str(config)


__all__ = ["app", "main", "ready_app", "settings_or_exit"]


@app.command()
def version() -> None:
    """Print Cohort's version."""
    typer.echo(f"cohort {__version__}")


@config_app.command("show")
def config_show() -> None:
    """Print the effective settings, secrets redacted."""
    settings = settings_or_exit()
    # Secrets show as set / not set; a password inside a database URL is masked too.
    typer.echo(redact(json.dumps(redacted(settings), indent=2, ensure_ascii=False), secrets_of(settings)))


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
    application: App, banner: str = "", *, user: str | None = None, community: str | None = None,
    platform: str = "console", chat: str | None = None,
) -> None:
    """Chat in the terminal as ``user`` (default: the ``console.user`` setting), with the
    owner role, in ``community`` (default: ``console.community``), until /quit."""

    from bot.adapters.console import ConsoleAdapter, ConsoleState, console_session_token
    from bot.ports import Role
    from bot.roles import RoleResolver
    from engine.events import Platform
    from engine.store.recent import RecentMessage, recent_messages

    # The terminal is the chat now: only warnings and errors interrupt it.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.WARNING)
    s = application.settings
    state = ConsoleState(community=community or s.console.community, user=user or s.console.user,
                         chat=chat or s.console.chat, platform=Platform(platform),
                         session=console_session_token())
    state.roles[state.user] = Role.OWNER  # the person at the terminal runs this community

    def history(community_ref: str, chat: str, thread: str | None) -> Awaitable[list[RecentMessage]]:
        return application.store.read(
            lambda session: recent_messages(session, state.platform, community_ref, chat, thread))

    from bot.console_jobs import SchedulerJobs

    application.clock = state.clock  # /time moves what handlers and jobs take as now, too
    console = ConsoleAdapter(application.dispatch, state, history=history,
                             role_lookup=RoleResolver(application.store, s.owner_ids),
                             jobs=SchedulerJobs(application))
    application.notifier.attach(console.messenger)
    typer.echo(banner or (
        "Cohort console. You are the owner; type messages or commands (/help).\n"
        "Console: /as NAME [role] · /in #chat | /in dm · /topic NAME · /reply N text · /react N 👍 · /click N · "
        "/time +1d · /jobs · /quit"
    ))
    await console.show_history()
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
            config = os.environ.get("COHORT_CONFIG")
            notes.append(await asyncio.to_thread(demo.train_recommendations, Path(config) if config else None,
                                                 community_id=options.community_id))
    info = await demo.demo_info(application, options.community_id, seeded=seeded, notes=notes)
    if info is None:
        await run_console(application)
        return
    await run_console(application, demo.banner(application, info), user=info.user_id,
                      community=info.community_id)


async def start_outbound(application: App) -> Scheduler | None:
    """After the adapters exist: resume the outbox, then start the scheduler (when enabled;
    only one process per database runs its jobs). Returns the scheduler, if any."""
    await application.notifier.start()
    if not application.settings.scheduler.enabled:
        return None
    from bot.bootstrap import build_scheduler

    scheduler = build_scheduler(application)
    await scheduler.start()
    return scheduler


async def stop_outbound(application: App, scheduler: Scheduler | None) -> None:
    if scheduler is not None:
        await scheduler.stop()
    await application.notifier.stop()


async def run_adapters(application: App) -> None:
    adapters = build_adapters(application)
    for adapter in adapters:
        for finding in await adapter.doctor():
            level = {"ok": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}[finding.severity]
            log.log(level, "%s: %s%s", finding.check, finding.detail, f" — fix: {finding.fix}" if finding.fix else "")
        await adapter.start()
        log.info("%s adapter running", adapter.name)
    scheduler = await start_outbound(application)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await stop_outbound(application, scheduler)
    for adapter in reversed(adapters):
        await adapter.stop()


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


CommunityOpt = Annotated[str | None, typer.Option(
    "--community", help="open a stored community, e.g. stackexchange:bicycles.meta or telegram:-1001234 "
                        "(an imported one too); `cohort console --community list` lists them")]


@app.command()
def console(demo: DemoOpt = None, community: CommunityOpt = None) -> None:
    """Chat with Cohort in this terminal, as any member, through the real handlers and store.

    With --demo: seed the demo community if the database is empty and be its most active member.
    With --community: open that stored community as its most active member."""
    s = settings_or_exit()
    application = ready_app(s)
    application.start()
    try:
        if community is not None:
            asyncio.run(open_stored_community(application, community))
        elif demo:
            asyncio.run(run_demo_console(application, seed_if_empty=True))
        else:
            asyncio.run(run_console(application))
    finally:
        application.stop()


async def open_stored_community(application: App, ref: str) -> None:
    """The console in a stored community (``platform:external_id`` or an unambiguous external
    id), as its most active member with the owner role; ``list`` prints the choices."""
    from bot import demo
    from engine.members.lookup import find_communities

    found = await application.store.read(lambda session: find_communities(session, None if ref == "list" else ref))
    if ref == "list" or len(found) != 1:
        if ref != "list":
            typer.secho(f"No community matches {ref!r}." if not found else
                        f"{ref!r} matches several communities; name one as platform:id.", fg="red", err=True)
        typer.echo("Stored communities:" if found or ref == "list" else "")
        every = found if found else await application.store.read(lambda session: find_communities(session, None))
        for c in every:
            typer.echo(f"  {c.platform}:{c.external_id}  {c.title or '(no title)'} — {c.members:,} members, "
                       f"{c.messages:,} messages")
        if ref != "list":
            raise typer.Exit(2)
        return
    (target,) = found
    active = await application.store.read(
        lambda session: demo.most_active_member(session, target.external_id, platform=target.platform))
    banner = (f"Cohort console in {target.platform}:{target.external_id} ({target.title or 'no title'}) — "
              f"{target.members:,} members, {target.messages:,} messages.\n"
              + (f"You are {active[1]} ({active[0]}), its most active member, with the owner role.\n" if active else "")
              + "Try /me · /leaderboard · /recommend · /help; /as NAME to be someone else, /quit to leave.")
    await run_console(application, banner, user=active[0] if active else None, community=target.external_id,
                      platform=target.platform, chat=target.busiest_chat or None)


@app.command()
def doctor() -> None:
    """Check the database, models, catalog, scheduled jobs and configured platforms, and say
    how to fix what is wrong (exit 1 when something is broken)."""
    s = settings_or_exit()
    application = build_app(s)

    async def check() -> int:
        from bot.doctor import local_findings

        worst = 0
        secrets = secrets_of(s)

        def show(source: str, findings: list[Finding]) -> None:
            nonlocal worst
            for f in findings:
                mark = {"ok": "✓", "warning": "!", "error": "✗"}[f.severity]
                # A finding can quote a platform error (URLs, parameters): never with a token.
                typer.echo(redact(f"{mark} [{source}] {f.check}: {f.detail}", secrets))
                if f.fix:
                    typer.echo(redact(f"    fix: {f.fix}", secrets))
                worst = max(worst, {"ok": 0, "warning": 0, "error": 1}[f.severity])

        local = await asyncio.to_thread(local_findings, s, application.store.engine)
        show("cohort", local)
        if not any(f.check == "database" and f.severity == "error" for f in local):
            typer.echo(redact("\n".join(await _dead_letter_lines(application)), secrets))
        for adapter in build_adapters(application):
            show(adapter.name, await adapter.doctor())
        return worst

    raise typer.Exit(asyncio.run(check()))


async def _dead_letter_lines(application: App) -> list[str]:
    from engine.ingest.dead_letters import doctor_lines

    try:
        return await application.store.read(doctor_lines)
    except Exception as exc:  # e.g. the schema is not upgraded yet
        return [f"! [ingest] dead letters: cannot read them ({type(exc).__name__}); run `cohort db upgrade`"]


def add_capability_commands(settings: Settings | None = None) -> None:
    """Mount every capability's ``Module.cli`` as ``cohort <cli_name>``. The sub-commands
    do not depend on settings (they load their own), so code defaults list them."""
    mounted = {group.name for group in app.registered_groups}
    for module in capabilities(settings or Settings.model_construct()):
        name = module.cli_name or module.name
        if module.cli is not None and name not in mounted:
            app.add_typer(module.cli, name=name)
            mounted.add(name)


def main() -> None:
    add_capability_commands()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
