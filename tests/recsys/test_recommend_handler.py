"""/recommend through the real router + store: fallbacks, a trained artifact, clicks,
exploration, stats, corrupt artifacts and bad arguments."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.bootstrap import App
from bot.ports import Role
from engine.catalog.tables import RecommendationImpression
from engine.recsys.community import community_dir, train_community
from engine.sim import simulate_community
from engine.store.models import Account
from tests.catalog.helpers import COURSE, click, community_id, item_interactions, load_rows, say
from tests.doubles.events import message
from tests.doubles.messenger import RecordingMessenger


@pytest.fixture
def tg() -> RecordingMessenger:
    return RecordingMessenger(roles={"mod": Role.MODERATOR})


def last_buttons(tg: RecordingMessenger) -> list:
    return list([s for s in tg.said if s.kind == "reply"][-1].buttons)


async def test_bad_arguments_and_empty_catalog(app: App, tg: RecordingMessenger) -> None:
    await community_id(app)
    await app.dispatch(message("ann", "hi"), tg)
    for bad in ("0", "10000", "abc", "-3"):
        assert re.search(r"1 to 10|Usage", await say(app, tg, "ann", "recommend", bad))
    assert "catalog is empty" in await say(app, tg, "ann", "recommend")
    assert "moderators" in await say(app, tg, "ann", "recommend", "stats")


async def test_no_model_popularity_and_exploration_slot(app: App, tg: RecordingMessenger) -> None:
    await load_rows(app, COURSE)
    for user in ("bob", "cat", "dan"):
        await say(app, tg, user, "done", "basics")
    await say(app, tg, "bob", "done", "functions")
    await app.dispatch(message("ann", "hello"), tg)
    reply = await say(app, tg, "ann", "recommend", "3")
    lines = re.findall(r"^\d+\. .*$", reply, flags=re.M)
    assert len(lines) == 3
    assert "basics" in lines[0] and "popular this week" in reply
    assert "🔍" in lines[2]  # the exploration slot is last
    buttons = last_buttons(tg)
    assert any(b.url == "https://learn.example.com/basics" for b in buttons)
    assert sum(1 for b in buttons if b.data.startswith("rec:")) == 6
    assert "no trained model" in await say(app, tg, "mod", "recommend", "stats")


async def test_content_cold_start_reads_chinese_messages(app: App, tg: RecordingMessenger) -> None:
    await load_rows(app, COURSE)
    await app.dispatch(message("li", "请问怎么取消一个超时的异步任务？asyncio 的协程总是卡住"), tg)
    reply = await say(app, tg, "li", "recommend", "2")
    first = re.findall(r"^\d+\. .*$", reply, flags=re.M)[0]
    assert "asyncio" in first
    assert "matches your questions about #asyncio" in reply


async def test_click_round_trip_and_stats(app: App, tg: RecordingMessenger) -> None:
    await load_rows(app, COURSE)
    await app.dispatch(message("ann", "hello"), tg)
    await say(app, tg, "ann", "recommend", "2")
    like, done = [b.data for b in last_buttons(tg) if b.data.startswith("rec:")][:2]
    await click(app, tg, "ann", like)
    await click(app, tg, "ann", like, n=1)  # a second click on one impression counts once for CTR
    await click(app, tg, "eve", done)  # someone else's keyboard: not a click-through
    clicks = await item_interactions(app, "click")
    assert len(clicks) == 2 and len({i for _, i, _ in clicks}) == 1
    answers = [s.text for s in tg.said if s.kind == "reply"][-3:]
    assert answers[0].startswith("👍 Noted: you're interested in") and answers[1].startswith("👍 Noted")
    assert "someone else's recommendations" in answers[2]
    await click(app, tg, "ann", done)
    assert len(await item_interactions(app, "completion")) == 1
    said = [s.text for s in tg.said if s.kind == "reply"]
    assert re.match(r"✓ Done: .+ \(\+\d+ points?\)\.", said[-1]), said[-1]
    await click(app, tg, "ann", done, n=1)
    assert "already marked" in [s.text for s in tg.said if s.kind == "reply"][-1]
    assert len(await item_interactions(app, "completion")) == 1
    shown = await app.store.read(lambda s: list(s.execute(
        select(RecommendationImpression.slot, RecommendationImpression.clicked_at))))
    assert sorted(slot for slot, _ in shown) == ["explore", "main"]
    stats = await say(app, tg, "mod", "recommend", "stats")
    assert "main 1/1" in stats and "exploration 0/1" in stats


async def test_trained_artifact_is_served_then_corrupt_one_falls_back(app: App, tg: RecordingMessenger) -> None:
    sim = simulate_community(7, members=30, days=15, language="en", community_id="g1")
    rows = [{"key": i.key, "title": i.title, "url": i.url, "kind": "lesson", "tags": list(i.tags),
             "description": i.description, "prerequisites": list(i.prerequisites), "points": i.points}
            for i in sim.catalog]
    cid = await load_rows(app, rows)
    for event in sim.events:
        await app.dispatch(event, tg)
    artifact_dir = Path(app.settings.recsys.artifact_dir)
    path = train_community(app.store, cid, artifact_dir, "auto", tune=False)  # what the nightly job passes
    assert path.parent == community_dir(artifact_dir, cid)
    import torch

    device = json.loads((path / "manifest.json").read_text())["metrics"]["device"]
    assert device == ("cuda" if torch.cuda.is_available() else "cpu")  # what "auto" became, not "auto"
    member = max(m for m, _, _ in await item_interactions(app, "completion"))  # has history: in the model
    user = await app.store.read(lambda s: s.scalar(select(Account.external_id).where(Account.member_id == member)))
    service = app.deps.recommender
    assert service is not None
    service.refresh_seconds = 0
    reply = await say(app, tg, user, "recommend", "4")
    assert re.search(r"members who (finished|liked)", reply), reply
    stats = await say(app, tg, "mod", "recommend", "stats")
    assert "model:" in stats and path.name in stats

    # A newer artifact that fails its checksum: keep serving the good one, tell moderators.
    broken = path.parent / "99990101T000000000000Z-broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    assert re.search(r"members who (finished|liked)", await say(app, tg, user, "recommend", "4"))
    assert "rejected" in await say(app, tg, "mod", "recommend", "stats")

    # Only corrupt artifacts left: popularity/content, never a crash.
    import shutil

    shutil.rmtree(path)
    app.use(replace(app.deps, recommender=type(service)(artifact_dir, refresh_seconds=0)))
    reply = await say(app, tg, user, "recommend", "3")
    assert "Recommended for you" in reply and "members who" not in reply
    assert "corrupt" in await say(app, tg, "mod", "recommend", "stats")


async def test_training_chooses_a_family_on_validation_and_stats_show_it(app: App, tg: RecordingMessenger) -> None:
    from engine.recsys.community import evaluate_community

    sim = simulate_community(11, members=40, days=40, language="en", community_id="g1")
    rows = [{"key": i.key, "title": i.title, "url": i.url, "kind": "lesson", "tags": list(i.tags),
             "description": i.description, "prerequisites": list(i.prerequisites), "points": i.points}
            for i in sim.catalog]
    cid = await load_rows(app, rows)
    for event in sim.events:
        await app.dispatch(event, tg)
    stages: list[str] = []
    path = train_community(app.store, cid, Path(app.settings.recsys.artifact_dir), "cpu", progress=stages.append)
    metrics = json.loads((path / "manifest.json").read_text())["metrics"]
    scores = metrics["candidates"]
    assert {"popularity (recency-weighted)", "content tf-idf"} <= set(scores)
    assert metrics["validation_ndcg@10"] == scores[metrics["candidate"]] <= max(scores.values())
    assert metrics["family"] in ("cohort", "ease", "itemknn", "popularity", "content", "blend")
    assert any(s.startswith("validation origin") for s in stages) and stages[-1] == "writing the artifact"
    app.deps.recommender.refresh_seconds = 0  # type: ignore[union-attr]
    stats = await say(app, tg, "mod", "recommend", "stats")
    assert f"family {metrics['family']}" in stats and "time-aware validation" in stats

    report = evaluate_community(app.store, cid, device="cpu")
    assert sum(c.chosen for c in report.candidates) == 1
    assert all(c.low <= c.test_ndcg <= c.high for c in report.candidates)
    assert report.beats_best_other is not None


async def test_helpers_get_questions_they_could_answer(app: App, tg: RecordingMessenger) -> None:
    from engine.events import MessagePosted, ThreadOpened
    from tests.doubles.events import base

    await load_rows(app, COURSE)

    def question(user: str, thread: str, title: str, text: str, minutes: float) -> list:
        return [ThreadOpened(**base(user, minutes=minutes, thread_id=thread), title=title),
                MessagePosted(**base(user, minutes=minutes, thread_id=thread), message_id=f"q{thread}", text=text,
                              is_topic_start=True)]

    events = [*question("bob", "t1", "Brake squeal", "my disc brake squeals\n#brakes", 1),
              MessagePosted(**base("ann", minutes=2, thread_id="t1"), message_id="a1",
                            text="clean the pads", reply_to_message_id="qt1", reply_to_user_id="bob"),
              *question("cid", "t2", "Brakes rubbing", "rear disc brake rubs\n#brakes", 60)]
    for event in events:
        await app.dispatch(event, tg)
    reply = await say(app, tg, "ann", "recommend", "3", minutes=90)
    assert "Questions you could answer" in reply and "Brakes rubbing" in reply
    assert "answers questions tagged #brakes" in reply
    # someone who never helped gets no such slot; the asker is never sent to their own question
    assert "Questions you could answer" not in await say(app, tg, "cid", "recommend", "3", minutes=91)
    # An imported or quiet community: the windows end at its newest question, not at today,
    # so a year later its unanswered question still reaches ann.
    year = 365 * 24 * 60
    reply = await say(app, tg, "ann", "recommend", "3", minutes=year)
    assert "Questions you could answer" in reply
    assert "Brakes rubbing" in reply.split("Questions you could answer", 1)[1]


async def test_questions_older_than_the_window_before_the_newest_question_are_not_offered(
        app: App, tg: RecordingMessenger) -> None:
    from engine.events import MessagePosted, ThreadOpened
    from tests.doubles.events import base

    await load_rows(app, COURSE)

    def question(user: str, thread: str, title: str, text: str, minutes: float) -> list:
        return [ThreadOpened(**base(user, minutes=minutes, thread_id=thread), title=title),
                MessagePosted(**base(user, minutes=minutes, thread_id=thread), message_id=f"q{thread}", text=text,
                              is_topic_start=True)]

    day = 24 * 60
    events = [*question("bob", "t1", "Brake squeal", "my disc brake squeals\n#brakes", 1),
              MessagePosted(**base("ann", minutes=2, thread_id="t1"), message_id="a1",
                            text="clean the pads", reply_to_message_id="qt1", reply_to_user_id="bob"),
              *question("cid", "t2", "Brakes rubbing", "rear disc brake rubs\n#brakes", 3),  # 40 days before t3
              *question("dan", "t3", "Brake lever spongy", "spongy hydraulic brake lever\n#brakes", 40 * day)]
    for event in events:
        await app.dispatch(event, tg)
    reply = await say(app, tg, "ann", "recommend", "3", minutes=300 * day)
    slot = reply.split("Questions you could answer", 1)[1]  # threads may also be recommended as items
    assert "Brake lever spongy" in slot  # within 30 days of the newest question
    assert "Brakes rubbing" not in slot  # 40 days older than it: out of the window
