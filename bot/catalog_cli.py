"""``cohort catalog import FILE``: load catalog items from CSV or YAML (validated first;
nothing is written unless the whole plan is valid)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.catalog import service
from engine.catalog.items import ItemError
from engine.members.lookup import resolve_community

CLI_NAME = "catalog"
cli = typer.Typer(no_args_is_help=True, help="The learning catalog (items, prerequisites, points).")


@cli.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV (header row) or YAML (list of items)")],
    community: Annotated[str | None, typer.Option("--community", help="id or platform:external_id")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate only")] = False,
) -> None:
    """Import catalog items. Bad rows are reported by line and skipped; a prerequisite
    cycle rejects the whole file; nothing is written unless validation passes."""
    from datetime import UTC, datetime

    from bot.cli_setup import ready_app, settings_or_exit
    from engine.catalog.items import plan_import, read_csv, read_yaml
    from engine.catalog.paths import CatalogCycleError

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        typer.secho(f"cannot read {file}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    application = ready_app(settings_or_exit())
    application.start()
    try:
        store = application.store
        try:
            community_id = store.read_sync(lambda s: resolve_community(s, community))
            reader = read_yaml if file.suffix.lower() in (".yaml", ".yml") else read_csv
            specs, errors = reader(text)
            existing = store.read_sync(lambda s: service.prerequisite_map(s, community_id))
            plan = plan_import(specs, errors, existing)
        except (LookupError, ItemError) as exc:
            typer.secho(str(exc), fg="red", err=True)
            raise typer.Exit(2) from exc
        except CatalogCycleError as exc:
            typer.secho(f"rejected, nothing imported: {exc}", fg="red", err=True)
            raise typer.Exit(1) from exc
        for line, message in plan.errors:
            typer.secho(f"line {line}: {message} (skipped)", fg="yellow", err=True)
        if dry_run:
            typer.echo(f"{len(plan.items)} item(s) valid, {len(plan.errors)} row(s) skipped (dry run)")
            return
        try:
            added, updated = store.writer.write_sync(
                lambda s: service.apply_import(s, community_id, plan, at=datetime.now(UTC)))
        except ItemError as exc:
            typer.secho(f"rejected, nothing imported: {exc}", fg="red", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"imported {added} new and {updated} updated item(s); {len(plan.errors)} row(s) skipped")
    finally:
        application.stop()
