"""Small things a newcomer meets first: plural words, catalog titles without markup, a demo
with neither duplicate questions nor events in the future."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from bot import demo
from bot.handlers.points_i18n import MESSAGES
from bot.i18n import text
from engine.catalog.projection import _title_from_text
from engine.events import ThreadOpened
from engine.sim.community import simulate_community


def test_english_counts_agree_with_their_nouns() -> None:
    assert text(MESSAGES, "me.title", "en", name="A", points=1).endswith("1 point")
    assert text(MESSAGES, "me.title", "en", name="A", points=2).endswith("2 points")
    assert text(MESSAGES, "me.title", "en", name="A", points="1,234").endswith("1,234 points")
    assert text(MESSAGES, "me.streak", "en", streak=1, best=1) == "Streak: 1 day (best 1)"
    assert text(MESSAGES, "me.streak", "en", streak=0, best=4) == "Streak: 0 days (best 4)"
    assert text(MESSAGES, "points.given", "en", amount=1, name="B", total=9).startswith("Gave 1 point to")
    assert text(MESSAGES, "me.streak", "zh", streak=1, best=1) == "连续活跃：1 天（最长 1 天）"


def test_a_shared_links_title_drops_discord_mentions_and_emoji() -> None:
    text = "<@1577413674707058694> <@!12> <@&34> <#56> use pandas.read_csv <:py:123> https://x.y/z #pandas"
    assert _title_from_text(text, "https://x.y/z") == "use pandas.read_csv"
    assert _title_from_text("<@1>", "https://x.y/z") == "https://x.y/z"  # nothing left: the URL


def test_the_simulated_forum_never_repeats_a_question_title() -> None:
    sim = simulate_community(7, members=120, days=45, language="mixed")
    titles = Counter(e.title for e in sim.events if isinstance(e, ThreadOpened))
    assert len(titles) > 300
    assert titles.most_common(1)[0][1] == 1


def test_the_seeded_demo_holds_no_event_after_now() -> None:
    now = datetime(2026, 3, 1, 19, 10, tzinfo=UTC)
    options = demo.DemoOptions(members=30, days=5, seed=3, start=now - timedelta(days=5, minutes=10))
    everything = list(demo.simulate(options).events)
    assert any(e.at > now for e in everything)  # the simulator does plan the rest of the day
    seeded = list(demo.simulated_stream(options, now=now))
    assert seeded and max(e.at for e in seeded) <= now
    assert len(seeded) == sum(1 for e in everything if e.at <= now)
