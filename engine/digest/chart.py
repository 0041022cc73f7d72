"""The digest's one chart: daily active members and messages (and the at-risk count when
churn scores exist), as a PNG. matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

import io
from typing import Any

from engine.digest.build import Digest
from engine.digest.words import words

# Fonts tried for Chinese labels, in order; matplotlib falls back per glyph.
CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Source Han Sans SC",
             "SimHei", "Microsoft YaHei", "PingFang SC", "DejaVu Sans"]


def _has_cjk_font() -> bool:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return any(name in names for name in CJK_FONTS[:-1])


def render_chart(d: Digest, *, dpi: int = 110) -> bytes:
    """The PNG bytes of the digest's chart (an empty period draws flat lines, not an error).

    Chinese labels need a CJK font; on a machine without one the chart is labelled in
    English (boxes instead of characters read worse than the other language)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    cjk = _has_cjk_font()
    w = words(d.language if cjk else "en")
    title = d.title if cjk or d.title.isascii() else "".join(c for c in d.title if c.isascii()).strip() or "Cohort"
    days: list[Any] = [x.day for x in d.days]  # matplotlib plots dates; its stubs say floats
    fig = Figure(figsize=(7.2, 3.4), dpi=dpi)
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": CJK_FONTS}):
        ax = fig.add_subplot()
        ax.bar(days, [x.messages for x in d.days], color="#c6dbef", label=w["chart_messages"], width=0.8)
        ax.set_ylabel(w["chart_messages"])
        ax2 = ax.twinx()
        ax2.plot(days, [x.active for x in d.days], color="#08519c", marker="o", linewidth=2,
                 label=w["chart_active"])
        if d.at_risk_by_day:
            risk_days: list[Any] = [day for day, _ in d.at_risk_by_day]
            ax2.plot(risk_days, [n for _, n in d.at_risk_by_day],
                     color="#cb181d", linestyle="--", marker="x", label=w["chart_risk"])
        ax2.set_ylabel(w["chart_active"])
        ax.set_ylim(bottom=0)
        ax2.set_ylim(bottom=0)
        ax.set_title(w["chart_title"].format(title=title), fontsize=11)
        ax.tick_params(axis="x", labelsize=8, rotation=30)
        ax.spines[["top"]].set_visible(False)
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(handles, labels, loc="upper left", fontsize=8, frameon=False)
        fig.autofmt_xdate()
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
    return out.getvalue()
