"""Names and titles follow the latest event that carries them; an older event never reverts them."""

from __future__ import annotations

from sqlalchemy import select

from bot.bootstrap import App
from engine.events import MessagePosted, Platform, ThreadOpened
from engine.store.models import Account, Chat, Community, Member
from tests.doubles.events import at
from tests.doubles.messenger import RecordingMessenger


def _msg(mid: str, minutes: float, **kw: object) -> MessagePosted:
    fields: dict[str, object] = {"platform": Platform.DISCORD, "community_id": "g1", "chat_id": "c1",
                                 "user_id": "1577413674707058694", "at": at(minutes)}
    fields.update(kw)
    return MessagePosted(**fields, message_id=mid, text="hello there, a normal message")  # type: ignore[arg-type]


async def _names(app: App) -> tuple[str, str, str]:
    def read(session):  # type: ignore[no-untyped-def]
        acc = session.execute(select(Account)).scalar_one()
        member = session.get(Member, acc.member_id)
        return acc.display_name, acc.username, member.display_name
    return await app.store.read(read)


async def test_a_member_first_seen_without_a_name_gets_it_from_a_later_event(app: App) -> None:
    tg = RecordingMessenger()
    uid = "1577413674707058694"
    await app.dispatch(ThreadOpened(platform=Platform.DISCORD, community_id="g1", chat_id="c1", thread_id="t1",
                                    user_id=uid, at=at(0), title="How do I read a CSV?"), tg)
    assert await _names(app) == (uid, "", uid)
    await app.dispatch(_msg("m1", 1, user_name="Chen Wei", username="chenwei"), tg)
    assert await _names(app) == ("Chen Wei", "chenwei", "Chen Wei")
    # a nickname change propagates; an event with no name leaves it alone
    await app.dispatch(_msg("m2", 2, user_name="Wei (TA)"), tg)
    await app.dispatch(_msg("m3", 3), tg)
    assert await _names(app) == ("Wei (TA)", "chenwei", "Wei (TA)")
    # an older event arriving later (a re-import of history) does not turn the name back
    await app.dispatch(_msg("m0", -60, user_name="old name", username="old"), tg)
    assert await _names(app) == ("Wei (TA)", "chenwei", "Wei (TA)")


async def test_names_follow_after_a_restart_too(app: App) -> None:
    tg = RecordingMessenger()
    await app.dispatch(_msg("m1", 1, user_name="Ann"), tg)
    app.store.writer.recorder.cache.clear()  # what a restart forgets
    await app.dispatch(_msg("m2", 2, user_name="Ann B."), tg)
    assert (await _names(app))[0] == "Ann B."


async def test_community_and_chat_titles_follow_renames(app: App) -> None:
    tg = RecordingMessenger()
    base = {"platform": Platform.TELEGRAM, "community_id": "-1001", "chat_id": "-1001", "user_id": "7",
            "user_name": "Ann"}
    await app.dispatch(MessagePosted(**base, chat_title="", at=at(0), message_id="1", text="first message here"), tg)  # type: ignore[arg-type]
    await app.dispatch(MessagePosted(**base, chat_title="Python \ud800 Course", at=at(1), message_id="2",  # type: ignore[arg-type]
                                     text="second message here"), tg)
    await app.dispatch(MessagePosted(**base, chat_title="Python Course 2027", at=at(2), message_id="3",  # type: ignore[arg-type]
                                     text="third message here"), tg)

    def read(session):  # type: ignore[no-untyped-def]
        return (session.execute(select(Community.title)).scalar_one(), session.execute(select(Chat.title)).scalar_one())
    assert await app.store.read(read) == ("Python Course 2027", "Python Course 2027")


def test_a_discord_thread_carries_its_owners_name_from_the_member_cache() -> None:
    from bot.adapters.discord.gateway import GatewayContext, translate

    names = {("1", "42"): ("Chen Wei", "chenwei")}
    ctx = GatewayContext(member_name=lambda g, u: names.get((g, u), ("", "")))
    payload = {"id": "900", "parent_id": "10", "guild_id": "1", "owner_id": "42", "name": "Help with pandas",
               "newly_created": True}
    (event,) = translate("THREAD_CREATE", payload, ctx)
    assert (event.user_name, event.username) == ("Chen Wei", "chenwei")
    assert translate("THREAD_CREATE", {**payload, "owner_id": "²"}, ctx)[0].user_id == ""


async def test_an_unchanged_name_costs_no_statement_about_accounts(app: App) -> None:
    """The hot path: a member who keeps their name is not looked up or updated per message."""
    from sqlalchemy import event as sa_event

    tg = RecordingMessenger()
    await app.dispatch(_msg("m1", 1, user_name="Ann"), tg)
    app.store.writer.recorder.cache.clear()  # a restart: the first event after it may look once
    await app.dispatch(_msg("m2", 2, user_name="Ann"), tg)
    seen: list[str] = []

    def spy(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa_event.listen(app.store.engine, "before_cursor_execute", spy)
    try:
        for i in range(3, 13):
            await app.dispatch(_msg(f"m{i}", i, user_name="Ann"), tg)
    finally:
        sa_event.remove(app.store.engine, "before_cursor_execute", spy)
    touching = [s for s in seen if "accounts" in s and ("UPDATE" in s or "display_name" in s)]
    assert touching == []
    await app.dispatch(_msg("m99", 99, user_name="Ann Lee"), tg)
    assert (await _names(app))[0] == "Ann Lee"
