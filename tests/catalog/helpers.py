"""Shared helpers for the catalog and recommendation scenario tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.bootstrap import App
from engine.catalog.items import plan_import, spec_from_row
from engine.catalog.service import apply_import, prerequisite_map
from engine.catalog.tables import CatalogItem
from engine.events import ButtonClicked
from engine.store.models import Community, Interaction
from tests.doubles.events import T0, base, command, message
from tests.doubles.messenger import RecordingMessenger


async def say(app: App, tg: RecordingMessenger, user: str, name: str, *args: str, **kw: Any) -> str:
    """Dispatch ``/name args`` from ``user``; returns the plain text of the bot's reply."""
    before = len(tg.said)
    await app.dispatch(command(user, name, *args, **kw), tg)
    new = [s for s in tg.said[before:] if s.kind == "reply"]
    assert new, f"/{name} got no reply"
    return new[-1].plain


async def click(app: App, tg: RecordingMessenger, user: str, data: str, n: int = 0) -> None:
    """Dispatch a button click carrying ``data``."""
    await app.dispatch(ButtonClicked(**base(user), message_id="bot-1", data=data, click_id=f"k{user}{data}{n}"), tg)


async def community_id(app: App, ext: str = "g1") -> int:
    """Internal id of the console community ``ext`` (creating it via a message if needed)."""
    def read(session: Any) -> int | None:
        return session.scalar(select(Community.id).where(Community.external_id == ext))
    cid = await app.store.read(read)
    if cid is None:
        await app.dispatch(message("setup", "hello", community=ext), RecordingMessenger())
        cid = await app.store.read(read)
    assert cid is not None
    return int(cid)


async def load_rows(app: App, rows: list[dict[str, Any]], ext: str = "g1") -> int:
    """Import catalog rows (as the CLI would) into community ``ext``; returns its id."""
    cid = await community_id(app, ext)

    def write(session: Any) -> None:
        specs = [spec_from_row(row, n) for n, row in enumerate(rows, 1)]
        apply_import(session, cid, plan_import(specs, [], prerequisite_map(session, cid)), at=T0)

    await app.store.write(write)
    return cid


async def items(app: App, cid: int) -> dict[str, CatalogItem]:
    """The community's items by key."""
    found = await app.store.read(lambda s: list(s.scalars(select(CatalogItem).where(CatalogItem.community_id == cid))))
    return {item.key: item for item in found}


async def item_interactions(app: App, kind: str | None = None) -> list[tuple[int, int | None, str]]:
    """``(member_id, item_id, kind)`` of logged interactions that carry an item."""
    def read(session: Any) -> list[tuple[int, int | None, str]]:
        query = select(Interaction.member_id, Interaction.item_id, Interaction.kind).where(
            Interaction.item_id.is_not(None))
        if kind is not None:
            query = query.where(Interaction.kind == kind)
        return [tuple(r) for r in session.execute(query)]  # type: ignore[misc]
    return await app.store.read(read)


COURSE = [
    {"key": "setup", "title": "Installing Python", "url": "https://learn.example.com/setup", "tags": "setup",
     "points": 10},
    {"key": "basics", "title": "Python basics", "url": "https://learn.example.com/basics", "tags": "basics",
     "prerequisites": "setup", "points": 10},
    {"key": "functions", "title": "Functions", "url": "https://learn.example.com/functions", "tags": "functions",
     "prerequisites": "basics", "points": 20},
    {"key": "asyncio-basics", "title": "asyncio: coroutines and await", "url": "https://learn.example.com/asyncio",
     "tags": "asyncio", "description": "协程 异步 await event loop", "prerequisites": "functions", "points": 30},
    {"key": "asyncio-tasks", "title": "asyncio tasks and timeouts", "url": "https://learn.example.com/tasks",
     "tags": "asyncio", "description": "任务 超时 取消", "prerequisites": "asyncio-basics", "points": 30},
    {"key": "testing", "title": "Testing with pytest", "url": "https://learn.example.com/testing", "tags": "testing",
     "prerequisites": "functions", "points": 20},
]
