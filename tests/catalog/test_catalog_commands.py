"""/item, /done, /rate, /path and link/thread auto-items through the real router + store."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.bootstrap import App
from bot.ports import Role
from engine.events import MessagePosted, ThreadOpened
from tests.catalog.helpers import COURSE, community_id, item_interactions, items, load_rows, say
from tests.doubles.events import base, message, react
from tests.doubles.messenger import RecordingMessenger


@pytest.fixture
def tg() -> RecordingMessenger:
    return RecordingMessenger(roles={"mod": Role.MODERATOR})


async def test_item_add_edit_remove_needs_a_moderator_and_validates(app: App, tg: RecordingMessenger) -> None:
    cid = await community_id(app)
    assert "moderator" in await say(app, tg, "ann", "item", "add", "https://x.example.com/a")
    assert "http" in await say(app, tg, "mod", "item", "add", "ftp://nope")
    assert "Usage" in await say(app, tg, "mod", "item", "frobnicate")
    reply = await say(app, tg, "mod", "item", "add", "https://Example.com/guide/?utm_source=x", "Async", "guide",
                      "#asyncio", "#Python")
    assert "Added" in reply and "async-guide" in reply
    stored = (await items(app, cid))["async-guide"]
    assert stored.url == "https://example.com/guide" and stored.tags == ["asyncio", "python"]
    assert "already in the catalog" in await say(app, tg, "mod", "item", "add", "https://example.com/guide")
    assert "Updated" in await say(app, tg, "mod", "item", "edit", "async-guide", "points", "25")
    assert (await items(app, cid))["async-guide"].points == 25
    assert "unknown field" in await say(app, tg, "mod", "item", "edit", "async-guide", "colour", "red")
    assert "whole number" in await say(app, tg, "mod", "item", "edit", "async-guide", "points", "many")
    assert "no catalog item" in await say(app, tg, "mod", "item", "edit", "nope", "title", "x")
    assert "moderator" in await say(app, tg, "ann", "item", "remove", "async-guide")
    assert "Removed" in await say(app, tg, "mod", "item", "remove", "async-guide")
    assert await items(app, cid) == {}


async def test_prerequisite_cycle_is_refused_on_edit(app: App, tg: RecordingMessenger) -> None:
    cid = await load_rows(app, COURSE)
    reply = await say(app, tg, "mod", "item", "edit", "setup", "prerequisites", "functions")
    assert "cycle" in reply and "setup" in reply and "functions" in reply
    assert (await items(app, cid))["setup"].prerequisites == []
    assert "unknown prerequisite" in await say(app, tg, "mod", "item", "edit", "setup", "prerequisites", "ghost")


async def test_shared_links_and_threads_become_items(app: App, tg: RecordingMessenger) -> None:
    cid = await community_id(app)
    post = MessagePosted(**base("ann"), message_id="L1", text="Great intro to #asyncio https://blog.example.com/async-intro/",
                         links=("https://blog.example.com/async-intro/",))
    await app.dispatch(post, tg)
    again = MessagePosted(**base("bob"), message_id="L2", text="this one",
                          links=("http://www.blog.example.com/async-intro?utm_medium=chat",))
    await app.dispatch(again, tg)
    await app.dispatch(react("cat", post), tg)
    found = await items(app, cid)
    assert list(found) == ["async-intro"]
    item = found["async-intro"]
    assert item.kind == "link" and item.tags == ["asyncio"] and "Great intro" in item.title
    kinds = sorted(k for _, i, k in await item_interactions(app) if i == item.id)
    assert kinds == ["reaction", "share", "share"]

    await app.dispatch(ThreadOpened(**base("dan"), thread_id="T9", title="How do I cancel a task?"), tg)
    await app.dispatch(message("eve", "use asyncio.wait_for", thread_id="T9"), tg)
    thread_item = next(i for i in (await items(app, cid)).values() if i.kind == "thread")
    assert thread_item.title == "How do I cancel a task?"
    assert any(k == "reply_in_thread" and i == thread_item.id for _, i, k in await item_interactions(app))


async def test_done_is_idempotent_and_pays_points(app: App, tg: RecordingMessenger) -> None:
    cid = await load_rows(app, COURSE)
    await app.dispatch(message("ann", "hi all"), tg)
    first = await say(app, tg, "ann", "done", "Functions")
    assert "Done" in first and "+20 points" in first
    assert "already" in await say(app, tg, "ann", "done", "functions")
    assert "no catalog item" in await say(app, tg, "ann", "done", "ghost")
    assert "Usage" in await say(app, tg, "ann", "done")
    completions = [r for r in await item_interactions(app, "completion")]
    assert len(completions) == 1
    from engine.points.tables import PointsEntry

    paid = await app.store.read(lambda s: list(s.scalars(select(PointsEntry.amount).where(
        PointsEntry.rule == "completion", PointsEntry.community_id == cid))))
    assert paid == [20]


async def test_rate_validates(app: App, tg: RecordingMessenger) -> None:
    await load_rows(app, COURSE)
    for bad in ("0", "6", "five", "3.5"):
        assert "1 to 5" in await say(app, tg, "ann", "rate", "basics", bad)
    assert "Usage" in await say(app, tg, "ann", "rate", "basics")
    assert "no catalog item" in await say(app, tg, "ann", "rate", "ghost", "4")
    assert "Rated" in await say(app, tg, "ann", "rate", "basics", "4")
    assert "Updated" in await say(app, tg, "ann", "rate", "basics", "2")
    assert len(await item_interactions(app, "rating")) == 1  # only the 4 is a positive signal


async def test_path_orders_steps_and_skips_completed(app: App, tg: RecordingMessenger) -> None:
    await load_rows(app, COURSE)
    reply = await say(app, tg, "ann", "path", "asyncio-tasks")
    assert steps(reply) == ["setup", "basics", "functions", "asyncio-basics", "asyncio-tasks"]
    await say(app, tg, "ann", "done", "setup")
    await say(app, tg, "ann", "done", "basics")
    assert steps(await say(app, tg, "ann", "path", "#asyncio")) == ["functions", "asyncio-basics", "asyncio-tasks"]
    assert "no tag" in await say(app, tg, "ann", "path", "#rust")
    assert "no item" in await say(app, tg, "ann", "path", "rust")
    assert "Usage" in await say(app, tg, "ann", "path")


def steps(reply: str) -> list[str]:
    return re.findall(r"^\d+\. (\S+) —", reply, flags=re.M)


async def test_empty_catalog_path_reply(app: App, tg: RecordingMessenger) -> None:
    await community_id(app)
    await app.dispatch(message("ann", "hi"), tg)
    assert "catalog is empty" in await say(app, tg, "ann", "path", "#x")
