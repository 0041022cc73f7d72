"""Text hygiene shared by every path that stores or compares member text."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# ASCII only: in Chinese chat a link is often followed directly by text (链接https://x.y/a看看).
_URL = re.compile(r"https?://[!#-&(-;=?-\[\]-_a-z~]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"»”’。，；：！？）"
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_TRACKING = ("utm_", "fbclid", "gclid", "mc_", "ref_src")


def clean_text(text: str) -> str:
    """Text any database can store: NUL and lone surrogates become U+FFFD.

    Everything else (RTL marks, zero-width joiners in emoji, control characters) is
    kept as sent; PostgreSQL rejects NUL and UTF-8 cannot encode a lone surrogate.
    """
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if _LONE_SURROGATE.search(text):
        text = _LONE_SURROGATE.sub("\ufffd", text)
    return text


def find_links(text: str) -> tuple[str, ...]:
    """http(s) links in order of appearance, trailing punctuation trimmed, no repeats."""
    seen: dict[str, None] = {}
    for match in _URL.findall(text):
        seen.setdefault(match.rstrip(_TRAILING), None)
    return tuple(seen)


def normalize_url(url: str) -> str:
    """A canonical form so two shares of one page are one catalog item.

    Lower-cases scheme and host, drops the fragment, default ports, tracking
    parameters and a trailing slash; sorts the remaining query. Raises ValueError
    for something that is not an http(s) URL with a host.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname.lower()
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING)
    )
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("https" if scheme == "http" else scheme, netloc, path, urlencode(query), ""))


def fingerprint(text: str) -> str:
    """A hash equal for texts that differ only in case, spacing, punctuation or
    invisible characters: how near-duplicate (copy-pasted) messages are recognised."""
    norm = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    norm = "".join(ch for ch in norm if ch.isalnum())
    return hashlib.blake2b(norm.encode("utf-8", "replace"), digest_size=12).hexdigest()
