"""A member's journey through Telegram, end to end through python-telegram-bot and the
fake Bot API: chat, get thanked, check /me and /leaderboard, a moderator gives points,
/recommend with a button click, /done and /path."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.bootstrap import App
from engine.catalog import service
from engine.catalog.items import ItemSpec
from engine.catalog.tables import RecommendationImpression
from engine.events import utcnow
from engine.points.tables import PointsEntry
from engine.store.models import Community
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import GROUP, _ids, eventually, group_chat, message, user

ADA = user(1001, "Ada", username="ada")
GRACE = user(1002, "Grace", username="grace")
LINUS = user(1003, "Linus", username="linus")


async def said(fake: FakeTelegram, contains: str) -> dict[str, Any]:
    """The params of the first sendMessage whose text contains ``contains``."""
    async def found() -> bool:
        return any(contains in c.params.get("text", "") for c in fake.calls_to("sendMessage"))

    await eventually(found)
    return next(c.params for c in fake.calls_to("sendMessage") if contains in c.params.get("text", ""))


def reaction(message_id: int, who: dict[str, Any], emoji: str) -> dict[str, Any]:
    update_id = next(_ids)  # the fake serves updates by offset: ids must keep increasing
    return {"update_id": update_id, "message_reaction": {
        "chat": group_chat(), "message_id": message_id, "user": who, "date": 1_735_689_600 + update_id,
        "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": emoji}]}}


async def add_course(app: App) -> None:
    def write(session: Any) -> None:
        cid = session.execute(select(Community.id).where(Community.external_id == str(GROUP))).scalar_one()
        now = utcnow()
        for key, prereq in (("setup", ()), ("basics", ("setup",)), ("asyncio", ("basics",))):
            service.add_item(session, cid, ItemSpec(key=key, title=f"Lesson {key}",
                                                    url=f"https://learn.example.com/{key}",
                                                    tags=("python",), prerequisites=prereq, points=10), at=now)

    await app.store.write(write)


async def test_member_journey_through_telegram(app: App, fake: FakeTelegram, make_adapter: Any) -> None:
    await make_adapter()
    fake.set_status(GROUP, 1003, "administrator")
    fake.push_update(message("How do I run two coroutines at once in asyncio?", sender=ADA, message_id=10))
    fake.push_update(message("Use asyncio.gather(first(), second()) and await it", sender=GRACE,
                             message_id=11, reply_to_message={"message_id": 10, "date": 1_735_689_600,
                                                              "chat": group_chat(), "from": ADA, "text": "q"}))
    fake.push_update(reaction(11, ADA, "👍"))
    fake.push_update(message("/me", sender=GRACE, message_id=12))
    me = await said(fake, "points")
    assert "Grace" in me["text"] and me["parse_mode"] == "HTML"

    fake.push_update(message("/points give @grace 5 clear answer", sender=LINUS, message_id=13))
    await said(fake, "Gave")

    def manual(session: Any) -> list[int]:
        return list(session.execute(select(PointsEntry.amount).where(PointsEntry.rule == "manual")).scalars())

    async def manual_entry() -> bool:
        return await app.store.read(manual) == [5]

    await eventually(manual_entry)
    fake.push_update(message("/points give @grace 5 sneaky", sender=ADA, message_id=14))
    await said(fake, "moderators and above")

    fake.push_update(message("/leaderboard all", sender=ADA, message_id=15))
    board = await said(fake, "Leaderboard")
    assert "Grace" in board["text"]

    await add_course(app)
    fake.push_update(message("/recommend 2", sender=ADA, message_id=16))
    rec = await said(fake, "Recommended for you")
    buttons = [b for row in rec["reply_markup"]["inline_keyboard"] for b in row]
    assert any(b.get("url", "").startswith("https://learn.example.com/") for b in buttons)
    like = next(b for b in buttons if "interested" in b["text"])

    fake.push_update({"update_id": next(_ids), "callback_query": {
        "id": "cb-like", "chat_instance": "1", "from": ADA, "data": like["callback_data"],
        "message": {"message_id": 999, "date": 1_735_689_700, "chat": group_chat(),
                    "from": {"id": 424242, "is_bot": True, "first_name": "Cohort"}, "text": "Recommended"}}})
    await fake.wait_for("answerCallbackQuery")

    async def clicked() -> bool:
        rows = await app.store.read(lambda s: s.execute(
            select(RecommendationImpression.clicked_at).where(RecommendationImpression.clicked_at.is_not(None))
        ).all())
        return len(rows) == 1

    await eventually(clicked)

    fake.push_update(message("/done setup", sender=ADA, message_id=17))
    await said(fake, "✓ Done")
    fake.push_update(message("/path asyncio", sender=ADA, message_id=18))
    path = await said(fake, "Path to")
    assert "basics" in path["text"] and "setup" not in path["text"].split("to go")[1]
