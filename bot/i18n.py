"""The one way a reply is worded: :func:`text` looks a key up in a message catalog (each
capability's ``Module.messages``, EN and 中文) in the community's language.

Templates are ``str.format`` plus ``{n:plural:one|other}`` for English counts (Chinese
templates simply don't use it). Values holding user content are escaped by the caller;
the catalog strings themselves are trusted markup.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

LANGUAGES = ("en", "zh")
Catalog = Mapping[str, Mapping[str, str]]  # message key → language ("en", "zh") → text


class _Words(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec.startswith("plural:"):
            one, _, other = format_spec.removeprefix("plural:").partition("|")
            return one if str(value).strip() in ("1", "-1") else other
        return str(super().format_field(value, format_spec))


_WORDS = _Words()  # stateless


def words(template: str, /, **values: Any) -> str:
    """``template.format(**values)`` with ``{n:plural:one|other}``."""
    return _WORDS.format(template, **values)


def text(catalog: Catalog, key: str, language: str, /, **values: Any) -> str:
    """The catalog's text for ``key`` in ``language`` (English when missing), formatted.

    Raises KeyError for a key the catalog lacks (a programming error)."""
    entry = catalog.get(key)
    if entry is None:
        raise KeyError(f"no message {key!r}")
    return words(entry.get(language) or entry["en"], **values)


def merge(catalogs: Iterable[Catalog]) -> Catalog:
    """One read-only catalog of several; a key declared twice must say the same thing."""
    merged: dict[str, Mapping[str, str]] = {}
    for catalog in catalogs:
        for key, entry in catalog.items():
            if key in merged and dict(merged[key]) != dict(entry):
                raise ValueError(f"message {key!r} is declared twice with different texts")
            merged[key] = entry
    return MappingProxyType(merged)


def language_of(value: object, default: str = "en") -> str:
    """``value`` if it is a supported language, else ``default`` (or English)."""
    if isinstance(value, str) and value in LANGUAGES:
        return value
    return default if default in LANGUAGES else "en"
