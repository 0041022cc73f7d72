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
