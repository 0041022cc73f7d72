from __future__ import annotations

import pytest

from engine.text import clean_text, find_links, fingerprint, normalize_url


def test_links_found_and_trimmed() -> None:
    assert find_links("see https://a.com/x). and http://b.org/y?z=1, also https://a.com/x") == (
        "https://a.com/x", "http://b.org/y?z=1")


def test_cjk_punctuation_is_not_part_of_a_link() -> None:
    assert find_links("看这个 https://example.com/lesson。好") == ("https://example.com/lesson",)


@pytest.mark.parametrize(("raw", "norm"), [
    ("HTTP://WWW.Example.com:80/a/?utm_source=x&b=2&a=1#frag", "https://example.com/a?a=1&b=2"),
    ("https://example.com/", "https://example.com"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
])
def test_normalize_url(raw: str, norm: str) -> None:
    assert normalize_url(raw) == norm


@pytest.mark.parametrize("bad", ["ftp://x.com", "javascript:alert(1)", "https://", "not a url"])
def test_normalize_url_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_url(bad)


def test_fingerprint_ignores_case_spacing_and_invisibles() -> None:
    assert fingerprint("Hello,  World!") == fingerprint("hello world\u200b")
    assert fingerprint("hello world") != fingerprint("hello there")


def test_clean_text_keeps_everything_storable() -> None:
    assert clean_text("ok 🙂 ‏rtl") == "ok 🙂 ‏rtl"
    assert clean_text("a\x00b\udc80") == "a\ufffdb\ufffd"
