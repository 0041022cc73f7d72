"""``cohort import ...``: load a community's history through the live message path.

    cohort import telegram-export result.json
    cohort import discord-export general.json [thread.json ...]
    cohort import stackexchange DIR [--site NAME]
    cohort import demo [--members N --days D --seed S --language en|zh|mixed]

Every event goes through ``app.dispatch`` exactly like a live update (store, points,
handlers), with an :class:`ImportMessenger` that says nothing: a ``/command`` found
in a year-old export must not be answered today, and the badges and level-ups the
history earns must not be announced in chat. Importing the same file twice changes
nothing (every event has a dedup key); overlapping exports merge.

A file that is not the format asked for stops with exit code 2 *before* the database
is opened, so nothing is written. Exit code 1 means the import ran but some events
failed to store or the file was cut short; the summary says which.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from bot.bootstrap import App
from bot.history_import import ImportResult, import_events
from bot.modules import Module
from engine.events import Platform
from engine.history import (
    EventStream,
    HistoryFormatError,
    read_discord_export,
    read_stackexchange_dump,
    read_telegram_export,
)
from engine.history.ingest import IngestSummary

CLI_NAME = "import"
cli = typer.Typer(
    no_args_is_help=True,
    help="Import a community's history (Telegram, Discord, Stack Exchange) or seed a simulated one.",
)

SKIPS_LISTED = 20
FAILURES_LISTED = 20


# -- progress and summary -----------------------------------------------------------------------


class ImportProgress:
    """A rich progress bar over bytes read (files) or simulated days (``demo``).

    Drawn only on a terminal; under a test runner or a pipe it stays silent.
    """

    def __init__(self, console: Console, label: str, *, unit: str = "bytes") -> None:
        columns: list[object]
        if unit == "bytes":
            columns = [DownloadColumn(), TransferSpeedColumn()]
        else:
            columns = [MofNCompleteColumn(), TextColumn(unit)]
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            *columns,  # type: ignore[arg-type]
            TextColumn("{task.fields[events]:>10,} events"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
            transient=False,
        )
        self.task: TaskID = self.progress.add_task(label, total=None, events=0)

    def bytes(self, done: int, total: int) -> None:
        """ProgressCallback for the importers: ``(bytes_read, bytes_total)``."""
        self.progress.update(self.task, completed=done, total=total or None)

    def steps(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)

    def events(self, summary: IngestSummary) -> None:
        self.progress.update(self.task, events=summary.total)

    def __enter__(self) -> ImportProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def print_summary(console: Console, result: ImportResult) -> None:
    """Events by kind, members, skipped records (the first 20 with where and why),
    duplicates and failures, as a table and a few lines."""
    report, summary = result.report, result.summary
    table = Table(title=f"Imported {report.source}", show_edge=False)
    table.add_column("kind")
    table.add_column("in source", justify="right")
    table.add_column("stored now", justify="right")
    for kind in sorted(report.events_by_kind):
        table.add_row(kind, f"{report.events_by_kind[kind]:,}", f"{summary.new_by_kind.get(kind, 0):,}")
    table.add_row("[bold]total", f"[bold]{report.events_total:,}", f"[bold]{summary.new:,}")
    console.print(table)
    console.print(f"members seen: {len(report.members_seen):,}")
    console.print(
        f"already stored (duplicates): {summary.duplicate:,} · failed: {summary.failed:,} · "
        f"{summary.seconds:.1f} s, {summary.events_per_second:,.0f} events/s"
    )
    dropped = result.messenger.dropped
    if dropped:
        said = ", ".join(f"{n} {kind}" for kind, n in sorted(dropped.items()))
        console.print(f"not sent to any chat (history is replayed silently): {said}")
    ignored = sum(report.ignored_by_type.values())
    if ignored:
        kinds = ", ".join(f"{k}={n}" for k, n in report.ignored_by_type.most_common(8))
        console.print(f"ignored (valid, not community activity): {ignored:,} ({kinds})")
    if report.out_of_order:
        console.print(f"events out of time order: {report.out_of_order:,}")
    if report.skipped_total:
        console.print(f"[yellow]skipped {report.skipped_total:,} records:")
        for reason, n in report.skipped_by_reason.most_common(10):
            console.print(f"  {n:,} × {reason}", markup=False)
        for skipped in report.skipped[:SKIPS_LISTED]:
            console.print(f"  - {skipped}", markup=False)
        if report.skipped_total > SKIPS_LISTED:
            console.print(f"  … and {report.skipped_total - SKIPS_LISTED:,} more")
    else:
        console.print("skipped records: 0")
    if summary.failed:
        console.print(f"[red]failed to store {summary.failed:,} events:")
        for failure in summary.failures[:FAILURES_LISTED]:
            console.print(f"  - {failure}", markup=False)
    if report.aborted:
        console.print(f"[red]stopped early: {report.aborted}", markup=False)
    if summary.interrupted:
        console.print("[red]interrupted: what is counted above was stored")


# -- running one import --------------------------------------------------------------------------


def run_import(
    open_stream: Callable[[ImportProgress], EventStream],
    *,
    label: str,
    platform: Platform,
    console: Console | None = None,
    unit: str = "bytes",
    before: Callable[[App], Awaitable[list[str]]] | None = None,
) -> ImportResult:
    """Open the source (exit 2 on a format error, before touching the database), then
    migrate, run ``before(app)`` (notes are printed), import with a progress bar, print
    the summary. Returns the result; the caller decides the exit code."""
    from bot.cli_setup import ready_app, settings_or_exit

    console = console or Console()
    settings = settings_or_exit()
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter would hide the summary
    with ImportProgress(console, label, unit=unit) as progress:
        try:
            stream = open_stream(progress)
        except HistoryFormatError as exc:
            progress.progress.stop()
            console.print(f"[red]error:[/red] {exc}", highlight=False)
            console.print("nothing was imported.")
            raise typer.Exit(2) from exc
        application = ready_app(settings)
        application.start()
        notes: list[str] = []

        async def go() -> ImportResult:
            if before is not None:
                notes.extend(await before(application))
            return await import_events(application, stream, platform=platform, on_progress=progress.events)

        try:
            with stream:
                result = asyncio.run(go())
        finally:
            application.stop()
    for note in notes:
        console.print(note, markup=False)
    print_summary(console, result)
    return result


def _exit_for(result: ImportResult) -> None:
    if not result.ok:
        raise typer.Exit(1)


ExistingFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


@cli.command("telegram-export")
def telegram_export(path: ExistingFile) -> None:
    """Import a Telegram Desktop export of one group (``result.json``, JSON format)."""
    result = run_import(lambda p: read_telegram_export(path, progress=p.bytes),
                        label=path.name, platform=Platform.TELEGRAM)
    _exit_for(result)


@cli.command("discord-export")
def discord_export(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True,
                                                help="DiscordChatExporter JSON files (a channel or thread each)")],
) -> None:
    """Import DiscordChatExporter JSON exports (one channel or thread per file)."""
    # Validate every file first: a wrong file among several must not leave half an import.
    for path in paths:
        try:
            read_discord_export(path).close()
        except HistoryFormatError as exc:
            Console().print(f"[red]error:[/red] {exc}\nnothing was imported.", highlight=False)
            raise typer.Exit(2) from exc
    results = [run_import(lambda p, path=path: read_discord_export(path, progress=p.bytes),  # type: ignore[misc]
                          label=path.name, platform=Platform.DISCORD) for path in paths]
    for result in results:
        _exit_for(result)


@cli.command("stackexchange")
def stackexchange(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False,
                                              help="an unpacked dump: Posts.xml, Comments.xml, Votes.xml, Users.xml")],
    site: Annotated[str | None, typer.Option(help="community name (default: the directory's name)")] = None,
) -> None:
    """Import a Stack Exchange data dump directory (one site)."""
    result = run_import(lambda p: read_stackexchange_dump(directory, site=site, progress=p.bytes),
                        label=site or directory.resolve().name, platform=Platform.STACKEXCHANGE)
    _exit_for(result)


@cli.command("demo")
def demo(
    members: Annotated[int, typer.Option(min=1, help="simulated members")] = 120,
    days: Annotated[int, typer.Option(min=1, help="simulated days of history")] = 45,
    seed: Annotated[int, typer.Option(help="same seed, same community")] = 7,
    language: Annotated[str, typer.Option(help="en, zh or mixed")] = "mixed",
    community: Annotated[str, typer.Option(help="community id (the console's is 'demo')")] = "demo",
) -> None:
    """Seed a simulated learning community (members, questions, answers, reactions, course
    completions) and load its course catalog where the catalog module exists."""
    from bot import demo as demo_mod

    if language not in ("en", "zh", "mixed"):
        raise typer.BadParameter("use en, zh or mixed", param_hint="--language")
    options = demo_mod.DemoOptions(members=members, days=days, seed=seed, language=language,
                                   community_id=community)
    # The catalog goes in first: completions and lesson links in the history refer to it.
    result = run_import(lambda p: demo_mod.simulated_stream(options, p.steps),
                        label=f"simulating {members} members × {days} days",
                        platform=Platform.CONSOLE, unit="days",
                        before=lambda application: demo_mod.load_catalog(application, options))
    _exit_for(result)





MODULE = Module(name="history", cli=cli, cli_name=CLI_NAME)  # ``cohort import ...``
