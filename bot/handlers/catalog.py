"""Catalog commands: ``/item add|edit|remove`` for moderators; ``/done``, ``/rate`` and
``/path`` for members; the answers to catalog buttons. ``cohort catalog import`` lives in
:mod:`bot.catalog_cli`.

Handlers validate input and call :mod:`engine.catalog.service` inside ``Store.write``;
role checks are the router's job (each command declares ``min_role``), and the community
and caller come from the command context.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import catalog_cli
from bot.args import int_arg
from bot.markup import esc, link
from bot.modules import Catalog, Module, text
from bot.ports import Messenger, Role
from bot.router import CommandContext, CommandSpec, UsageError
from engine.catalog import projection as catalog_projection
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
from engine.catalog.paths import UnknownTargetError, learning_path
from engine.catalog.tables import CatalogItem
from engine.events import ButtonClicked, Event
from engine.members.lookup import community_id_of, home_community, member_of_account
from engine.members.privacy import ModuleHook
from engine.store.store import Store
from engine.store.writer import Notice

T = TypeVar("T")

MESSAGES: Catalog = {
    "item.usage": {"en": "Usage: /item add &lt;url&gt; [title] [#tags] · /item edit &lt;key&gt; &lt;field&gt; "
                         "&lt;value&gt; · /item remove &lt;key&gt;",
                   "zh": "用法：/item add &lt;链接&gt; [标题] [#标签] · /item edit &lt;键&gt; &lt;字段&gt; &lt;值&gt; · "
                         "/item remove &lt;键&gt;"},
    "item.long_title": {"en": "The title is longer than 256 characters.", "zh": "标题超过 256 个字符。"},
    "item.added": {"en": "Added {item} {tags}\nMembers can mark it with /done {key}.",
                   "zh": "已添加 {item} {tags}\n成员可以用 /done {key} 标记完成。"},
    "item.edit_usage": {"en": "Usage: /item edit &lt;key&gt; &lt;field&gt; &lt;value&gt; (fields: {fields}; a single "
                              "- clears url, tags, description or prerequisites)",
                        "zh": "用法：/item edit &lt;键&gt; &lt;字段&gt; &lt;值&gt;（字段：{fields}；单个 - 清空 url、tags、"
                              "description 或 prerequisites）"},
    "item.updated": {"en": "Updated {field} of {item}.", "zh": "已更新 {item} 的 {field}。"},
    "item.remove_usage": {"en": "Usage: /item remove &lt;key&gt;", "zh": "用法：/item remove &lt;键&gt;"},
    "item.removed": {"en": "Removed <code>{key}</code>.{extra}", "zh": "已删除 <code>{key}</code>。{extra}"},
    "item.no_longer_prereq": {"en": " It is no longer a prerequisite of {items}.", "zh": "它不再是 {items} 的前置条件。"},
    "item.unknown": {"en": "There is no catalog item <code>{key}</code>. Try /recommend or /path.",
                     "zh": "目录中没有 <code>{key}</code>。试试 /recommend 或 /path。"},
    "done.usage": {"en": "Usage: /done &lt;item key&gt;", "zh": "用法：/done &lt;条目键&gt;"},
    "done.already": {"en": "You already marked {item} as done.", "zh": "你已经把 {item} 标记为完成了。"},
    "done.ok": {"en": "✓ Done: {item}.{earned} Next: /recommend or /path", "zh": "✓ 已完成：{item}。{earned}下一步：/recommend 或 /path"},
    "done.earned": {"en": " +{points} {points:plural:point|points}.", "zh": "+{points} 积分。"},
    "rate.usage": {"en": "Usage: /rate &lt;item key&gt; &lt;1-5&gt;", "zh": "用法：/rate &lt;条目键&gt; &lt;1-5&gt;"},
    "rate.first": {"en": "Rated {item}: {stars}", "zh": "已评分 {item}：{stars}"},
    "rate.again": {"en": "Updated your rating of {item}: {stars}", "zh": "已更新你对 {item} 的评分：{stars}"},
    "path.usage": {"en": "Usage: /path &lt;item key or #tag&gt;", "zh": "用法：/path &lt;条目键或 #标签&gt;"},
    "path.empty_catalog": {"en": "The catalog is empty. Moderators can add items with /item add.",
                           "zh": "目录是空的。管理员可以用 /item add 添加条目。"},
    "path.unknown_item": {"en": "There is no item <code>{ref}</code> in the catalog.",
                          "zh": "目录中没有条目 <code>{ref}</code>。"},
    "path.unknown_tag": {"en": "There is no tag <code>{ref}</code> in the catalog.",
                         "zh": "目录中没有标签 <code>{ref}</code>。"},
    "path.all_done": {"en": "Nothing left on the path to {label} — all done 🎉", "zh": "通往 {label} 的路径已全部完成 🎉"},
    "path.title": {"en": "<b>Path to {label}</b> ({count} to go)", "zh": "<b>通往 {label} 的路径</b>（还剩 {count} 步）"},
    # What a catalog button press did, said back to the member who pressed it.
    "click.like": {"en": "👍 Noted: you're interested in {title}. Recommendations will take it into account.",
                   "zh": "👍 已记录：你对「{title}」感兴趣，推荐会参考这一点。"},
    "click.done": {"en": "✓ Done: {title} (+{points} {points:plural:point|points}).",
                   "zh": "✓ 已完成：「{title}」（+{points} 积分）。"},
    "click.already_done": {"en": "You had already marked {title} as done.", "zh": "你之前已经完成了「{title}」。"},
    "click.not_yours": {"en": "These buttons belong to someone else's recommendations; try /recommend for yours.",
                        "zh": "这些按钮属于别人的推荐；发送 /recommend 查看你自己的。"},
    "click.gone": {"en": "That item is no longer in the catalog.", "zh": "该课程内容已不在目录中。"},
    "sum.item": {"en": "add, edit or remove catalog items", "zh": "添加、编辑或删除目录条目"},
    "sum.done": {"en": "mark a catalog item as done", "zh": "把目录条目标记为完成"},
    "sum.rate": {"en": "rate a catalog item 1-5", "zh": "给目录条目打 1-5 分"},
    "sum.path": {"en": "your learning path to an item or #tag", "zh": "通往某个条目或 #标签 的学习路径"},
    "sum.catalog": {"en": "browse the catalog, or the items with a #tag", "zh": "浏览目录，或带某个 #标签 的条目"},
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


@dataclass(frozen=True, slots=True)
class Caller:
    """The community a command is about and the member who sent it."""

    community_id: int
    member_id: int


def locate(session: Session, event: Event) -> Caller | None:
    """Transition helper for handlers not yet on the command context (``ctx.community_id``,
    ``ctx.member_id``): the command's community and caller; None before Cohort saw either."""
    member = member_of_account(session, str(event.platform), event.user_id)
    if member is None:
        return None
    if event.is_private or not event.community_id:
        community = home_community(session, str(event.platform), event.user_id)
    else:
        community = community_id_of(session, str(event.platform), event.community_id)
    return None if community is None else Caller(int(community), int(member))


def caller(ctx: CommandContext) -> Caller:
    """The command's community and caller, from the context (UsageError when unknown)."""
    return Caller(ctx.community_id, ctx.member_id)


def item_line(item: CatalogItem, url: str | None = None) -> str:
    """``<b>key</b> — title`` with the title linked when the item has a URL (or ``url``, e.g.
    a thread's jump link)."""
    target = item.url or url
    title = link(item.title, target) if target else esc(item.title)
    return f"<code>{esc(item.key)}</code> — {title}"


# -- /item ---------------------------------------------------------------------------------


def _spec_from_add(ctx: CommandContext, args: tuple[str, ...]) -> ItemSpec:
    if not args:
        raise UsageError(ctx.t("item.usage"))
    try:
        url = check_url(args[0])
        tags = parse_tags([a for a in args[1:] if a.startswith("#")])
    except ItemError as exc:
        raise UsageError(esc(str(exc))) from exc
    title = " ".join(a for a in args[1:] if not a.startswith("#")).strip()
    if len(title) > 256:
        raise UsageError(ctx.t("item.long_title"))
    key = slugify(title) if title else key_from_url(url)
    return ItemSpec(key=key, title=title or key, url=url, kind="link", tags=tags)


async def item_command(ctx: CommandContext, store: Store) -> None:
    """``/item add|edit|remove``: moderators curate the catalog."""
    if not ctx.args or ctx.args[0].lower() not in ("add", "edit", "remove"):
        raise UsageError(ctx.t("item.usage"))
    action, rest = ctx.args[0].lower(), ctx.args[1:]
    where = caller(ctx)
    at = ctx.event.at
    if action == "add":
        spec = _spec_from_add(ctx, rest)

        def add(session: Session) -> CatalogItem:
            wanted = spec
            taken = service.taken_keys(session, where.community_id)
            if wanted.key in taken:  # a title/URL slug clash is not the moderator's problem
                wanted = replace(spec, key=unique_key(spec.key, taken))
            return service.add_item(session, where.community_id, wanted, at=at, actor=where.member_id)

        item = await _write(store, add)
        tags = " ".join(f"#{esc(t)}" for t in item.tags)
        await ctx.reply(ctx.t("item.added", item=item_line(item), tags=tags, key=esc(item.key))
                        .replace(" \n", "\n"))
    elif action == "edit":
        if len(rest) < 3:
            raise UsageError(ctx.t("item.edit_usage", fields=", ".join(EDITABLE)))
        key, field_name, value = rest[0], rest[1], " ".join(rest[2:])
        value = "" if value == "-" else value
        item = await _write(store, lambda s: service.edit_item(s, where.community_id, key, field_name, value,
                                                               at=at, actor=where.member_id))
        await ctx.reply(ctx.t("item.updated", field=esc(field_name.lower()), item=item_line(item)))
    else:
        if len(rest) != 1:
            raise UsageError(ctx.t("item.remove_usage"))
        removed, dependants = await _write(store, lambda s: service.remove_item(
            s, where.community_id, rest[0], at=at, actor=where.member_id))
        extra = ctx.t("item.no_longer_prereq", items=esc(", ".join(dependants))) if dependants else ""
        await ctx.reply(ctx.t("item.removed", key=esc(removed.key), extra=extra))


async def _write(store: Store, fn: Callable[[Session], T]) -> T:
    """Run a catalog write; an :class:`ItemError` becomes the user's :class:`UsageError`."""
    try:
        return await store.write(fn)
    except ItemError as exc:
        raise UsageError(esc(str(exc))) from exc


# -- /done, /rate ------------------------------------------------------------------------------


async def _item_or_fail(ctx: CommandContext, store: Store, where: Caller, ref: str) -> CatalogItem:
    item = await store.read(lambda s: service.find_item(s, where.community_id, ref))
    if item is None:
        raise UsageError(ctx.t("item.unknown", key=esc(ref)))
    return item


async def done_command(ctx: CommandContext, store: Store) -> None:
    """``/done <item>``: mark an item completed (once) and earn its points."""
    if len(ctx.args) != 1:
        raise UsageError(ctx.t("done.usage"))
    where = caller(ctx)
    item = await _item_or_fail(ctx, store, where, ctx.args[0])
    result = await store.write(lambda s: service.complete(
        s, where.community_id, where.member_id, s.get(CatalogItem, item.id) or item, ctx.event.at))
    if not result.new:
        await ctx.reply(ctx.t("done.already", item=item_line(item)))
        return
    earned = ctx.t("done.earned", points=result.points) if result.points else ""
    missing = await store.read(lambda s: _missing_prerequisites(s, where, item))
    note = "\n" + ctx.t("done.missing", item=esc(item.key),
                        missing=", ".join(f"<code>{esc(k)}</code>" for k in missing)) if missing else ""
    await ctx.reply(ctx.t("done.ok", item=item_line(item), earned=earned) + note)


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
    return CatalogView(shown, len(matched), tags,
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
        raise UsageError(ctx.t("catalog.usage"))
    tag = ctx.args[0].lstrip("#").strip().lower() if ctx.args else None
    where = caller(ctx)
    view = await store.read(lambda s: _catalog_view(s, where, tag or None))
    every = sorted(view.tags)
    if not view.size:
        raise UsageError(ctx.t("catalog.empty"))
    if not view.items:
        shown_tag = esc(tag or "")
        if not every:
            raise UsageError(ctx.t("catalog.no_tags", tag=shown_tag))
        near = close_tags(tag or "", every)
        raise UsageError(ctx.t("catalog.unknown_tag" if near else "catalog.unknown_tag_all", tag=shown_tag,
                               close=" ".join(f"#{esc(t)}" for t in (near or every[:15]))))
    lines = [ctx.t("catalog.title_tag", tag=esc(tag), total=view.total) if tag
             else ctx.t("catalog.title", total=view.total)]
    for item in view.items:
        mark = "✓ " if item.id in view.done else ""
        tags = " ".join(f"#{esc(t)}" for t in item.tags or [])
        lines.append(f"{mark}{item_line(item, view.links.get(item.id))} {tags}".rstrip())
    if view.total > len(view.items):
        lines.append(ctx.t("catalog.more", more=view.total - len(view.items)))
    if every and not tag:
        lines.append(ctx.t("catalog.tags", tags=" ".join(
            f"#{esc(t)}" for t in sorted(every, key=lambda t: -view.tags[t])[:20])))
    lines.append(ctx.t("catalog.hint"))
    await ctx.reply("\n".join(lines))


async def rate_command(ctx: CommandContext, store: Store) -> None:
    """``/rate <item> <1-5>``: rate an item (a later rating replaces the earlier one)."""
    if len(ctx.args) != 2:
        raise UsageError(ctx.t("rate.usage"))
    ref, raw = ctx.args
    stars = int_arg(raw, lo=1, hi=5, what="a rating", language=ctx.language, what_zh="评分")
    where = caller(ctx)
    item = await _item_or_fail(ctx, store, where, ref)
    first = await _write(store, lambda s: service.rate(
        s, where.community_id, where.member_id, s.get(CatalogItem, item.id) or item, stars, ctx.event.at))
    await ctx.reply(ctx.t("rate.first" if first else "rate.again", item=item_line(item),
                          stars="★" * stars + "☆" * (5 - stars)))


# -- /path ----------------------------------------------------------------------------------


async def path_command(ctx: CommandContext, store: Store) -> None:
    """``/path <item key or #tag>``: the ordered steps still to do (completed ones skipped)."""
    if len(ctx.args) != 1:
        raise UsageError(ctx.t("path.usage"))
    where = caller(ctx)
    raw = ctx.args[0].strip()

    def read(session: Session) -> tuple[list[CatalogItem], set[int]]:
        return service.list_items(session, where.community_id), service.completed_item_ids(
            session, where.community_id, where.member_id)

    items, completed_ids = await store.read(read)
    if not items:
        raise UsageError(ctx.t("path.empty_catalog"))
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
        raise UsageError(ctx.t("path.unknown_tag" if is_tag else "path.unknown_item", ref=esc(raw))) from None
    label = f"#{esc(target)}" if is_tag else item_line(by_key[target])
    if not steps:
        await ctx.reply(ctx.t("path.all_done", label=label))
        return
    lines = [f"{n}. {item_line(by_key[key])}" for n, key in enumerate(steps, 1)]
    await ctx.reply(ctx.t("path.title", label=label, count=len(steps)) + "\n" + "\n".join(lines))


def _tag_path(tag: str, prereqs: dict[str, list[str]], done: set[str], tags: dict[str, list[str]]) -> list[str]:
    # A tag can equal an item key; prefix-free lookup keeps "#asyncio" meaning the tag.
    tagged = {key: [f"#{t}" for t in item_tags] for key, item_tags in tags.items()}
    return learning_path(f"#{tag}", prereqs, done, tagged)


# -- buttons and the module -------------------------------------------------------------------


async def answer_click(notice: Notice, event: Event, messenger: Messenger) -> None:
    """Answer a catalog button press (interested, done, a repeat, someone else's buttons)."""
    if notice.kind != "click" or not isinstance(event, ButtonClicked):
        return
    key = f"click.{notice.data.get('action')}"
    if key not in MESSAGES:
        return
    language = str(notice.data.get("language") or "en")
    await messenger.reply(event, text(MESSAGES, key, language, title=esc(str(notice.data.get("title", ""))),
                                      points=int(notice.data.get("points", 0))))


MODULE = Module(
    name="catalog",
    projection=catalog_projection.CatalogProjection,
    commands=(
        CommandSpec("item", item_command, min_role=Role.MODERATOR, summary="add, edit or remove catalog items",
                    usage="/item add <url> [title] [#tags] | edit <key> <field> <value> | remove <key>"),
        CommandSpec("done", done_command, summary="mark a catalog item as done", usage="/done <item>"),
        CommandSpec("rate", rate_command, summary="rate a catalog item 1-5", usage="/rate <item> <1-5>"),
        CommandSpec("path", path_command, summary="your learning path to an item or #tag",
                    usage="/path <item or #tag>"),
        CommandSpec("catalog", catalog_command, summary="browse the catalog, or the items with a #tag",
                    usage="/catalog [#tag]"),
    ),
    notices=(answer_click,),
    privacy=ModuleHook("catalog", service),
    cli=catalog_cli.cli,
    cli_name=catalog_cli.CLI_NAME,
    messages=MESSAGES,
)
