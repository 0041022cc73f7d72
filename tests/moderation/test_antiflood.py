"""Antiflood (``moderation.flood_*``) and the command budget, through the real router and
store with a recording messenger and an injected clock; message times are the events'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.bootstrap import App
from bot.handlers.automod import COMMAND_BURST, COMMAND_WINDOW
from bot.ports import Capability, Role
from engine.events import Platform
from engine.moderation.flood import Pace, SlidingWindows
from engine.moderation.tables import Warning_
from engine.store.models import AuditEntry, Message
from tests.members.fakes import Clock, ModeratingMessenger, cmd, msg


def messenger() -> ModeratingMessenger:
    m = ModeratingMessenger(Platform.TELEGRAM, roles={"mia": Role.MODERATOR, "max": Role.ADMIN})
    m.capabilities = m.capabilities | {Capability.MODERATE}
    return m


async def setup(app: App, m: ModeratingMessenger, *settings: tuple[str, str]) -> None:
    app.notifier.attach(m)  # warnings go out by DM through the Notifier, as the adapters attach it
    for i, who in enumerate(("max", "mia", "bob", "carol")):
        await app.dispatch(msg(who, f"hello from {who}", minutes=i - 30), m)
    for key, value in settings:
        await app.dispatch(cmd("max", "config", f"moderation.{key}", value, minutes=-20), m)
        assert f"moderation.{key} is now {value}" in m.last_reply("max")
    m.out.clear()  # the seeding's badge announcements


async def burst(app: App, m: ModeratingMessenger, who: str, n: int, *, every: float = 1.0,
                start: float = 0.0) -> None:
    for i in range(n):
        await app.dispatch(msg(who, f"{who} says {i}", minutes=(start + i * every) / 60), m)


async def audit(app: App) -> list[tuple[str, dict[str, object]]]:
    rows = await app.store.read(lambda s: s.execute(
        select(AuditEntry.action, AuditEntry.details).order_by(AuditEntry.id)).all())
    return [(a, dict(d or {})) for a, d in rows if not a.startswith("config.")]


async def test_more_than_n_in_t_mutes_once_with_one_notice(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m, ("flood_messages", "5"), ("flood_seconds", "10"), ("flood_mute_minutes", "15"))
    await burst(app, m, "bob", 9)  # one a second: the 6th is over the limit
    mutes = [a for a in m.actions if a[0] == "mute"]
    assert len(mutes) == 1 and mutes[0][2] == "bob"
    assert mutes[0][3]["until"] - clock.now == timedelta(minutes=15)
    [notice] = m.of("send")
    assert "Bob is muted for 15 min: more than 5 messages in 10 s" in notice.plain
    [(action, details)] = await audit(app)
    assert action == "mute" and details["source"] == "antiflood"


async def test_moderators_and_slow_members_are_never_acted_on(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m, ("flood_messages", "5"), ("flood_seconds", "10"))
    await burst(app, m, "mia", 30, every=0.2)  # a Cohort moderator
    await burst(app, m, "max", 30, every=0.2)  # a platform admin
    await burst(app, m, "carol", 30, every=2.5)  # 4 in any 10 s
    assert m.actions == [] and m.of("send") == [] and await audit(app) == []


async def test_off_by_default(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    await burst(app, m, "bob", 50, every=0.1)
    assert m.actions == [] and await audit(app) == []


async def test_delete_action_removes_every_extra_message_and_notices_once(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m, ("flood_messages", "3"), ("flood_seconds", "10"), ("flood_action", "delete"))
    await burst(app, m, "bob", 7)
    deletes = [a for a in m.actions if a[0] == "delete"]
    assert len(deletes) == 4 and all(len(a[3]["ids"]) == 1 for a in deletes)  # the 4th to the 7th
    assert len(m.of("send")) == 1 and "removing the extra ones" in m.of("send")[0].plain
    gone = await app.store.read(lambda s: sorted(s.scalars(
        select(Message.text).where(Message.deleted_at.is_not(None)))))
    assert gone == [f"bob says {i}" for i in (3, 4, 5, 6)]
    assert [a for a, _ in await audit(app)] == ["delete"] * 4
    # calm for a whole window: the next message is fine, a new burst is noticed again
    await burst(app, m, "bob", 1, start=30)
    assert len([a for a in m.actions if a[0] == "delete"]) == 4


async def test_warn_action_warns_and_escalates_like_a_moderator_warning(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m, ("flood_messages", "3"), ("flood_action", "warn"), ("warn_mute_at", "2"))
    await burst(app, m, "bob", 5)
    await burst(app, m, "bob", 5, start=60)
    warnings = await app.store.read(lambda s: list(s.scalars(select(Warning_.reason))))
    assert warnings == ["flooding: more than 3 messages in 10 s"] * 2
    assert [a[0] for a in m.actions] == ["mute"]  # the second warning reached warn_mute_at
    assert "please slow down" in m.of("send")[0].plain and "(1 active)" in m.of("send")[0].plain


async def test_a_flood_that_is_already_over_is_not_punished(app: App, clock: Clock) -> None:
    """A catch-up after downtime delivers an old burst: by the clock it is long over."""
    m = messenger()
    await setup(app, m, ("flood_messages", "3"))
    clock.advance(hours=1)
    await burst(app, m, "bob", 10)  # posted an hour ago by the clock
    assert m.actions == []


async def test_chinese_community_gets_the_notice_in_chinese(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m, ("flood_messages", "3"))
    await app.dispatch(cmd("max", "config", "language", "zh", minutes=-10), m)
    await burst(app, m, "bob", 5)
    assert "已被禁言 10 分钟" in m.of("send")[0].plain


async def test_a_flood_of_commands_gets_a_bounded_number_of_answers(app: App, clock: Clock) -> None:
    """50 commands in 10 s: the first COMMAND_BURST are answered, then one notice, then
    silence; every one is still stored; a moderator is not limited; after a calm window
    the member is answered again."""
    m = messenger()
    await setup(app, m)
    for i in range(50):
        await app.dispatch(cmd("bob", "warns", minutes=i * 0.2 / 60), m)
    replies = [o.plain for o in m.of("reply", "bob")]
    assert len(replies) == COMMAND_BURST + 1
    assert "faster than I can answer" in replies[-1]
    for i in range(20):
        await app.dispatch(cmd("mia", "warns", minutes=i * 0.2 / 60), m)
    assert len(m.of("reply", "mia")) == 20
    await app.dispatch(cmd("bob", "warns", minutes=(10 + COMMAND_WINDOW + 1) / 60), m)
    assert len(m.of("reply", "bob")) == COMMAND_BURST + 2 and "no active warnings" in m.last_reply("bob")
    stored = await app.store.read(lambda s: s.scalar(select(AuditEntry.id).limit(1)))
    assert stored is None  # nothing was applied by the flood


async def test_a_flood_of_commands_counts_toward_antiflood(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m, ("flood_messages", "4"))
    for i in range(8):
        await app.dispatch(cmd("bob", "warns", minutes=i / 60), m)
    assert [a[0] for a in m.actions] == ["mute"]


def test_sliding_windows_stay_bounded() -> None:
    windows = SlidingWindows(max_keys=100)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(10_000):
        windows.observe(("c", i), t0, limit=5, window=10)
    assert len(windows) == 100
    for i in range(10_000):  # one key, far more events than the limit: at most limit + 1 kept
        windows.observe("k", t0 + timedelta(milliseconds=i), limit=5, window=10)
    assert len(windows._times["k"]) == 6
    assert windows.observe("k", t0 + timedelta(seconds=30), limit=5, window=10) is Pace.CALM
