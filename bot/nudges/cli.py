"""``cohort nudge run --dry-run`` and ``cohort nudge report [--format json]``.

Sending happens in the running bot (the per-community job at the local hour; one
scheduler per database): the command line shows who would get what, and who is in
control, without storing or sending anything.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.nudges.texts import format_report, plain
from engine.churn.scores import latest_risks
from engine.events import utcnow
from engine.members.lookup import member_brief
from engine.nudge.campaign import community_nudge_settings, plan_campaign
from engine.nudge.message import compose
from engine.nudge.report import NudgeReport, nudge_report
from engine.store.models import Community

CLI_NAME = "nudge"
cli = typer.Typer(no_args_is_help=True, help="Nudges to members at churn risk: dry runs and the uplift report.")
CommunityOpt = Annotated[str | None, typer.Option("--community", help="id or platform:external_id (default: all)")]
AtOpt = Annotated[str | None, typer.Option("--at", help="pretend it is this UTC time (ISO 8601), e.g. for a demo")]


def _now(at: str | None) -> datetime:
    if at is None:
        return utcnow()
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        typer.secho(f"--at must be an ISO time such as 2026-03-02T10:00, not {at!r}", fg="red", err=True)
        raise typer.Exit(2) from None
    return when if when.tzinfo else when.replace(tzinfo=datetime.now().astimezone().tzinfo)


def _communities(session: Session, ref: str | None) -> list[int]:
    from engine.members.lookup import resolve_community
    if ref is not None:
        return [resolve_community(session, ref)]
    return [int(c) for c in session.scalars(select(Community.id).order_by(Community.id))]


@cli.command("run")
def run(dry_run: Annotated[bool, typer.Option("--dry-run", help="show, store and send nothing")] = False,
        community: CommunityOpt = None, at: AtOpt = None,
        show: Annotated[int, typer.Option("--show", help="messages to print in full")] = 1) -> None:
    """Who would be nudged today, with what, and who is in the control group."""
    from bot.cli_setup import ready_app, settings_or_exit

    if not dry_run:
        typer.secho("Nudges are sent by the running bot at each community's local hour (one scheduler per "
                    "database). Use --dry-run to see who would get what.", fg="yellow", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()
    app = ready_app(settings)
    now = _now(at)
    from engine.recsys.recommend import RecommenderService
    recommender = RecommenderService(settings.recsys.artifact_dir)

    def report(session: Session) -> list[str]:
        out: list[str] = []
        try:
            ids = _communities(session, community)
        except LookupError as exc:
            return [f"error: {exc}"]
        for cid in ids:
            conf = community_nudge_settings(session, cid, settings.language)
            plan = plan_campaign(session, cid, now, risks=latest_risks, dry_run=True)
            state = "on" if conf.policy.active else "off (this is what it would do when on)"
            out.append(f"== community {cid} {conf.title!r}: nudges {state}; {plan.message}")
            if not plan.members:
                out.append(f"   {plan.status}: nobody would be nudged")
                continue
            out.append(f"   scored {plan.scored}, flagged {plan.flagged}, eligible {plan.eligible}, "
                       f"excluded {plan.excluded or 0}; ranking {plan.ranking}")
            platform = session.execute(select(Community.platform).where(Community.id == cid)).scalar_one()
            for m in plan.members:
                brief = member_brief(session, m.member_id, platform)
                name = brief.display_name if brief else str(m.member_id)
                arm = "CONTROL (not messaged)" if m.control else "nudge"
                out.append(f"   #{m.rank:>4} {name:<24} risk {m.risk:.2f}  {arm}")
            shown = 0
            for m in plan.members:
                if m.control or shown >= show:
                    continue
                msg = compose(session, cid, m.member_id, now, language=conf.language, recommender=recommender)
                out.append("   --- message to member " + str(m.member_id) + " ---")
                out.extend("   " + line for line in plain(msg.text).splitlines())
                out.append("   [" + "] [".join(b.label for b in msg.buttons) + "]")
                shown += 1
        return out

    for line in app.store.read_sync(report):
        typer.echo(line)


@cli.command("report")
def report(fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
           community: CommunityOpt = None, at: AtOpt = None) -> None:
    """Measured uplift (treated − control, 95 % CI), per ranking, guardrails, campaigns."""
    from bot.cli_setup import ready_app, settings_or_exit

    if fmt not in ("table", "json"):
        typer.secho("--format must be table or json", fg="red", err=True)
        raise typer.Exit(2)
    app = ready_app(settings_or_exit())
    now = _now(at)

    def read(session: Session) -> NudgeReport:
        cid = _communities(session, community)[0] if community is not None else None
        return nudge_report(session, cid, now=now)

    try:
        result = app.store.read_sync(read)
    except LookupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None
    if fmt == "json":
        typer.echo(json.dumps(result.as_json(), indent=1, ensure_ascii=False))
    else:
        typer.echo(plain(format_report(result)))
