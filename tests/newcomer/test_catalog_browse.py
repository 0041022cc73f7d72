"""Browsing the catalog: ``/catalog [#tag]``, ``/done`` naming the prerequisites still to do,
thread items that open where they live (Telegram topic links, Discord jump URLs), and
recommendation lists without two items of the same title."""

from __future__ import annotations

import copy
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.console import ConsoleAdapter, ConsoleState
from bot.adapters.telegram.updates import to_events
from bot.bootstrap import App
from bot.ports import Role
from engine.catalog.links import ThreadPlace, jump_link
from engine.events import MessagePosted, Platform, ThreadOpened
from tests.catalog.helpers import COURSE, load_rows
from tests.doubles.events import at, command
from tests.doubles.messenger import RecordingMessenger

TG_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"


def _console(app: App, out: list[str]) -> ConsoleAdapter:
    # a minute between lines, as a person types: the command budget (10 per 20 s) is not what is tested
    ticks = itertools.count()
    state = ConsoleState(community="g1", user="owner",
                         clock=lambda: datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(minutes=next(ticks)))
    state.roles["owner"] = Role.OWNER
    return ConsoleAdapter(app.dispatch, state, write=out.append)


async def test_catalog_lists_everything_or_one_tag_and_names_close_tags(app: App) -> None:
    await load_rows(app, COURSE)
    out: list[str] = []
    console = _console(app, out)
    say = console.handle_line
    await say("/as ann")
    await say("hello, ann is here to learn some python today")
    await say("/catalog")
    shown = out[-1]
    assert "Catalog — 6 in all" in shown
    for key in ("setup", "basics", "functions", "asyncio-basics", "asyncio-tasks", "testing"):
        assert f"\n{key} — " in shown, (key, shown)
    assert "Tags: #asyncio" in shown  # the most used tag first
    assert "Installing Python (https://learn.example.com/setup) #setup" in shown

    await say("/catalog #asyncio")
    assert "Catalog — #asyncio (2)" in out[-1]
    assert "asyncio-basics — " in out[-1] and "asyncio-tasks — " in out[-1] and "setup — " not in out[-1]
    await say("/catalog ASYNCIO")  # the # is optional, case does not matter
    assert "Catalog — #asyncio (2)" in out[-1]

    await say("/catalog #asyncoi")
    assert out[-1].endswith("No item is tagged #asyncoi. Close tags: #asyncio"), out[-1]
    await say("/catalog #test")
    assert "Close tags: #testing" in out[-1]
    await say("/catalog #zzz")
    assert "No item is tagged #zzz. Tags here: #asyncio #basics #functions #setup #testing" in out[-1]
    await say("/catalog #a #b")
    assert "Usage: /catalog or /catalog #tag" in out[-1]

    # /done names the prerequisites still to do, and /catalog marks what is done
    await say("/done functions")
    assert "✓ Done: functions — Functions" in out[-1]
    assert "prerequisites you haven't marked done yet: basics — /path functions shows the order" in out[-1]
    await say("/done setup")
    assert "prerequisites" not in out[-1]
    await say("/done basics")
    assert "prerequisites" not in out[-1]
    await say("/done asyncio-basics")
    assert "prerequisites" not in out[-1]  # functions, its only prerequisite, is done
    await say("/catalog")
    assert "\n✓ setup — " in out[-1] and "\n✓ functions — " in out[-1] and "\ntesting — " in out[-1]


async def test_catalog_and_done_answer_in_chinese(app: App) -> None:
    await load_rows(app, COURSE)
    out: list[str] = []
    console = _console(app, out)
    say = console.handle_line
    await say("hello, the owner sets the language first")
    await say("/config language zh")
    await say("/catalog #asyncoi")
    assert "没有带 #asyncoi 标签的内容。相近的标签：#asyncio" in out[-1]
    await say("/catalog")
    assert "课程目录 — 共 6 项" in out[-1] and "标签：#asyncio" in out[-1]
    await say("/done testing")
    assert "它的前置内容你还没有完成：functions — 用 /path testing 查看顺序。" in out[-1]


async def test_an_empty_catalog_says_so(app: App) -> None:
    out: list[str] = []
    console = _console(app, out)
    await console.handle_line("hello, nothing in the catalog yet here")
    await console.handle_line("/catalog")
    assert "The catalog is empty. Moderators can add items with /item add." in out[-1]
    await console.handle_line("/catalog #python")
    assert "The catalog is empty" in out[-1]


def test_jump_links_per_platform() -> None:
    private = ThreadPlace("telegram", "-1009876543210", "-1009876543210", "700", "701")
    assert jump_link(private) == "https://t.me/c/9876543210/700/701"
    assert jump_link(ThreadPlace("telegram", "-1009876543210", "-1009876543210", "700")) == \
        "https://t.me/c/9876543210/700"
    public = ThreadPlace("telegram", "-1001", "-1001", "700", "701", chat_username="dsforum")
    assert jump_link(public) == "https://t.me/dsforum/701"
    assert jump_link(ThreadPlace("telegram", "-4000", "-4000", "5", "6")) is None  # a basic group
    assert jump_link(ThreadPlace("discord", "111", "222", "333", "444")) == \
        "https://discord.com/channels/111/333/444"
    assert jump_link(ThreadPlace("discord", "111", "222", "333")) == "https://discord.com/channels/111/333"
    assert jump_link(ThreadPlace("console", "demo", "general", "week 1", "7")) is None


def _update(name: str, **chat: Any) -> dict[str, Any]:
    update = json.loads((TG_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    for message in (update["message"], update["message"].get("reply_to_message") or {}):
        if "chat" in message:
            message["chat"].update(chat)
    return copy.deepcopy(update)


async def _telegram_topic(app: App, tg: RecordingMessenger, **chat: Any) -> str:
    """A forum topic and its first message, through the Telegram update mapping."""
    for name in ("forum_topic_created", "forum_message"):
        for event in to_events(_update(name, **chat), "CohortTestBot", 424242):
            await app.dispatch(event, tg)
    return str(chat.get("id", -1009876543210))


async def test_thread_items_link_to_their_telegram_topic(app: App) -> None:
    tg = RecordingMessenger(platform=Platform.TELEGRAM)
    forum = await _telegram_topic(app, tg)
    await app.dispatch(command("1002", "catalog", platform=Platform.TELEGRAM, community=forum), tg)
    assert "https://t.me/c/9876543210/700/701" in tg.said[-1].text, tg.said[-1].text

    public = await _telegram_topic(app, tg, id=-1005555555555, username="dsforum", title="DS public")
    await app.dispatch(command("1002", "catalog", platform=Platform.TELEGRAM, community=public), tg)
    assert "https://t.me/dsforum/701" in tg.said[-1].text, tg.said[-1].text

    await app.dispatch(command("1003", "recommend", platform=Platform.TELEGRAM, community=public), tg)
    said = tg.said[-1]
    assert "https://t.me/dsforum/701" in said.text
    assert any(b.url == "https://t.me/dsforum/701" for b in said.buttons), said.buttons


async def test_thread_items_link_to_their_discord_thread(app: App) -> None:
    dc = RecordingMessenger(platform=Platform.DISCORD)
    where: dict[str, Any] = {"platform": Platform.DISCORD, "community_id": "111", "chat_id": "222",
                             "thread_id": "333", "user_id": "9", "user_name": "Chen Wei"}
    await app.dispatch(ThreadOpened(**where, at=at(0), message_id="333", title="How do I merge two frames?"), dc)
    await app.dispatch(MessagePosted(**where, at=at(1), message_id="333", text="How do I merge two frames? "
                                     "I tried concat", is_topic_start=True), dc)
    await app.dispatch(command("10", "catalog", platform=Platform.DISCORD, community="111", chat="222"), dc)
    assert "https://discord.com/channels/111/333/333" in dc.said[-1].text, dc.said[-1].text
    await app.dispatch(command("10", "recommend", platform=Platform.DISCORD, community="111", chat="222"), dc)
    assert any(b.url == "https://discord.com/channels/111/333/333" for b in dc.said[-1].buttons)


async def test_a_recommendation_list_never_shows_two_items_with_the_same_title(app: App) -> None:
    same = "How do I break out of two nested loops?"
    rows = [{"key": f"loops-{n}", "title": same if n % 2 else same.upper(), "url": f"https://q.example.com/{n}"}
            for n in range(6)]
    rows += [{"key": f"other-{n}", "title": f"Another question {n}", "url": f"https://q.example.com/o{n}"}
             for n in range(2)]
    await load_rows(app, rows)
    tg = RecordingMessenger()
    for member in ("ann", "bob", "cy", "dee"):
        await app.dispatch(command(member, "recommend", "10"), tg)
        titles = re.findall(r"^\d+\. (?:🔍 )?<a href=\"[^\"]+\">([^<]+)</a>", tg.said[-1].text, flags=re.M)
        assert len(titles) == 3, tg.said[-1].text  # three distinct titles exist, so three picks
        assert len({t.casefold() for t in titles}) == len(titles), titles
