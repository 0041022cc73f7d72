"""Property tests: whatever a platform or a person sends, the pure front doors never raise
and the store keeps what it is given (Hypothesis generates the input)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.adapters.console import ConsoleState, parse_line
from bot.adapters.discord.gateway import GatewayContext, translate
from bot.adapters.telegram import to_events
from bot.bootstrap import App
from engine.events import MessagePosted, Platform
from engine.store.models import Message
from engine.text import clean_text, find_links, fingerprint, normalize_url
from tests.doubles.messenger import RecordingMessenger

_message_ids = itertools.count()
# Values that look like what platforms send, including the wrong types in the wrong places.
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40))
TG_KEYS = ["update_id", "message", "edited_message", "callback_query", "message_reaction", "message_reaction_count",
           "chat_member", "my_chat_member", "chat", "from", "id", "type", "text", "caption", "entities", "date",
           "message_id", "message_thread_id", "is_topic_message", "reply_to_message", "new_chat_members",
           "left_chat_member", "forum_topic_created", "sender_chat", "offset", "length", "url", "user", "data",
           "new_reaction", "old_reaction", "emoji", "reactions", "migrate_to_chat_id", "photo", "is_bot"]
DC_KEYS = ["id", "channel_id", "guild_id", "author", "member", "content", "type", "timestamp", "message_reference",
           "mentions", "attachments", "embeds", "user_id", "emoji", "name", "message_id", "user", "data",
           "custom_id", "webhook_id", "bot", "username", "thread", "parent_id", "edited_timestamp"]


def payloads(keys: list[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                st.dictionaries(st.sampled_from(keys), inner, max_size=6)),
        max_leaves=30,
    )


@settings(max_examples=300, deadline=None)
@given(payloads(TG_KEYS))
def test_telegram_to_events_never_raises(update: Any) -> None:
    events = to_events(update if isinstance(update, dict) else {"message": update}, "CohortBot", 42)
    assert isinstance(events, list)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_REACTION_ADD",
                        "MESSAGE_REACTION_REMOVE", "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE",
                        "INTERACTION_CREATE", "THREAD_CREATE", "SOMETHING_NEW"]), payloads(DC_KEYS))
def test_discord_translate_never_raises(event_type: str, data: Any) -> None:
    assert isinstance(translate(event_type, data, GatewayContext(bot_user_id="1")), list)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_console_lines_never_raise(line: str) -> None:
    parse_line(line, ConsoleState())  # events or a note for the terminal, never an exception


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_text_helpers_never_raise(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # storable everywhere
    assert "\x00" not in cleaned
    fingerprint(text)
    for link in find_links(text):
        with contextlib.suppress(ValueError):  # a found link may still not be http(s) with a host
            normalize_url(link)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=5000))
def test_any_text_is_stored_as_its_clean_form(app: App, text: str) -> None:
    mid = f"fz-{next(_message_ids)}"
    event = MessagePosted(platform=Platform.CONSOLE, community_id="fz", chat_id="fz", user_id="u",
                          message_id=mid, text=text)
    asyncio.run(app.dispatch(event, RecordingMessenger()))
    stored = app.store.read_sync(lambda s: s.execute(select(Message.text).where(Message.external_id == mid)).scalar_one())
    assert stored == clean_text(text)


# Well-formed updates with one part replaced by what a broken or hostile sender might put there.
_odd_strings = st.one_of(st.text(max_size=30), st.just("\ud800"), st.just("a\x00b"), st.just("x" * 70_000))
odd_values = st.one_of(scalars, _odd_strings, st.lists(st.integers(), max_size=3),
                       st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
                       st.integers(min_value=2**63, max_value=2**80))
_TEMPLATE_PATHS = [("message", "chat", "id"), ("message", "chat", "title"), ("message", "from", "id"),
                   ("message", "from", "first_name"), ("message", "from", "username"), ("message", "text"),
                   ("message", "date"), ("message", "message_id"), ("message", "entities"),
                   ("message", "reply_to_message"), ("message", "chat"), ("message",)]


def _template() -> dict[str, Any]:
    return {"update_id": 1, "message": {
        "message_id": 5, "date": 1735689600, "text": "/rate 1 hello @ada https://x.org",
        "chat": {"id": -100123, "type": "supergroup", "title": "Group"},
        "from": {"id": 7, "is_bot": False, "first_name": "Ada", "username": "ada"},
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}, {"type": "mention", "offset": 15, "length": 4}],
        "reply_to_message": {"message_id": 4, "date": 1735689500, "chat": {"id": -100123, "type": "supergroup"},
                             "from": {"id": 8, "is_bot": False, "first_name": "Bo"}}}}


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_TEMPLATE_PATHS), odd_values, st.booleans())
def test_convert_update_gives_clean_events_or_a_short_reason(path: tuple[str, ...], value: Any, delete: bool) -> None:
    from bot.adapters.telegram.updates import MAX_REASON, convert_update

    update = _template()
    node: Any = update
    for key in path[:-1]:
        node = node[key]
    if delete:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    conversion = convert_update(update, "CohortBot", 42)
    if conversion.problem is not None:
        assert conversion.events == [] and 0 < len(conversion.problem) <= MAX_REASON
        conversion.problem.encode("utf-8")
        return
    for event in conversion.events:
        for name in ("chat_id", "user_id", "message_id", "user_name", "username", "chat_title", "text"):
            field_value = getattr(event, name, "") or ""
            assert isinstance(field_value, str) and "\x00" not in field_value
            field_value.encode("utf-8")  # no lone surrogate left
        assert len(event.chat_title) <= 256 and len(event.username) <= 128
