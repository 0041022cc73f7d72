"""Telegram Desktop export → events: field mapping, skips, idempotent keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.events import (
    MemberJoined,
    MemberLeft,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionCountChanged,
    ThreadOpened,
)
from engine.history import HistoryFormatError, read_history, read_telegram_export, telegram_chat_id
from tests.history.helpers import DISCORD_GENERAL, TELEGRAM

CHAT = "-1001987654321"


def _events() -> list:
    return list(read_telegram_export(TELEGRAM))


def _by_id(events: list, kind: type, message_id: str):
    return next(e for e in events if isinstance(e, kind) and e.message_id == message_id)


def test_chat_id_matches_bot_api() -> None:
    assert telegram_chat_id(1987654321, "private_supergroup") == CHAT
    assert telegram_chat_id(1987654321, "public_channel") == CHAT
    assert telegram_chat_id(123, "private_group") == "-123"
    assert telegram_chat_id("-1001", "private_group") == "-1001"
    with pytest.raises(HistoryFormatError):
        telegram_chat_id(5, "personal_chat")


def test_every_event_is_telegram_in_the_group() -> None:
    events = _events()
    assert all(e.platform is Platform.TELEGRAM for e in events)
    assert {e.community_id for e in events} == {CHAT}
    assert {e.chat_id for e in events} == {CHAT}
    assert {e.chat_title for e in events} == {"Python Cohort 🐍 دورة"}


def test_message_fields() -> None:
    hello = _by_id(_events(), MessagePosted, "2")
    assert hello.user_id == "111"
    assert hello.user_name == "Alice Liddell"
    assert hello.at == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    assert hello.text == "Hi all! Notes are at learn.example.com/python/basics, ping @bob_the_builder"
    assert hello.links == ("https://learn.example.com/python/basics",)
    assert hello.mentions == ("@bob_the_builder",)
    assert hello.thread_id is None and hello.reply_to_message_id is None


def test_topic_thread_reply_and_text_link() -> None:
    events = _events()
    topic = _by_id(events, ThreadOpened, "3")
    assert (topic.thread_id, topic.title, topic.user_id) == ("3", "Asyncio questions", "222")
    question = _by_id(events, MessagePosted, "4")
    # a "reply" to the topic root is membership of the topic, not a reply
    assert (question.thread_id, question.reply_to_message_id, question.is_topic_start) == ("3", None, True)
    answer = _by_id(events, MessagePosted, "5")
    assert answer.thread_id == "3"
    assert (answer.reply_to_message_id, answer.reply_to_user_id) == ("4", "222")
    assert answer.links == ("https://docs.python.org/3/library/asyncio-task.html#asyncio.gather",)
    assert answer.mentions == ("222",)
    assert not answer.is_topic_start
    assert _by_id(events, MessagePosted, "7").thread_id == "3"  # explicit message_thread_id


def test_reactions_per_user_and_anonymous_total() -> None:
    events = _events()
    added = [e for e in events if isinstance(e, ReactionAdded)]
    assert {(e.emoji, e.user_id, e.target_user_id, e.message_id) for e in added} == {
        ("✅", "222", "111", "5"),
        ("👍", "222", "111", "5"),
    }
    accepted = next(e for e in added if e.emoji == "✅")
    assert accepted.at == datetime(2024, 3, 1, 12, 30, tzinfo=UTC)  # local time, offset learned (UTC here)
    (total,) = [e for e in events if isinstance(e, ReactionCountChanged)]
    assert (total.emoji, total.count, total.user_id, total.message_id) == ("👍", 3, "", "5")


def test_channel_post_is_anonymous_with_sender_chat() -> None:
    post = _by_id(_events(), MessagePosted, "6")
    assert post.user_id == ""
    assert post.sender_chat_id == CHAT


def test_unicode_kept_and_nul_replaced() -> None:
    odd = _by_id(_events(), MessagePosted, "7")
    assert "مرحبا" in odd.text and "👨\u200d👩\u200d👧" in odd.text and "zero\u200bwidth" in odd.text
    assert "\x00" not in odd.text and "nul\ufffdhere" in odd.text
    assert odd.user_name == "סבטלנה \u200f"


def test_joins_leaves_and_media() -> None:
    events = _events()
    joins = [e for e in events if isinstance(e, MemberJoined)]
    assert [(e.user_id, e.message_id) for e in joins] == [("111", "1"), ("555", "9")]
    (left,) = [e for e in events if isinstance(e, MemberLeft)]
    assert (left.user_id, left.at) == ("555", datetime(2024, 3, 1, 13, 0, tzinfo=UTC))
    sticker = _by_id(events, MessagePosted, "11")
    assert sticker.attachment == "sticker" and sticker.forwarded


def test_malformed_records_reported_with_location() -> None:
    stream = read_telegram_export(TELEGRAM)
    events = list(stream)
    report = stream.report
    assert report.finished
    where = {(s.file, s.record, s.field) for s in report.skipped}
    assert ("telegram_result.json", "8", "date_unixtime") in where  # bad date
    assert ("telegram_result.json", "#8", "") in where  # the bare 42 in the array
    assert ("telegram_result.json", "12", "from_id") in where  # no sender
    assert ("telegram_result.json", "10", "members") in where  # invited by name only
    assert report.skipped_total == 4
    assert report.ignored_by_type == {"service:pin_message": 1}
    assert report.events_total == len(events) == 13
    assert report.events_by_kind["message"] == 6
    assert report.members_seen == {"111", "222", "333", "555"}
    assert report.out_of_order == 0


def test_time_ordered_even_with_late_reactions() -> None:
    times = [e.at for e in _events()]
    assert times == sorted(times)


def test_dedup_keys_stable_across_parses() -> None:
    first = [e.dedup_key for e in _events()]
    second = [e.dedup_key for e in _events()]
    assert first == second
    assert len(set(first)) == len(first)


def test_progress_reaches_file_size() -> None:
    calls: list[tuple[int, int]] = []
    list(read_telegram_export(TELEGRAM, progress=lambda done, total: calls.append((done, total))))
    size = TELEGRAM.stat().st_size
    assert calls and calls[-1] == (size, size)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_not_a_telegram_export_raises_before_events(tmp_path: Path) -> None:
    with pytest.raises(HistoryFormatError, match="DiscordChatExporter"):
        read_telegram_export(DISCORD_GENERAL)
    garbage = tmp_path / "x.json"
    garbage.write_text("hello, not json")
    with pytest.raises(HistoryFormatError, match="invalid JSON"):
        read_telegram_export(garbage)
    no_messages = tmp_path / "y.json"
    no_messages.write_text(json.dumps({"name": "x", "type": "private_supergroup", "id": 1}))
    with pytest.raises(HistoryFormatError, match="missing messages"):
        read_telegram_export(no_messages)
    with pytest.raises(HistoryFormatError):
        read_history(garbage)


def test_header_after_messages_is_found(tmp_path: Path) -> None:
    path = tmp_path / "late_header.json"
    message = {
        "id": 1,
        "type": "message",
        "date_unixtime": "1700000000",
        "from": "A",
        "from_id": "user1",
        "text": "hi",
    }
    path.write_text(json.dumps({"messages": [message], "id": 77, "type": "private_group", "name": "g"}))
    (event,) = list(read_telegram_export(path))
    assert event.chat_id == "-77" and event.text == "hi"


def test_truncated_file_imports_what_is_readable(tmp_path: Path) -> None:
    text = TELEGRAM.read_text(encoding="utf-8")
    cut = tmp_path / "cut.json"
    cut.write_text(text[: text.index('"id": 11')], encoding="utf-8")
    stream = read_telegram_export(cut)
    events = list(stream)
    assert any(isinstance(e, MessagePosted) and e.message_id == "7" for e in events)
    assert stream.report.aborted.startswith("invalid JSON")
