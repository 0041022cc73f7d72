"""Catalog commands: ``/item add|edit|remove`` for moderators; ``/done``, ``/rate`` and
``/path`` for members. Also the ``cohort catalog import FILE`` CLI (CLI_NAME "catalog").

Handlers validate input and call :mod:`engine.catalog.service` inside ``Store.write``;
role checks are the router's job (each command declares ``min_role``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.args import int_arg
from bot.handlers.points_i18n import words
from bot.markup import esc, link
from bot.modules import Catalog, text
from bot.ports import Messenger, Role
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
from engine.catalog.links import thread_links
from engine.catalog.tables import CatalogItem
from engine.events import ButtonClicked, Event
from engine.members.lookup import community_id_of, home_community, member_of_account
from engine.recsys.paths import UnknownTargetError, learning_path
from engine.store.models import Community
from engine.store.store import Store
from engine.store.writer import Notice

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


def item_line(item: CatalogItem, url: str | None = None) -> str:
    """``<b>key</b> — title`` with the title linked when the item has a URL (or ``url``, e.g.
    a thread's jump link)."""
    target = item.url or url
    title = link(item.title, target) if target else esc(item.title)
    return f"<code>{esc(item.key)}</code> — {title}"


MESSAGES: Catalog = {
    "catalog.title": {"en": "<b>Catalog</b> — {total} in all; lessons first, then the newest threads",
                      "zh": "<b>课程目录</b> — 共 {total} 项；课程在前，其后是最新的讨论"},
    "catalog.title_tag": {"en": "<b>Catalog — #{tag}</b> ({total})", "zh": "<b>课程目录 — #{tag}</b>（{total} 项）"},
    "catalog.more": {"en": "… and {more} more: narrow it with /catalog #tag",
                     "zh": "……还有 {more} 项：用 /catalog #标签 缩小范围"},
    "catalog.tags": {"en": "Tags: {tags}", "zh": "标签：{tags}"},
    "catalog.hint": {"en": "✓ = done. Mark one done: /done KEY · the way there: /path KEY",
                     "zh": "✓ = 已完成。标记完成：/done 键 · 学习路径：/path 键"},
    "catalog.empty": {"en": "The catalog is empty. Moderators can add items with /item add.",
                      "zh": "课程目录是空的。管理员可以用 /item add 添加内容。"},
    "catalog.usage": {"en": "Usage: /catalog or /catalog #tag", "zh": "用法：/catalog 或 /catalog #标签"},
    "catalog.unknown_tag": {"en": "No item is tagged #{tag}. Close tags: {close}",
                            "zh": "没有带 #{tag} 标签的内容。相近的标签：{close}"},
    "catalog.unknown_tag_all": {"en": "No item is tagged #{tag}. Tags here: {close}",
                                "zh": "没有带 #{tag} 标签的内容。这里的标签有：{close}"},
    "catalog.no_tags": {"en": "No item is tagged #{tag}: no item has tags yet. Send /catalog for everything.",
                        "zh": "没有带 #{tag} 标签的内容：目前还没有内容带标签。发送 /catalog 查看全部。"},
    "done.missing": {"en": "Its prerequisites you haven't marked done yet: {missing} — /path {item} shows the order.",
                     "zh": "它的前置内容你还没有完成：{missing} — 用 /path {item} 查看顺序。"},
}
CATALOG_LISTED = 20  # rows one /catalog reply shows
CLOSE_TAGS = 5


def _language(session: Session, community_id: int, default: str = "en") -> str:
    """The community's reply language (its ``language`` setting)."""
    stored = session.execute(select(Community.settings).where(Community.id == community_id)).scalar_one_or_none()
    found = stored.get("language") if isinstance(stored, dict) else None
    return found if found in ("en", "zh") else default


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
    missing, language = await store.read(lambda s: (_missing_prerequisites(s, where, item),
                                                     _language(s, where.community_id)))
    note = "\n" + text(MESSAGES, "done.missing", language, item=esc(item.key),
                        missing=", ".join(f"<code>{esc(k)}</code>" for k in missing)) if missing else ""
    await ctx.reply(f"✓ Done: {item_line(item)}.{earned} Next: /recommend or /path{note}")


def _missing_prerequisites(session: Session, where: Caller, item: CatalogItem) -> list[str]:
    """The item's prerequisites (still in the catalog) the member has not marked done."""
    wanted = [key for key in item.prerequisites or [] if key != item.key]
    if not wanted:
        return []
    done = service.completed_item_ids(session, where.community_id, where.member_id)
    present = {row.key: row.id for row in session.execute(select(CatalogItem.key, CatalogItem.id).where(
        CatalogItem.community_id == where.community_id, CatalogItem.key.in_(wanted)))}
    return [key for key in wanted if key in present and present[key] not in done]


# -- /catalog -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogView:
    language: str
    items: list[CatalogItem]  # the ones to show, in order
    total: int  # how many matched
    tags: dict[str, int]  # every tag of the community → items carrying it
    done: set[int]
    links: dict[int, str]  # thread item id → jump link
    size: int  # items in the whole catalog


def _catalog_view(session: Session, where: Caller, tag: str | None) -> CatalogView:
    items = service.list_items(session, where.community_id)
    tags: dict[str, int] = {}
    for item in items:
        for t in dict.fromkeys(str(t).lower() for t in item.tags or []):
            tags[t] = tags.get(t, 0) + 1
    matched = [i for i in items if tag is None or tag in (str(t).lower() for t in i.tags or [])]
    # Curated items in the order they were added, then the chat's threads, newest first.
    ordered = [i for i in matched if i.kind != "thread"] + sorted(
        (i for i in matched if i.kind == "thread"), key=lambda i: i.id, reverse=True)
    shown = ordered[:CATALOG_LISTED]
    links = thread_links(session, [i.id for i in shown if i.thread_id is not None and not i.url])
    return CatalogView(_language(session, where.community_id), shown, len(matched), tags,
                       service.completed_item_ids(session, where.community_id, where.member_id), links, len(items))


def close_tags(tag: str, tags: list[str], n: int = CLOSE_TAGS) -> list[str]:
    """Tags that look like ``tag``: a typo away, or one containing the other."""
    near = difflib.get_close_matches(tag, tags, n=n, cutoff=0.6)
    near += [t for t in tags if t not in near and (tag in t or t in tag)]
    return near[:n]


async def catalog_command(ctx: CommandContext, store: Store) -> None:
    """``/catalog [#tag]``: browse the catalog (lessons first, then threads with their links),
    optionally only the items with a tag; an unknown tag gets the close ones."""
    if len(ctx.args) > 1:
        where = await caller_of(store, ctx.event)
        language = await store.read(lambda s: _language(s, where.community_id))
        raise UsageError(text(MESSAGES, "catalog.usage", language))
    tag = ctx.args[0].lstrip("#").strip().lower() if ctx.args else None
    where = await caller_of(store, ctx.event)
    view = await store.read(lambda s: _catalog_view(s, where, tag or None))
    lang = view.language
    every = sorted(view.tags)
    if not view.size:
        raise UsageError(text(MESSAGES, "catalog.empty", lang))
    if not view.items:
        shown_tag = esc(tag or "")
        if not every:
            raise UsageError(text(MESSAGES, "catalog.no_tags", lang, tag=shown_tag))
        near = close_tags(tag or "", every)
        key = "catalog.unknown_tag" if near else "catalog.unknown_tag_all"
        raise UsageError(text(MESSAGES, key, lang, tag=shown_tag,
                              close=" ".join(f"#{esc(t)}" for t in (near or every[:15]))))
    title = (text(MESSAGES, "catalog.title_tag", lang, tag=esc(tag), total=view.total) if tag
             else text(MESSAGES, "catalog.title", lang, total=view.total))
    lines = [title]
    for item in view.items:
        mark = "✓ " if item.id in view.done else ""
        tags = " ".join(f"#{esc(t)}" for t in item.tags or [])
        lines.append(f"{mark}{item_line(item, view.links.get(item.id))} {tags}".rstrip())
    if view.total > len(view.items):
        lines.append(text(MESSAGES, "catalog.more", lang, more=view.total - len(view.items)))
    if every and not tag:
        lines.append(text(MESSAGES, "catalog.tags", lang,
                          tags=" ".join(f"#{esc(t)}" for t in sorted(every, key=lambda t: -view.tags[t])[:20])))
    lines.append(text(MESSAGES, "catalog.hint", lang))
    await ctx.reply("\n".join(lines))


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


# What a catalog button press did, said back to the member who pressed it.
_CLICK_TEXTS: dict[str, dict[str, str]] = {
    "like": {"en": "👍 Noted: you're interested in {title}. Recommendations will take it into account.",
             "zh": "👍 已记录：你对「{title}」感兴趣，推荐会参考这一点。"},
    "done": {"en": "✓ Done: {title} (+{points} {points:plural:point|points}).",
             "zh": "✓ 已完成：「{title}」（+{points} 积分）。"},
    "already_done": {"en": "You had already marked {title} as done.", "zh": "你之前已经完成了「{title}」。"},
    "not_yours": {"en": "These buttons belong to someone else's recommendations; try /recommend for yours.",
                  "zh": "这些按钮属于别人的推荐；发送 /recommend 查看你自己的。"},
    "gone": {"en": "That item is no longer in the catalog.", "zh": "该课程内容已不在目录中。"},
}


async def answer_click(notice: Notice, event: Event, messenger: Messenger) -> None:
    """Answer a catalog button press (interested, done, a repeat, someone else's buttons)."""
    if notice.kind != "click" or not isinstance(event, ButtonClicked):
        return
    entry = _CLICK_TEXTS.get(str(notice.data.get("action")))
    if entry is None:
        return
    language = str(notice.data.get("language") or "en")
    template = entry.get(language) or entry["en"]
    await messenger.reply(event, words(template, title=esc(str(notice.data.get("title", ""))),
                                       points=int(notice.data.get("points", 0))))


def register(router: Router, app: object) -> None:
    """Add the catalog commands to the router."""
    router.on_notice(answer_click)
    router.command("item", item_command, min_role=Role.MODERATOR, summary="add, edit or remove catalog items",
                   usage="/item add <url> [title] [#tags] | edit <key> <field> <value> | remove <key>")
    router.command("done", done_command, summary="mark a catalog item as done", usage="/done <item>")
    router.command("rate", rate_command, summary="rate a catalog item 1-5", usage="/rate <item> <1-5>")
    router.command("path", path_command, summary="your learning path to an item or #tag",
                   usage="/path <item or #tag>")
    router.command("catalog", catalog_command, summary="browse the catalog, or the items with a #tag",
                   usage="/catalog [#tag]")


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
