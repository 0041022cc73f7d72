"""The console as a newcomer uses it: numbered messages, replies and reactions by number,
/solved in reply, buttons that answer, /points by the handle shown, and imported
communities opened with ``cohort console --community``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from bot import cli, history_cli
from bot.adapters.console import ConsoleAdapter, ConsoleState
from bot.bootstrap import App
from bot.ports import Role
from engine.store.models import Account, Message, Reaction
from engine.store.recent import recent_messages

SE_DUMP = Path(__file__).parent.parent / "fixtures" / "history" / "stackexchange" / "python.example"
runner = CliRunner()


def _numbers(out: list[str]) -> list[int]:
    """Numbers of the messages shown (history) or typed (the "  [N]" marker), not the bot's."""
    return [int(n) for line in out for n in re.findall(r"^(?:  \[(\d+)\]$|\[(\d+)\] (?!cohort))", line)
            for n in n if n]


async def test_a_console_session_as_member_moderator_and_owner(app: App) -> None:
    out: list[str] = []
    state = ConsoleState(community="g1", user="owner")
    state.roles["owner"] = Role.OWNER

    async def history(community: str, chat: str, thread: str | None):  # type: ignore[no-untyped-def]
        return await app.store.read(lambda s: recent_messages(s, "console", community, chat, thread))

    console = ConsoleAdapter(app.dispatch, state, write=out.append, history=history)
    say = console.handle_line
    await say("/as ann")
    await say("How do I read a CSV file with pandas? It keeps failing")
    question = _numbers(out)[-1]
    await say("/as bob")
    await say(f"/reply {question} use pandas.read_csv with the right encoding, it works")
    answer = _numbers(out)[-1]
    assert answer > question
    await say(f"/react {question} notanemoji")
    assert "is not an emoji" in out[-1]
    await say(f"/react {question} 👍")
    await say("/as ann")
    await say(f"/reply {answer} /solved")  # a command in reply, like Telegram's reply to a message
    assert any("accepted" in line for line in out), out[-5:]
    await say("/click 99")
    assert "there is no button ⟨99⟩" in out[-1]
    await say("/join")
    assert "ann joined g1" in out[-1]

    # the owner gives points by the handle the console uses, and looks at a member
    await say("/as owner")
    await say("/points give @bob 5 great answer")
    assert "Gave 5 points to bob" in "\n".join(out[-3:]), out[-3:]

    # a moderator joining the chat later sees the conversation, numbered
    out.clear()
    await say("/in #general")
    assert any(line.endswith("ann: How do I read a CSV file with pandas? It keeps failing") for line in out), out
    shown = _numbers(out)
    await say("/as mod moderator")
    await say(f"/react {shown[0]} 🎉")

    def rows(s):  # type: ignore[no-untyped-def]
        return (s.execute(select(Message.reply_to_external_id).where(Message.reply_to_external_id.is_not(None)))
                .scalars().all(), s.execute(select(Reaction.emoji)).scalars().all())

    replies, emojis = await app.store.read(rows)
    assert replies and sorted(emojis) == sorted(["👍", "🎉"])


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cohort.db"
    monkeypatch.setenv("COHORT_STORAGE__URL", f"sqlite:///{path}")
    monkeypatch.setenv("COHORT_RECSYS__ARTIFACT_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("COHORT_LOG_LEVEL", "WARNING")
    monkeypatch.delenv("COHORT_CONFIG", raising=False)
    return path


def test_an_imported_community_opens_in_the_console(db: Path) -> None:
    assert runner.invoke(history_cli.cli, ["stackexchange", str(SE_DUMP), "--site", "pyfans"]).exit_code == 0
    listed = runner.invoke(cli.app, ["console", "--community", "list"])
    assert listed.exit_code == 0 and "stackexchange:pyfans" in listed.output
    missing = runner.invoke(cli.app, ["console", "--community", "telegram:nope"])
    assert missing.exit_code == 2 and "No community matches" in missing.output

    result = runner.invoke(cli.app, ["console", "--community", "stackexchange:pyfans"],
                           input="/leaderboard\nhello from the console, a message long enough\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "Cohort console in stackexchange:pyfans" in result.output
    assert "its most active member" in result.output
    assert re.search(r"^\[\d+\] .+: ", result.output, flags=re.M)  # the chat's history, numbered
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        typed = conn.execute(select(Message.external_id, Account.platform)
                             .join(Account, Account.member_id == Message.author_id)
                             .where(Message.text.like("hello from the console%"))).all()
    engine.dispose()
    assert len(typed) == 1 and typed[0][0].startswith("console-") and typed[0][1] == "stackexchange"


async def test_members_are_found_by_handle_id_or_display_name(app: App) -> None:
    out: list[str] = []
    state = ConsoleState(community="g1", user="owner")
    state.roles["owner"] = Role.OWNER
    console = ConsoleAdapter(app.dispatch, state, write=out.append)
    await console.handle_line("/as u5")
    await console.handle_line("hello everyone, I am the fifth member here")
    await console.handle_line("/as owner")
    for ref in ("@u5", "u5"):
        await console.handle_line(f"/points give {ref} 3 welcome")
        assert "Gave 3 points to u5" in "\n".join(out[-3:]), out[-3:]
    await console.handle_line("/points give @nobody 3 welcome")
    assert "I don't know @nobody" in "\n".join(out[-3:])


async def test_an_opt_out_follows_the_member_into_communities_joined_later(app: App) -> None:
    from engine.members.lookup import community_id_of, member_of_account
    from engine.members.privacy import is_opted_out

    out: list[str] = []
    state = ConsoleState(community="g1", user="ann")
    console = ConsoleAdapter(app.dispatch, state, write=out.append)
    await console.handle_line("hello, a first message in g1")
    await console.handle_line("/optout")
    assert "including ones you join later" in "\n".join(out[-2:])
    state.community = "g2"
    await console.handle_line("hello, now I am in g2 as well")
    member = await app.store.read(lambda s: member_of_account(s, "console", "ann"))
    g2 = await app.store.read(lambda s: community_id_of(s, "console", "g2"))
    assert member is not None and g2 is not None
    assert await app.store.read(lambda s: is_opted_out(s, member, g2))


@pytest.mark.parametrize("platform", ["console", "stackexchange"])
async def test_a_second_console_session_is_answered_too(app: App, platform: str) -> None:
    """Numbers start at 1 each session; the session token keeps the ids apart, so the second
    session's first lines are not dropped as redeliveries of the first session's."""
    from bot.adapters.console import console_session_token
    from engine.events import Platform

    answers = []
    for started in (1_700_000_000.0, 1_700_000_600.0):
        out: list[str] = []
        state = ConsoleState(community="g1", user="owner", platform=Platform(platform),
                             session=console_session_token(lambda started=started: started))
        state.roles["owner"] = Role.OWNER
        console = ConsoleAdapter(app.dispatch, state, write=out.append)
        await console.handle_line("/help")
        await console.handle_line("a first line typed in this session, long enough")
        answers.append(any("/leaderboard" in line for line in out))
    assert answers == [True, True]
    ids = app.store.read_sync(lambda s: sorted(s.execute(select(Message.external_id)).scalars()))
    assert len(ids) == 2 and len(set(ids)) == 2, ids
