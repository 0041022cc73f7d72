"""to_events on recorded Bot API updates: one fixture per update kind Cohort handles."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.telegram.updates import ALLOWED_UPDATES, dm_status_change, split_args, to_events
from engine.events import (
    ButtonClicked,
    CommandInvoked,
    MemberJoined,
    MemberLeft,
    MessageEdited,
    MessagePosted,
    Platform,
    ReactionAdded,
    ReactionCountChanged,
    ReactionRemoved,
    ThreadOpened,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
BOT = "CohortTestBot"
BOT_ID = 424242
GROUP = "-1001234567890"
FORUM = "-1009876543210"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def events(name: str) -> list[Any]:
    return to_events(load(name), BOT, BOT_ID)


def test_allowed_updates_are_the_ones_handled() -> None:
    assert ALLOWED_UPDATES == ("message", "edited_message", "callback_query", "message_reaction",
                               "message_reaction_count", "chat_member", "my_chat_member")


def test_group_text_with_mentions_and_links() -> None:
    [ev] = events("group_text")
    assert isinstance(ev, MessagePosted)
    assert ev.platform is Platform.TELEGRAM
    assert (ev.community_id, ev.chat_id, ev.user_id, ev.message_id) == (GROUP, GROUP, "1001", "501")
    assert ev.chat_title == "Python Cohort" and not ev.is_private and not ev.is_bot
    assert ev.user_name == "Ada Lovelace" and ev.username == "ada"
    assert ev.mentions == ("@grace",)
    assert ev.links == ("https://docs.python.org/3/", "https://example.org/guide")
    assert ev.at == datetime(2025, 1, 1, tzinfo=UTC)
    assert ev.thread_id is None and ev.attachment is None and not ev.forwarded


def test_reply_and_text_mention_across_an_emoji() -> None:
    [ev] = events("group_reply")
    assert ev.reply_to_message_id == "501" and ev.reply_to_user_id == "1001"
    assert ev.mentions == ("1001",)


def test_forum_topic_created_opens_a_thread() -> None:
    [ev] = events("forum_topic_created")
    assert isinstance(ev, ThreadOpened)
    assert (ev.chat_id, ev.thread_id, ev.title, ev.user_id) == (FORUM, "700", "Week 1: pandas", "1001")


def test_forum_message_is_in_its_topic_and_not_a_reply_to_the_topic_header() -> None:
    [ev] = events("forum_message")
    assert isinstance(ev, MessagePosted)
    assert ev.thread_id == "700"
    assert ev.reply_to_message_id is None and ev.reply_to_user_id is None


def test_forum_reply_inside_a_topic_is_a_reply() -> None:
    [ev] = events("forum_reply")
    assert ev.thread_id == "700" and ev.reply_to_message_id == "701" and ev.reply_to_user_id == "1002"


def test_photo_caption_is_the_text() -> None:
    [ev] = events("photo_caption")
    assert ev.attachment == "photo"
    assert ev.text.startswith("My plot") and ev.links == ("https://gist.github.com/x",)


@pytest.mark.parametrize(("name", "kind"), [("document", "document"), ("sticker", "sticker")])
def test_attachments_without_text(name: str, kind: str) -> None:
    [ev] = events(name)
    assert isinstance(ev, MessagePosted) and ev.attachment == kind and ev.text == ""


def test_forwarded() -> None:
    [ev] = events("forwarded")
    assert ev.forwarded and ev.user_id == "1001"


@pytest.mark.parametrize("name", ["anonymous_admin", "linked_channel_post"])
def test_sender_chat_posts_are_anonymous(name: str) -> None:
    [ev] = events(name)
    assert isinstance(ev, MessagePosted)
    assert ev.user_id == ""  # not @GroupAnonymousBot nor the Telegram service account
    assert ev.sender_chat_id is not None and ev.sender_chat_id.startswith("-100")
    assert not ev.is_bot


def test_new_chat_members_each_join_and_the_bot_itself_is_skipped() -> None:
    evs = events("new_chat_members")
    assert [type(e) for e in evs] == [MemberJoined, MemberJoined]
    assert [e.user_id for e in evs] == ["1004", "1005"]
    assert all(e.invited_by == "1001" for e in evs)
    assert evs[1].username == "barbara"
    assert len({e.dedup_key for e in evs}) == 2


def test_left_chat_member() -> None:
    [ev] = events("left_chat_member")
    assert isinstance(ev, MemberLeft) and ev.user_id == "1005"


def test_edited_message_uses_the_edit_date() -> None:
    [ev] = events("edited_message")
    assert isinstance(ev, MessageEdited)
    assert ev.message_id == "501" and ev.links == ("https://peps.python.org/",)
    assert ev.at == datetime.fromtimestamp(1735689720, UTC)
    assert ev.dedup_key == to_events(load("edited_message"), BOT, BOT_ID)[0].dedup_key


def test_reaction_diff() -> None:
    evs = events("message_reaction")
    assert [(type(e), e.emoji) for e in evs] == [(ReactionRemoved, "👍"), (ReactionAdded, "🔥")]
    assert all(e.user_id == "1002" and e.message_id == "501" for e in evs)


def test_anonymous_reaction_is_left_to_the_counts() -> None:
    assert events("message_reaction_anonymous") == []


def test_reaction_counts() -> None:
    evs = events("message_reaction_count")
    assert all(isinstance(e, ReactionCountChanged) and e.user_id == "" for e in evs)
    assert [(e.emoji, e.count) for e in evs] == [("👍", 5), ("paid", 2)]


def test_chat_member_join_and_kick() -> None:
    [joined] = events("chat_member_join")
    assert isinstance(joined, MemberJoined) and joined.user_id == "1006" and joined.invited_by is None
    [left] = events("chat_member_kicked")
    assert isinstance(left, MemberLeft) and left.user_id == "1006"


def test_my_chat_member_is_logged_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    assert events("my_chat_member") == []
    assert "left → member" in caplog.text


def test_callback_query_is_a_click() -> None:
    [ev] = events("callback_query")
    assert isinstance(ev, ButtonClicked)
    assert (ev.data, ev.click_id, ev.message_id, ev.user_id) == ("vote:yes", "4382bfdwdsb323b2d9", "900", "1002")


def test_command_for_this_bot_lowercased_with_quoted_args() -> None:
    [ev] = events("command_group")
    assert isinstance(ev, CommandInvoked)
    assert ev.name == "thanks"
    assert ev.args == ("@grace", "for the merge tip", "extra")
    assert ev.mentions == ("@grace",)
    assert ev.raw_text.startswith("/Thanks@CohortTestBot")


def test_command_for_another_bot_is_ignored() -> None:
    assert events("command_other_bot") == []


def test_bad_quoting_never_raises() -> None:
    [ev] = events("command_bad_quotes")
    assert ev.name == "ask"
    assert ev.args == ('"unbalanced', "quote", "C:\\temp", "#tag")


def test_private_start_deep_link() -> None:
    [ev] = events("private_start_deeplink")
    assert isinstance(ev, CommandInvoked)
    assert ev.name == "start" and ev.args == ("link-c1234_abc",)
    assert ev.is_private and ev.community_id == "" and ev.chat_id == "1002"


def test_other_bots_keep_is_bot() -> None:
    [ev] = events("bot_message")
    assert ev.is_bot and ev.user_id == "5555"


@pytest.mark.parametrize("name", ["unknown_kind", "pinned_service"])
def test_unused_kinds_give_nothing(name: str) -> None:
    assert events(name) == []


@pytest.mark.parametrize(
    "update",
    [
        {},
        {"update_id": 1},
        {"update_id": 2, "message": {}},
        {"update_id": 3, "message": {"message_id": 1, "date": 0}},
        {"update_id": 4, "message": {"message_id": "x", "date": 0, "chat": {"id": 1, "type": "private"}}},
        {"update_id": 5, "message": {"message_id": 1, "date": "soon", "chat": {"id": -1}}},
        {"update_id": 6, "message_reaction": {"chat": {"id": -1}, "user": {"id": 1}}},
        {"update_id": 7, "chat_member": {"chat": {"id": -1}}},
        {"update_id": 8, "callback_query": {"id": "1"}},
        {"update_id": 9, "message": None, "edited_message": {"chat": None}},
        [],  # not even an object
        {"update_id": 10, "message": {"message_id": 1, "date": 0, "chat": {"id": -1},
                                      "text": "x", "entities": [{"type": "url"}]}},
    ],
)
def test_malformed_updates_give_nothing_and_never_raise(update: Any) -> None:
    assert to_events(update, BOT, BOT_ID) == []


def test_missing_from_is_anonymous_not_an_error() -> None:
    raw = load("group_text")
    del raw["message"]["from"]
    [ev] = to_events(raw, BOT, BOT_ID)
    assert ev.user_id == "" and ev.text


def test_odd_unicode_and_huge_caption_pass_through() -> None:
    raw = load("photo_caption")
    caption = "\u202eRTL\u200b zero-width 👩‍💻 NUL\x00 end " + "x" * 10_000
    raw["message"]["caption"] = caption
    raw["message"]["caption_entities"] = []
    [ev] = to_events(raw, BOT, BOT_ID)
    # Kept as sent, except NUL (and lone surrogates) which no database stores.
    assert ev.text == caption.replace("\x00", "\ufffd") and ev.attachment == "photo"


@pytest.mark.parametrize(
    ("rest", "args"),
    [("", ()), ("a b", ("a", "b")), ("'x y' z", ("x y", "z")), ('"open', ('"open',)),
     ("back\\slash", ("back\\slash",)), ("#1 ok", ("#1", "ok")), ("a\x00b", ("a\x00b",))],
)
def test_split_args(rest: str, args: tuple[str, ...]) -> None:
    assert split_args(rest) == args


def test_blocking_the_bot_in_private_is_a_reachability_change() -> None:
    raw = load("my_chat_member")
    assert dm_status_change(raw) is None  # a group: not about DMs
    raw["my_chat_member"]["chat"] = {"id": 1001, "type": "private", "first_name": "Ada"}
    raw["my_chat_member"]["new_chat_member"]["status"] = "kicked"
    assert dm_status_change(raw) == ("1001", False)
    raw["my_chat_member"]["new_chat_member"]["status"] = "member"
    assert dm_status_change(raw) == ("1001", True)
    assert dm_status_change({"my_chat_member": "garbage"}) is None
