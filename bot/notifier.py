"""The Notifier behind :mod:`bot.notify`: a durable outbox in front of the platforms' DMs.

``notify`` commits the notification as ``planned`` before anything is sent, then claims
it (``sending``, one conditional UPDATE, so one process sends it), picks the member's
account on a platform whose messenger is attached, sends, and commits the outcome.

Delivery guarantee, honestly:

* a key already ``sent`` (or final in any other way) is never sent again;
* a crash before the send starts (``planned``, or ``sending`` whose request never reached
  the platform) is resumed by the sweep and delivered exactly once;
* the one window left is a crash after the platform accepted the message and before
  ``sent`` is committed (one HTTP round trip plus a commit). Neither platform takes an
  idempotency key, so such a row is resent once it is stale (``notifier.stale_after``):
  a rare repeat rather than a silent loss (at-least-once inside that window only).
  A notification with a picture is two parts; each delivered part is committed, so a
  retry never repeats the part that already went.

Opt-out (``/optout``) blocks the purposes in :data:`bot.notify.OPT_OUT_BLOCKS`, checked
when the row is claimed (a member who opts out after planning is still skipped). An
account that refused DMs (Telegram 403, Discord 50007) is recorded as unreachable and
not tried again for ``recheck_unreachable_days``; a member who writes to the bot in
private is reachable again (:func:`mark_private_contact`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.modules import EventHandler, Module
from bot.notify import OPT_OUT_BLOCKS, Delivery, Notification, Purpose
from bot.ports import Button, DirectPictures, Messenger, NotReachable, PlatformError, Unsupported
from bot.settings import NotifierSettings
from engine.events import Event, utcnow
from engine.members.privacy import is_opted_out
from engine.members.reachability import mark_reachability
from engine.outbox import outbox
from engine.outbox import tables as outbox_tables
from engine.outbox.outbox import DmTarget, OutboxRow
from engine.store.models import Account
from engine.store.store import Store

log = logging.getLogger(__name__)

_DELIVERY = {
    outbox.SENT: Delivery.SENT,
    outbox.FAILED: Delivery.FAILED,
    outbox.UNREACHABLE: Delivery.UNREACHABLE,
    outbox.OPTED_OUT: Delivery.OPTED_OUT,
}


@dataclass(frozen=True, slots=True)
class NotifierOptions:
    max_attempts: int = 3
    retry_delay: float = 2.0
    stale_after: timedelta = timedelta(minutes=5)
    sweep_interval: float = 30.0
    recheck_unreachable: timedelta = timedelta(days=7)
    pace: dict[str, float] = field(default_factory=lambda: {"telegram": 1 / 30})
    # between two parts of one notification (a picture, then its text) to the same chat
    chat_interval: dict[str, float] = field(default_factory=lambda: {"telegram": 1.0})
    concurrency: int = 8  # notifications in flight at once in notify_all (paced per platform)


class OutboxNotifier:
    """Implements :class:`bot.notify.Notifier`. Attach each platform's messenger once the
    adapters exist (:meth:`attach`); :meth:`start` resumes what a previous run left."""

    def __init__(
        self,
        store: Store,
        options: NotifierOptions | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.options = options or NotifierOptions()
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._messengers: dict[str, Messenger] = {}
        self._pacers: dict[str, Pacer] = {}
        self._sweeper: asyncio.Task[None] | None = None

    # -- wiring ---------------------------------------------------------------------------
    def attach(self, messenger: Messenger) -> None:
        """Deliver to members' accounts on ``messenger.platform`` through ``messenger``."""
        self._messengers[str(messenger.platform)] = messenger

    @property
    def platforms(self) -> frozenset[str]:
        return frozenset(self._messengers)

    def messenger(self, platform: str) -> Messenger | None:
        """The running messenger of ``platform`` (None when that adapter is not running)."""
        return self._messengers.get(platform)

    async def start(self) -> None:
        """Resume planned and stale rows now, then every ``sweep_interval`` seconds."""
        await self.resume()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="cohort-outbox-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep_forever(self) -> None:
        while True:
            await self._sleep(self.options.sweep_interval)
            try:
                await self.resume()
            except Exception:
                log.exception("outbox sweep failed; trying again in %ss", self.options.sweep_interval)

    # -- the port -------------------------------------------------------------------------
    async def notify(self, notification: Notification) -> Delivery:
        n = notification
        buttons = [{"label": b.label, "data": b.data, "url": b.url} for b in n.buttons]
        now = self._clock()
        state = await self.store.write(lambda s: outbox.plan(
            s, key=n.key, member_id=n.member_id, community_id=n.community_id, purpose=str(n.purpose),
            text=n.text, buttons=buttons, picture=n.picture, picture_name=n.picture_name, now=now))
        if state in _DELIVERY:
            return _DELIVERY[state]
        return await self._deliver(n.key)

    async def notify_all(self, notifications: Sequence[Notification]) -> list[Delivery]:
        gate = asyncio.Semaphore(self.options.concurrency)
        first: dict[str, asyncio.Task[Delivery]] = {}
        now = self._clock()
        unique = list({n.key: n for n in reversed(notifications)}.values())  # the first of each key
        rows = [{"key": n.key, "member_id": n.member_id, "community_id": n.community_id, "purpose": str(n.purpose),
                 "text": n.text, "buttons": [{"label": b.label, "data": b.data, "url": b.url} for b in n.buttons],
                 "picture": n.picture, "picture_name": n.picture_name} for n in unique]
        # One commit plans the whole batch (not one per notification).
        states = await self.store.write(lambda s: outbox.plan_many(s, rows, now))

        async def one(n: Notification) -> Delivery:
            state = states.get(n.key)
            if state in _DELIVERY:
                return _DELIVERY[state]
            async with gate:
                return await self._deliver(n.key)

        tasks = []
        for n in notifications:  # a key given twice is delivered once and reported twice
            if n.key not in first:
                first[n.key] = asyncio.ensure_future(one(n))
            tasks.append(first[n.key])
        return list(await asyncio.gather(*tasks))

    async def resume(self) -> int:
        """Send planned rows and take over ``sending`` rows left stale; returns how many
        rows were attempted."""
        stale_before = self._clock() - self.options.stale_after
        keys = await self.store.read(lambda s: outbox.resumable(s, stale_before=stale_before))
        for key in keys:
            try:
                await self._deliver(key)
            except Exception:
                log.exception("outbox: resuming %s failed", key)
        if keys:
            log.info("outbox: resumed %d notification(s)", len(keys))
        return len(keys)

    # -- delivery -------------------------------------------------------------------------
    async def _deliver(self, key: str) -> Delivery:
        """Claim and send ``key``; if another task or process holds it, wait for its outcome
        (taking the row over once it is stale, i.e. its sender died)."""
        deadline = self._monotonic() + 2 * self.options.stale_after.total_seconds()
        while True:
            claimed = await self._claim(key)
            if claimed is not None:
                return await self._send_row(claimed)
            state = await self.store.read(lambda s: outbox.state_of(s, key))
            if state is None:
                return Delivery.FAILED  # the member was forgotten meanwhile
            if state in _DELIVERY:
                return _DELIVERY[state]
            if self._monotonic() > deadline:
                return Delivery.FAILED
            await self._sleep(0.05)

    async def _claim(self, key: str) -> _Claimed | None:
        """The claimed row with the member's opt-out and accounts, read in the claim's
        transaction (one round trip per notification, not three)."""
        now = self._clock()
        stale_before = now - self.options.stale_after

        def fn(session: Session) -> _Claimed | None:
            row = outbox.claim(session, key, now, stale_before=stale_before)
            if row is None:
                return None
            blocked = Purpose(row.purpose) in OPT_OUT_BLOCKS and is_opted_out(session, row.member_id, row.community_id)
            return _Claimed(row, blocked, outbox.dm_targets(session, row.member_id, row.community_id))

        return await self.store.write(fn)

    async def _send_row(self, claimed: _Claimed) -> Delivery:
        row, targets = claimed.row, claimed.targets
        key = row.key
        if claimed.opted_out:
            await self._finish(key, outbox.OPTED_OUT)
            return Delivery.OPTED_OUT
        refused: list[str] = []
        for target in self._usable(targets, row, refused):
            delivery = await self._send_to(row, target, refused)
            if delivery is not None:
                return delivery
        reason = "; ".join(refused) or "no account on a connected platform"
        await self._finish(key, outbox.UNREACHABLE, error=reason)
        return Delivery.UNREACHABLE

    def _usable(self, targets: list[DmTarget], row: OutboxRow, refused: list[str]) -> list[DmTarget]:
        recheck_after = self._clock() - self.options.recheck_unreachable
        usable = []
        for t in targets:
            if t.platform not in self._messengers:
                continue
            if row.parts_done and row.platform != t.platform:
                continue  # part of it went there: the rest follows on the same platform
            if t.dm_reachable is False and t.dm_checked_at is not None and t.dm_checked_at > recheck_after:
                refused.append(f"{t.platform}: refused DMs (recorded {t.dm_checked_at:%Y-%m-%d})")
                continue
            usable.append(t)
        return usable

    async def _send_to(self, row: OutboxRow, target: DmTarget, refused: list[str]) -> Delivery | None:
        """Send the row's remaining parts to ``target``; None when the account refused
        (the caller tries the next account)."""
        heartbeat = asyncio.create_task(self._heartbeat(row.key), name=f"cohort-outbox-heartbeat-{row.key}")
        try:
            return await self._send_parts(row, target, refused)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self, key: str) -> None:
        """Keep the row fresh while its send is in flight, however long the platform takes,
        so no one takes it over as stale while this process is alive."""
        while True:
            await asyncio.sleep(self.options.stale_after.total_seconds() / 3)  # real time, like the lease
            await self._touch(key, None)

    async def _send_parts(self, row: OutboxRow, target: DmTarget, refused: list[str]) -> Delivery | None:
        messenger = self._messengers[target.platform]
        parts = _parts(row)
        done = row.parts_done
        for attempt in range(1, self.options.max_attempts + 1):
            try:
                while done < len(parts):
                    async with self._pacer(target.platform).send():
                        await parts[done](messenger, target.external_id)
                    done += 1
                    if done < len(parts):
                        await self._progress(row.key, done, target.platform)
                        # the next part goes to the same chat: one per chat per chat_interval
                        if (gap := self.options.chat_interval.get(target.platform, 0.0)) > 0:
                            await self._sleep(gap)
            except (NotReachable, Unsupported) as exc:
                reason = exc.reason if isinstance(exc, NotReachable) else str(exc)
                refused.append(f"{target.platform}: {reason}")
                await self._record_reachable(target, False)
                return None
            except Exception as exc:  # PlatformError and whatever a messenger let through
                level = logging.WARNING if isinstance(exc, PlatformError) else logging.ERROR
                log.log(level, "outbox: %s to %s failed (attempt %d/%d): %s", row.key, target.platform,
                        attempt, self.options.max_attempts, exc, exc_info=not isinstance(exc, PlatformError))
                error = f"{target.platform}: {exc}"
                if attempt == self.options.max_attempts:
                    await self._finish(row.key, outbox.FAILED, error=error, platform=target.platform)
                    return Delivery.FAILED
                await self._touch(row.key, error)
                await self._sleep(self.options.retry_delay * 4 ** (attempt - 1))
                continue
            await self._finish(row.key, outbox.SENT, platform=target.platform, reachable=target)
            return Delivery.SENT
        return Delivery.FAILED  # not reached: the loop returns on its last attempt

    async def _finish(self, key: str, state: str, *, error: str | None = None, platform: str | None = None,
                      reachable: DmTarget | None = None) -> None:
        now = self._clock()

        def fn(session: Session) -> None:
            outbox.finish(session, key, state, now, error=error, platform=platform)
            if reachable is not None and reachable.dm_reachable is not True:
                mark_reachability(session, reachable.platform, reachable.external_id, True, now)

        await self.store.write(fn)

    async def _progress(self, key: str, done: int, platform: str) -> None:
        now = self._clock()
        await self.store.write(lambda s: outbox.progress(s, key, parts_done=done, platform=platform, now=now))

    async def _touch(self, key: str, error: str | None) -> None:
        now = self._clock()
        await self.store.write(lambda s: outbox.touch(s, key, now, error=error))

    async def _record_reachable(self, target: DmTarget, reachable: bool) -> None:
        now = self._clock()
        await self.store.write(lambda s: mark_reachability(s, target.platform, target.external_id, reachable, now))

    def _pacer(self, platform: str) -> Pacer:
        pacer = self._pacers.get(platform)
        if pacer is None:
            pacer = Pacer(self.options.pace.get(platform, 0.0), sleep=self._sleep, monotonic=self._monotonic)
            self._pacers[platform] = pacer
        return pacer


class Pacer:
    """Paces one platform's sends from this process: one per ``interval`` on average, and
    never more than ``limit`` = ⌈1 / interval⌉ in any second *as the platform counts them*.

    The platform counts a send when its request arrives, which is somewhere between the
    moment we start it and the moment its answer is back; a busy event loop, a slow client
    or jitter can bunch arrivals that were started evenly. So a send holds a place in the
    window from its start until one second after its answer came back: a new send starts
    only when fewer than ``limit`` sends are in flight or answered within the last second.
    Then the platform can never see more than ``limit`` arrivals in any second, whatever the
    latency; the price is one round trip per ``limit`` sends (loopback: < 1 % of the rate).
    """

    def __init__(self, interval: float, *, sleep: Callable[[float], Awaitable[None]],
                 monotonic: Callable[[], float]) -> None:
        self.interval = interval
        self.limit = max(1, math.ceil(1.0 / interval - 1e-9)) if interval > 0 else 0
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = asyncio.Lock()  # acquisitions in arrival order
        self._next_slot: float | None = None
        self._answered: collections.deque[float] = collections.deque()  # answer times, the last second
        self._in_flight = 0
        self._freed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def send(self) -> AsyncIterator[None]:
        """Wait for a place, hold it while the body (one platform call) runs."""
        if self.limit == 0:
            yield
            return
        async with self._lock:
            await self._wait_for_place()
            self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._answered.append(self._monotonic())
            self._freed.set()

    async def _wait_for_place(self) -> None:
        now = self._monotonic()
        slot = now if self._next_slot is None else max(now, self._next_slot)
        self._next_slot = slot + self.interval  # a late wake may catch up, within the limit below
        if slot > now:
            await self._sleep(slot - now)
        while True:
            now = self._monotonic()
            while self._answered and self._answered[0] <= now - 1.0:
                self._answered.popleft()
            if self._in_flight + len(self._answered) < self.limit:
                return
            if self._answered:  # (a microsecond more, so a wake-up rounded down still finds it gone)
                await self._sleep(self._answered[0] + 1.0 - now + 1e-6)
            else:  # every place is held by a send still in flight: wait for an answer
                self._freed.clear()
                await self._freed.wait()

@dataclass(frozen=True, slots=True)
class _Claimed:
    row: OutboxRow
    opted_out: bool
    targets: list[DmTarget]


Part = Callable[[Messenger, str], Awaitable[object]]


def _parts(row: OutboxRow) -> list[Part]:
    """The messages one notification becomes: its picture (if any), then its text."""
    buttons = tuple(Button(b.get("label", ""), b.get("data", ""), b.get("url", "")) for b in row.buttons)
    parts: list[Part] = []
    picture = row.picture
    if picture is not None:
        async def send_picture(m: Messenger, user: str) -> object:
            if isinstance(m, DirectPictures):
                return await m.dm_picture(user, picture, filename=row.picture_name)
            return await m.send_document(user, row.picture_name, picture)

        parts.append(send_picture)

    async def send_text(m: Messenger, user: str) -> object:
        return await m.dm(user, row.text, buttons=buttons)

    parts.append(send_text)
    return parts


def options_from(s: NotifierSettings) -> NotifierOptions:
    """The notifier's options from the ``[notifier]`` settings."""
    return NotifierOptions(
        max_attempts=s.max_attempts, retry_delay=s.retry_delay, stale_after=timedelta(seconds=s.stale_after),
        sweep_interval=s.sweep_interval, recheck_unreachable=timedelta(days=s.recheck_unreachable_days),
        pace={"telegram": s.telegram_interval, "discord": s.discord_interval},
    )


async def mark_private_contact(event: Event, store: Store) -> None:
    """A member who writes to the bot in private can be DMed again (they unblocked it or
    opened the chat): record the account reachable. Only private chats, only on change."""
    if not event.is_private or not event.user_id:
        return
    now = event.at

    def fn(session: Session) -> None:
        current = session.execute(select(Account.dm_reachable).where(
            Account.platform == str(event.platform), Account.external_id == event.user_id)).scalar_one_or_none()
        if current is not True:
            mark_reachability(session, str(event.platform), event.user_id, True, now)

    await store.write(fn)


MODULE = Module(
    name="notifier",
    tables=outbox_tables,
    handlers=(EventHandler((Event,), mark_private_contact),),
)
