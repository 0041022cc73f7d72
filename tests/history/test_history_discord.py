"""DiscordChatExporter JSON → events: threads, replies, reactions, commands, bots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.events import (
    CommandInvoked,
    MemberJoined,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionCountChanged,
    ThreadOpened,
)
from engine.history import HistoryFormatError, detect_format, read_discord_export, read_history
from tests.history.helpers import DISCORD_GENERAL, DISCORD_THREAD, TELEGRAM

GUILD, GENERAL, THREAD = "900000000000000001", "910000000000000001", "960000000000000001"
ALICE, BOB, CAROL = "100000000000000001", "100000000000000002", "100000000000000003"


def _by_id(events: list, kind: type, message_id: str):
    return next(e for e in events if isinstance(e, kind) and e.message_id == message_id)


def test_channel_messages() -> None:
    events = list(read_discord_export(DISCORD_GENERAL))
    assert all(e.platform is Platform.DISCORD and e.community_id == GUILD for e in events)
    assert {e.chat_id for e in events if not isinstance(e, MemberJoined)} == {GENERAL}
    hello = _by_id(events, MessagePosted, "920000000000000002")
    assert (hello.user_id, hello.user_name, hello.username) == (ALICE, "Alice L.", "alice")
    assert hello.at == datetime(2024, 4, 1, 8, 5, 0, 123000, tzinfo=UTC)
    assert hello.links == ("https://learn.example.com/python/generators",)
    assert hello.mentions == (BOB,)
    assert hello.attachment == "photo"
    assert hello.thread_id is None and not hello.is_topic_start
    reply = _by_id(events, MessagePosted, "920000000000000003")
    assert (reply.reply_to_message_id, reply.reply_to_user_id) == ("920000000000000002", ALICE)
    unicode = _by_id(events, MessagePosted, "920000000000000008")
    assert unicode.text == "שלום \u200f 你好 🧑🏽\u200d💻" and unicode.attachment == "sticker"


def test_reactions_users_total_and_custom_emoji() -> None:
    events = list(read_discord_export(DISCORD_GENERAL))
    added = {(e.user_id, e.emoji, e.target_user_id) for e in events if isinstance(e, ReactionAdded)}
    assert added == {(BOB, "👍", ALICE), (CAROL, "<:pythonheart:940000000000000001>", ALICE)}
    (total,) = [e for e in events if isinstance(e, ReactionCountChanged)]
    assert (total.emoji, total.count, total.user_id) == ("👍", 3, "")


def test_join_bot_and_slash_command() -> None:
    events = list(read_discord_export(DISCORD_GENERAL))
    (joined,) = [e for e in events if isinstance(e, MemberJoined)]
    assert (joined.user_id, joined.user_name, joined.chat_id) == (ALICE, "Alice L.", GUILD)
    (command,) = [e for e in events if isinstance(e, CommandInvoked)]
    assert (command.name, command.user_id, command.is_bot) == ("points", BOB, False)
    answer = _by_id(events, MessagePosted, "920000000000000004")
    assert answer.is_bot and answer.user_name == "CohortBot"


def test_thread_created_in_parent_and_thread_export_share_a_key() -> None:
    parent = [e for e in read_discord_export(DISCORD_GENERAL) if isinstance(e, ThreadOpened)]
    thread_events = list(read_discord_export(DISCORD_THREAD))
    opened = [e for e in thread_events if isinstance(e, ThreadOpened)]
    assert len(parent) == len(opened) == 1
    assert parent[0].dedup_key == opened[0].dedup_key
    assert (opened[0].thread_id, opened[0].chat_id, opened[0].title) == (THREAD, GENERAL, "asyncio help")
    assert opened[0].user_id == BOB  # a forum post: the starter message shares the thread id
    posts = [e for e in thread_events if isinstance(e, MessagePosted)]
    assert all(p.thread_id == THREAD and p.chat_id == GENERAL for p in posts)
    assert [p.is_topic_start for p in posts] == [True, False]
    assert posts[1].reply_to_user_id == BOB
    (accepted,) = [e for e in thread_events if isinstance(e, ReactionAdded)]
    assert (accepted.emoji, accepted.user_id, accepted.target_user_id) == ("✅", BOB, ALICE)


def test_malformed_records_and_ignored_types() -> None:
    stream = read_discord_export(DISCORD_GENERAL)
    list(stream)
    where = {(s.record, s.field) for s in stream.report.skipped}
    assert where == {("920000000000000006", "timestamp"), ("920000000000000009", "author")}
    assert stream.report.ignored_by_type == {"type:ChannelPinnedMessage": 1}


def test_dedup_keys_stable() -> None:
    first = [e.dedup_key for e in read_discord_export(DISCORD_GENERAL)]
    assert first == [e.dedup_key for e in read_discord_export(DISCORD_GENERAL)]
    assert len(set(first)) == len(first)


def test_format_detection_and_rejection() -> None:
    assert detect_format(DISCORD_GENERAL) == "discord"
    assert detect_format(TELEGRAM) == "telegram"
    assert [e.dedup_key for e in read_history(DISCORD_THREAD)] == [
        e.dedup_key for e in read_discord_export(DISCORD_THREAD)
    ]
    with pytest.raises(HistoryFormatError, match="missing guild"):
        read_discord_export(TELEGRAM)
