"""The console adapter: typed lines become events through the same router and store."""

from __future__ import annotations

from sqlalchemy import select

from bot.adapters.console import ConsoleAdapter, ConsoleNote, ConsoleState, parse_line
from bot.bootstrap import App
from bot.ports import Role
from engine.events import CommandInvoked, MessagePosted, ReactionAdded
from engine.store.models import Account, Message, Reaction


def test_parse_switches_user_chat_and_topic() -> None:
    st = ConsoleState()
    assert isinstance(parse_line("/as alice moderator", st), ConsoleNote)
    assert st.user == "alice" and st.roles["alice"] == Role.MODERATOR
    parse_line("/in #python", st)
    assert st.chat == "python"
    [opened] = parse_line("/topic asyncio", st)  # type: ignore[misc]
    [msg] = parse_line("how do I gather?", st)  # type: ignore[misc]
    assert isinstance(msg, MessagePosted) and msg.thread_id == "asyncio" and msg.chat_id == "python"
    assert opened.thread_id == "asyncio"


def test_parse_reply_react_and_errors() -> None:
    st = ConsoleState(user="bob")
    [first] = parse_line("question?", st)  # type: ignore[misc]
    parse_line("/as carol", st)
    [rep] = parse_line(f"/reply {first.message_id} answer", st)  # type: ignore[misc]
    assert isinstance(rep, MessagePosted) and rep.reply_to_user_id == "bob"
    [rx] = parse_line(f"/react {first.message_id} 👍", st)  # type: ignore[misc]
    assert isinstance(rx, ReactionAdded) and rx.target_user_id == "bob"
    assert isinstance(parse_line("/reply 999 x", st), ConsoleNote)
    assert isinstance(parse_line("/click 3", st), ConsoleNote)
    assert isinstance(parse_line("/as bob superhero", st), ConsoleNote)


def test_bot_commands_keep_their_args_even_with_bad_quotes() -> None:
    st = ConsoleState()
    [cmd] = parse_line('/points give @bob 5 "great answer', st)  # type: ignore[misc]
    assert isinstance(cmd, CommandInvoked) and cmd.name == "points" and cmd.args[:3] == ("give", "@bob", "5")


async def test_a_console_session_is_stored(app: App) -> None:
    out: list[str] = []
    st = ConsoleState()
    console = ConsoleAdapter(app.dispatch, st, write=out.append)
    lines = iter(["hi all, read https://example.com/a", "/help", "/as alice", "/reply 1 thanks!",
                  "/react 1 🎉", "/in dm", "/help", "/quit", "never read"])
    await console.run(read=lambda _prompt: next(lines))
    assert any("Commands you can use" in o for o in out)

    def rows(s):
        return (s.execute(select(Message.text).order_by(Message.id)).scalars().all(),
                s.execute(select(Reaction.emoji)).scalars().all(),
                s.execute(select(Account.external_id).order_by(Account.id)).scalars().all())

    texts, emojis, accounts = app.store.read_sync(rows)
    assert texts == ["hi all, read https://example.com/a", "thanks!"]
    assert emojis == ["🎉"] and accounts == ["you", "alice"]


async def test_console_survives_end_of_input(app: App) -> None:
    console = ConsoleAdapter(app.dispatch, ConsoleState(), write=lambda _s: None)

    def eof(_prompt: str) -> str:
        raise EOFError

    await console.run(read=eof)
