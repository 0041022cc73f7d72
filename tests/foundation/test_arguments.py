"""One parser for typed numbers and durations: odd digits, huge, negative and zero values get
a clear reply from every command that takes a number, never "something went wrong"."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.bootstrap import App
from bot.ports import Capability, Role
from engine.args import (
    ArgError,
    is_ascii_number,
    looks_like_duration,
    parse_decimal,
    parse_duration,
    parse_int,
)
from engine.catalog.tables import CatalogItem
from engine.events import Platform
from engine.points.rules import RuleValueError, parse_setting
from engine.store.models import AuditEntry
from tests.members.fakes import Clock, ModeratingMessenger, cmd, msg

HUGE = "9" * 5000
BAD_NUMBERS = {"superscript": "²", "fullwidth": "１２", "arabic_indic": "٣", "huge": HUGE, "negative": "-3",
               "zero": "0", "too_big": "123456789012", "decimal": "2.5", "word": "abc", "empty_sign": "+"}


# -- the parser itself -----------------------------------------------------------------------------
@pytest.mark.parametrize("raw, value", [("1", 1), (" 42 ", 42), ("+7", 7), ("-3", -3), ("007", 7),
                                        ("999999999", 999_999_999)])
def test_parse_int_accepts_ascii_whole_numbers(raw: str, value: int) -> None:
    assert parse_int(raw, lo=-10, hi=10**9) == value


@pytest.mark.parametrize("name", sorted(BAD_NUMBERS))
def test_parse_int_refuses_with_a_message_that_says_what_is_accepted(name: str) -> None:
    with pytest.raises(ArgError) as caught:
        parse_int(BAD_NUMBERS[name], lo=1, hi=50, what="how many")
    said = str(caught.value)
    assert said.startswith("how many must be")
    assert len(said) < 160  # the 5,000 digits are never echoed back
    if name in ("superscript", "fullwidth", "arabic_indic"):
        assert "digits 0-9" in said
    else:
        assert "from 1 to 50" in said


def test_parse_int_refuses_more_than_nine_digits_before_converting() -> None:
    assert parse_int("000000000000000000001", lo=0, hi=5) == 1  # leading zeros are not magnitude
    with pytest.raises(ArgError, match="too long"):
        parse_int("1234567890", lo=0, hi=10**12)


def test_is_ascii_number() -> None:
    assert is_ascii_number("123456789")
    for raw in ("", "1234567890", "²", "１２", "-1", " 1", "1.0"):
        assert not is_ascii_number(raw), raw


@pytest.mark.parametrize("raw, minutes", [("10m", 10), ("2h", 120), ("1d", 1440), ("1w", 10080), ("3H", 180),
                                          ("+5m", 5), (" 1d ", 1440)])
def test_parse_duration_accepts_one_count_and_one_unit(raw: str, minutes: int) -> None:
    assert parse_duration(raw) == timedelta(minutes=minutes)


@pytest.mark.parametrize("raw, said", [
    ("-5m", "can't be negative"), ("0m", "from 1m to 366d"), ("999y", "unit “y” is unknown"),
    ("abc", "one number and one unit"), ("1h30", "one number and one unit"), ("5", "the unit is missing"),
    ("²m", "digits 0-9"), ("１２h", "digits 0-9"), (HUGE + "m", "far too long"), ("99999999w", "from 1m to 366d"),
    ("367d", "not 367d"), ("", "one number and one unit"),
])
def test_parse_duration_refuses_clearly(raw: str, said: str) -> None:
    with pytest.raises(ArgError) as caught:
        parse_duration(raw)
    assert said in str(caught.value) and len(str(caught.value)) < 200


def test_looks_like_duration_catches_attempts_not_words() -> None:
    assert all(looks_like_duration(s) for s in ("10m", "-5m", "²m", "999y", "1h30", "+3d", "１２h"))
    assert not any(looks_like_duration(s) for s in ("flooding", "abc", "-", "", "@bob"))


def test_parse_decimal() -> None:
    assert parse_decimal("1.5", lo=1, hi=3) == 1.5
    for raw in ("nan", "inf", "1e3", "１.５", "²", HUGE, "1.2.3", "", "."):
        with pytest.raises(ArgError):
            parse_decimal(raw, lo=0, hi=10**12)


@pytest.mark.parametrize("key, raw", [
    ("message_points", "²"), ("message_points", "１２"), ("message_points", HUGE), ("message_points", "-1"),
    ("level_exponent", "１.５"), ("level_exponent", "nan"), ("streak_milestones", "3:²"),
    ("streak_milestones", "²:5"), ("streak_milestones", f"{HUGE}:5"), ("streak_milestones", "0:5"),
    ("level_roles", "²=Regular"), ("level_roles", "１２=Regular"), ("level_roles", f"{HUGE}=Regular"),
    ("level_roles", "0=Regular"), ("level_roles", "-3=Regular"),
])
def test_points_settings_refuse_odd_digits_through_the_parser(key: str, raw: str) -> None:
    with pytest.raises(RuleValueError) as caught:
        parse_setting(key, raw)
    assert len(str(caught.value)) < 300


def test_points_settings_still_accept_good_values() -> None:
    assert parse_setting("message_points", "3") == 3
    assert parse_setting("level_exponent", "1.5") == 1.5
    assert parse_setting("streak_milestones", "7:15, 3:5") == [[3, 5], [7, 15]]
    assert parse_setting("level_roles", "5=Regular,10=Mentor") == {"5": "Regular", "10": "Mentor"}


# -- every command that takes a number -------------------------------------------------------------
@pytest.fixture
async def able(app: App) -> ModeratingMessenger:
    app.clock = Clock()
    m = ModeratingMessenger(Platform.TELEGRAM, roles={"boss": Role.ADMIN},
                            capabilities=frozenset({Capability.REPLY, Capability.SEND, Capability.DM,
                                                    Capability.BUTTONS, Capability.MODERATE}))
    for i, user in enumerate(("boss", "bob")):
        await app.dispatch(msg(user, f"hello from {user}", minutes=i), m)
    await app.dispatch(cmd("boss", "item", "add", "https://example.org/asyncio", "Asyncio", "basics"), m)
    return m


COMMANDS = {
    "recommend": lambda v: ("recommend", v),
    "rate": lambda v: ("rate", "asyncio-basics", v),
    "audit": lambda v: ("audit", v),
    "points_give": lambda v: ("points", "give", "@bob", v, "for", "helping"),
    "points_take": lambda v: ("points", "take", "@bob", v, "spam"),
    "item_points": lambda v: ("item", "edit", "asyncio-basics", "points", v),
    "config_points": lambda v: ("config", "points.message_points", v),
    "config_milestones": lambda v: ("config", "points.streak_milestones", f"3:{v}"),
    "config_level_roles": lambda v: ("config", "points.level_roles", f"{v}=Regular"),
    "mute": lambda v: ("mute", "@bob", f"{v}m", "flooding"),
}
ODD_VALUES = {"superscript": "²", "fullwidth": "１２", "huge": HUGE, "negative": "-5", "zero": "0",
              "too_big": "99999999999"}
# Zero is a valid value for some settings; those cases check the odd ones only.
ZERO_IS_VALID = {"item_points", "config_points", "config_milestones"}


@pytest.mark.parametrize("value", sorted(ODD_VALUES))
@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_every_numeric_command_refuses_odd_numbers_politely(
        app: App, able: ModeratingMessenger, caplog: pytest.LogCaptureFixture, command: str, value: str) -> None:
    if value == "zero" and command in ZERO_IS_VALID:
        pytest.skip("0 is a valid value here")
    caplog.set_level(logging.DEBUG)
    before_audit = await app.store.read(lambda s: len(s.execute(select(AuditEntry)).scalars().all()))
    name, *args = COMMANDS[command](ODD_VALUES[value])
    await app.dispatch(cmd("boss", name, *args), able)
    said = able.last_reply("boss")
    assert "went wrong" not in said
    assert len(said) < 600, said  # a 5,000-digit value is not echoed back
    assert any(w in said.lower() for w in ("must", "digits", "number", "from", "between", "can't", "negative",
                                           "too short", "too long", "usage", "not a", "don't know")), said
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], caplog.text
    assert able.actions == []  # nobody was muted
    after_audit = await app.store.read(lambda s: len(s.execute(select(AuditEntry)).scalars().all()))
    assert after_audit == before_audit  # nothing was changed
    item = await app.store.read(lambda s: s.execute(select(CatalogItem)).scalar_one())
    assert item.points == 0


async def test_good_numbers_still_work(app: App, able: ModeratingMessenger) -> None:
    await app.dispatch(cmd("boss", "rate", "asyncio-basics", "4"), able)
    assert "★★★★☆" in able.last_reply("boss")
    await app.dispatch(cmd("boss", "item", "edit", "asyncio-basics", "points", "12"), able)
    assert "Updated points" in able.last_reply("boss")
    await app.dispatch(cmd("boss", "mute", "@bob", "1w", "flooding"), able)
    assert able.actions[0][3]["until"] == Clock().now + timedelta(weeks=1)
    await app.dispatch(cmd("boss", "audit", "2"), able)
    assert "Audit log" in able.last_reply("boss")


@pytest.mark.parametrize("duration", ["-5m", "0m", "999y", "1h30", "²h"])
async def test_mute_refuses_a_bad_duration_instead_of_muting_forever(
        app: App, able: ModeratingMessenger, duration: str) -> None:
    await app.dispatch(cmd("boss", "mute", "@bob", duration, "flooding"), able)
    said = able.last_reply("boss").lower()
    assert any(w in said for w in ("duration", "minute", "unit")), said
    assert able.actions == []


async def test_mute_still_takes_a_reason_that_is_a_word(app: App, able: ModeratingMessenger) -> None:
    await app.dispatch(cmd("boss", "mute", "@bob", "abusive", "language"), able)
    assert able.actions[0][3] == {"until": None, "reason": "abusive language"}


@pytest.mark.parametrize("value", sorted(ODD_VALUES))
async def test_done_by_item_number_with_odd_digits_is_no_such_item(
        app: App, able: ModeratingMessenger, caplog: pytest.LogCaptureFixture, value: str) -> None:
    caplog.set_level(logging.DEBUG)
    await app.dispatch(cmd("boss", "done", f"#{ODD_VALUES[value]}"), able)
    said = able.last_reply("boss")
    assert "There is no catalog item" in said and "went wrong" not in said
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], caplog.text
