"""``cohort churn train|score|eval``: fit churn models, score members (stored by date), and
compare the model with the recency rule, a recency/frequency logistic regression and BG/NBD
on the later window of each community's own history."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from bot.handlers.churn import model_dir
from engine.members.lookup import resolve_community

CLI_NAME = "churn"
cli = typer.Typer(no_args_is_help=True, help="Churn risk: train, score daily, evaluate against baselines.")

CommunityOpt = Annotated[str | None, typer.Option("--community", help="id or platform:external_id (default: all)")]
FormatOpt = Annotated[str, typer.Option("--format", help="table | json")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="score/evaluate as of this UTC time (ISO 8601); default now")]


def _now(as_of: str | None) -> datetime:
    if as_of is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(as_of)
    except ValueError:
        typer.secho(f"--as-of must be an ISO date or time such as 2026-03-01T00:00, not {as_of!r}", fg="red", err=True)
        raise typer.Exit(2) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        typer.secho(f"--format must be table or json, not {fmt!r}", fg="red", err=True)
        raise typer.Exit(2)


@contextmanager
def _progress(console: Console, quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich bar fed with (stage, done, total); silent off a terminal or for JSON output."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True, disable=quiet or not console.is_terminal)
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        yield update


def _session_and_ids(community: str | None) -> tuple[Any, list[int]]:
    from bot.cli_setup import ready_app, settings_or_exit
    from engine.churn.service import communities_with_activity

    settings = settings_or_exit()
    application = ready_app(settings)

    def read(session: Session) -> list[int]:
        if community is not None:
            return [resolve_community(session, community)]
        return communities_with_activity(session)

    try:
        ids = application.store.read_sync(read)
    except LookupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    return application, ids


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _per_community(community: str | None, fmt: str, as_of: str | None,
                   work: Callable[[Any, Session, int, datetime, Callable[[str, int, int], None]], Any]) -> list[Any]:
    """``work(app, session, community id, now, progress)`` for each community, with a progress bar."""
    _check_format(fmt)
    now = _now(as_of)
    application, ids = _session_and_ids(community)
    reports = []
    with _progress(Console(stderr=fmt == "json"), fmt == "json") as progress:
        for cid in ids:
            with Session(application.store.engine) as session:
                reports.append(work(application, session, cid, now, progress))
    return reports


def _echo_json(reports: list[Any]) -> None:
    typer.echo(json.dumps(_clean([r if isinstance(r, dict) else asdict(r) for r in reports]),
                          ensure_ascii=False, indent=1))


@cli.command("train")
def train(community: CommunityOpt = None, fmt: FormatOpt = "table", as_of: AsOfOpt = None) -> None:
    """Fit each community's model (or the pooled one for small communities) from its log."""
    from engine.churn.service import train_community

    reports = _per_community(community, fmt, as_of, lambda app, session, cid, now, progress: train_community(
        session, cid, now, model_dir(app.settings), progress))
    if fmt == "json":
        _echo_json(reports)
        return
    if not reports:
        typer.echo("no community has any activity yet: nothing to train")
    for r in reports:
        what = f"{r.model} ({r.trained_on})" if r.model else "nothing trained: BG/NBD will score"
        typer.echo(f"community {r.community_id}: {r.examples} examples, {r.churned} churned → {what}")
        if r.note:
            typer.echo(f"  {r.note}")


@cli.command("score")
def score(community: CommunityOpt = None, fmt: FormatOpt = "table", as_of: AsOfOpt = None,
          top: Annotated[int, typer.Option(min=0, max=1000, help="members to list per community")] = 10) -> None:
    """Score every eligible member now, store the scores by date, list the riskiest."""
    from engine.churn.service import score_community

    _check_format(fmt)
    now = _now(as_of)
    application, ids = _session_and_ids(community)
    runs = []
    for cid in ids:
        with Session(application.store.engine) as session:
            runs.append(score_community(session, cid, now, model_dir(application.settings)))
            session.commit()
    if fmt == "json":
        _echo_json([{**{k: v for k, v in asdict(r).items() if k != "risks"},
                     "risks": [asdict(x) for x in r.risks[:top]]} for r in runs])
        return
    for r in runs:
        if r.refused:
            typer.echo(f"community {r.community_id}: not scored — {r.refused}")
            continue
        typer.echo(f"community {r.community_id}: {len(r.risks)} members scored on {r.scored_on} with {r.model}, "
                   f"{r.flagged} flagged")
        for note in r.notes:
            typer.echo(f"  note: {note}")
        for x in r.risks[:top]:
            typer.echo(f"  member {x.member_id:>6}  {x.risk:5.1%}  " + "; ".join(y.text_en for y in x.reasons))


def eval_table(reports: list[Any], console: Console) -> None:
    """Print each community's evaluation as a rich table (the benchmark uses it too)."""
    for r in reports:
        if r.refused:
            console.print(f"community {r.community_id}: not evaluated — {r.refused}", markup=False)
            continue
        table = Table(title=f"community {r.community_id}: later window from {r.test_from} "
                            f"({r.test_examples} rows, churn {r.test_churn_rate:.0%}; trained on {r.train_examples})")
        for col in ("", "ROC-AUC", "PR-AUC", "top-10% lift", "Brier"):
            table.add_column(col, justify="right" if col else "left")
        for row in r.rows:
            table.add_row(row.name, f"{row.roc_auc:.3f}", f"{row.pr_auc:.3f}", f"{row.lift:.2f}", f"{row.brier:.4f}")
        console.print(table)
        console.print(f"model − recency ROC-AUC: {r.diff:+.3f} (bootstrap 95 % CI {r.ci_low:+.3f} … {r.ci_high:+.3f}, "
                      "resampling members)", markup=False)
        console.print(f"model − logistic-rf ROC-AUC: {r.diff_logistic:+.4f} (bootstrap 95 % CI "
                      f"{r.ci_logistic_low:+.3f} … {r.ci_logistic_high:+.3f})", markup=False)
        if r.validation:
            console.print("chosen on the earlier snapshots' validation window: "
                          + ", ".join(f"{k} {v:.3f}" for k, v in r.validation.items()), markup=False)


def splits_table(reports: list[Any], console: Console, title: str = "") -> None:
    """ROC-AUC per rolling later window, with the mean ± standard deviation over them."""
    for r in reports:
        if not r.splits:
            console.print(f"community {r.community_id}: no rolling window could be evaluated", markup=False)
            continue
        table = Table(title=title or f"community {r.community_id}: ROC-AUC over {len(r.splits)} rolling later windows")
        names = ("model", "recency", "logistic-rf", "bgnbd")
        for col in ("window from", "rows", "churn", *names, "model chosen"):
            table.add_column(col, justify="left" if col in ("window from", "model chosen") else "right")
        for w in r.splits:
            aucs = {row.name.split(" ")[0]: row.roc_auc for row in w.rows}
            table.add_row(str(w.test_from), str(w.test_examples), f"{w.test_churn_rate:.0%}",
                          *(f"{aucs[n]:.3f}" for n in names), w.model.split(":")[0])
        table.add_row("mean ± sd", "", "", *(f"{m:.3f} ± {sd:.3f}" for m, sd in map(r.summary, names)), "")
        console.print(table)
        logit, recency = r.met()
        console.print(f"model ≥ logistic-rf in {logit} of {len(r.splits)} windows; "
                      f"model ≥ recency + 0.05 in {recency} of {len(r.splits)}", markup=False)
        for note in r.skipped:
            console.print(f"  not evaluated: {note}", markup=False)


@cli.command("eval")
def evaluate(community: CommunityOpt = None, fmt: FormatOpt = "table", as_of: AsOfOpt = None,
             rounds: Annotated[int, typer.Option(min=100, max=10000, help="bootstrap resamples")] = 1000,
             splits: Annotated[int, typer.Option(min=0, max=12, help="also this many rolling later windows")] = 0,
             ) -> None:
    """Time-based split: train on earlier snapshots, report the later window for the model and baselines."""
    from engine.churn.service import evaluate_community

    reports = _per_community(community, fmt, as_of, lambda app, session, cid, now, progress: evaluate_community(
        session, cid, now, rounds=rounds, progress=progress, splits=splits))
    over = [r.rolling for r in reports if r.rolling is not None]
    if fmt == "json":
        _echo_json(reports)
        return
    if not reports:
        typer.echo("no community has any activity yet: nothing to evaluate")
    eval_table(reports, Console())
    if over:
        splits_table(over, Console())
