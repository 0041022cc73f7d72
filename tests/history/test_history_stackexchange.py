"""Stack Exchange dump → events: threads, answers, comments, accepted, votes, order."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.events import (
    MemberJoined,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionCountChanged,
    ThreadOpened,
)
from engine.history import HistoryFormatError, detect_format, read_stackexchange_dump
from tests.history.helpers import SE_DUMP

REAL_DUMP = Path(__file__).resolve().parents[3] / "shared" / "data" / "stackexchange" / "bicycles-meta"


def _events() -> list:
    return list(read_stackexchange_dump(SE_DUMP))


def _post(events: list, message_id: str) -> MessagePosted:
    return next(e for e in events if isinstance(e, MessagePosted) and e.message_id == message_id)


def test_site_identity_and_members() -> None:
    events = _events()
    assert all(e.platform is Platform.STACKEXCHANGE for e in events)
    assert {e.community_id for e in events} == {e.chat_id for e in events} == {"python.example"}
    joins = [e for e in events if isinstance(e, MemberJoined)]
    assert [(j.user_id, j.user_name) for j in joins] == [
        ("-1", "Community"),
        ("10", "Ada \u202bLovelace"),
        ("11", "李雷"),
        ("12", "Grace H"),
    ]
    assert joins[0].is_bot and not joins[1].is_bot


def test_question_opens_thread_with_plain_text_and_tags() -> None:
    events = _events()
    opened = next(e for e in events if isinstance(e, ThreadOpened) and e.thread_id == "1")
    assert (opened.title, opened.user_id, opened.user_name) == ("Reading a file line by line", "11", "李雷")
    question = _post(events, "1")
    assert question.is_topic_start and question.thread_id == "1"
    assert question.text.startswith("How do I read a file line by line? See the tutorial.")
    assert "<p>" not in question.text and "open(path)" in question.text
    assert question.text.endswith("#files #python-basics")
    assert question.links == ("https://docs.python.org/3/tutorial/inputoutput.html",)
    assert _post(events, "6").text.endswith("#asyncio #python-3.x")  # |a|b| tag format


def test_answers_and_comments_reply_in_thread() -> None:
    events = _events()
    answer = _post(events, "3")
    assert (answer.thread_id, answer.reply_to_message_id, answer.reply_to_user_id) == ("1", "1", "11")
    assert not answer.is_topic_start
    on_question = _post(events, "c1")
    assert (on_question.thread_id, on_question.reply_to_message_id, on_question.reply_to_user_id) == (
        "1",
        "1",
        "11",
    )
    assert on_question.links == ("https://peps.python.org/pep-0008/",)
    on_answer = _post(events, "c2")
    assert (on_answer.thread_id, on_answer.reply_to_message_id, on_answer.reply_to_user_id) == (
        "1",
        "3",
        "10",
    )
    assert on_answer.mentions == ("@Ada",)


def test_accepted_answer_is_askers_check_mark() -> None:
    (accepted,) = [e for e in _events() if isinstance(e, ReactionAdded)]
    assert (accepted.emoji, accepted.user_id, accepted.message_id, accepted.target_user_id) == (
        "✅",
        "11",
        "3",
        "10",
    )
    assert accepted.at.hour == 23  # date-only vote placed at the end of its day


def test_upvotes_are_running_totals_per_day() -> None:
    counts = [(e.message_id, e.count, e.at.day) for e in _events() if isinstance(e, ReactionCountChanged)]
    assert counts == [("1", 1, 3), ("3", 2, 3), ("3", 3, 4), ("5", 1, 4)]


def test_skips_and_ignored() -> None:
    stream = read_stackexchange_dump(SE_DUMP)
    list(stream)
    report = stream.report
    where = {(s.file, s.record, s.field) for s in report.skipped}
    assert where == {
        ("Posts.xml", "7", "CreationDate"),
        ("Posts.xml", "4", "OwnerUserId"),
        ("Comments.xml", "3", "UserId"),
        ("Comments.xml", "4", "PostId"),
    }
    assert report.ignored_by_type == {"PostTypeId:4": 1, "vote:downvote": 1, "vote:favorite": 1}
    assert report.out_of_order == 0


def test_time_order_and_stable_keys() -> None:
    events = _events()
    assert [e.at for e in events] == sorted(e.at for e in events)
    keys = [e.dedup_key for e in events]
    assert keys == [e.dedup_key for e in _events()]


def test_not_a_dump(tmp_path: Path) -> None:
    with pytest.raises(HistoryFormatError, match=r"no Posts\.xml"):
        read_stackexchange_dump(tmp_path)
    (tmp_path / "Posts.xml").write_text('<?xml version="1.0"?><users><row Id="1"/></users>')
    with pytest.raises(HistoryFormatError, match="expected <posts>"):
        read_stackexchange_dump(tmp_path)
    assert detect_format(tmp_path) == "stackexchange"


@pytest.mark.skipif(not REAL_DUMP.is_dir(), reason="the shared bicycles-meta dump is not present")
def test_real_bicycles_meta_dump() -> None:
    started = time.perf_counter()
    stream = read_stackexchange_dump(REAL_DUMP)
    events = list(stream)
    elapsed = time.perf_counter() - started
    report = stream.report
    assert report.events_by_kind["thread_opened"] == 453  # every question, deleted owners included
    assert report.events_by_kind["reaction_added"] > 100  # accepted answers
    assert report.out_of_order == 0 and not report.aborted
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert report.bytes_read == report.bytes_total
    print(f"bicycles-meta: {len(events)} events in {elapsed:.2f}s = {len(events) / elapsed:.0f} events/s")
