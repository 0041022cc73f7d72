"""gateway.py on raw payload fixtures (tests/fixtures/discord/<DISPATCH TYPE>.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.discord.gateway import (
    ChannelInfo,
    GatewayContext,
    emoji_text,
    links_in,
    parse_command,
    snowflake,
    snowflake_time,
    timestamp,
    translate,
)
from engine.events import (
    ButtonClicked,
    CommandInvoked,
    MemberJoined,
    MemberLeft,
    MessageDeleted,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ThreadOpened,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "discord"
GUILD, GENERAL, THREAD, FORUM, POST, DM = (
    "1100000000000000001", "1100000000000000010", "1100000000000000020",
    "1100000000000000030", "1100000000000000040", "1100000000000000500",
)
ALICE, BOB, BOT = "1200000000000000001", "1200000000000000002", "1300000000000000001"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

CHANNELS = {
    GENERAL: ChannelInfo(GENERAL, "general"),
    THREAD: ChannelInfo(THREAD, "a thread", GENERAL, is_thread=True),
    FORUM: ChannelInfo(FORUM, "help-forum"),
    POST: ChannelInfo(POST, "How do I read a CSV lazily?", FORUM, is_thread=True),
    DM: ChannelInfo(DM, is_private=True),
}
CTX = GatewayContext(
    bot_user_id=BOT, prefix="!", command_names=frozenset({"help", "points", "leaderboard"}),
    channel=CHANNELS.get, guild_name=lambda gid: "Learners" if gid == GUILD else "", now=lambda: NOW,
)


def case(event_type: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{event_type}.json").read_text())[name]


def one(event_type: str, name: str, ctx: GatewayContext = CTX) -> Any:
    events = translate(event_type, case(event_type, name), ctx)
    assert len(events) == 1, events
    return events[0]


def test_text_message_in_a_channel() -> None:
    ev = one("MESSAGE_CREATE", "text")
    assert isinstance(ev, MessagePosted)
    assert (ev.platform, ev.community_id, ev.chat_id, ev.thread_id) == (Platform.DISCORD, GUILD, GENERAL, None)
    assert (ev.user_id, ev.user_name, ev.username, ev.message_id) == (ALICE, "Ali", "alice", "1240000000000000101")
    assert ev.mentions == (BOB,)
    assert ev.links == ("https://docs.python.org/3/library/asyncio.html", "https://example.com/a")
    assert ev.at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert ev.chat_title == "general" and not ev.is_bot and not ev.is_private and ev.attachment is None


def test_reply_carries_the_replied_message_and_author() -> None:
    ev = one("MESSAGE_CREATE", "reply")
    assert isinstance(ev, MessagePosted)
    assert (ev.reply_to_message_id, ev.reply_to_user_id) == ("1240000000000000101", ALICE)


def test_forward_is_not_a_reply() -> None:
    ev = one("MESSAGE_CREATE", "forward")
    assert ev.forwarded and ev.reply_to_message_id is None


def test_thread_message_uses_parent_as_chat() -> None:
    ev = one("MESSAGE_CREATE", "thread")
    assert (ev.chat_id, ev.thread_id, ev.chat_title) == (GENERAL, THREAD, "general")
    assert not ev.is_topic_start


def test_forum_post_starter_opens_the_topic() -> None:
    ev = one("MESSAGE_CREATE", "forum_starter")
    assert (ev.chat_id, ev.thread_id) == (FORUM, POST)
    assert ev.is_topic_start


def test_thread_with_unknown_parent_is_treated_as_a_channel() -> None:
    ev = one("MESSAGE_CREATE", "thread", GatewayContext(bot_user_id=BOT))
    assert (ev.chat_id, ev.thread_id) == (THREAD, None)


def test_dm_is_private_without_community() -> None:
    ev = one("MESSAGE_CREATE", "dm")
    assert ev.is_private and ev.community_id == "" and ev.chat_id == DM


def test_webhook_and_other_bots_are_recorded_as_bots() -> None:
    hook = one("MESSAGE_CREATE", "webhook")
    assert isinstance(hook, MessagePosted) and hook.is_bot
    assert hook.sender_chat_id == "1400000000000000001"
    other = one("MESSAGE_CREATE", "other_bot")
    assert isinstance(other, MessagePosted) and other.is_bot  # a bot's "!help" is no command


def test_own_messages_are_skipped() -> None:
    assert translate("MESSAGE_CREATE", case("MESSAGE_CREATE", "own"), CTX) == []


@pytest.mark.parametrize("name", ["system_join", "system_pin"])
def test_system_messages_are_skipped_with_a_log_line(name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    assert translate("MESSAGE_CREATE", case("MESSAGE_CREATE", name), CTX) == []
    assert "system message" in caplog.text


def test_embed_without_content_is_an_empty_message() -> None:
    ev = one("MESSAGE_CREATE", "embed_only")
    assert isinstance(ev, MessagePosted) and ev.text == "" and ev.links == ()


def test_attachments_and_stickers() -> None:
    assert one("MESSAGE_CREATE", "attachment").attachment == "photo"
    assert one("MESSAGE_CREATE", "sticker").attachment == "sticker"


def test_prefix_command_with_mention_as_user_id() -> None:
    ev = one("MESSAGE_CREATE", "prefix_command")
    assert isinstance(ev, CommandInvoked)
    assert ev.name == "points"
    assert ev.args == ("give", BOB, "5", "great", "answer")
    assert ev.mentions == (BOB,)
    assert ev.raw_text.startswith("!Points")


def test_prefix_with_unknown_word_stays_a_message() -> None:
    assert isinstance(one("MESSAGE_CREATE", "prefix_not_a_command"), MessagePosted)
    any_word = GatewayContext(bot_user_id=BOT, command_names=None)
    assert isinstance(one("MESSAGE_CREATE", "prefix_not_a_command", any_word), CommandInvoked)


def test_configured_prefix() -> None:
    data = dict(case("MESSAGE_CREATE", "text"), content="?help")
    ctx = GatewayContext(prefix="?", command_names=frozenset({"help"}))
    ev = translate("MESSAGE_CREATE", data, ctx)[0]
    assert isinstance(ev, CommandInvoked) and ev.name == "help" and ev.args == ()


def test_unknown_guild_still_recorded() -> None:
    ev = one("MESSAGE_CREATE", "unknown_guild")
    assert ev.community_id == "1900000000000000001" and ev.chat_title == ""


def test_enormous_message_is_kept_whole() -> None:
    data = dict(case("MESSAGE_CREATE", "text"), content="x" * 4000 + " https://a.example/" + "y" * 3000)
    ev = one_from(data)
    assert len(ev.text) == 4000 + 19 + 3000 and len(ev.links) == 1


def one_from(data: dict[str, Any]) -> Any:
    events = translate("MESSAGE_CREATE", data, CTX)
    assert len(events) == 1
    return events[0]


def test_edit_uses_edited_timestamp() -> None:
    ev = one("MESSAGE_UPDATE", "edit")
    assert isinstance(ev, MessageEdited)
    assert ev.at == datetime(2024, 5, 1, 10, 5, 0, 123000, tzinfo=UTC)
    assert ev.links == ("https://peps.python.org/pep-0008/",) and ev.mentions == (BOB,)
    again = one("MESSAGE_UPDATE", "edit")
    assert again.dedup_key == ev.dedup_key  # a redelivered edit is stored once


def test_link_unfurl_is_not_an_edit() -> None:
    assert translate("MESSAGE_UPDATE", case("MESSAGE_UPDATE", "unfurl"), CTX) == []


def test_edit_in_thread_maps_to_parent() -> None:
    ev = one("MESSAGE_UPDATE", "in_thread")
    assert (ev.chat_id, ev.thread_id) == (GENERAL, THREAD)


def test_deletes_single_and_bulk() -> None:
    ev = one("MESSAGE_DELETE", "guild")
    assert isinstance(ev, MessageDeleted) and ev.user_id == "" and ev.chat_id == GENERAL
    assert one("MESSAGE_DELETE", "thread").chat_id == GENERAL
    assert one("MESSAGE_DELETE", "dm").is_private
    bulk = translate("MESSAGE_DELETE_BULK", case("MESSAGE_DELETE_BULK", "purge"), CTX)
    assert [e.message_id for e in bulk] == ["1240000000000000101", "1240000000000000102"]


def test_unicode_reaction() -> None:
    ev = one("MESSAGE_REACTION_ADD", "unicode")
    assert isinstance(ev, ReactionAdded)
    assert (ev.emoji, ev.user_id, ev.target_user_id, ev.user_name) == ("👍", BOB, ALICE, "Bob B")
    assert ev.at == NOW


def test_custom_and_animated_emoji() -> None:
    assert one("MESSAGE_REACTION_ADD", "custom").emoji == "<:pythonheart:1260000000000000001>"
    assert one("MESSAGE_REACTION_ADD", "animated").emoji == "<a:party:1260000000000000002>"
    assert one("MESSAGE_REACTION_ADD", "deleted_custom").emoji == "<:_:1260000000000000003>"


def test_unknown_emoji_and_own_reactions_are_skipped() -> None:
    assert translate("MESSAGE_REACTION_ADD", case("MESSAGE_REACTION_ADD", "unknown_emoji"), CTX) == []
    assert translate("MESSAGE_REACTION_ADD", case("MESSAGE_REACTION_ADD", "own"), CTX) == []


def test_reactions_in_threads_and_dms() -> None:
    assert one("MESSAGE_REACTION_ADD", "in_thread").thread_id == THREAD
    dm = one("MESSAGE_REACTION_ADD", "dm")
    assert dm.is_private and dm.community_id == ""


def test_reaction_removed() -> None:
    ev = one("MESSAGE_REACTION_REMOVE", "unicode")
    assert isinstance(ev, ReactionRemoved) and ev.emoji == "👍"


def test_member_join_and_leave() -> None:
    joined = one("GUILD_MEMBER_ADD", "human")
    assert isinstance(joined, MemberJoined)
    assert (joined.community_id, joined.chat_id, joined.chat_title) == (GUILD, GUILD, "Learners")
    assert joined.at == datetime(2024, 5, 2, 9, 0, tzinfo=UTC) and joined.user_name == "Carol C"
    assert one("GUILD_MEMBER_ADD", "bot").is_bot
    left = one("GUILD_MEMBER_REMOVE", "human")
    assert isinstance(left, MemberLeft) and left.user_id == "1200000000000000003"


def test_thread_created_only_when_new() -> None:
    ev = one("THREAD_CREATE", "forum_post")
    assert isinstance(ev, ThreadOpened)
    assert (ev.chat_id, ev.thread_id, ev.user_id, ev.title) == (FORUM, POST, BOB, "How do I read a CSV lazily?")
    assert translate("THREAD_CREATE", case("THREAD_CREATE", "joined_existing"), CTX) == []


def test_button_click() -> None:
    ev = one("INTERACTION_CREATE", "button")
    assert isinstance(ev, ButtonClicked)
    assert (ev.data, ev.click_id, ev.message_id, ev.user_id) == (
        "rec:42:accept", "1270000000000000001", "1240000000000000999", ALICE)
    assert ev.chat_id == GENERAL and ev.community_id == GUILD


def test_button_click_in_thread_uses_the_channel_payload() -> None:
    ev = one("INTERACTION_CREATE", "button_in_thread", GatewayContext())
    assert (ev.chat_id, ev.thread_id) == (GENERAL, THREAD)


def test_button_click_in_dm() -> None:
    ev = one("INTERACTION_CREATE", "button_dm")
    assert ev.is_private and ev.user_id == ALICE and ev.data == "digest:unsubscribe"


def test_select_and_slash_interactions_are_not_translated() -> None:
    assert translate("INTERACTION_CREATE", case("INTERACTION_CREATE", "select"), CTX) == []
    assert translate("INTERACTION_CREATE", case("INTERACTION_CREATE", "slash"), CTX) == []


@pytest.mark.parametrize("event_type", [
    "MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK", "MESSAGE_REACTION_ADD",
    "MESSAGE_REACTION_REMOVE", "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE", "THREAD_CREATE", "INTERACTION_CREATE",
])
@pytest.mark.parametrize("payload", [
    None, [], "text", {}, {"id": None}, {"id": "x", "channel_id": 5, "author": "nobody"},
    {"id": "1", "channel_id": "2", "author": {"id": "3"}, "content": 12, "mentions": "bob",
     "attachments": [None], "message_reference": [], "emoji": "👍", "user": [], "data": None, "type": "0"},
])
def test_malformed_payloads_never_raise(event_type: str, payload: Any) -> None:
    assert isinstance(translate(event_type, payload, CTX), list)


def test_unhandled_types_are_ignored() -> None:
    assert translate("PRESENCE_UPDATE", {"user": {"id": "1"}}, CTX) == []


def test_small_readers() -> None:
    assert snowflake(12) == "12" and snowflake("12") == "12" and snowflake("x") is None
    assert snowflake(True) is None and snowflake(-1) is None
    assert snowflake_time("175928847299117063") == datetime(2016, 4, 30, 11, 18, 25, 796000, tzinfo=UTC)
    assert timestamp("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert timestamp(0) is None and timestamp("yesterday") is None
    assert emoji_text({"id": None, "name": "🔥"}) == "🔥" and emoji_text({}) == ""
    assert links_in("(see https://x.org/a_b).") == ("https://x.org/a_b",)
    assert parse_command("!", "!", None) is None and parse_command("! help", "!", None) == ("help", ())
    assert parse_command("hi !help", "!", None) is None
