"""Fit reply markup (Cohort's HTML subset) into Telegram's length limits without breaking tags."""

from __future__ import annotations

import re

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
_TOKEN = re.compile(r"(<[^<>]*>|&#?\w+;|\n)")
_TAG = re.compile(r"<(/?)([a-zA-Z]+)[^<>]*>")
ELLIPSIS = "…"


def tg_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji can count twice)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _closers(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _openers(stack: list[tuple[str, str]]) -> str:
    return "".join(tag for _, tag in stack)


def split_markup(markup: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split markup into pieces of at most ``limit`` UTF-16 units each.

    Cuts prefer line breaks (then spaces); tags open at a cut are closed at the end of one
    piece and reopened at the start of the next, and no tag or ``&entity;`` is cut in half.
    Returns ``[markup]`` when it already fits.
    """
    if tg_len(markup) <= limit:
        return [markup]
    pieces: list[str] = []
    stack: list[tuple[str, str]] = []  # (name, full opening tag) of tags open right now
    cur: list[str] = []
    cur_len = 0
    # Where the current piece could end on a line break: (index into cur, stack copy, length).
    last_break: tuple[int, list[tuple[str, str]], int] | None = None

    def flush(upto: int | None = None) -> None:
        nonlocal cur, cur_len, last_break
        if upto is None:
            pieces.append("".join(cur) + _closers(stack))
            cur = [_openers(stack)]
        else:
            assert last_break is not None
            _, at_stack, _ = last_break
            pieces.append("".join(cur[:upto]) + _closers(at_stack))
            cur = [_openers(at_stack), *cur[upto + 1 :]]  # drop the newline we cut at
        cur_len = tg_len("".join(cur))
        last_break = None

    for token in _TOKEN.split(markup):
        if not token:
            continue
        size = tg_len(token)
        is_tag = token.startswith("<") and token.endswith(">")
        closing_room = tg_len(_closers(stack))
        if cur_len + size + closing_room > limit and not is_tag:
            if last_break is not None and last_break[2] > limit // 2:
                flush(last_break[0])
            if cur_len + size + tg_len(_closers(stack)) > limit:
                # Still too long (a long line or a huge word): cut the text run itself.
                while cur_len + size + tg_len(_closers(stack)) > limit:
                    room = limit - cur_len - tg_len(_closers(stack))
                    if room <= 0 or token == "\n" or token.startswith("&"):
                        flush()
                        continue
                    head = _fit(token, room)
                    if not head:
                        flush()
                        continue
                    cur.append(head)
                    cur_len += tg_len(head)
                    token = token[len(head) :].lstrip(" ")
                    size = tg_len(token)
                    flush()
                if not token:
                    continue
        if token == "\n":
            last_break = (len(cur), list(stack), cur_len)
        elif is_tag and (m := _TAG.match(token)):
            closing, name = m.group(1), m.group(2).lower()
            if closing:
                for i in range(len(stack) - 1, -1, -1):
                    if stack[i][0] == name:
                        del stack[i]
                        break
            else:
                stack.append((name, token))
        cur.append(token)
        cur_len += size
    tail = "".join(cur)
    if tail.strip() and tail != _openers([]):
        pieces.append(tail)
    return [p for p in pieces if _visible(p)]


def _visible(piece: str) -> bool:
    return bool(_TAG.sub("", piece).strip())


def _fit(text: str, room: int) -> str:
    """The longest prefix of ``text`` within ``room`` UTF-16 units, ended at a space if one is near."""
    out = text
    while tg_len(out) > room:
        out = out[: max(0, len(out) - max(1, (tg_len(out) - room) // 2))]
    space = out.rfind(" ")
    if len(out) < len(text) and space > len(out) // 2:
        out = out[: space + 1]
    return out


def cut_markup(markup: str, limit: int) -> str:
    """The first ``limit``-sized piece of ``markup``, with ``…`` when anything was dropped."""
    if tg_len(markup) <= limit:
        return markup
    head = split_markup(markup, limit - 2)[0]
    return head + "\n" + ELLIPSIS


def fit_message(markup: str, max_parts: int = 3) -> list[str]:
    """Pieces to send for ``markup``: at most ``max_parts`` messages, the last cut with ``…``."""
    parts = split_markup(markup, MESSAGE_LIMIT)
    if len(parts) <= max_parts:
        return parts
    last = split_markup(parts[max_parts - 1], MESSAGE_LIMIT - 2)[0] + "\n" + ELLIPSIS
    return [*parts[: max_parts - 1], last]
