"""Catalog commands: ``/item add|edit|remove`` for moderators; ``/done``, ``/rate`` and
``/path`` for members. Also the ``cohort catalog import FILE`` CLI (CLI_NAME "catalog").

Handlers validate input and call :mod:`engine.catalog.service` inside ``Store.write``;
role checks are the router's job (each command declares ``min_role``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.args import int_arg
from bot.markup import esc, link
from bot.ports import Role
from bot.router import CommandContext, Router, UsageError
from engine.catalog import service
from engine.catalog.items import (
    EDITABLE,
    ItemError,
    ItemSpec,
    check_url,
    key_from_url,
    parse_tags,
    slugify,
    unique_key,
)
from engine.catalog.tables import CatalogItem
from engine.events import Event
from engine.members.lookup import community_id_of, home_community, member_of_account
from engine.recsys.paths import UnknownTargetError, learning_path
from engine.store.models import Community
from engine.store.store import Store

T = TypeVar("T")
CLI_NAME = "catalog"
cli = typer.Typer(no_args_is_help=True, help="The learning catalog (items, prerequisites, points).")

ITEM_USAGE = (
    "/item add &lt;url&gt; [title] [#tags] · /item edit &lt;key&gt; &lt;field&gt; &lt;value&gt; · "
    "/item remove &lt;key&gt;"
)


@dataclass(frozen=True, slots=True)
class Caller:
    """The community a command is about and the member who sent it."""

    community_id: int
    member_id: int


def locate(session: Session, event: Event) -> Caller | None:
    """The command's community (the caller's most recent one in a private chat) and the
    caller; None before Cohort has seen either."""
    member = member_of_account(session, str(event.platform), event.user_id)
    if member is None:
        return None
    if event.is_private or not event.community_id:
        community = home_community(session, str(event.platform), event.user_id)
    else:
        community = community_id_of(session, str(event.platform), event.community_id)
    return None if community is None else Caller(int(community), int(member))


async def caller_of(store: Store, event: Event) -> Caller:
    """:func:`locate` or a :class:`UsageError` saying the community is unknown."""
    where = await store.read(lambda s: locate(s, event))
    if where is None:
        raise UsageError("I don't know your community yet: send this in the group (or post there first).")
    return where


def item_line(item: CatalogItem) -> str:
    """``<b>key</b> — title`` with the title linked when the item has a URL."""
    title = link(item.title, item.url) if item.url else esc(item.title)
    return f"<code>{esc(item.key)}</code> — {title}"


# -- /item ---------------------------------------------------------------------------------


def _spec_from_add(args: tuple[str, ...]) -> ItemSpec:
    if not args:
        raise UsageError(f"Usage: {ITEM_USAGE}")
    try:
        url = check_url(args[0])
        tags = parse_tags([a for a in args[1:] if a.startswith("#")])
    except ItemError as exc:
        raise UsageError(esc(str(exc))) from exc
    title = " ".join(a for a in args[1:] if not a.startswith("#")).strip()
    if len(title) > 256:
        raise UsageError("The title is longer than 256 characters.")
    key = slugify(title) if title else key_from_url(url)
    return ItemSpec(key=key, title=title or key, url=url, kind="link", tags=tags)


async def item_command(ctx: CommandContext, store: Store) -> None:
    """``/item add|edit|remove``: moderators curate the catalog."""
    if not ctx.args or ctx.args[0].lower() not in ("add", "edit", "remove"):
        raise UsageError(f"Usage: {ITEM_USAGE}")
    action, rest = ctx.args[0].lower(), ctx.args[1:]
    where = await caller_of(store, ctx.event)
    at = ctx.event.at
    if action == "add":
        spec = _spec_from_add(rest)

        def add(session: Session) -> CatalogItem:
            wanted = spec
            taken = service.taken_keys(session, where.community_id)
            if wanted.key in taken:  # a title/URL slug clash is not the moderator's problem
                wanted = replace(spec, key=unique_key(spec.key, taken))
            return service.add_item(session, where.community_id, wanted, at=at, actor=where.member_id)

        item = await _write(store, add)
        tags = " ".join(f"#{esc(t)}" for t in item.tags)
        await ctx.reply(f"Added {item_line(item)} {tags}".rstrip()
                        + f"\nMembers can mark it with /done {esc(item.key)}.")
    elif action == "edit":
        if len(rest) < 3:
            raise UsageError(f"Usage: /item edit &lt;key&gt; &lt;field&gt; &lt;value&gt; (fields: {', '.join(EDITABLE)};"
                             " a single - clears url, tags, description or prerequisites)")
        key, field_name, value = rest[0], rest[1], " ".join(rest[2:])
        value = "" if value == "-" else value
        item = await _write(store, lambda s: service.edit_item(s, where.community_id, key, field_name, value,
                                                               at=at, actor=where.member_id))
        await ctx.reply(f"Updated {esc(field_name.lower())} of {item_line(item)}.")
    else:
        if len(rest) != 1:
            raise UsageError("Usage: /item remove &lt;key&gt;")
        removed, dependants = await _write(store, lambda s: service.remove_item(
            s, where.community_id, rest[0], at=at, actor=where.member_id))
        extra = f" It is no longer a prerequisite of {esc(', '.join(dependants))}." if dependants else ""
        await ctx.reply(f"Removed <code>{esc(removed.key)}</code>.{extra}")


async def _write(store: Store, fn: Callable[[Session], T]) -> T:
    """Run a catalog write; an :class:`ItemError` becomes the user's :class:`UsageError`."""
    try:
        return await store.write(fn)
    except ItemError as exc:
        raise UsageError(esc(str(exc))) from exc


# -- /done, /rate ------------------------------------------------------------------------------


async def _item_or_fail(store: Store, where: Caller, ref: str) -> CatalogItem:
    item = await store.read(lambda s: service.find_item(s, where.community_id, ref))
    if item is None:
        raise UsageError(f"There is no catalog item <code>{esc(ref)}</code>. Try /recommend or /path.")
    return item


async def done_command(ctx: CommandContext, store: Store) -> None:
    """``/done <item>``: mark an item completed (once) and earn its points."""
    if len(ctx.args) != 1:
        raise UsageError("Usage: /done &lt;item key&gt;")
    where = await caller_of(store, ctx.event)
    item = await _item_or_fail(store, where, ctx.args[0])
    result = await store.write(lambda s: service.complete(
        s, where.community_id, where.member_id, s.get(CatalogItem, item.id) or item, ctx.event.at))
    if not result.new:
        await ctx.reply(f"You already marked {item_line(item)} as done.")
        return
    earned = f" +{result.points} points." if result.points else ""
    await ctx.reply(f"✓ Done: {item_line(item)}.{earned} Next: /recommend or /path")


async def rate_command(ctx: CommandContext, store: Store) -> None:
    """``/rate <item> <1-5>``: rate an item (a later rating replaces the earlier one)."""
    if len(ctx.args) != 2:
        raise UsageError("Usage: /rate &lt;item key&gt; &lt;1-5&gt;")
    ref, raw = ctx.args
    stars = int_arg(raw, lo=1, hi=5, what="a rating")
    where = await caller_of(store, ctx.event)
    item = await _item_or_fail(store, where, ref)
    first = await _write(store, lambda s: service.rate(
        s, where.community_id, where.member_id, s.get(CatalogItem, item.id) or item, stars, ctx.event.at))
    verb = "Rated" if first else "Updated your rating of"
    await ctx.reply(f"{verb} {item_line(item)}: {'★' * stars}{'☆' * (5 - stars)}")


# -- /path ----------------------------------------------------------------------------------


async def path_command(ctx: CommandContext, store: Store) -> None:
    """``/path <item key or #tag>``: the ordered steps still to do (completed ones skipped)."""
    if len(ctx.args) != 1:
        raise UsageError("Usage: /path &lt;item key or #tag&gt;")
    where = await caller_of(store, ctx.event)
    raw = ctx.args[0].strip()

    def read(session: Session) -> tuple[list[CatalogItem], set[int]]:
        return service.list_items(session, where.community_id), service.completed_item_ids(
            session, where.community_id, where.member_id)

    items, completed_ids = await store.read(read)
    if not items:
        raise UsageError("The catalog is empty. Moderators can add items with /item add.")
    by_key = {item.key: item for item in items}
    prereqs = {item.key: [p for p in item.prerequisites or [] if p in by_key] for item in items}
    tags = {item.key: list(item.tags or []) for item in items}
    done = {item.key for item in items if item.id in completed_ids}
    is_tag = raw.startswith("#")
    target = raw[1:].lower() if is_tag else raw.lower()
    try:
        if is_tag:
            if not any(target in t for t in tags.values()):
                raise UnknownTargetError(target)
            steps = _tag_path(target, prereqs, done, tags)
        else:
            if target not in by_key:
                raise UnknownTargetError(target)
            steps = learning_path(target, prereqs, done)
    except UnknownTargetError:
        what = "tag" if is_tag else "item"
        raise UsageError(f"There is no {what} <code>{esc(raw)}</code> in the catalog.") from None
    label = f"#{esc(target)}" if is_tag else item_line(by_key[target])
    if not steps:
        await ctx.reply(f"Nothing left on the path to {label} — all done 🎉")
        return
    lines = [f"{n}. {item_line(by_key[key])}" for n, key in enumerate(steps, 1)]
    await ctx.reply(f"<b>Path to {label}</b> ({len(steps)} to go)\n" + "\n".join(lines))


def _tag_path(tag: str, prereqs: dict[str, list[str]], done: set[str], tags: dict[str, list[str]]) -> list[str]:
    # A tag can equal an item key; prefix-free lookup keeps "#asyncio" meaning the tag.
    tagged = {key: [f"#{t}" for t in item_tags] for key, item_tags in tags.items()}
    return learning_path(f"#{tag}", prereqs, done, tagged)


# -- registration ---------------------------------------------------------------------------


def register(router: Router, app: object) -> None:
    """Add the catalog commands to the router."""
    router.command("item", item_command, min_role=Role.MODERATOR, summary="add, edit or remove catalog items",
                   usage="/item add <url> [title] [#tags] | edit <key> <field> <value> | remove <key>")
    router.command("done", done_command, summary="mark a catalog item as done", usage="/done <item>")
    router.command("rate", rate_command, summary="rate a catalog item 1-5", usage="/rate <item> <1-5>")
    router.command("path", path_command, summary="your learning path to an item or #tag",
                   usage="/path <item or #tag>")


# -- cohort catalog import ------------------------------------------------------------------


def resolve_community(session: Session, ref: str | None) -> int:
    """A community by internal id, ``platform:external_id`` or external id; the only one
    when ``ref`` is None. Raises ``LookupError`` when there is no unique match."""
    rows = session.execute(select(Community.id, Community.platform, Community.external_id)).all()
    if ref is None:
        if len(rows) == 1:
            return int(rows[0][0])
        raise LookupError(f"{len(rows)} communities exist; pass --community (id, platform:external_id)")
    matches = [int(r[0]) for r in rows if ref in (str(r[0]), f"{r[1]}:{r[2]}", r[2])]
    if len(set(matches)) != 1:
        raise LookupError(f"no unique community matches {ref!r}")
    return matches[0]


@cli.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV (header row) or YAML (list of items)")],
    community: Annotated[str | None, typer.Option("--community", help="id or platform:external_id")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate only")] = False,
) -> None:
    """Import catalog items. Bad rows are reported by line and skipped; a prerequisite
    cycle rejects the whole file; nothing is written unless validation passes."""
    from datetime import UTC, datetime

    from bot.cli import ready_app, settings_or_exit
    from engine.catalog.items import plan_import, read_csv, read_yaml
    from engine.recsys.paths import CatalogCycleError

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
