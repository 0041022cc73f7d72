"""Link detection and the link rules' decisions (pure engine code, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.moderation.links import (
    LinkRuleError,
    LinkRules,
    breach,
    clean_domain,
    link_hosts,
    parse_allow_list,
    parse_newcomer_days,
    shown_domain,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("text", "hosts"), [
    ("see https://Docs.Example.com/x.", ("docs.example.com",)),
    ("HTTPS://EXAMPLE.COM", ("example.com",)),
    ("example.com/path and www.foo.bar", ("example.com", "foo.bar")),
    ("go to spam.xyz now", ("spam.xyz",)),
    ("join t.me/+AbCdEf or t.me/joinchat/xyz", ("t.me",)),
    ("discord.gg/abc", ("discord.gg",)),
    ("链接https://evil.cn/a看看", ("evil.cn",)),  # no space around a link in Chinese
    ("ｅｘａｍｐｌｅ．ｃｏｍ", ("example.com",)),  # full-width
    ("bücher.de and xn--bcher-kva.de", ("xn--bcher-kva.de",)),  # an IDN and its punycode are one host
    ("exаmple.com", ("xn--exmple-4nf.com",)),  # a Cyrillic а: another domain
    ("https://example.com@evil.com/", ("evil.com",)),  # user@host
    ("https://evil.com\\@example.com", ("evil.com",)),  # browsers read \ as /
    ("http://1.2.3.4:8080/x", ("1.2.3.4",)),
    ("localhost:8000/admin", ()),
    # not links: file names, attribute access, abbreviations, versions, e-mail addresses
    ("setup.py, main.rs, logger.info, self.net, np.int, self.app", ()),
    ("e.g. i.e. v1.2.3 3.14 hello.world", ()),
    ("write to user@mail.com", ()),
])
def test_links_are_found_as_a_reader_sees_them(text: str, hosts: tuple[str, ...]) -> None:
    assert link_hosts(text) == hosts


def test_the_adapters_links_count_too() -> None:
    # Telegram text_link (hidden behind words), url entities without a scheme, Discord embeds
    assert link_hosts("click here", ["https://Hidden.Example.org/a", "socket.io", "logger.info"]) == \
        ("hidden.example.org", "socket.io")


def test_a_hostile_text_is_scanned_quickly_and_capped() -> None:
    for text in ("a." * 4000 + "@", "a" * 20_000, "a-" * 4000, ("x" * 60 + ".") * 130 + "-"):
        link_hosts(text)  # linear: a regression shows as a hang, not a timing assertion
    many = " ".join(f"https://h{i}.example.com" for i in range(500))
    assert len(link_hosts(many)) == 50


@pytest.mark.parametrize(("raw", "domain"), [
    ("example.com", "example.com"), ("*.Example.COM.", "example.com"), ("Bücher.de", "xn--bcher-kva.de"),
    (".docs.example.org", "docs.example.org"),
])
def test_domains_are_stored_in_one_form(raw: str, domain: str) -> None:
    assert clean_domain(raw) == domain


@pytest.mark.parametrize(("raw", "why"), [
    ("", "name a domain"), ("https://example.com/a", "did you mean example.com"), ("example.com/x", "not a link"),
    ("localhost", "has a dot"), ("1.2.3.4", "IP address"), ("exa_mple.com", "not a domain"),
    ("a@b.com", "not a link"), ("-x.com", "not a domain"),
])
def test_what_is_not_a_domain_is_refused_with_the_reason(raw: str, why: str) -> None:
    with pytest.raises(LinkRuleError, match=why):
        clean_domain(raw)


def test_an_allow_list_is_canonical_and_bounded() -> None:
    assert parse_allow_list("b.org, A.com b.org") == "a.com,b.org"
    assert parse_allow_list("off") == ""
    with pytest.raises(LinkRuleError, match="at most 50"):
        parse_allow_list(",".join(f"d{i}.com" for i in range(51)))
    assert shown_domain("xn--bcher-kva.de") == "bücher.de"


@pytest.mark.parametrize(("raw", "days"), [("3d", 3), ("1w", 7), ("3", 3), ("off", 0), ("0", 0)])
def test_newcomer_periods(raw: str, days: int) -> None:
    assert parse_newcomer_days(raw) == days


@pytest.mark.parametrize(("raw", "why"), [
    ("-3d", "negative"), ("²d", "digits 0-9"), ("12h", "from 1d to 365d"), ("400d", "from 1d to 365d"),
    ("abc", "one number and one unit"), ("1h30", "one number and one unit"), ("36h", "whole days"),
])
def test_bad_newcomer_periods_are_refused(raw: str, why: str) -> None:
    with pytest.raises(LinkRuleError, match=why):
        parse_newcomer_days(raw)


def test_the_rules_decide_on_the_hosts_and_the_tenure() -> None:
    allow = LinkRules(allow=("example.com",), allow_action="warn")
    assert breach(allow, ["docs.example.com", "example.com"], joined_at=None, now=NOW) is None  # subdomain
    assert breach(allow, ["notexample.com"], joined_at=None, now=NOW) is not None  # not a subdomain
    found = breach(allow, ["example.com", "evil.com"], joined_at=None, now=NOW)
    assert found is not None and (found.rule, found.action, found.host) == ("allow", "warn", "evil.com")

    newcomers = LinkRules(newcomer_days=3, newcomer_action="mute")
    assert breach(newcomers, ["evil.com"], joined_at=NOW - timedelta(days=3), now=NOW) is None  # a veteran
    young = breach(newcomers, ["evil.com"], joined_at=NOW - timedelta(days=2, hours=23), now=NOW)
    assert young is not None and (young.rule, young.action, young.days) == ("newcomer", "mute", 3)
    assert breach(newcomers, ["evil.com"], joined_at=None, now=NOW) is not None  # never seen: just joined

    both = LinkRules(allow=("example.com",), allow_action="delete", newcomer_days=3, newcomer_action="warn")
    strongest = breach(both, ["evil.com"], joined_at=NOW, now=NOW)
    assert strongest is not None and strongest.rule == "newcomer"  # warn beats delete
    assert breach(both, ["example.com"], joined_at=NOW, now=NOW) is None  # allowed domains are fine for everyone
    assert not LinkRules() and breach(LinkRules(), ["evil.com"], joined_at=NOW, now=NOW) is None
