"""The welcome (template, rules, a private-chat invitation, delete-after), opening the
private chat (deep link on Telegram, a DM button elsewhere: reachability recorded), and the
first-week checklist that earns a badge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.bootstrap import App
from bot.handlers.welcome import delete_due_welcomes
from bot.ports import Capability, Role
from engine.events import Platform
from engine.moderation.tables import OnboardingStep, WelcomePost
from engine.points.tables import PointsBadge
from engine.store.models import Account, AuditEntry
from tests.members.fakes import T0, Clock, ModeratingMessenger, click, cmd, joined, msg


class LinkingMessenger(ModeratingMessenger):
    """Telegram-like: a deep link opens the private chat."""

    def private_chat_link(self, payload: str) -> str | None:
        return f"https://t.me/cohort_bot?start={payload}"


def telegram() -> LinkingMessenger:
    m = LinkingMessenger(Platform.TELEGRAM, roles={"max": Role.ADMIN, "mia": Role.MODERATOR})
    m.capabilities = m.capabilities | {Capability.MODERATE}
    return m


async def setup(app: App, m: ModeratingMessenger, *welcome: str) -> None:
    app.notifier.attach(m)
    await app.dispatch(msg("max", "hello", minutes=-60), m)
    for args in welcome:
        await app.dispatch(cmd("max", "welcome", *args.split(" ", 1), minutes=-50), m)
        assert "saved" in m.last_reply("max"), m.last_reply("max")
    m.out.clear()


async def test_welcome_with_rules_and_a_deep_link_then_the_chat_is_opened(app: App, clock: Clock) -> None:
    m = telegram()
    await setup(app, m, "rules Be kind. No spam.", "set Hi {name}, welcome to {community}! Rules: {rules}")
    await app.dispatch(joined("zoe"), m)
    [welcome] = m.of("send")
    assert welcome.plain == "Hi Zoe, welcome to tg-group chat! Rules: Be kind. No spam."
    [button] = welcome.buttons
    community_id = button.url.rsplit("=c", 1)[1]
    assert button.url == f"https://t.me/cohort_bot?start=c{community_id}"

    await app.dispatch(cmd("zoe", "start", f"c{community_id}", private=True, minutes=1), m)
    reply = m.last_reply("zoe")
    assert "This is our private chat" in reply and "introduce yourself" in reply and "⬜" in reply
    reachable = await app.store.read(lambda s: s.scalar(select(Account.dm_reachable).where(
        Account.external_id == "zoe")))
    assert reachable is True
    steps = await app.store.read(lambda s: list(s.scalars(select(OnboardingStep.step))))
    assert steps == ["dm"]
    await app.dispatch(cmd("zoe", "start", private=True, minutes=2), m)  # a plain /start: the greeting
    assert "Send /help" in m.last_reply("zoe")
    await app.dispatch(cmd("zoe", "start", "c99999", private=True, minutes=3), m)  # not a community
    assert "Send /help" in m.last_reply("zoe")


async def test_a_dm_button_where_there_are_no_deep_links(app: App, clock: Clock) -> None:
    m = ModeratingMessenger(Platform.DISCORD, roles={"max": Role.ADMIN})
    m.capabilities = m.capabilities | {Capability.MODERATE}
    d = {"platform": Platform.DISCORD, "community": "guild"}
    app.notifier.attach(m)
    await app.dispatch(msg("max", "hello", minutes=-60, **d), m)
    await app.dispatch(cmd("max", "welcome", "on", minutes=-50, **d), m)
    await app.dispatch(joined("zoe", **d), m)
    await app.dispatch(joined("yan", **d), m)
    button = m.of("send")[0].buttons[0]
    assert button.data.startswith("welcome:dm:") and not button.url
    await app.dispatch(click("zoe", button.data, **d), m)
    assert "sent you a private message" in m.last_reply("zoe")
    assert "This is our private chat" in m.of("dm", "zoe")[0].plain
    m.unreachable.add("yan")  # DMs from server members closed
    await app.dispatch(click("yan", button.data, **d), m)
    assert "allow direct messages" in m.last_reply("yan")
    reachable = await app.store.read(lambda s: dict(s.execute(select(Account.external_id, Account.dm_reachable)
                                                              .where(Account.external_id.in_(["zoe", "yan"]))).all()))
    assert reachable == {"zoe": True, "yan": False}
    await app.dispatch(click("zoe", "welcome:dm:../../etc", **d), m)  # forged data: ignored
    assert len(m.of("reply", "zoe")) == 1


async def test_welcome_is_off_by_default_and_off_stops_it(app: App, clock: Clock) -> None:
    m = telegram()
    await setup(app, m)
    await app.dispatch(joined("zoe"), m)
    assert m.of("send") == []
    await app.dispatch(cmd("max", "welcome", "on"), m)
    await app.dispatch(cmd("max", "welcome", "off"), m)
    await app.dispatch(joined("yan"), m)
    assert m.of("send") == []
    await app.dispatch(cmd("max", "welcome", "show"), m)
    assert "Welcome: off" in m.last_reply("max")


async def test_delete_after_deletes_the_welcome_when_due(app: App, clock: Clock) -> None:
    m = telegram()
    await setup(app, m, "on", "delete_after 5")
    await app.dispatch(joined("zoe"), m)
    assert await delete_due_welcomes(app.store, app.notifier, clock.now) == 0
    clock.advance(minutes=6)
    assert await delete_due_welcomes(app.store, app.notifier, clock.now) == 1
    [(kind, _, chat, details)] = m.actions
    posted = await app.store.read(lambda s: s.scalars(select(WelcomePost)).one())
    assert (kind, chat, details["ids"]) == ("delete", "tg-group", [posted.message_ext])
    assert posted.deleted_at == clock.now
    assert await delete_due_welcomes(app.store, app.notifier, clock.now) == 0  # once


async def test_bad_welcome_input_is_refused_and_nothing_written(app: App, clock: Clock) -> None:
    m = telegram()
    await setup(app, m)
    before = await app.store.read(lambda s: len(list(s.scalars(select(AuditEntry.id)))))
    for args, expect in [(("delete_after", "²"), "digits 0-9"), (("delete_after", "-5"), "Not changed"),
                         (("delete_after", "99999"), "Not changed"), (("set", "x" * 3000), "1 to 1500"),
                         (("frobnicate",), "Usage: /welcome"), (("set",), "Usage: /welcome")]:
        await app.dispatch(cmd("max", "welcome", *args), m)
        assert expect in m.last_reply("max"), (args, m.last_reply("max"))
    await app.dispatch(cmd("mia", "welcome", "on"), m)  # a moderator: admins only
    assert "is for admins" in m.last_reply("mia")
    assert await app.store.read(lambda s: len(list(s.scalars(select(AuditEntry.id))))) == before
    await app.dispatch(cmd("max", "welcome", "set", "{name.__class__} {0} {rules"), m)  # never str.format
    await app.dispatch(joined("zoe"), m)
    assert m.of("send")[-1].plain == "{name.__class__} {0} {rules"


async def test_the_first_week_checklist_earns_a_badge(app: App, clock: Clock) -> None:
    m = telegram()
    await setup(app, m)
    await app.dispatch(msg("zoe", "#intro I'm Zoe, learning Python"), m)
    await app.dispatch(msg("zoe", "How do I read a file line by line?", minutes=1), m)
    await app.dispatch(cmd("zoe", "checklist", minutes=2), m)
    shown = m.last_reply("zoe")
    assert shown.count("✅") == 2 and shown.count("⬜") == 1 and "finish your first lesson" in shown
    await app.dispatch(cmd("mia", "item", "add", "https://example.com/first-steps", "First", "steps", minutes=2), m)
    assert "first-steps" in m.last_reply("mia")
    await app.dispatch(cmd("zoe", "done", "first-steps", minutes=3), m)
    # credited at /done itself, not on the member's next message
    assert await app.store.read(lambda s: s.scalar(select(PointsBadge.badge).where(
        PointsBadge.badge == "first_week"))) == "first_week"
    assert any("finished the first-week checklist" in o.plain for o in m.of("send"))
    steps = await app.store.read(lambda s: s.execute(select(OnboardingStep.step, OnboardingStep.at)).all())
    assert {step for step, _ in steps} == {"intro", "question", "lesson"}
    assert dict(steps)["lesson"] == T0 + timedelta(minutes=3)
    await app.dispatch(msg("zoe", "thanks!", minutes=4), m)
    await app.dispatch(msg("zoe", "#intro again?", minutes=5), m)
    assert sum("first-week checklist" in o.plain for o in m.of("send")) == 1  # once


async def test_the_checklist_counts_only_in_the_first_week(app: App, clock: Clock) -> None:
    m = telegram()
    await setup(app, m)
    await app.dispatch(msg("zoe", "#intro hi all"), m)
    await app.dispatch(msg("zoe", "What is a decorator, really?", minutes=8 * 24 * 60), m)  # day 8
    steps = await app.store.read(lambda s: list(s.scalars(select(OnboardingStep.step))))
    assert steps == ["intro"]


async def test_a_lesson_done_in_a_private_chat_counts_at_once(app: App, clock: Clock) -> None:
    m = telegram()
    await setup(app, m)
    await app.dispatch(msg("zoe", "#intro I'm Zoe"), m)
    await app.dispatch(cmd("mia", "item", "add", "https://example.com/first-steps", "First", "steps", minutes=1), m)
    await app.dispatch(cmd("zoe", "done", "first-steps", private=True, minutes=2), m)  # acts on her home community
    assert "first-steps" in m.last_reply("zoe")
    steps = await app.store.read(lambda s: sorted(s.scalars(select(OnboardingStep.step))))
    assert steps == ["intro", "lesson"]
    await app.dispatch(cmd("zoe", "checklist", private=True, minutes=3), m)
    assert m.last_reply("zoe").count("✅") == 2
