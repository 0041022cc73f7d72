"""``cohort recsys train|eval``: fit a community's recommender from its interaction log
and write an artifact the bot hot-reloads, or compare it with popularity on a temporal
split. Torch is imported only inside these commands (never by the bot process), and only
when a Cohort (spectral) candidate is actually fit.

The nightly job and the demo run training as ``python -m bot.recsys_cli train``
(:func:`child_command`): the same commands without the whole ``cohort`` CLI, whose root
mounts every capability (adapters, handlers, scheduler) — seconds of imports a training
child does not need. ``--config`` reaches it through ``COHORT_CONFIG``, as for every child.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.settings import Settings
from engine.members.lookup import resolve_community

CLI_NAME = "recsys"
cli = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,  # as the root CLI
                  help="Recommendations: train and evaluate per community.")

DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda")]
CommunityOpt = Annotated[str | None, typer.Option("--community", help="id or platform:external_id (default: all)")]


CHILD_MODULE = "bot.recsys_cli"  # ``python -m`` this module = ``cohort recsys`` without the rest of the CLI


def child_command(*args: str) -> list[str]:
    """The argv that runs ``cohort recsys ARGS`` in a lean child process (this interpreter)."""
    return [sys.executable, "-m", CHILD_MODULE, *args]


def _database(settings: Settings) -> Engine:
    """The database, migrated to the newest revision. Training needs only the stored log, so
    the app (chat adapters, router, notifier) is not built: that saves about a second of
    CPU per run of the nightly job's child process."""
    from engine.store import migrate
    from engine.store.db import make_engine

    engine = make_engine(settings.storage.url, sqlite_synchronous=settings.storage.sqlite_synchronous)
    migrate.upgrade(engine)
    return engine


def _communities(engine: Engine, ref: str | None) -> list[int]:
    """The requested community, or every community that has catalog items."""
    from engine.catalog.tables import CatalogItem

    with Session(engine) as session:
        if ref is not None:
            return [resolve_community(session, ref)]
        return sorted({int(c) for c in session.scalars(select(CatalogItem.community_id))})


def _check_device(device: str) -> None:
    if device not in ("auto", "cpu", "cuda"):
        typer.secho(f"--device must be auto, cpu or cuda, not {device!r}", fg="red", err=True)
        raise typer.Exit(2)


def _progress(cid: int):
    """One status line per stage, rewritten in place (stderr, so output stays parseable)."""
    started = time.perf_counter()

    def show(stage: str) -> None:
        typer.echo(f"\r\033[K[{time.perf_counter() - started:6.1f}s] community {cid}: {stage[:100]}", err=True, nl=False)

    return show


@cli.command("train")
def train(device: DeviceOpt = "", community: CommunityOpt = None,
          tune: Annotated[bool, typer.Option("--tune/--no-tune",
                                              help="choose the model family on time-aware validation first")] = True) -> None:
    """Train every community that has a catalog (or one) and write artifacts to
    the recsys.artifact_dir setting's folder, one per community. Exit 1 if a requested community failed."""
    from bot.cli_setup import settings_or_exit
    from engine.recsys.community import NotEnoughData, train_community

    settings = settings_or_exit()
    device = device or settings.recsys.device
    _check_device(device)
    database = _database(settings)
    try:
        ids = _communities(database, community)
    except LookupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    if not ids:
        typer.echo("no community has a catalog yet: nothing to train")
        return
    failed = 0
    for cid in ids:
        started = time.perf_counter()
        try:
            path = train_community(database, cid, settings.recsys.artifact_dir, device, tune=tune,
                                   progress=_progress(cid))
        except NotEnoughData as exc:
            typer.echo(f"community {cid}: skipped, {exc}")
            failed += community is not None
            continue
        except (RuntimeError, ValueError) as exc:
            typer.secho(f"community {cid}: failed: {exc}", fg="red", err=True)
            failed += 1
            continue
        typer.echo("", err=True)
        typer.echo(f"community {cid}: trained in {time.perf_counter() - started:.1f}s -> {path}")
    raise typer.Exit(1 if failed else 0)


@cli.command("eval")
def evaluate(device: DeviceOpt = "", community: CommunityOpt = None,
             test_fraction: Annotated[float, typer.Option(help="newest share of the log held out")] = 0.2) -> None:
    """Temporal split of each community's own log: NDCG@10 / Recall@10 of the model vs popularity."""
    from bot.cli_setup import settings_or_exit
    from engine.recsys.community import NotEnoughData, evaluate_community

    settings = settings_or_exit()
    device = device or settings.recsys.device
    _check_device(device)
    if not 0.05 <= test_fraction <= 0.5:
        typer.secho("--test-fraction must be between 0.05 and 0.5", fg="red", err=True)
        raise typer.Exit(2)
    database = _database(settings)
    try:
        ids = _communities(database, community)
    except LookupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    for cid in ids:
        try:
            report = evaluate_community(database, cid, test_fraction=test_fraction, device=device,
                                        progress=_progress(cid))
            typer.echo("", err=True)
        except NotEnoughData as exc:
            typer.echo(f"community {cid}: {exc}")
            continue
        typer.echo(f"community {cid}: temporal split at {report.cutoff:%Y-%m-%d %H:%M}, "
                   f"{report.train_interactions} training pairs, {report.test_users} test members; "
                   f"validation origins {', '.join(f'{o:%Y-%m-%d}' for o in report.validation_origins)}")
        typer.echo(f"  {'candidate':<58} {'val NDCG':>8} {'test NDCG@10':>12}  95% interval")
        for c in report.candidates:
            mark = "→" if c.chosen else " "
            typer.echo(f"{mark} {c.name:<58} {c.validation_ndcg:>8.4f} {c.test_ndcg:>12.4f}  "
                       f"[{c.low:.4f}, {c.high:.4f}]")
        chosen = report.chosen
        if report.beats_best_other is False:
            typer.echo(f"  chosen: {chosen.name}; {report.test_users} test members are too few to tell it apart "
                       f"from {report.best_other} (paired bootstrap interval includes 0)")
        elif report.beats_best_other:
            typer.echo(f"  chosen: {chosen.name}; differs from {report.best_other} beyond the interval")
        if report.vs_popularity is not None:
            typer.echo(f"  vs popularity: {report.vs_popularity:+.4f} NDCG@10"
                       + ("" if report.popularity_distinguishable else " (within the interval: a tie)"))


if __name__ == "__main__":  # the training child: python -m bot.recsys_cli train [options]
    cli(prog_name="cohort recsys")
