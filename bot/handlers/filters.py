"""``/filter add|remove|list``: a community's blocked words and patterns (moderators).

The matching and the limits (RE2, pattern length, normalisation) are in
:mod:`engine.moderation.filters`; enforcement in :mod:`bot.handlers.automod`.
"""

from __future__ import annotations

from bot.handlers.automod import Automod
from bot.handlers.link_filters import describe as describe_links
from bot.handlers.link_filters import link_rules, links_command
from bot.handlers.moderation_messages import say
from bot.markup import esc
from bot.ports import Clock
from bot.router import CommandContext, UsageError
from engine.args import excerpt
from engine.moderation.filters import ACTIONS, KINDS, WORD, FilterError, add_filter, remove_filter, rules_of
from engine.store.community_settings import stored_settings
from engine.store.store import Store


async def language_of(store: Store, community_id: int, default: str = "en") -> str:
    """The community's ``language`` setting (``en`` / ``zh``), else ``default``."""
    stored = await store.read(lambda s: stored_settings(s, community_id))
    lang = stored.get("language")
    return lang if lang in ("en", "zh") else default


async def filter_(ctx: CommandContext, store: Store, automod: Automod, clock: Clock) -> None:
    from bot.handlers.moderation import _community

    community_id = _community(ctx)
    lang = await language_of(store, community_id, automod.default_language)
    args = list(ctx.args)
    sub = args.pop(0).lower() if args else "list"
    if sub == "list":
        rules = await store.read(lambda s: rules_of(s, community_id))
        links = link_rules(ctx.settings)
        link_lines = ["", *describe_links(ctx, links)] if links else []
        if not rules:
            await ctx.reply("\n".join([say("filter.empty", lang), *link_lines]))
            return
        lines = [f"#{r.id} · {say(f'filter.kind.{r.kind}', lang)} <code>{esc(r.pattern)}</code> → {r.action}"
                 for r in rules]
        await ctx.reply(say("filter.list", lang) + "\n" + "\n".join(lines + link_lines))
        return
    actor, now = ctx.member_id, clock()
    if sub in ("links", "link"):
        if await links_command(ctx, args, store, community_id, actor):
            automod.invalidate(community_id)
        return
    if sub == "add":
        kind = WORD
        if args and args[0].lower() in KINDS:
            kind = args.pop(0).lower()
        action = "delete"
        if len(args) > 1 and args[-1].lower() in ACTIONS:
            action = args.pop().lower()
        if not args:
            raise UsageError(say("filter.usage", lang))
        raw = " ".join(args)
        try:
            rule, status = await store.write(lambda s: add_filter(s, community_id, kind, raw, action,
                                                                   actor_id=actor, at=now))
        except FilterError as exc:
            raise UsageError(say("filter.refused", lang, reason=esc(str(exc)))) from None
        automod.invalidate(community_id)
        values = {"id": rule.id, "kind": say(f"filter.kind.{rule.kind}", lang),
                  "pattern": f"<code>{esc(rule.pattern)}</code>", "action": rule.action}
        await ctx.reply(say(f"filter.{status}", lang, **values))
        return
    if sub in ("remove", "rm", "del", "delete"):
        if not args:
            raise UsageError(say("filter.usage", lang))
        which = " ".join(args)
        removed = await store.write(lambda s: remove_filter(s, community_id, which, actor_id=actor, at=now))
        if removed is None:
            raise UsageError(say("filter.unknown", lang, which=f"<code>{esc(excerpt(which))}</code>"))
        automod.invalidate(community_id)
        await ctx.reply(say("filter.removed", lang, id=removed.id, kind=say(f"filter.kind.{removed.kind}", lang),
                            pattern=f"<code>{esc(removed.pattern)}</code>"))
        return
    raise UsageError(say("filter.usage", lang))


