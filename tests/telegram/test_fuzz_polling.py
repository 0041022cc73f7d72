"""10,000 malformed updates through the real stack (fake Bot API → PTB's HTTP client →
Cohort's polling loop → store), interleaved with well-formed ones: the process stays alive,
every well-formed update is stored, /help is still answered and nothing raises."""

from __future__ import annotations

import copy
import logging
import random
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.bootstrap import App
from engine.ingest.tables import DeadLetter
from engine.store.models import Message
from tests.fakes.telegram_api import FakeTelegram

from .conftest import AdapterFactory, eventually, group_chat, message, user

MALFORMED = 10_000
GOOD_EVERY = 50  # one well-formed update after every 50 malformed ones


def _odd(rng: random.Random, depth: int = 0) -> Any:
    """A value of the wrong kind for wherever it lands."""
    pick = rng.randrange(12)
    if pick == 0:
        return {"id": rng.randrange(10)}
    if pick == 1:
        return [rng.randrange(10), "x"]
    if pick == 2:
        return "\ud83d" + "lone" + "\udc00"
    if pick == 3:
        return "y" * rng.choice((300, 3_000, 20_000))
    if pick == 4:
        nested: Any = "bottom"
        for _ in range(rng.randrange(20, 200)):
            nested = {"n": nested} if rng.random() < 0.5 else [nested]
        return nested
    if pick == 5:
        return rng.choice((True, False, None))
    if pick == 6:
        return rng.uniform(-1e20, 1e20)
    if pick == 7:
        return 2**70 + rng.randrange(1000)
    if pick == 8:
        return "12345"
    if pick == 9:
        return -rng.randrange(2**40)
    if pick == 10:
        return "\x00\u202e\u200b"
    return {} if depth else _odd(rng, depth + 1)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _templates() -> list[dict[str, Any]]:
    chat = group_chat()
    return [
        message("/points @ada thanks", update_id=0, message_id=1,
                entities=[{"type": "bot_command", "offset": 0, "length": 7}, {"type": "mention", "offset": 8, "length": 4}]),
        message("a reply", update_id=0, message_id=2,
                reply_to_message={"message_id": 1, "date": 1735689600, "chat": chat, "from": user(1002)}),
        {"update_id": 0, "edited_message": {"message_id": 1, "date": 1735689600, "edit_date": 1735689700,
                                            "chat": chat, "from": user(1001), "text": "edited"}},
        {"update_id": 0, "callback_query": {"id": "cb", "from": user(1001), "data": "vote:yes", "chat_instance": "1",
                                            "message": {"message_id": 1, "date": 1735689600, "chat": chat}}},
        {"update_id": 0, "message_reaction": {"chat": chat, "message_id": 1, "date": 1735689600, "user": user(1002),
                                              "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}},
        {"update_id": 0, "message_reaction_count": {"chat": chat, "message_id": 1, "date": 1735689600,
                                                    "reactions": [{"type": {"type": "emoji", "emoji": "🔥"},
                                                                   "total_count": 3}]}},
        {"update_id": 0, "chat_member": {"chat": chat, "from": user(1001), "date": 1735689600,
                                         "old_chat_member": {"status": "left", "user": user(1003)},
                                         "new_chat_member": {"status": "member", "user": user(1003)}}},
        {"update_id": 0, "message": {"message_id": 3, "date": 1735689600, "chat": chat, "from": user(1001),
                                     "new_chat_members": [user(1004)]}},
    ]


def malformed(rng: random.Random, uid: int, templates: list[tuple[dict[str, Any], list[tuple[Any, ...]]]]) -> dict[str, Any]:
    template, paths = rng.choice(templates)
    update = copy.deepcopy(template)
    if rng.random() < 0.08:  # an update kind nobody knows, or none at all
        return {"update_id": uid, **({f"kind_{rng.randrange(99)}": _odd(rng)} if rng.random() < 0.7 else {})}
    for path in rng.sample(paths, rng.randint(1, 3)):
        node: Any = update
        try:
            for key in path[:-1]:
                node = node[key]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change replaced this part
        if isinstance(node, dict) and rng.random() < 0.25:
            node.pop(path[-1], None)  # a missing field
        elif isinstance(node, dict) or (isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node)):
            node[path[-1]] = _odd(rng)
    update["update_id"] = uid
    return update


@pytest.mark.filterwarnings("ignore")
async def test_fuzzed_updates_through_ptb_polling(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rng = random.Random(11)
    templates = [(t, [p for p in _paths(t) if p[0] != "update_id"]) for t in _templates()]
    adapter = await make_adapter(overall_rate=0, group_rate_per_minute=0, max_in_flight=256)
    updates: list[dict[str, Any]] = []
    good: list[str] = []
    uid = 1
    for i in range(MALFORMED):
        updates.append(malformed(rng, uid, templates))
        uid += 1
        if i % GOOD_EVERY == GOOD_EVERY - 1:
            mid = 1_000_000 + uid
            updates.append(message(f"well-formed {uid}", update_id=uid, message_id=mid, sender=user(2000 + uid % 30)))
            good.append(str(mid))
            uid += 1
    updates.append(message("/help", update_id=uid, message_id=9_999_999))
    fake.push_updates(updates)

    async def help_answered() -> bool:
        return any("Commands you can use" in c.params.get("text", "") for c in fake.calls_to("sendMessage"))
    await eventually(help_answered, timeout=120)
    await adapter.drain()

    stored = set(await app.store.read(lambda s: s.execute(
        select(Message.external_id).where(Message.external_id.in_(good))).scalars().all()))
    assert stored == set(good) and len(good) == MALFORMED // GOOD_EVERY
    letters = await app.store.read(lambda s: s.execute(select(func.count()).select_from(DeadLetter)).scalar_one())
    assert adapter.updates_seen == len(updates)
    assert letters == adapter.updates_quarantined and letters > MALFORMED // 3
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert max(len(r.getMessage()) for r in caplog.records) < 400
