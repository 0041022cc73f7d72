"""Digest renderers: Markdown, HTML, the chat markup subset (for a DM) and JSON.

All text renderers share :func:`sections`, so they say the same things; JSON carries
the figures themselves (scores, sizes, KPIs) for other tools.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from engine.digest.build import Digest
from engine.digest.kpis import Kpis
from engine.digest.words import words
from engine.points.days import zone_of

MAX_SNIPPET = 90


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    link: str | None = None


@dataclass
class Section:
    heading: str
    lines: list[Line] = field(default_factory=list)


def _post_text(post: Any) -> str:
    return post.thread_title if post.is_topic_start and post.thread_title else post.text


def _snippet(text: str, limit: int = MAX_SNIPPET) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%} ({part}/{whole})" if whole else "–"


def _local(d: Digest, at: datetime) -> str:
    return at.astimezone(zone_of({"timezone": d.timezone})).strftime("%Y-%m-%d %H:%M")


KPI_ROWS = ("members", "joined", "left", "dau", "wau", "mau", "messages", "replies", "questions",
            "first_reply", "retention")


def kpi_value(k: Kpis, key: str, w: dict[str, str]) -> str:
    if key == "first_reply":
        m = k.median_first_reply_minutes
        if m is None:
            return w["na"]
        return w["minutes"].format(m=m) if m < 120 else w["hours"].format(h=m / 60)
    if key == "retention":
        if k.newcomer_retention is None:
            return w["na"]
        return f"{k.newcomer_retention:.0%} ({round(k.newcomer_retention * k.newcomers_last_month)}/{k.newcomers_last_month})"
    value = {"members": k.members, "joined": k.joined, "left": k.left, "dau": k.dau, "wau": k.wau,
             "mau": k.mau, "messages": k.messages, "replies": k.replies, "questions": k.questions}[key]
    return f"{value:g}" if isinstance(value, float) else str(value)


def _change(now: Kpis, before: Kpis, key: str) -> str:
    attr = {"first_reply": "median_first_reply_minutes", "retention": "newcomer_retention"}.get(key, key)
    a, b = getattr(now, attr), getattr(before, attr)
    if a is None or b is None:
        return ""
    if key == "retention":
        return f"{(a - b) * 100:+.0f} pp"
    if b == 0:
        return "new" if a else ""
    return f"{(a - b) / b:+.0%}"


def heading(d: Digest) -> tuple[str, str]:
    w = words(d.language)
    title = w["title"].format(title=d.title, period=w[f"period_{d.period.kind}"])
    span = w["range"].format(start=_local(d, d.period.start), end=_local(d, d.period.end), tz=d.timezone)
    return title, span


def sections(d: Digest) -> list[Section]:
    """Everything but the KPI table, in reading order; each section degrades to one line."""
    w = words(d.language)
    out: list[Section] = []
    s = Section(w["helpers"])
    s.lines = [Line(f"{r.name} — {r.score:g}") for r in d.helpers] or [Line(w["no_helpers"])]
    if d.answerers:
        s.lines.append(Line(w["answerers"] + ": " + ", ".join(f"{r.name} ({r.score:g})" for r in d.answerers)))
    out.append(s)
    soc = d.social
    s = Section(w["influencers"])
    s.lines = [Line(f"{r.name} — {r.score:.3f}") for r in soc.influencers] or [Line(w["no_graph"])]
    out.append(s)
    if soc.bridges:
        out.append(Section(w["bridges"].format(sampled=w["sampled"] if soc.betweenness_sampled else ""),
                           [Line(f"{r.name} — {r.score:.3f}") for r in soc.bridges]))
    if soc.communities:
        out.append(Section(
            w["groups"].format(n=soc.community_count, q=f"{soc.modularity:.2f}"),
            [Line(w["group"].format(size=c.size, core=", ".join(r.name for r in c.core),
                                    inside=c.internal_share)) for c in soc.communities]))
    if soc.isolated_newcomers:
        out.append(Section(w["isolated"], [Line(w["isolated_line"].format(name=r.name, days=r.score))
                                           for r in soc.isolated_newcomers]))
    s = Section(w["segments"])
    for seg in d.segments.segments:
        examples = ", ".join(d.name(m) for m in seg.examples)
        c = seg.centroid
        s.lines.append(Line(
            w["seg_line"].format(name=w["seg_" + seg.name], size=seg.size, posts=c["posts"],
                                 replies=c["replies_given"], questions=c["questions"], days=c["active_days"])
            + (f" — {examples}" if examples else "")))
    if not d.segments.segments:
        s.lines.append(Line(w["na"]))
    if d.segment_moves is None:
        s.lines.append(Line(w["no_moves"]))
    elif not d.segment_moves:
        s.lines.append(Line(w["no_change"]))
    else:
        s.lines.append(Line(w["moves"] + ": " + ", ".join(
            f"{w['seg_' + a]} → {w['seg_' + b]} {n}" for a, b, n in d.segment_moves[:6])))
    out.append(s)
    s = Section(w["topics"])
    for t in d.topics.topics:
        ex = f" — {w['example']} “{_snippet(_post_text(t.example), 70)}”" if t.example else ""
        s.lines.append(Line(" · ".join(t.keywords) + f" ({t.posts}){ex}"))
    s.lines = s.lines or [Line(w["no_topics"])]
    out.append(s)
    s = Section(w["unanswered"].format(h=d.answer_hours))
    for q in d.unanswered[:10]:
        text = _snippet(_post_text(q.post))
        s.lines.append(Line(f"“{text}” — " + w["asked_by"].format(name=d.name(q.post.author_id),
                                                                 when=_local(d, q.post.at)), q.link))
    if len(d.unanswered) > 10:
        s.lines.append(Line(f"… +{len(d.unanswered) - 10}"))
    s.lines = s.lines or [Line(w["no_unanswered"])]
    out.append(s)
    if d.at_risk is None:
        out.append(Section(w["at_risk"].format(n="–"), [Line(w["no_churn"])]))
    else:
        s = Section(w["at_risk"].format(n=d.at_risk_total))
        for r in d.at_risk:
            reasons = "; ".join(r.reasons_zh if d.language == "zh" else r.reasons_en)
            s.lines.append(Line(f"{r.name} — {r.risk:.0%}" + (f": {reasons}" if reasons else "")))
        s.lines = s.lines or [Line(w["no_risk"])]
        out.append(s)
    if d.uplift is not None:
        u = d.uplift
        s.lines.append(Line(w["uplift"].format(tr=u.treated_rate, cr=u.control_rate, u=u.uplift,
                                               lo=u.ci_low, hi=u.ci_high, t=u.treated, c=u.control)))
    elif d.uplift_available:
        s.lines.append(Line(w["no_uplift"]))
    s = Section(w["catalog"], [Line(f"{title} — {n}") for title, n in d.popular_items] or [Line(w["no_catalog"])])
    rec = d.recommendations
    s.lines.append(Line(w["ctr"].format(main=_pct(rec.main_clicks, rec.main_impressions),
                                        explore=_pct(rec.explore_clicks, rec.explore_impressions))
                        if rec else w["no_ctr"]))
    out.append(s)
    mod = ", ".join(f"{n} {w[a]}" for a, n in sorted(d.moderation.items()))
    out.append(Section(w["moderation"], [Line(mod or w["no_moderation"])]))
    return out


def render_markdown(d: Digest) -> str:
    w = words(d.language)
    title, span = heading(d)
    lines = [f"# {title}", "", f"*{span}*", ""]
    if d.empty:
        lines += [w["quiet"], ""]
    lines += [f"## {w['kpis']}", "", f"| {w['figure']} | {w['now']} | {w['before']} | Δ |", "| --- | ---: | ---: | ---: |"]
    for key in KPI_ROWS:
        lines.append(f"| {w[key]} | {kpi_value(d.kpis, key, w)} | {kpi_value(d.previous, key, w)} | "
                     f"{_change(d.kpis, d.previous, key)} |")
    lines.append("")
    for sec in sections(d):
        lines += [f"## {sec.heading}", ""]
        lines += [f"- [{ln.text}]({ln.link})" if ln.link else f"- {ln.text}" for ln in sec.lines]
        lines.append("")
    return "\n".join(lines)


def render_html(d: Digest, *, chart_src: str | None = "chart.png") -> str:
    w = words(d.language)
    title, span = heading(d)
    e = html.escape
    parts = [f"<!doctype html><html lang=\"{e(d.language)}\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.4}"
             "table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #ddd}"
             "td.n{text-align:right}</style></head><body>", f"<h1>{e(title)}</h1><p><i>{e(span)}</i></p>"]
    if d.empty:
        parts.append(f"<p>{e(w['quiet'])}</p>")
    if chart_src:
        parts.append(f"<p><img src=\"{e(chart_src)}\" alt=\"{e(w['chart_title'].format(title=d.title))}\" width=\"720\"></p>")
    parts.append(f"<h2>{e(w['kpis'])}</h2><table><tr><th>{e(w['figure'])}</th><th>{e(w['now'])}</th>"
                 f"<th>{e(w['before'])}</th><th>Δ</th></tr>")
    for key in KPI_ROWS:
        parts.append(f"<tr><td>{e(w[key])}</td><td class=n>{e(kpi_value(d.kpis, key, w))}</td>"
                     f"<td class=n>{e(kpi_value(d.previous, key, w))}</td>"
                     f"<td class=n>{e(_change(d.kpis, d.previous, key))}</td></tr>")
    parts.append("</table>")
    for sec in sections(d):
        parts.append(f"<h2>{e(sec.heading)}</h2><ul>")
        for ln in sec.lines:
            text = e(ln.text)
            parts.append(f"<li><a href=\"{e(ln.link)}\">{text}</a></li>" if ln.link else f"<li>{text}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markup(d: Digest, *, max_lines: int = 5) -> str:
    """The chat markup subset (``<b> <i> <a href>``, text escaped) for a DM: KPIs in a few
    lines and each section's first ``max_lines`` lines."""
    w = words(d.language)
    title, span = heading(d)
    e = html.escape
    k, p = d.kpis, d.previous
    out = [f"<b>{e(title)}</b>", f"<i>{e(span)}</i>"]
    if d.empty:
        out.append(e(w["quiet"]))
    out.append("")
    for key in ("members", "joined", "left", "dau", "wau", "messages", "first_reply", "retention"):
        change = _change(k, p, key)
        out.append(f"{e(w[key])}: <b>{e(kpi_value(k, key, w))}</b>" + (f" ({e(change)})" if change else ""))
    for sec in sections(d):
        out += ["", f"<b>{e(sec.heading)}</b>"]
        for ln in sec.lines[:max_lines]:
            out.append(f"• <a href=\"{e(ln.link)}\">{e(ln.text)}</a>" if ln.link else f"• {e(ln.text)}")
    return "\n".join(out)


def digest_data(d: Digest) -> dict[str, Any]:
    """The digest's figures as JSON-ready data (same numbers the text shows)."""
    def member(r: Any) -> dict[str, Any]:
        return {"member_id": r.member_id, "name": r.name, "score": r.score}

    soc = d.social
    return {
        "community": {"id": d.community_id, "title": d.title, "platform": d.platform,
                      "language": d.language, "timezone": d.timezone},
        "period": {"kind": d.period.kind, "start": d.period.start.isoformat(), "end": d.period.end.isoformat()},
        "kpis": asdict(d.kpis), "previous_kpis": asdict(d.previous),
        "days": [{"day": x.day.isoformat(), "active": x.active, "messages": x.messages} for x in d.days],
        "helpers": [member(r) for r in d.helpers],
        "answerers": [member(r) for r in d.answerers],
        "graph": {"members": soc.members, "edges": soc.edges, "modularity": soc.modularity,
                  "betweenness_sampled": soc.betweenness_sampled, "community_backend": soc.community_backend,
                  "community_count": soc.community_count},
        "influencers": [member(r) for r in soc.influencers],
        "bridges": [member(r) for r in soc.bridges],
        "sub_communities": [{"size": c.size, "internal_share": c.internal_share,
                             "core": [member(r) for r in c.core]} for c in soc.communities],
        "isolated_newcomers": [{"member_id": r.member_id, "name": r.name, "days_since_join": r.score}
                               for r in soc.isolated_newcomers],
        "segments": [{"name": s.name, "size": s.size, "centroid": s.centroid, "examples": list(s.examples)}
                     for s in d.segments.segments],
        "segment_moves": None if d.segment_moves is None
        else [{"from": a, "to": b, "members": n} for a, b, n in d.segment_moves],
        "topics": {"tokenizer": d.topics.tokenizer, "topics": [
            {"keywords": list(t.keywords), "posts": t.posts,
             "example": _snippet(_post_text(t.example), 200) if t.example else None}
            for t in d.topics.topics]},
        "unanswered": [{"text": _snippet(_post_text(q.post), 200), "author_id": q.post.author_id,
                        "at": q.post.at.isoformat(), "link": q.link} for q in d.unanswered],
        "answer_hours": d.answer_hours,
        "at_risk": None if d.at_risk is None else {
            "total": d.at_risk_total,
            "members": [asdict(r) for r in d.at_risk],
            "by_day": [{"day": day.isoformat(), "count": n} for day, n in (d.at_risk_by_day or [])]},
        "uplift": asdict(d.uplift) if d.uplift else None,
        "popular_items": [{"title": t, "interactions": n} for t, n in d.popular_items],
        "recommendations": asdict(d.recommendations) if d.recommendations else None,
        "moderation": d.moderation,
    }


def render_json(d: Digest) -> str:
    return json.dumps(digest_data(d), ensure_ascii=False, indent=2, default=str)
