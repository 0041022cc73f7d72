"""The Notifier over the real store: exactly once per key, opt-out, reachability,
bounded retries with back-off, pictures in parts, the sweep after a crash, pacing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.bootstrap import App
from bot.notifier import NotifierOptions, OutboxNotifier
from bot.notify import Delivery, Notification, Purpose
from bot.ports import Button, NotReachable
from engine.events import Platform
from engine.members.privacy import forget_member, set_dm_opt_out
from engine.outbox import outbox
from engine.outbox.tables import OutboxEntry
from tests.members.fakes import T0, Clock
from tests.notify.helpers import FLAKY, ScriptedMessenger, community_id, member, outbox_row, reachable


class Sleeps:
    def __init__(self, clock: Clock | None = None) -> None:
        self.waits: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(days=1))


@pytest.fixture
def sleeps(clock: Clock) -> Sleeps:
    return Sleeps(clock)


@pytest.fixture
def tg() -> ScriptedMessenger:
    return ScriptedMessenger(Platform.TELEGRAM)


def make(app: App, clock: Clock, sleeps: Sleeps, *messengers: ScriptedMessenger, **opts: object) -> OutboxNotifier:
    options = NotifierOptions(**{"retry_delay": 2.0, "pace": {}, **opts})  # type: ignore[arg-type]
    notifier = OutboxNotifier(app.store, options, clock=clock, sleep=sleeps, monotonic=lambda: clock().timestamp())
    for m in messengers:
        notifier.attach(m)
    return notifier


def note(key: str, member_id: int, cid: int | None = None, purpose: Purpose = Purpose.NUDGE, **kw: object) -> Notification:
    return Notification(key, member_id, cid, purpose, kw.pop("text", f"hello {key}"), **kw)  # type: ignore[arg-type]


async def test_a_key_is_sent_once(app: App, clock: Clock, sleeps: Sleeps, tg: ScriptedMessenger) -> None:
    ada = await member(app, "ada")
    notifier = make(app, clock, sleeps, tg)
    buttons = (Button("Open", url="https://example.org"),)
    assert await notifier.notify(note("k1", ada, buttons=buttons)) is Delivery.SENT
    assert await notifier.notify(note("k1", ada, text="changed")) is Delivery.SENT
    assert tg.sent == [("dm", "ada", "hello k1", buttons)]
    row = await outbox_row(app, "k1")
    assert row is not None and row.state == "sent" and row.attempts == 1 and row.sent_at == clock()
    assert await reachable(app, Platform.TELEGRAM, "ada") is True


async def test_opt_out_blocks_nudges_digests_and_warnings_not_service(
        app: App, clock: Clock, sleeps: Sleeps, tg: ScriptedMessenger) -> None:
    bob = await member(app, "bob")
    await app.store.write(lambda s: set_dm_opt_out(s, bob, True))
    notifier = make(app, clock, sleeps, tg)
    for i, purpose in enumerate((Purpose.NUDGE, Purpose.DIGEST, Purpose.MODERATION)):
        assert await notifier.notify(note(f"o{i}", bob, purpose=purpose)) is Delivery.OPTED_OUT
    assert tg.sent == []
    assert await notifier.notify(note("svc", bob, purpose=Purpose.SERVICE)) is Delivery.SENT
    assert tg.dms_to("bob") == ["hello svc"]
    row = await outbox_row(app, "o0")
    assert row is not None and row.state == "opted_out"


async def test_blocked_is_unreachable_recorded_and_not_retried(
        app: App, clock: Clock, sleeps: Sleeps, tg: ScriptedMessenger) -> None:
    cy = await member(app, "cy")
    tg.fail("cy", NotReachable("cy", "Forbidden: bot was blocked by the user"))
    notifier = make(app, clock, sleeps, tg)
    assert await notifier.notify(note("u1", cy)) is Delivery.UNREACHABLE
    assert tg.calls == 1 and sleeps.waits == []
    row = await outbox_row(app, "u1")
    assert row is not None and row.state == "unreachable" and "blocked" in (row.last_error or "")
    assert await reachable(app, Platform.TELEGRAM, "cy") is False
    # The same key again, and a new key within the recheck period: nothing is attempted.
    assert await notifier.notify(note("u1", cy)) is Delivery.UNREACHABLE
    assert await notifier.notify(note("u2", cy)) is Delivery.UNREACHABLE
    assert tg.calls == 1
    # After the recheck period one attempt is made again.
    clock.advance(days=8)
    assert await notifier.notify(note("u3", cy)) is Delivery.SENT
    assert tg.calls == 2 and await reachable(app, Platform.TELEGRAM, "cy") is True


async def test_transient_failures_back_off_then_send(app: App, clock: Clock, sleeps: Sleeps,
                                                      tg: ScriptedMessenger) -> None:
    dee = await member(app, "dee")
    tg.fail("dee", FLAKY, FLAKY)
    notifier = make(app, clock, sleeps, tg, max_attempts=3)
    assert await notifier.notify(note("t1", dee)) is Delivery.SENT
    assert sleeps.waits == [2.0, 8.0]
    assert tg.dms_to("dee") == ["hello t1"]
    row = await outbox_row(app, "t1")
    assert row is not None and row.attempts == 1 and row.state == "sent"


async def test_bounded_retries_end_failed_and_stay_failed(app: App, clock: Clock, sleeps: Sleeps,
                                                           tg: ScriptedMessenger) -> None:
    eve = await member(app, "eve")
    tg.fail("eve", FLAKY, FLAKY, FLAKY, FLAKY)
    notifier = make(app, clock, sleeps, tg, max_attempts=3)
    assert await notifier.notify(note("f1", eve)) is Delivery.FAILED
    assert tg.calls == 3
    row = await outbox_row(app, "f1")
    assert row is not None and row.state == "failed" and "502" in (row.last_error or "")
    assert await notifier.notify(note("f1", eve)) is Delivery.FAILED
    assert tg.calls == 3


async def test_a_picture_goes_first_and_a_retry_never_repeats_it(
        app: App, clock: Clock, sleeps: Sleeps, tg: ScriptedMessenger) -> None:
    fay = await member(app, "fay")
    notifier = make(app, clock, sleeps, tg, max_attempts=2)
    original = tg.dm

    failures = [FLAKY]

    async def dm_fails_once(user_id: str, text: str, *, buttons: tuple[Button, ...] = ()) -> object:
        if failures:
            raise failures.pop()
        return await original(user_id, text, buttons=buttons)

    tg.dm = dm_fails_once  # type: ignore[method-assign]
    n = note("p1", fay, purpose=Purpose.DIGEST, picture=b"\x89PNG...", picture_name="week.png")
    assert await notifier.notify(n) is Delivery.SENT
    assert [(k, t) for k, _, t, _ in tg.sent] == [("picture", "week.png"), ("dm", "hello p1")]
    row = await outbox_row(app, "p1")
    assert row is not None and row.picture is None and row.parts_done == 1


async def test_the_sweep_resumes_planned_and_stale_rows_once(app: App, clock: Clock, sleeps: Sleeps,
                                                              tg: ScriptedMessenger) -> None:
    gus, hal, ivy = [await member(app, u) for u in ("gus", "hal", "ivy")]
    now = clock()

    def crashed(s):  # type: ignore[no-untyped-def]
        # What a process killed mid-way leaves: a planned row, a row claimed long ago and one
        # claimed a moment ago (still owned by a live process).
        for key, mid in (("planned", gus), ("stale", hal), ("fresh", ivy)):
            outbox.plan(s, key=key, member_id=mid, community_id=None, purpose="nudge", text=key, buttons=(),
                        picture=None, picture_name="chart.png", now=now - timedelta(minutes=10))
        outbox.claim(s, "stale", now - timedelta(minutes=10), stale_before=now)
        outbox.claim(s, "fresh", now - timedelta(seconds=5), stale_before=now)

    await app.store.write(crashed)
    notifier = make(app, clock, sleeps, tg)
    assert await notifier.resume() == 2
    assert sorted(text for _, _, text, _ in tg.sent) == ["planned", "stale"]
    assert await notifier.resume() == 0
    fresh = await outbox_row(app, "fresh")
    assert fresh is not None and fresh.state == "sending"
    clock.advance(minutes=6)
    assert await notifier.resume() == 1
    assert sorted(text for _, _, text, _ in tg.sent) == ["fresh", "planned", "stale"]


async def test_the_community_platform_is_preferred_and_refusal_falls_back(
        app: App, clock: Clock, sleeps: Sleeps) -> None:
    from engine.members.linking import merge_members

    tg, dc = ScriptedMessenger(Platform.TELEGRAM), ScriptedMessenger(Platform.DISCORD)
    tg_id = await member(app, "jo")
    dc_id = await member(app, "9001", platform=Platform.DISCORD, community="guild")
    await app.store.write(lambda s: merge_members(s, tg_id, dc_id, app.privacy_hooks))
    guild = await community_id(app, Platform.DISCORD, "guild")
    notifier = make(app, clock, sleeps, tg, dc)
    assert await notifier.notify(note("c1", tg_id, guild)) is Delivery.SENT
    assert dc.dms_to("9001") == ["hello c1"] and tg.sent == []
    dc.fail("9001", NotReachable("9001", "50007"))
    assert await notifier.notify(note("c2", tg_id, guild)) is Delivery.SENT
    assert tg.dms_to("jo") == ["hello c2"]


async def test_no_messenger_for_the_members_platform_is_unreachable(app: App, clock: Clock, sleeps: Sleeps) -> None:
    kim = await member(app, "kim")
    notifier = make(app, clock, sleeps, ScriptedMessenger(Platform.DISCORD))
    assert await notifier.notify(note("n1", kim)) is Delivery.UNREACHABLE
    row = await outbox_row(app, "n1")
    assert row is not None and "no account" in (row.last_error or "")


async def test_notify_all_paces_per_platform_and_reports_in_order(
        app: App, clock: Clock, sleeps: Sleeps, tg: ScriptedMessenger) -> None:
    ids = [await member(app, u) for u in ("la", "lb", "lc")]
    await app.store.write(lambda s: set_dm_opt_out(s, ids[1], True))
    notifier = make(app, clock, sleeps, tg, pace={"telegram": 0.5})
    result = await notifier.notify_all([note(f"a{i}", m) for i, m in enumerate(ids)] + [note("a0", ids[0])])
    assert result == [Delivery.SENT, Delivery.OPTED_OUT, Delivery.SENT, Delivery.SENT]
    assert len(tg.sent) == 2
    assert sum(sleeps.waits) == pytest.approx(0.5)  # two DMs: one wait of one interval


async def test_forget_removes_the_members_outbox_rows(app: App, clock: Clock, sleeps: Sleeps,
                                                       tg: ScriptedMessenger) -> None:
    mo = await member(app, "mo")
    notifier = make(app, clock, sleeps, tg)
    await notifier.notify(note("x1", mo))
    await app.store.write(lambda s: forget_member(s, mo, app.privacy_hooks))
    left = await app.store.read(lambda s: s.execute(select(OutboxEntry)).scalars().all())
    assert left == []

