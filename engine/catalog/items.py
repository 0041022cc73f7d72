"""Pure catalog logic: item specs, keys, tags, field validation and import-file parsing.

No database here, so the rules are unit-testable and shared by the chat commands, the
``cohort catalog import`` CLI and the link/thread projection.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from engine.args import ArgError, excerpt, parse_int
from engine.catalog.paths import validate_catalog
from engine.catalog.tables import ITEM_KINDS
from engine.refusal import Refusal
from engine.text import normalize_url

MAX_POINTS = 10_000
FIELDS = ("key", "title", "url", "kind", "tags", "description", "prerequisites", "points")
EDITABLE = ("title", "url", "kind", "tags", "description", "prerequisites", "points")
_KEY = re.compile(r"^[\w][\w.-]{0,63}$", re.UNICODE)
_TAG = re.compile(r"^#?([\w][\w+.-]{0,31})$", re.UNICODE)
_SPLIT = re.compile(r"[\s,;]+")


class ItemError(Refusal, ValueError):
    """A field or row is invalid; the message is safe to show to a moderator."""


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """A validated item as it should be stored (``line`` is where an import row began)."""

    key: str
    title: str
    url: str | None = None
    kind: str = "link"
    tags: tuple[str, ...] = ()
    description: str = ""
    prerequisites: tuple[str, ...] = ()
    points: int = 0
    line: int = 0


@dataclass(slots=True)
class ImportPlan:
    """Outcome of validating an import file: the rows to write and the rows skipped."""

    items: list[ItemSpec] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def slugify(text: str, fallback: str = "item") -> str:
    """A lower-case key candidate from a title or URL (letters incl. CJK, digits, dashes).

    Returns ``fallback`` when nothing usable remains. Never longer than 48 characters.
    """
    slug = re.sub(r"[^\w]+", "-", text.lower(), flags=re.UNICODE).strip("-_")
    return slug[:48].strip("-") or fallback


def key_from_url(url: str) -> str:
    """A readable key for a shared link: its last path segment, else its host."""
    rest = re.sub(r"^https?://", "", url).split("?")[0].rstrip("/")
    parts = [p for p in rest.split("/") if p]
    candidate = parts[-1] if len(parts) > 1 else (parts[0] if parts else "link")
    return slugify(re.sub(r"\.(html?|php|aspx?)$", "", candidate), "link")


def unique_key(wanted: str, taken: set[str]) -> str:
    """``wanted`` or ``wanted-2``, ``wanted-3``... whichever is not in ``taken``."""
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted[:60]}-{n}" in taken:
        n += 1
    return f"{wanted[:60]}-{n}"


def check_key(key: str) -> str:
    """The key, stripped; raises :class:`ItemError` unless it is 1–64 word characters,
    dots or dashes starting with a word character (so it is typeable in a command)."""
    key = key.strip().lower()  # keys are case-insensitive for members typing them
    if not _KEY.fullmatch(key) or key.isdigit():
        raise ItemError(f"bad key {key!r}: use letters, digits, '-', '.' (not only digits), up to 64")
    return key


def parse_tags(value: str | Iterable[str]) -> tuple[str, ...]:
    """Tags from ``"#a #b"``, ``"a, b"`` or a list; lower-cased, ``#`` dropped, de-duplicated.

    Raises :class:`ItemError` for a tag with spaces or symbols.
    """
    raw = _SPLIT.split(value) if isinstance(value, str) else [str(v) for v in value]
    tags: list[str] = []
    for token in raw:
        token = token.strip()
        if not token:
            continue
        match = _TAG.fullmatch(token)
        if not match:
            raise ItemError(f"bad tag {token!r}")
        tag = match.group(1).lower()
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)


def parse_keys(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Prerequisite keys from ``"a b"``, ``"a; b"`` or a list; each checked by :func:`check_key`."""
    if value is None:
        return ()
    raw = _SPLIT.split(value) if isinstance(value, str) else [str(v) for v in value]
    return tuple(dict.fromkeys(check_key(k) for k in raw if k.strip()))


def check_url(url: str) -> str:
    """The normalised URL; raises :class:`ItemError` for anything but an http(s) URL with a host."""
    try:
        return normalize_url(url)
    except ValueError as exc:
        raise ItemError(f"bad URL {url!r}: need an http(s) link") from exc


def check_points(value: Any) -> int:
    """Completion points as an int in 0..MAX_POINTS; raises :class:`ItemError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ItemError(f"bad points {excerpt(str(value))!r}: need a whole number")
    try:
        return parse_int(str(value) if str(value).strip() else "0", lo=0, hi=MAX_POINTS, what="points")
    except ArgError as exc:
        raise ItemError(str(exc)) from None


def check_kind(value: str) -> str:
    """The kind, lower-cased; raises :class:`ItemError` unless it is one of ITEM_KINDS."""
    kind = value.strip().lower() or "link"
    if kind not in ITEM_KINDS:
        raise ItemError(f"bad kind {value!r}: one of {', '.join(ITEM_KINDS)}")
    return kind


def spec_from_row(row: Mapping[str, Any], line: int = 0) -> ItemSpec:
    """Validate one import row (CSV dict or YAML mapping) into an :class:`ItemSpec`.

    ``key`` defaults to a slug of the title (or URL); ``title`` to the key. Raises
    :class:`ItemError` for an unknown column, a bad URL/key/tag/kind/points, or a row with
    neither title, key nor URL.
    """
    unknown = sorted(str(k) for k in row if k not in FIELDS and k is not None)
    if unknown:
        raise ItemError(f"unknown column(s): {', '.join(unknown)}")

    def text(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value).strip()

    url = check_url(text("url")) if text("url") else None
    title = text("title")
    key = text("key")
    if not (key or title or url):
        raise ItemError("a row needs at least a key, a title or a url")
    key = check_key(key) if key else (slugify(title) if title else key_from_url(url or ""))
    if len(title) > 256:
        raise ItemError("title is longer than 256 characters")
    tags = row.get("tags")
    return ItemSpec(
        key=key,
        title=title or key,
        url=url,
        kind=check_kind(text("kind")),
        tags=parse_tags(tags if isinstance(tags, list | tuple) else text("tags")),
        description=text("description"),
        prerequisites=parse_keys(row.get("prerequisites") if isinstance(row.get("prerequisites"), list | tuple)
                                 else text("prerequisites")),
        points=check_points(row.get("points") if row.get("points") is not None else 0),
        line=line,
    )


def read_csv(data: str) -> tuple[list[ItemSpec], list[tuple[int, str]]]:
    """Parse CSV text with a header row (columns from :data:`FIELDS`, ``title`` or ``url``
    or ``key`` required per row). Returns ``(specs, errors)``; each error is
    ``(line number, message)`` and its row is skipped. Raises :class:`ItemError` if the
    header names an unknown column or none of key/title/url.
    """
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in FIELDS]
    if unknown or not ({"key", "title", "url"} & set(header)):
        raise ItemError(f"CSV header must use the columns {', '.join(FIELDS)}; got {', '.join(header) or 'nothing'}")
    reader.fieldnames = header
    specs: list[ItemSpec] = []
    errors: list[tuple[int, str]] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append((reader.line_num, f"unreadable CSV: {exc}"))
            continue
        line = reader.line_num
        if None in row:  # more cells than header columns
            errors.append((line, "more cells than header columns"))
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        try:
            specs.append(spec_from_row(row, line))
        except ItemError as exc:
            errors.append((line, str(exc)))
    return specs, errors


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line each mapping starts on (1-based)."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def read_yaml(data: str) -> tuple[list[ItemSpec], list[tuple[int, str]]]:
    """Parse YAML: a list of item mappings, or ``{items: [...]}``. Returns ``(specs, errors)``
    like :func:`read_csv`. Raises :class:`ItemError` when the document is not valid YAML or
    not such a list.
    """
    try:
        doc = yaml.load(data, Loader=_LineLoader)  # a SafeLoader subclass: builds no objects
    except yaml.YAMLError as exc:
        raise ItemError(f"not valid YAML: {exc}") from exc
    if isinstance(doc, dict) and "items" in doc:
        doc = doc["items"]
    if not isinstance(doc, list):
        raise ItemError("YAML must be a list of items (or a mapping with an 'items' list)")
    specs: list[ItemSpec] = []
    errors: list[tuple[int, str]] = []
    for n, entry in enumerate(doc):
        if not isinstance(entry, dict):
            errors.append((0, f"entry {n + 1} is not a mapping"))
            continue
        line = int(entry.pop("__line__", 0))
        try:
            specs.append(spec_from_row(entry, line))
        except ItemError as exc:
            errors.append((line, str(exc)))
    return specs, errors


def plan_import(
    specs: Sequence[ItemSpec],
    errors: Sequence[tuple[int, str]],
    existing: Mapping[str, Sequence[str]],
) -> ImportPlan:
    """Check parsed rows against each other and the current catalog, all before writing.

    ``existing`` maps the community's current item keys to their prerequisites. A later
    row repeating a key, or a row whose prerequisite is neither in the catalog nor in a
    valid row, is reported and skipped (repeatedly, so dependents of a skipped row go
    too). Returns the :class:`ImportPlan` sorted by line. Raises
    :class:`engine.catalog.paths.CatalogCycleError` naming the items of a cycle the import
    would create — then nothing must be written.
    """
    plan = ImportPlan(errors=list(errors))
    seen: dict[str, ItemSpec] = {}
    for spec in specs:
        if spec.key in seen:
            plan.errors.append((spec.line, f"key {spec.key!r} repeats line {seen[spec.key].line}"))
            continue
        seen[spec.key] = spec
    changed = True
    while changed:
        changed = False
        known = set(existing) | set(seen)
        for key, spec in list(seen.items()):
            missing = [p for p in spec.prerequisites if p not in known]
            if spec.key in spec.prerequisites:
                missing = [spec.key]
            if missing:
                plan.errors.append((spec.line, f"unknown prerequisite(s) for {key!r}: {', '.join(missing)}"
                                    if spec.key not in missing else f"{key!r} lists itself as a prerequisite"))
                del seen[key]
                changed = True
    graph: dict[str, Sequence[str]] = {**existing, **{k: s.prerequisites for k, s in seen.items()}}
    validate_catalog(graph)  # raises CatalogCycleError naming the loop
    plan.items = sorted(seen.values(), key=lambda s: s.line)
    plan.errors.sort()
    return plan


def apply_edit(spec: ItemSpec, field_name: str, value: str) -> ItemSpec:
    """``spec`` with one field changed from command text; raises :class:`ItemError` for an
    unknown field or a bad value (an empty ``url`` clears it)."""
    name = field_name.lower()
    if name not in EDITABLE:
        raise ItemError(f"unknown field {field_name!r}: one of {', '.join(EDITABLE)}")
    value = value.strip()
    if name == "title":
        if not value or len(value) > 256:
            raise ItemError("title must be 1–256 characters")
        return replace(spec, title=value)
    if name == "url":
        return replace(spec, url=check_url(value) if value else None)
    if name == "kind":
        return replace(spec, kind=check_kind(value))
    if name == "tags":
        return replace(spec, tags=parse_tags(value))
    if name == "description":
        return replace(spec, description=value)
    if name == "prerequisites":
        return replace(spec, prerequisites=parse_keys(value))
    return replace(spec, points=check_points(value))
