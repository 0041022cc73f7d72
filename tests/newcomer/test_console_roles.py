"""Who you are in the console: ``/as`` names the role Cohort gives you (owner list, the
console's role, Cohort's own moderator list), and ``/me @member`` is for moderators."""

from __future__ import annotations

from bot.adapters.console import ConsoleAdapter, ConsoleState
from bot.bootstrap import App
from bot.ports import Role
from bot.roles import RoleResolver


def _console(app: App, out: list[str]) -> ConsoleAdapter:
    state = ConsoleState(community="g1", user="owner")
    state.roles["owner"] = Role.OWNER
    return ConsoleAdapter(app.dispatch, state, write=out.append,
                          role_lookup=RoleResolver(app.store, app.settings.owner_ids))


async def test_as_shows_the_cohort_role_of_who_you_become(app: App) -> None:
    out: list[str] = []
    console = _console(app, out)
    say = console.handle_line
    await say("/as u7")
    assert out[-1] == "  · you are now u7 (member)"
    await say("hello, I am u7 and I have been here a while now")
    await say("/as owner")
    assert out[-1] == "  · you are now owner (owner)"
    await say("/mod add @u7")
    assert "u7" in "\n".join(out[-2:])
    await say("/as u7")  # the console gives u7 no role; Cohort's moderator list does
    assert out[-1] == "  · you are now u7 (moderator)", out[-3:]
    await say("/as")
    assert out[-1] == "  · you are u7 (moderator)"
    await say("/as u8 admin")  # a role the console (the "platform") gives
    assert out[-1] == "  · you are now u8 (admin)"


async def test_me_of_another_member_is_for_moderators(app: App) -> None:
    out: list[str] = []
    console = _console(app, out)
    say = console.handle_line
    await say("/as ann")
    await say("hello everyone, ann here with a long enough message")
    await say("/as bob")
    await say("hello everyone, bob here with a long enough message")
    await say("/me @ann")
    assert "Only moderators can see another member's profile" in out[-1], out[-2:]
    await say("/me @bob")  # naming yourself is always fine
    assert "bob — " in out[-1] and "Level" in out[-1], out[-1]
    await say("/me @nobody")
    assert "I don't know @nobody" in out[-1]
    await say("/as owner")
    await say("/mod add @bob")
    await say("/as bob")
    await say("/me @ann")
    assert "ann — " in out[-1] and "Level" in out[-1], out[-1]
    await say("/me ann")  # the handle as the console shows it, without @
    assert "ann — " in out[-1]
    await say("/me @ann @bob")
    assert "Usage: /me" in out[-1]


async def test_me_of_another_member_in_chinese(app: App) -> None:
    out: list[str] = []
    console = _console(app, out)
    say = console.handle_line
    await say("hello everyone, the owner speaks first here")
    await say("/config language zh")
    await say("/as ann")
    await say("大家好，我是 ann，这是一条足够长的消息")
    await say("/me @owner")
    assert "只有管理员可以查看其他成员的资料" in out[-1], out[-1]
