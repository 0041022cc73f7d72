"""Link rules: which links in a message break a community's rules, and which domains may
be allowed.

A community may keep an **allow-list** of domains (a link to any other domain is acted on;
``example.com`` also allows ``docs.example.com``) and a **newcomer rule** (members who
joined less than N days ago may post no links but to allowed domains). Each rule has an
action (``delete``, ``warn`` or ``mute``).

Links are found the way a reader sees them: ``http(s)://`` URLs anywhere in the text
(also in Chinese text with no space around them), bare domains such as
``example.com/path`` or ``t.me/+invite``, and what the platform adapter found besides
(Telegram ``url``/``text_link`` entities, Discord embeds). Hosts are compared in their
ASCII (punycode) form after NFKC and case folding, so ``ＥＸＡＭＰＬＥ.com``, ``Bücher.de`` /
``xn--bcher-kva.de`` and a trailing dot make no difference, while a look-alike written
with Cyrillic letters is another domain. ``user@host`` tricks and backslashes are read as
browsers read them.

A bare ``name.xx`` with no path counts as a link only for a widely used top-level domain
(``setup.py`` and ``main.rs`` are file names in a learning community, ``bit.ly/x`` is a
link); with a path, a port or a ``www.`` it always does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import idna

from engine.args import ArgError, parse_duration

ACTIONS = ("delete", "warn", "mute")
SEVERITY = {"delete": 0, "warn": 1, "mute": 2}
ALLOW_MAX = 50
NEWCOMER_DAYS_MAX = 365
TEXT_MAX = 8192
LINKS_MAX = 50  # links looked at per message

# Top-level domains a bare ``name.tld`` (no scheme, no path, no ``www.``) is taken for a link
# with: widely used ones that are not also words of code (``logger.info``, ``self.net``,
# ``np.int`` and ``self.app`` are attribute access in a programming community, not links).
BARE_TLDS = frozenset(("com", "org", "io", "co", "ly", "gg", "tv", "cc", "uk", "eu", "de", "fr", "ru", "su",
    "cn", "jp", "kr", "br", "nl", "pl", "ua", "ca", "au", "hk", "tw", "sg", "biz", "xyz", "top", "icu",
    "site", "online", "click", "shop", "vip", "club", "tk", "ml", "ga", "cf", "gq"))

_SCHEMED = re.compile(r"(?:https?|ftp)://[^\s<>\"'`|]+", re.IGNORECASE)
# A host name (letters of any script, digits, hyphens; dot-separated), optionally :port and a path.
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_BARE = re.compile(
    rf"(?<![\w@.:/-])((?:{_LABEL}\.)+{_LABEL})\.?(:\d{{1,5}})?(/[^\s<>\"'`|]*)?(?![\w@-])")
_TRAILING = ".,;:!?)]}'\"»”’。，；：！？）>"


class LinkRuleError(ValueError):
    """A domain or rule that cannot be stored; the message says why, for the moderator."""


def ascii_host(host: str) -> str | None:
    """``host`` in its comparable form (lower-case ASCII, punycode for IDNs, no ``www.`` or
    trailing dot), or None when it is not a host name at all."""
    name = unicodedata.normalize("NFKC", host).casefold().strip().rstrip(".")
    if name.startswith("[") or not name:  # an IPv6 literal: never on an allow-list, still a link
        return name or None
    try:
        name = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            if not name.isascii():
                return None
    return name.removeprefix("www.") if name.count(".") >= 2 else name


def _bare_host(name: str, port: str | None, path: str | None) -> str | None:
    """The host of a link written without a scheme, or None when it is not taken for one."""
    host = ascii_host(name)
    if not host or "." not in host:
        return None
    tld = host.rsplit(".", 1)[1]
    if tld.isdigit() or len(tld) < 2:
        return None
    if port or (path and path.rstrip(_TRAILING)) or name.lower().startswith("www.") \
            or tld in BARE_TLDS or tld.startswith("xn--"):
        return host
    return None


def _host_of_url(url: str) -> str | None:
    text = url.strip().replace("\\", "/")  # browsers read a backslash as a slash
    if "://" not in text[:12]:  # an adapter's link without a scheme (Telegram's ``url`` entity)
        bare = _BARE.fullmatch(text.rstrip(_TRAILING))
        return _bare_host(bare.group(1), bare.group(2), bare.group(3)) if bare else None
    try:
        host = urlsplit(text).hostname  # the part after any user@, without the port
    except ValueError:
        return None
    return ascii_host(host) if host else None


def link_hosts(text: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The hosts of every link in ``text`` and ``extra`` (the adapter's links), in order,
    without repeats."""
    seen: dict[str, None] = {}
    body = unicodedata.normalize("NFKC", text[:TEXT_MAX])
    for url in list(extra)[:LINKS_MAX]:
        host = _host_of_url(url)
        if host:
            seen.setdefault(host, None)
    for match in _SCHEMED.finditer(body):
        host = _host_of_url(match.group(0).rstrip(_TRAILING))
        if host:
            seen.setdefault(host, None)
        if len(seen) >= LINKS_MAX:
            return tuple(seen)
    stripped = _SCHEMED.sub(" ", body)
    for match in _BARE.finditer(stripped):
        host = _bare_host(match.group(1), match.group(2), match.group(3))
        if host:
            seen.setdefault(host, None)
        if len(seen) >= LINKS_MAX:
            break
    return tuple(seen)


def clean_domain(raw: str) -> str:
    """The domain a moderator typed, in comparable form (``*.example.com`` and
    ``Example.COM.`` are ``example.com``). Raises LinkRuleError for a URL, a path, an IP
    address, a single label or anything that is not a host name."""
    text = raw.strip()
    if not text:
        raise LinkRuleError("name a domain, e.g. example.com")
    if "://" in text or "/" in text or "@" in text or "\\" in text:
        host = _host_of_url(text)
        hint = f" (did you mean {host}?)" if host else ""
        raise LinkRuleError(f"give a domain such as example.com, not a link{hint}")
    text = text.removeprefix("*.").lstrip(".")
    host = ascii_host(text)
    if host is None or ":" in host or " " in host:
        raise LinkRuleError("that is not a domain name; give one such as example.com")
    labels = host.split(".")
    if len(labels) < 2:
        raise LinkRuleError("a domain has a dot, e.g. example.com")
    if labels[-1].isdigit():
        raise LinkRuleError("give a domain name, not an IP address")
    if len(host) > 253 or not all(re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", lab) for lab in labels):
        raise LinkRuleError("that is not a domain name; give one such as example.com")
    return host


def shown_domain(host: str) -> str:
    """``host`` as a reader writes it (an IDN in its own script)."""
    try:
        return idna.decode(host)
    except (idna.IDNAError, UnicodeError, ValueError):
        return host


def parse_allow_list(value: object) -> str:
    """The stored form of an allow-list: canonical domains, comma-separated, sorted,
    without repeats ("" = no allow-list). Raises ValueError (a LinkRuleError)."""
    parts = [p for p in re.split(r"[,\s]+", str(value)) if p] if value else []
    if len(parts) == 1 and parts[0].lower() in ("off", "none", "-"):
        return ""
    domains = sorted({clean_domain(p) for p in parts})
    if len(domains) > ALLOW_MAX:
        raise LinkRuleError(f"an allow-list has at most {ALLOW_MAX} domains")
    return ",".join(domains)


def parse_newcomer_days(raw: str) -> int:
    """Days of the newcomer rule from ``3d``, ``1w`` or ``3`` (1..365; ``off`` = 0).
    Raises LinkRuleError for a sign, other digits, hours or minutes, or out of range."""
    text = raw.strip().lower()
    if text in ("off", "0", "0d"):
        return 0
    if text.isascii() and text.isdigit():
        text += "d"
    try:
        span = parse_duration(text, lo=timedelta(days=1), hi=timedelta(days=NEWCOMER_DAYS_MAX),
                              what="the newcomer period")
    except ArgError as exc:
        raise LinkRuleError(str(exc)) from None
    if span.total_seconds() % 86_400:
        raise LinkRuleError("the newcomer period is whole days, e.g. 3d or 1w")
    return int(span.total_seconds() // 86_400)


def parse_action(raw: object) -> str:
    word = str(raw).strip().lower()
    if word not in ACTIONS:
        raise LinkRuleError(f"the action is one of: {', '.join(ACTIONS)}")
    return word


def allowed(host: str, domains: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or a subdomain of one."""
    return any(host == d or host.endswith("." + d) for d in domains)


@dataclass(frozen=True, slots=True)
class LinkRules:
    """A community's link rules as read from its settings."""

    allow: tuple[str, ...] = ()
    allow_action: str = "delete"
    newcomer_days: int = 0
    newcomer_action: str = "delete"

    def __bool__(self) -> bool:
        return bool(self.allow) or self.newcomer_days > 0


@dataclass(frozen=True, slots=True)
class LinkBreach:
    """Why a message's links break the rules: ``rule`` is ``allow`` or ``newcomer``."""

    rule: str
    action: str
    host: str
    days: int = 0


def breach(rules: LinkRules, hosts: Iterable[str], *, joined_at: datetime | None, now: datetime) -> LinkBreach | None:
    """The breach to act on (the most severe action when both rules trip), or None.
    Allowed domains are fine for everyone; ``joined_at`` None is taken as just joined."""
    off_list = [h for h in hosts if not allowed(h, rules.allow)]
    if not off_list:
        return None
    found: list[LinkBreach] = []
    if rules.allow:
        found.append(LinkBreach("allow", rules.allow_action, off_list[0]))
    if rules.newcomer_days and (joined_at is None or now - joined_at < timedelta(days=rules.newcomer_days)):
        found.append(LinkBreach("newcomer", rules.newcomer_action, off_list[0], rules.newcomer_days))
    if not found:
        return None
    return max(found, key=lambda b: SEVERITY.get(b.action, 0))
