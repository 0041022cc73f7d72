"""``/filter links …``: a community's link rules (moderators), stored as typed settings.

* ``/filter links`` — show them;
* ``/filter links allow example.com [docs.org …] [delete|warn|mute]`` — add domains to the
  allow-list (links to any other domain are acted on; subdomains are allowed with their
  domain) and optionally set what happens to the others;
* ``/filter links remove example.com`` — take a domain off (an empty list is no rule);
* ``/filter links newcomers 3d [delete|warn|mute]`` — members who joined less than 3 days
  ago may post no links but to allowed domains; ``/filter links newcomers off``;
* ``/filter links off`` — both rules off.

The settings are ``links.allow``, ``links.allow_action``, ``links.newcomer_days`` and
``links.newcomer_action`` (declared here as :class:`SettingSpec`, so ``/config`` shows and
sets them too); every change is audited. Detection and matching are in
:mod:`engine.moderation.links`; enforcement in :mod:`bot.handlers.automod`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.markup import esc
from bot.modules import Catalog
from bot.ports import Role
from bot.router import CommandContext, UsageError
from bot.settings_schema import CommunitySettings, SettingSpec
from engine.members.moderation import write_audit
from engine.moderation.links import (
    ACTIONS,
    ALLOW_MAX,
    NEWCOMER_DAYS_MAX,
    LinkRuleError,
    LinkRules,
    clean_domain,
    parse_action,
    parse_allow_list,
    parse_newcomer_days,
    shown_domain,
)
from engine.store.community_settings import store_setting
from engine.store.store import Store

ALLOW, ALLOW_ACTION = "links.allow", "links.allow_action"
NEWCOMER_DAYS, NEWCOMER_ACTION = "links.newcomer_days", "links.newcomer_action"


def _days(value: int) -> int:
    if not 0 <= value <= NEWCOMER_DAYS_MAX:
        raise ValueError(f"whole days from 0 (off) to {NEWCOMER_DAYS_MAX}")
    return value


SETTINGS = (
    SettingSpec(ALLOW, str, "", validate=parse_allow_list, min_role=Role.MODERATOR,
                help="example.com,docs.example.org (comma-separated) | off"),
    SettingSpec(ALLOW_ACTION, str, "delete", validate=parse_action, min_role=Role.MODERATOR,
                help="delete|warn|mute"),
    SettingSpec(NEWCOMER_DAYS, int, 0, validate=_days, min_role=Role.MODERATOR,
                help=f"days, 0 (off) to {NEWCOMER_DAYS_MAX}"),
    SettingSpec(NEWCOMER_ACTION, str, "delete", validate=parse_action, min_role=Role.MODERATOR,
                help="delete|warn|mute"),
)

MESSAGES: Catalog = {
    "links.usage": {
        "en": "Usage: /filter links allow &lt;domain&gt; [delete|warn|mute] · /filter links remove &lt;domain&gt; · "
              "/filter links newcomers &lt;days, e.g. 3d&gt; [delete|warn|mute] · /filter links newcomers off · "
              "/filter links off · /filter links",
        "zh": "用法：/filter links allow &lt;域名&gt; [delete|warn|mute] · /filter links remove &lt;域名&gt; · "
              "/filter links newcomers &lt;天数，如 3d&gt; [delete|warn|mute] · /filter links newcomers off · "
              "/filter links off · /filter links",
    },
    "links.refused": {"en": "Not changed: {reason}.", "zh": "未修改：{reason}。"},
    "links.title": {"en": "<b>Link rules</b>", "zh": "<b>链接规则</b>"},
    "links.allow_on": {
        "en": "Allowed domains (and their subdomains): {domains}. Links elsewhere → {action}.",
        "zh": "允许的域名（含子域名）：{domains}。其他链接 → {action}。",
    },
    "links.allow_off": {"en": "No allow-list: links to any domain are fine.",
                        "zh": "没有域名白名单：任何域名的链接都可以。"},
    "links.newcomers_on": {
        "en": "Members who joined less than {days} {days:plural:day|days} ago: links (but to allowed domains) → "
              "{action}.",
        "zh": "加入不满 {days} 天的成员：发链接（白名单域名除外）→ {action}。",
    },
    "links.newcomers_off": {"en": "Newcomers may post links.", "zh": "新成员可以发链接。"},
    "links.exempt": {"en": "Moderators and above are exempt.", "zh": "版主及以上不受限制。"},
    "links.allowed": {
        "en": "Allowed: {domains}. Links to other domains → {action}.",
        "zh": "已允许：{domains}。其他域名的链接 → {action}。",
    },
    "links.already": {"en": "{domains} already allowed; nothing changed.", "zh": "{domains} 已在白名单中；未做更改。"},
    "links.removed": {"en": "{domain} is no longer allowed.", "zh": "{domain} 已移出白名单。"},
    "links.removed_last": {
        "en": "{domain} is no longer allowed; the allow-list is empty, so links to any domain are fine again.",
        "zh": "{domain} 已移出白名单；白名单已空，任何域名的链接都可以了。",
    },
    "links.not_listed": {"en": "{domain} is not on the allow-list ({domains}). Nothing was changed.",
                         "zh": "{domain} 不在白名单中（{domains}）。未做更改。"},
    "links.newcomers_set": {
        "en": "Members who joined less than {days} {days:plural:day|days} ago can't post links (but to allowed "
              "domains): → {action}.",
        "zh": "加入不满 {days} 天的成员不能发链接（白名单域名除外）：→ {action}。",
    },
    "links.newcomers_cleared": {"en": "Newcomers may post links again.", "zh": "新成员又可以发链接了。"},
    "links.all_off": {"en": "Link rules are off: no allow-list, newcomers may post links.",
                      "zh": "链接规则已关闭：没有白名单，新成员可以发链接。"},
    "links.none": {"en": "none", "zh": "无"},
    "links.too_many": {"en": "an allow-list has at most {max} domains", "zh": "白名单最多 {max} 个域名"},
    # enforcement (automod)
    "links.reason.allow": {"en": "a link to {domain}, which this community does not allow",
                           "zh": "链接到本社区不允许的域名 {domain}"},
    "links.reason.newcomer": {
        "en": "a link in your first {days} {days:plural:day|days} here (only allowed domains until then)",
        "zh": "加入后 {days} 天内发了链接（在此之前只能发白名单域名）",
    },
    "links.warned": {"en": "Removed a link from {name}: {reason}. {summary}",
                     "zh": "已删除 {name} 的一条链接：{reason}。{summary}"},
    "links.muted": {"en": "Removed a link from {name}: {reason}; they are muted for {minutes} min.",
                    "zh": "已删除 {name} 的一条链接：{reason}；禁言 {minutes} 分钟。"},
}


def link_rules(settings: CommunitySettings) -> LinkRules:
    """The community's link rules from its typed settings (bad stored values read as defaults)."""
    allow = str(settings[ALLOW] or "")
    return LinkRules(tuple(d for d in allow.split(",") if d), str(settings[ALLOW_ACTION]),
                     int(settings[NEWCOMER_DAYS]), str(settings[NEWCOMER_ACTION]))


def _domains(ctx: CommandContext, domains: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"<code>{esc(shown_domain(d))}</code>" for d in domains) or ctx.t("links.none")


def describe(ctx: CommandContext, rules: LinkRules) -> list[str]:
    """The lines ``/filter links`` and ``/filter list`` show about the link rules."""
    lines = [ctx.t("links.title")]
    lines.append(ctx.t("links.allow_on", domains=_domains(ctx, rules.allow), action=rules.allow_action)
                 if rules.allow else ctx.t("links.allow_off"))
    lines.append(ctx.t("links.newcomers_on", days=rules.newcomer_days, action=rules.newcomer_action)
                 if rules.newcomer_days else ctx.t("links.newcomers_off"))
    if rules:
        lines.append(ctx.t("links.exempt"))
    return lines


def _action_last(args: list[str], *, alone: bool) -> str | None:
    """The trailing action word, taken off ``args``; a lone one only when ``alone`` (a rule
    that is on may change only its action)."""
    if (len(args) > 1 or (alone and len(args) == 1)) and args[-1].lower() in ACTIONS:
        return args.pop().lower()
    return None


async def _save(store: Store, ctx: CommandContext, community_id: int, actor: int | None,
                changes: dict[str, Any]) -> None:
    """Store the changed settings, each audited (``config.links.*``, as /config writes them)."""
    at = ctx.event.at

    def write(session: Session) -> None:
        for key, value in changes.items():
            previous = store_setting(session, community_id, key, value)
            if previous != value:
                write_audit(session, action=f"config.{key}", at=at, community_id=community_id,
                            actor_id=actor, details={"value": value, "previous": previous})

    await store.write(write)


async def links_command(ctx: CommandContext, args: list[str], store: Store, community_id: int,
                        actor: int | None) -> bool:
    """Run ``/filter links …``; True when something was stored (the caller drops its cache).
    Raises UsageError (nothing stored) for bad input."""
    rules = link_rules(ctx.settings)
    sub = args.pop(0).lower() if args else "show"
    try:
        if sub in ("show", "list"):
            await ctx.reply("\n".join(describe(ctx, rules)))
            return False
        if sub == "allow":
            action = _action_last(args, alone=bool(rules.allow))
            if not args and action is None:
                raise UsageError(ctx.t("links.usage"))
            wanted = sorted({clean_domain(a) for raw in args for a in raw.split(",") if a})
            if not wanted and action is None:
                raise UsageError(ctx.t("links.usage"))
            new = [d for d in wanted if d not in rules.allow]
            merged = sorted(set(rules.allow) | set(wanted))
            if len(merged) > ALLOW_MAX:
                raise LinkRuleError(ctx.t("links.too_many", max=ALLOW_MAX))
            changes: dict[str, Any] = {}
            if new:
                changes[ALLOW] = parse_allow_list(",".join(merged))
            if action is not None and action != rules.allow_action:
                changes[ALLOW_ACTION] = action
            if not changes:
                await ctx.reply(ctx.t("links.already", domains=_domains(ctx, wanted or rules.allow)))
                return False
            await _save(store, ctx, community_id, actor, changes)
            await ctx.reply(ctx.t("links.allowed", domains=_domains(ctx, merged),
                                  action=action or rules.allow_action))
            return True
        if sub in ("remove", "rm", "del", "delete", "disallow"):
            if len(args) != 1:
                raise UsageError(ctx.t("links.usage"))
            domain = clean_domain(args[0])
            if domain not in rules.allow:
                raise UsageError(ctx.t("links.not_listed", domain=_domains(ctx, [domain]),
                                       domains=_domains(ctx, rules.allow)))
            left = [d for d in rules.allow if d != domain]
            await _save(store, ctx, community_id, actor, {ALLOW: ",".join(left)})
            key = "links.removed" if left else "links.removed_last"
            await ctx.reply(ctx.t(key, domain=_domains(ctx, [domain])))
            return True
        if sub in ("newcomers", "newcomer", "new"):
            action = _action_last(args, alone=rules.newcomer_days > 0)
            if len(args) > 1 or (not args and action is None):
                raise UsageError(ctx.t("links.usage"))
            days = parse_newcomer_days(args[0]) if args else rules.newcomer_days
            changes = {NEWCOMER_DAYS: days}
            if action is not None:
                changes[NEWCOMER_ACTION] = action
            await _save(store, ctx, community_id, actor, changes)
            if days:
                await ctx.reply(ctx.t("links.newcomers_set", days=days, action=action or rules.newcomer_action))
            else:
                await ctx.reply(ctx.t("links.newcomers_cleared"))
            return True
        if sub == "off" and not args:
            changes = {k: v for k, v, now in ((ALLOW, "", rules.allow), (NEWCOMER_DAYS, 0, rules.newcomer_days))
                       if now}
            if changes:
                await _save(store, ctx, community_id, actor, changes)
            await ctx.reply(ctx.t("links.all_off"))
            return True
    except LinkRuleError as exc:
        raise UsageError(ctx.t("links.refused", reason=esc(str(exc).rstrip(".")))) from None
    raise UsageError(ctx.t("links.usage"))
