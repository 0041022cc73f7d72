"""The small HTML subset handlers write replies in, and its renderings per platform.

Handlers write ``<b>``, ``<i>``, ``<code>``, ``<pre>`` and ``<a href="...">`` and pass every
piece of user content through :func:`esc`. Telegram takes this as ``parse_mode=HTML``;
Discord gets Markdown; the console gets plain text.
"""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<(/?)(b|i|code|pre|a)(?:\s+href=\"([^\"]*)\")?>")


def esc(text: object) -> str:
    """Escape user content for the reply markup."""
    return html.escape(str(text), quote=True)


def bold(text: object) -> str:
    return f"<b>{esc(text)}</b>"


def code(text: object) -> str:
    return f"<code>{esc(text)}</code>"


def link(label: object, url: str) -> str:
    return f'<a href="{esc(url)}">{esc(label)}</a>'


def to_plain(markup: str) -> str:
    """Plain text: tags dropped, links shown as ``label (url)``."""
    out: list[str] = []
    pos = 0
    pending_href: list[str] = []
    for m in _TAG.finditer(markup):
        out.append(html.unescape(markup[pos : m.start()]))
        closing, tag, href = m.group(1), m.group(2), m.group(3)
        if tag == "a" and not closing:
            pending_href.append(html.unescape(href or ""))
        elif tag == "a" and closing and pending_href:
            url = pending_href.pop()
            if url:
                out.append(f" ({url})")
        pos = m.end()
    out.append(html.unescape(markup[pos:]))
    return "".join(out)


_MD_SPECIAL = re.compile(r"([\\*_`~|>\[\]()])")


def to_discord_markdown(markup: str) -> str:
    """Discord Markdown: ``**bold**``, ``*italic*``, inline code, ``[label](url)``."""
    out: list[str] = []
    pos = 0
    in_code = False
    hrefs: list[str] = []
    for m in _TAG.finditer(markup):
        chunk = html.unescape(markup[pos : m.start()])
        out.append(chunk if in_code else _MD_SPECIAL.sub(r"\\\1", chunk))
        closing, tag, href = m.group(1), m.group(2), m.group(3)
        if tag == "b":
            out.append("**")
        elif tag == "i":
            out.append("*")
        elif tag == "code":
            out.append("`")
            in_code = not closing
        elif tag == "pre":
            out.append("\n```\n")
            in_code = not closing
        elif tag == "a":
            if not closing:
                hrefs.append(html.unescape(href or ""))
                out.append("[")
            else:
                out.append(f"](<{hrefs.pop() if hrefs else ''}>)")
        pos = m.end()
    tail = html.unescape(markup[pos:])
    out.append(tail if in_code else _MD_SPECIAL.sub(r"\\\1", tail))
    return "".join(out)


def truncate(markup: str, limit: int) -> str:
    """Cut plain-ish text to ``limit`` characters on a line boundary, marking the cut."""
    if len(markup) <= limit:
        return markup
    cut = markup.rfind("\n", 0, limit - 2)
    if cut < limit // 2:
        cut = limit - 2
    return markup[:cut] + "\n…"
