"""``cohort audit export --community X [--format csv|json] [--output FILE]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

CLI_NAME = "audit"
cli = typer.Typer(no_args_is_help=True, help="The moderation and settings audit log.")


@cli.callback()
def _group() -> None:
    """Keeps ``export`` a sub-command (typer folds a lone command into the group)."""


@cli.command("export")
def export(
    community: Annotated[str | None, typer.Option("--community", help="id or platform:external_id")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file (default: standard output)")] = None,
) -> None:
    """Every audit entry of a community, oldest first, with UTC and local times."""
    from bot.bootstrap import build_app
    from bot.cli_setup import settings_or_exit
    from engine.members.lookup import resolve_community
    from engine.moderation.audit_export import audit_rows, to_csv, to_json

    if fmt not in ("csv", "json"):
        typer.secho(f"--format must be csv or json, not {fmt!r}", fg="red", err=True)
        raise typer.Exit(2)
    application = build_app(settings_or_exit())  # read only: the schema is left as it is
    try:
        rows = application.store.read_sync(lambda s: audit_rows(s, resolve_community(s, community)))
    except LookupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    text = to_csv(rows) if fmt == "csv" else to_json(rows)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"{len(rows)} entries written to {output}", err=True)
