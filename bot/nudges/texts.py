"""The report as chat text (messenger markup) and for the console."""

from __future__ import annotations

from bot.markup import esc
from engine.nudge.report import NudgeReport, UpliftSummary


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
