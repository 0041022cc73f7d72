"""Question routing ranks the members who answer such questions, never the asker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.recsys.routing import PastAnswer, Question, likely_answerers, most_active_answerers, tags_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def past() -> list[PastAnswer]:
    rows = []
    for n in range(12):  # "busy" answers everything about wheels, a lot
        rows.append(PastAnswer("busy", f"w{n}", ("wheels",), "true a wheel rim spokes", T0 + timedelta(days=n)))
    for n in range(3):  # "brakes" answers brake questions (also in Chinese)
        rows.append(PastAnswer("brakes", f"b{n}", ("brakes",), "disc brake pads squeal 刹车 异响", T0 + timedelta(days=n)))
    rows.append(PastAnswer("asker", "x", ("brakes",), "brake cable", T0))
    rows.append(PastAnswer("late", "l", ("brakes",), "brake", T0 + timedelta(days=400)))  # after the question
    return rows


def test_tag_and_content_beat_sheer_activity_and_asker_and_future_are_excluded() -> None:
    question = Question("q", "asker", "my disc brake squeals 刹车", ("brakes",), T0 + timedelta(days=30))
    ranked = likely_answerers(question, past(), k=5)
    names = [r.member_id for r in ranked]
    assert names[0] == "brakes" and "asker" not in names and "late" not in names
    assert ranked[0].reason == "answers questions tagged #brakes"
    assert most_active_answerers(question, past(), k=1) == ["busy"]  # the baseline would ask the wrong one
    assert most_active_answerers(question, past(), k=2, in_tags=True) == ["brakes", "busy"]


def test_no_history_no_answerers_and_tags_are_read_from_hashtags() -> None:
    question = Question("q", None, "anything", (), T0)
    assert likely_answerers(question, past()) == []
    assert tags_of("How do I true a wheel?\n#Wheels #truing #wheels") == ("wheels", "truing")
