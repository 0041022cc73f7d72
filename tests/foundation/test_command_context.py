"""The command context: community (a private chat acts on the home community), caller,
language and the one member resolver — and the README's "thanks" capability, added as one
Module and one list entry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.bootstrap import App, build_app, capabilities
from bot.markup import esc
from bot.modules import Module
from bot.router import CommandContext, CommandSpec, UsageError
from bot.settings import Settings
from tests.doubles.events import command, message
from tests.doubles.messenger import RecordingMessenger

MESSAGES = {"thanks.done": {"en": "🙏 {name}, {who} thanks you!", "zh": "🙏 {name}，{who} 感谢你！"},
            "thanks.self": {"en": "Thanking yourself? Nice try.", "zh": "感谢自己？想得美。"}}


async def thanks(ctx: CommandContext) -> None:
    target, _ = await ctx.target()
    if target.member_id == ctx.member_id:
        raise UsageError(ctx.t("thanks.self"))
    await ctx.reply(ctx.t("thanks.done", name=esc(target.display_name), who=esc(ctx.event.user_name)))


THANKS = Module("thanks", commands=(CommandSpec("thanks", thanks, usage="/thanks @member",
                                                summary="thank a member"),), messages=MESSAGES)


@pytest.fixture
def with_thanks(settings: Settings) -> Iterator[App]:
    application = build_app(settings, modules=[*capabilities(settings), THANKS])
    application.store.create_schema()
    application.start()
    try:
        yield application
    finally:
        application.stop()


async def test_a_capability_is_one_module_and_one_entry(with_thanks: App) -> None:
    app, m = with_thanks, RecordingMessenger()
    hello = message("bob", "hello, I am new in this course")
    await app.dispatch(hello, m)
    await app.dispatch(message("ann", "welcome bob, glad to have you"), m)
    await app.dispatch(command("ann", "thanks", "@bob"), m)
    await app.dispatch(command("ann", "thanks", **{"reply_to_message_id": hello.message_id,
                                                   "reply_to_user_id": "bob"}), m)
    await app.dispatch(command("ann", "thanks", "@ann"), m)
    await app.dispatch(command("ann", "thanks", "@nobody"), m)
    await app.dispatch(command("ann", "thanks"), m)
    assert m.replies_to("ann") == [
        "🙏 Bob, Ann thanks you!", "🙏 Bob, Ann thanks you!", "Thanking yourself? Nice try.",
        "I don't know @nobody in this community.",
        "Tell me who: @username, their user id, or reply to one of their messages."]
    await app.dispatch(command("help", "help"), m)
    assert "/thanks @member — thank a member" in m.replies_to("help")[0]


async def test_a_private_chat_acts_on_the_home_community(app: App) -> None:
    seen: list[tuple[int | None, int | None, str]] = []

    async def where(ctx: CommandContext) -> None:
        seen.append((ctx.place.community_id, ctx.place.member_id, ctx.language))

    app.router.command("where", where)
    m = RecordingMessenger(roles={"mod": 2})
    await app.dispatch(message("mod", "hello in the first group", community="g1"), m)
    await app.dispatch(command("mod", "where", community="g1", minutes=1), m)
    await app.dispatch(message("mod", "hello in the second group", community="g2", minutes=5), m)
    await app.dispatch(command("mod", "config", "language", "zh", community="g2", minutes=6), m)
    await app.dispatch(command("mod", "where", community="", chat="dm-mod", is_private=True, minutes=8), m)
    await app.dispatch(command("stranger", "where", community="", chat="dm-x", is_private=True, minutes=9), m)
    (g1, member, lang1), (home, member2, lang2), (nowhere, stranger, lang3) = seen
    assert lang1 == "en" and member == member2 and stranger is not None
    assert home != g1 and lang2 == "zh"  # g2, where mod was active last
    assert nowhere is None and lang3 == "en"
