"""/atrisk on Telegram: python-telegram-bot's real HTTP client against the fake Bot API,
the real router, handler and store; the scores are what the daily job stores."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.adapters.telegram import TelegramAdapter
from bot.bootstrap import App
from engine.store.models import Community
from tests.churn.seed import store_risks
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import GROUP, AdapterFactory, message
from tests.telegram.test_moderation_platform import ADA, GRACE, LINUS, MIA, ask, texts

SCORED = date(2026, 3, 2)


async def scored_community(app: App, fake: FakeTelegram, make_adapter: AdapterFactory) -> TelegramAdapter:
    """Ada, Grace, Linus (a Telegram admin) and Mia (a Cohort moderator) have spoken; Grace
    is at 90 % risk, Ada at 20 %."""
    adapter = await make_adapter()
    fake.set_status(GROUP, 1003, "administrator")
    for who in (ADA, GRACE, LINUS, MIA):
        fake.push_update(message(f"hello, I am {who['first_name']}", sender=who))
    await ask(fake, "/mod add @mia", LINUS, "now a Cohort moderator")
    with Session(app.store.engine) as session:
        store_risks(session, "telegram", str(GROUP), {"1002": 0.9, "1001": 0.2}, SCORED,
                    last_active=datetime(2026, 2, 10, tzinfo=UTC))
    return adapter


async def test_a_moderator_lists_and_inspects_members_at_risk(app: App, fake: FakeTelegram,
                                                             make_adapter: AdapterFactory) -> None:
    await scored_community(app, fake, make_adapter)
    reply = await ask(fake, "/atrisk", MIA, "At risk")
    assert "scored 2026-03-02: 1 flagged of 2" in reply
    assert "⚑ <b>Grace</b> — 90%" in reply and "silent for 18 days" in reply
    assert "last active 2026-02-10 (20 d ago)" in reply and "Ada" not in reply  # 20 % is under the threshold
    call = fake.calls_to("sendMessage")[-1]
    assert call.params["chat_id"] == GROUP and call.params.get("parse_mode") == "HTML"

    one = await ask(fake, "/atrisk @grace", MIA, "risk")
    assert one.startswith("<b>Grace</b>: risk 90% (flagged, scored 2026-03-02)") and "• silent for 18 days" in one
    one = await ask(fake, "/atrisk @ada", LINUS, "risk")  # an admin may too
    assert "risk 20% (not flagged" in one


async def test_members_without_rights_and_bad_arguments_get_a_clear_answer(app: App, fake: FakeTelegram,
                                                                            make_adapter: AdapterFactory) -> None:
    await scored_community(app, fake, make_adapter)
    refused = await ask(fake, "/atrisk", ADA, "/atrisk")
    assert refused == "/atrisk is for moderators and above."
    for text, expect in (("/atrisk ²", "² is not a valid n"), ("/atrisk -1", "-1 is not a valid n"),
                         ("/atrisk 0", "0 is not a valid n"), ("/atrisk 5 x", "x is not a valid page"),
                         ("/atrisk @nobody", "I don't know @nobody in this community."),
                         ("/atrisk @grace 3", "Usage: /atrisk")):
        reply = await ask(fake, text, MIA, expect)
        assert "Traceback" not in reply and "Grace</b> —" not in reply, (text, reply)
    assert not any("Traceback" in t or "Error" in t for t in texts(fake))


async def test_atrisk_answers_in_chinese_when_the_community_says_so(app: App, fake: FakeTelegram,
                                                                   make_adapter: AdapterFactory) -> None:
    await scored_community(app, fake, make_adapter)
    await app.store.write(lambda s: s.execute(update(Community).values(settings={"language": "zh"})))
    reply = await ask(fake, "/atrisk", MIA, "流失风险")
    assert "2026-03-02 评分，2 人中 1 人被标记" in reply and "已经 18 天没有动静" in reply
    assert "最后活跃 2026-02-10（20 天前）" in reply and "第 1/1 页" in reply
    bad = await ask(fake, "/atrisk ²", MIA, "不是有效的")
    assert "用法" in bad

