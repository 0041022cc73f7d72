"""The nudge text: personal lines, picks with reasons, missed threads, stop; clicks."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.nudge.campaign import opted_out
from engine.nudge.clicks import record_click
from engine.nudge.message import compose, parse_click
from engine.nudge.tables import NudgeAssignment, NudgeCampaign, NudgeClick
from engine.recsys.recommend import Pick, Recommendations
from engine.store.models import Chat, Message, Thread
from tests.nudge.helpers import NOW, add_community, add_member, schema_engine, session_of


class FixedRecommender:
    """Three picks, the way /recommend's service returns them."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def recommend(self, session: Session, community_id: int, member_id: int, n: int, *, now: datetime,
                  rng: np.random.Generator | None = None) -> Recommendations:
        self.calls.append(n)
        return Recommendations([
            Pick(1, "asyncio", "Asyncio basics", "https://ex.org/a", "members who liked “Loops” also took this",
                 "main", "model"),
            Pick(2, "tests", "Testing <with> pytest", None, "popular this week", "main", "popular"),
            Pick(3, "typing", "Type hints", None, "something new to try — tell us if it helps", "explore", "explore"),
        ])


def _history(s: Session, c: int, ann: int, bob: int) -> None:
    chat = Chat(community_id=c, platform="telegram", external_id="chat", title="g")
    s.add(chat)
    s.flush()
    thread = Thread(chat_id=chat.id, external_id="t1", title="How do I use asyncio.gather?",
                    created_at=NOW - timedelta(days=30), created_by=ann)
    hot = Thread(chat_id=chat.id, external_id="t2", title="Weekly project show & tell",
                 created_at=NOW - timedelta(days=5))
    s.add_all([thread, hot])
    s.flush()
    s.add(Message(community_id=c, chat_id=chat.id, thread_id=thread.id, external_id="1", author_id=ann,
                  posted_at=NOW - timedelta(days=30), text="How do I gather?", is_topic_start=True))
    s.add(Message(community_id=c, chat_id=chat.id, thread_id=thread.id, external_id="2", author_id=bob,
                  reply_to_author_id=ann, posted_at=NOW - timedelta(days=29), text="Use gather()"))
    for i in range(4):
        s.add(Message(community_id=c, chat_id=chat.id, thread_id=hot.id, external_id=f"h{i}", author_id=bob,
                      posted_at=NOW - timedelta(days=4 - i), text="look"))


def test_the_message_is_personal_recommends_and_says_how_to_stop(tmp_path: Path) -> None:
    engine = schema_engine(tmp_path)
    with session_of(engine) as s:
        c = add_community(s, "py")
        ann, bob = add_member(s, c, "Ann"), add_member(s, c, "Bob <b>")
        _history(s, c, ann, bob)
        rec = FixedRecommender()
        msg = compose(s, c, ann, NOW, language="en", recommender=rec, assignment_id=42)
    assert rec.calls == [3]
    text = msg.text
    assert "Hi Ann, we miss you in PY!" in text
    assert "Last time you asked “How do I use asyncio.gather?”" in text
    assert "Bob &lt;b&gt; replied to you" in text
    assert "members who liked “Loops” also took this" in text and "Testing &lt;with&gt; pytest" in text
    assert "Weekly project show &amp; tell (4 new messages)" in text
    assert "/nudges off" in text
    datas = [b.data for b in msg.buttons if b.data]
    assert datas == ["nudge:42:like-1", "nudge:42:like-2", "nudge:42:like-3", "nudge:42:stop"]
    assert [b.url for b in msg.buttons if b.url] == ["https://ex.org/a"]
    assert all(len(d.encode()) <= 64 for d in datas)


def test_chinese_community_and_a_member_with_no_history_and_no_catalog(tmp_path: Path) -> None:
    engine = schema_engine(tmp_path)
    with session_of(engine) as s:
        c = add_community(s, "zh")
        quiet = add_member(s, c, "小明")
        msg = compose(s, c, quiet, NOW, language="zh", recommender=None)
    assert msg.text.startswith("<b>小明，ZH 想你了！</b>")
    assert "/nudges off" in msg.text and "为你推荐" not in msg.text
    assert [b.data for b in msg.buttons] == ["nudge:0:stop"]


def test_click_data_is_parsed_strictly() -> None:
    assert parse_click("nudge:12:stop") == (12, "stop")
    assert parse_click("nudge:12:like-7") == (12, "like-7")
    for bad in ("nudge:²:stop", "nudge:1:delete", "nudge:1", "rec:1:like", "nudge:1:like-x", ""):
        assert parse_click(bad) is None


def test_clicks_are_recorded_once_and_stop_opts_out(tmp_path: Path) -> None:
    engine = schema_engine(tmp_path)
    with session_of(engine) as s:
        c = add_community(s)
        ann, eve = add_member(s, c, "Ann"), add_member(s, c, "Eve")
        camp = NudgeCampaign(community_id=c, run_on=NOW.date(), created_at=NOW, seed=1, control_fraction=0.2,
                             policy={}, counts={})
        s.add(camp)
        s.flush()
        a = NudgeAssignment(campaign_id=camp.id, community_id=c, member_id=ann, arm="treated", rank=1, risk=0.9,
                            features={}, assigned_at=NOW)
        s.add(a)
        s.flush()
        assert record_click(s, a.id, "like-1", ann, NOW) == "recorded"
        assert record_click(s, a.id, "like-1", ann, NOW) == "repeat"
        assert record_click(s, a.id, "like-1", eve, NOW) == "ignored"
        assert record_click(s, 999, "stop", ann, NOW) == "ignored"
        assert record_click(s, a.id, "stop", ann, NOW) == "stopped"
        assert opted_out(s, [ann]) == {ann}
        assert s.scalar(select(func.count()).select_from(NudgeClick)) == 2


def test_no_recommender_model_yet_still_recommends_from_the_catalog(tmp_path: Path) -> None:
    from engine.catalog.tables import CatalogItem
    from engine.recsys.recommend import RecommenderService
    engine = schema_engine(tmp_path)
    with session_of(engine) as s:
        c = add_community(s, "py")
        ann = add_member(s, c, "Ann")
        for i in range(4):
            s.add(CatalogItem(community_id=c, key=f"lesson-{i}", title=f"Lesson {i}", kind="lesson",
                              created_at=NOW, updated_at=NOW))
        s.flush()
        msg = compose(s, c, ann, NOW, language="en", recommender=RecommenderService(tmp_path / "no-models"))
    assert len(msg.context.picks) == 3
    assert "Picked for you" in msg.text and "new in the catalog" in msg.text
    assert len([b for b in msg.buttons if "like-" in b.data]) == 3


def test_a_chunk_composed_together_says_exactly_what_each_preview_says(tmp_path: Path) -> None:
    from sqlalchemy import update

    from engine.nudge.message import compose_many
    from engine.store.models import CommunityMember
    engine = schema_engine(tmp_path)
    with session_of(engine) as s:
        c = add_community(s, "py")
        ann, bob, cy = add_member(s, c, "Ann"), add_member(s, c, "Bob <b>"), add_member(s, c, "Cy")
        _history(s, c, ann, bob)
        # Cy was last seen after the busy week started, so Cy missed less than Ann.
        s.execute(update(CommunityMember).where(CommunityMember.member_id == cy)
                  .values(last_seen_at=NOW - timedelta(days=2, hours=12)))
        rec = FixedRecommender()
        alone = {a: compose(s, c, m, NOW, language="en", recommender=rec, assignment_id=a, seed=5)
                 for a, m in ((7, ann), (8, bob), (9, cy))}
        together = compose_many(s, c, [(7, ann), (8, bob), (9, cy), (10, 9999)], NOW, language="en",
                                recommender=rec, seed=5)
    assert together == alone  # the forgotten member 9999 is left out
    assert "Bob &lt;b&gt; replied to you" in together[7].text and "replied to you" not in together[8].text
    assert "(4 new messages)" in together[7].text and "(2 new messages)" in together[9].text
