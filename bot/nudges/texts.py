"""What the nudges capability says in chat, EN and 中文 (:data:`MESSAGES`, the module's
catalog read with :func:`bot.modules.text`), and the report as chat text and for the console."""

from __future__ import annotations

from typing import Any

from bot.markup import esc
from bot.modules import text
from engine.nudge.report import NudgeReport, UpliftSummary

MESSAGES: dict[str, dict[str, str]] = {
    "nudge.usage": {"en": "Usage: /nudge [on|off|pause|resume|preview @member|report|unreachable] · "
                    "settings: /config nudge.KEY VALUE",
              "zh": "用法：/nudge [on|off|pause|resume|preview @成员|report|unreachable] · 设置：/config nudge.键 值"},
    "nudge.need_role": {"en": "/nudge {what} is for {role}s and above.", "zh": "/nudge {what} 仅限{role}及以上使用。"},
    "nudge.role_admin": {"en": "admin", "zh": "管理员"}, "nudge.role_moderator": {"en": "moderator", "zh": "版主"},
    "nudge.on": {"en": "Nudges are on: each day at the local hour members at churn risk get one DM, and a random "
                 "control group does not (so the effect is measured). /nudge preview @member shows what they "
                 "would get.",
           "zh": "提醒已开启：每天在本地时间的运行时刻，有流失风险的成员会收到一条私信；随机的对照组不会收到"
                 "（以便衡量效果）。/nudge preview @成员 可预览他们会收到的内容。"},
    "nudge.off": {"en": "Nudges are off. Nothing is sent; past results stay in /nudge report.",
            "zh": "提醒已关闭，不再发送；以往的结果仍可在 /nudge report 查看。"},
    "nudge.pause": {"en": "Nudges are paused: nothing more is sent until an admin sends /nudge resume.",
              "zh": "提醒已暂停：在管理员发送 /nudge resume 之前不再发送。"},
    "nudge.resume": {"en": "Nudges resume at the next local run hour.", "zh": "提醒将在下一个本地运行时刻恢复。"},
    "nudge.use_config": {"en": "Use /config nudge.KEY VALUE (admins) — keys: {keys}",
                   "zh": "请使用 /config nudge.键 值（管理员）——可用的键：{keys}"},
    "nudge.state_on": {"en": "on", "zh": "开启"}, "nudge.state_paused": {"en": "paused", "zh": "已暂停"},
    "nudge.state_off": {"en": "off", "zh": "关闭"},
    "nudge.by_threshold": {"en": "churn risk ≥ {value}", "zh": "流失风险 ≥ {value}"},
    "nudge.by_top": {"en": "the top {value} % by churn risk", "zh": "流失风险最高的前 {value}%"},
    "nudge.status": {"en": "<b>Nudges: {state}</b>\nwho: {who}, at most {cap} a day, each member at most once every "
                     "{cooldown} days\nwhen: {hour}:00 local, quiet hours {quiet}\ncontrol group: {control} of "
                     "flagged members (not messaged, for measuring)\nranking: {ranking} (uplift once {minimum} "
                     "outcomes per arm)",
               "zh": "<b>提醒：{state}</b>\n对象：{who}，每天最多 {cap} 条，同一成员每 {cooldown} 天最多一次\n"
                     "时间：本地 {hour}:00，免打扰时段 {quiet}\n对照组：被标记成员的 {control}（不发送，用于衡量效果）\n"
                     "排序：{ranking}（每组满 {minimum} 个结果后按预估提升排序）"},
    "nudge.quiet_run": {"en": "⚠ the daily run at {hour}:00 falls inside the quiet hours, so nothing is sent: change "
                        "nudge.local_hour or nudge.quiet_hours",
                  "zh": "⚠ 每日运行时刻 {hour}:00 落在免打扰时段内，因此不会发送：请修改 nudge.local_hour 或 nudge.quiet_hours"},
    "nudge.change": {"en": "change: /config nudge.KEY VALUE", "zh": "修改：/config nudge.键 值"},
    "nudge.preview_usage": {"en": "Usage: /nudge preview @member", "zh": "用法：/nudge preview @成员"},
    "nudge.unknown_member": {"en": "I don't know {who} in this community.", "zh": "本社区里没有 {who} 这位成员。"},
    "nudge.preview": {"en": "Preview for {name} ({status}; nothing sent):\n\n{message}",
                "zh": "{name} 的预览（{status}；未发送）：\n\n{message}"},
    "nudge.can_nudge": {"en": "can be nudged", "zh": "可以提醒"},
    "nudge.skipped": {"en": "would be skipped today: {reason}", "zh": "今天会被跳过：{reason}"},
    "nudge.reason_left": {"en": "left", "zh": "已离开"}, "nudge.reason_banned": {"en": "banned", "zh": "已封禁"},
    "nudge.reason_muted": {"en": "muted", "zh": "已禁言"}, "nudge.reason_opted_out": {"en": "opted out", "zh": "已退订"},
    "nudge.reason_unreachable": {"en": "unreachable", "zh": "无法私信"},
    "nudge.reason_cooldown": {"en": "cooldown", "zh": "冷却期内"}, "nudge.reason_bot": {"en": "a bot", "zh": "机器人"},
    "nudge.no_bounces": {"en": "No nudge bounced in the last 30 days.", "zh": "最近 30 天没有发送失败的提醒。"},
    "nudge.bounced": {"en": "<b>Members a nudge could not reach</b> (DMs closed or the bot blocked; not retried):",
                "zh": "<b>提醒无法送达的成员</b>（关闭了私信或屏蔽了机器人；不会重试）："},
    "nudge.member_n": {"en": "member {id}", "zh": "成员 {id}"},
    "nudge.nudges_usage": {"en": "Usage: /nudges off (no more reminders from me) or /nudges on",
                     "zh": "用法：/nudges off（不再接收提醒）或 /nudges on"},
    "nudge.opted_out": {"en": "Done: I won't send you nudges any more. /nudges on brings them back.",
                  "zh": "好的：我不会再给你发提醒了。发送 /nudges on 可以恢复。"},
    "nudge.already_out": {"en": "You had already turned nudges off. /nudges on brings them back.",
                    "zh": "你之前已经关闭了提醒。发送 /nudges on 可以恢复。"},
    "nudge.opted_in": {"en": "Nudges are on again for you.", "zh": "已为你重新开启提醒。"},
    "nudge.already_in": {"en": "Nudges were already on for you.", "zh": "你的提醒本来就是开启的。"},
    "nudge.stopped": {"en": "OK — no more nudges from me. Send /nudges on any time to get them back.",
                "zh": "好的——不再给你发提醒。随时发送 /nudges on 即可恢复。"},
}


def say(language: str, key: str, **values: Any) -> str:
    """:data:`MESSAGES`' ``nudge.<key>`` in ``language`` (English when missing), formatted."""
    return text(MESSAGES, f"nudge.{key}", language, **values)


def _pct(x: float) -> str:
    return f"{x * 100:+.1f} pp" if x else "0 pp"


def _summary(label: str, s: UpliftSummary) -> str:
    return (f"{esc(label)}: returned within 7 days {s.treated_rate:.1%} of {s.treated} nudged vs "
            f"{s.control_rate:.1%} of {s.control} in control → uplift {_pct(s.uplift)} "
            f"(95 % CI {_pct(s.ci_low)} to {_pct(s.ci_high)}, {s.campaigns} campaign(s), {esc(s.method)})")


def format_report(report: NudgeReport) -> str:
    """``/nudge report``: the measured effect, per ranking, guardrails and recent campaigns."""
    lines = ["<b>Nudge report</b>"]
    if report.overall is None:
        lines.append("No campaign has finished its 7-day window yet, so there is no measured effect."
                     + (f" {report.open_campaigns} campaign(s) waiting." if report.open_campaigns else ""))
    else:
        lines.append(_summary("overall", report.overall))
        for ranking, s in report.by_ranking.items():
            lines.append(_summary(f"ranked by {ranking}", s))
        lines.append("<b>Guardrails</b> (treated vs control members)")
        for g in report.guardrails:
            diff = f", difference {_pct(g.difference.estimate)}" if g.difference is not None else ""
            lines.append(f"• {esc(g.name.replace('_', ' '))}: {g.treated} vs {g.control}{diff}")
    recent = [c for c in report.campaigns][-5:]
    if recent:
        lines.append("<b>Recent campaigns</b>")
        for c in recent:
            state = (f"uplift {_pct(c.uplift.estimate)} [{_pct(c.uplift.low)}, {_pct(c.uplift.high)}]"
                     if c.uplift is not None else "window open" if not c.closed else "one arm empty")
            lines.append(f"• {c.run_on.isoformat()} #{c.campaign_id}: {c.treated.members} nudged "
                         f"({c.treated.delivered} delivered, {c.treated.unreachable} unreachable), "
                         f"{c.control.members} control; {state}")
    lines.extend(f"<i>{esc(n)}</i>" for n in report.notes)
    return "\n".join(lines)


def plain(text: str) -> str:
    """Messenger markup to plain console text."""
    import html
    import re
    return html.unescape(re.sub(r"<[^>]+>", "", text))
