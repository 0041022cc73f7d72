"""A community's filters: blocked words and patterns, matched on normalised text.

Matching sees text the way a reader does: NFKC (full-width ``ｂａｄ`` is ``bad``, ``²`` is
``2``), case-folded, with invisible format characters (zero-width spaces and joiners, soft
hyphens) removed, so they cannot split a word to slip it through.

Patterns run on RE2 (``google-re2``): linear time in the text whatever the pattern, so no
pattern can stall the bot; RE2 has no backreferences or lookarounds, and such patterns are
refused when added. Patterns are capped at :data:`PATTERN_MAX` characters, RE2's memory
per pattern at :data:`RE2_MEMORY`, the text looked at at :data:`TEXT_MAX` characters.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.members.moderation import write_audit
from engine.moderation.tables import Filter
from engine.refusal import Refusal

WORD, REGEX = "word", "regex"
KINDS = (WORD, REGEX)
ACTIONS = ("delete", "warn", "mute")
PATTERN_MAX = 200
TEXT_MAX = 8192
RE2_MEMORY = 1 << 20
FILTERS_MAX = 200  # per community


class FilterError(Refusal, ValueError):
    """A filter that cannot be added; the message says why, for the moderator."""


def normalise(text: str) -> str:
    """``text`` as filters see it: NFKC, case-folded, without format characters."""
    folded = unicodedata.normalize("NFKC", text[:TEXT_MAX]).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the moderator's reply, not a log line
    options.max_mem = RE2_MEMORY
    options.case_sensitive = False
    return options


def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 pattern; raises FilterError (too long, invalid, unsupported by a
    linear-time engine, or matching every message)."""
    if len(pattern) > PATTERN_MAX:
        raise FilterError(f"a pattern has at most {PATTERN_MAX} characters")
    try:
        compiled = re2.compile(pattern, options=_options())
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise FilterError(f"that pattern is not accepted ({detail}); Cohort runs patterns on RE2, "
                          "which has no backreferences or lookarounds, so none can stall the bot") from None
    if compiled.search("") is not None:
        raise FilterError("that pattern matches every message (it matches empty text)")
    return compiled


def clean_word(word: str) -> str:
    """The normalised blocked word; raises FilterError when it is empty or too long."""
    normal = " ".join(normalise(word).split())
    if not normal:
        raise FilterError("the word is empty once normalised")
    if len(normal) > 100:
        raise FilterError("a blocked word has at most 100 characters")
    return normal


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    kind: str
    pattern: str
    action: str


class RuleBook:
    """A community's rules, compiled once, matched against each message."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._compiled: list[tuple[Rule, Any]] = []
        for rule in rules:
            if rule.kind == REGEX:
                try:
                    self._compiled.append((rule, compile_pattern(rule.pattern)))
                except FilterError:
                    continue  # stored before a rule changed: skipped, never fatal
            else:
                self._compiled.append((rule, rule.pattern))

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def first_match(self, text: str) -> Rule | None:
        """The first rule (in the order added) the text trips, or None."""
        if not text or not self._compiled:
            return None
        normal = normalise(text)
        spaced = " ".join(normal.split())
        for rule, compiled in self._compiled:
            if rule.kind == REGEX:
                if compiled.search(normal) is not None:
                    return rule
            elif _has_word(spaced, compiled):
                return rule
        return None


def _edge(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _has_word(text: str, word: str) -> bool:
    """``word`` in ``text`` as a whole word where its ends are ASCII letters or digits
    (``ass`` is not in ``class``); as a substring otherwise (Chinese has no spaces)."""
    start = text.find(word)
    while start != -1:
        end = start + len(word)
        before_ok = not _edge(word[0]) or start == 0 or not _edge(text[start - 1])
        after_ok = not _edge(word[-1]) or end == len(text) or not _edge(text[end])
        if before_ok and after_ok:
            return True
        start = text.find(word, start + 1)
    return False


# -- storage ----------------------------------------------------------------------------------
def rules_of(session: Session, community_id: int) -> list[Rule]:
    rows = session.scalars(select(Filter).where(Filter.community_id == community_id).order_by(Filter.id))
    return [Rule(int(f.id), f.kind, f.pattern, f.action) for f in rows]


def add_filter(session: Session, community_id: int, kind: str, raw: str, action: str, *,
               actor_id: int | None, at: datetime) -> tuple[Rule, str]:
    """Add (or change the action of) a filter, audited; returns (rule, ``added`` |
    ``changed`` | ``unchanged``).
    Raises FilterError for a bad kind, action or pattern (nothing written)."""
    if kind not in KINDS:
        raise FilterError(f"a filter is a {' or a '.join(KINDS)}")
    if action not in ACTIONS:
        raise FilterError(f"the action is one of: {', '.join(ACTIONS)}")
    if kind == WORD:
        pattern = clean_word(raw)
    else:
        compile_pattern(raw)
        pattern = raw
    existing = session.scalars(select(Filter).where(
        Filter.community_id == community_id, Filter.kind == kind, Filter.pattern == pattern)).one_or_none()
    if existing is None:
        count = session.scalar(select(func.count()).select_from(Filter).where(Filter.community_id == community_id))
        if (count or 0) >= FILTERS_MAX:
            raise FilterError(f"a community has at most {FILTERS_MAX} filters; remove one first")
        existing = Filter(community_id=community_id, kind=kind, pattern=pattern, action=action,
                          created_by=actor_id, at=at)
        session.add(existing)
        new = True
    elif existing.action == action:
        return Rule(int(existing.id), kind, pattern, action), "unchanged"
    else:
        existing.action = action
        new = False
    session.flush()
    write_audit(session, action="filter.add" if new else "filter.change", at=at, community_id=community_id,
                actor_id=actor_id, details={"filter": int(existing.id), "kind": kind, "pattern": pattern,
                                            "value": action})
    return Rule(int(existing.id), kind, pattern, action), "added" if new else "changed"


def remove_filter(session: Session, community_id: int, which: str, *, actor_id: int | None,
                  at: datetime) -> Rule | None:
    """Remove the filter with this id (``#3`` or ``3``) or this word/pattern, audited;
    returns it, or None when there is none (nothing written)."""
    rules = rules_of(session, community_id)
    ident = which.lstrip("#")
    chosen = None
    if ident.isascii() and ident.isdigit() and len(ident) <= 12:
        chosen = next((r for r in rules if r.id == int(ident)), None)
    if chosen is None:
        try:
            word = clean_word(which)
        except FilterError:
            word = ""
        chosen = next((r for r in rules if r.pattern == which or (r.kind == WORD and r.pattern == word)), None)
    if chosen is None:
        return None
    session.execute(delete(Filter).where(Filter.id == chosen.id))
    write_audit(session, action="filter.remove", at=at, community_id=community_id, actor_id=actor_id,
                details={"filter": chosen.id, "kind": chosen.kind, "pattern": chosen.pattern})
    return chosen
