"""From raw update to committed events: the part of ingest both Telegram modes share.

:meth:`Inbox.take` returns True only once every event of the update is committed (or the
update is committed as a dead letter); only then may the caller acknowledge it to Telegram
(the next ``getUpdates`` offset, or the webhook's 200). An update whose events fail to
store is not acknowledged, so Telegram delivers it again; after ``max_deliveries`` failed
deliveries it is quarantined rather than blocking the updates behind it. Handlers and replies run after
that, in tasks bounded by ``max_in_flight``, so a slow reply never delays an ack.

Events are submitted to the store's single writer in update order: ``take`` converts and
submits before its first suspension, and callers start ``take`` in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from bot.adapters.base import Ingest
from engine.events import ButtonClicked, Event
from engine.ingest.dead_letters import Quarantined, quarantined, short
from engine.store.writer import Outcome

from .messenger import TelegramMessenger
from .updates import convert_update, dm_status_change

log = logging.getLogger(__name__)

QuarantineHook = Callable[[Quarantined], Awaitable[bool]]


def update_id_of(raw: Any) -> int | None:
    """The update's ``update_id`` when it is a plain integer, else None."""
    uid = raw.get("update_id") if isinstance(raw, dict) else None
    if isinstance(uid, int) and not isinstance(uid, bool) and 0 <= uid < 2**63:
        return uid
    return None


class Inbox:
    """Commits updates and then runs their handlers. One per adapter."""

    def __init__(
        self,
        ingest: Ingest,
        messenger: TelegramMessenger,
        identity: Callable[[], tuple[str, int]],
        *,
        on_quarantine: QuarantineHook | None = None,
        max_in_flight: int = 64,
        recent_updates: int = 4096,
        store_attempts: int = 2,
        max_deliveries: int = 3,
        retry_delay: float = 0.5,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._ingest = ingest
        self._messenger = messenger
        self._identity = identity
        self._on_quarantine = on_quarantine
        self._slots = asyncio.Semaphore(max(1, max_in_flight))
        self._tasks: set[asyncio.Task[None]] = set()
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._recent_max = recent_updates
        self._store_attempts = max(1, store_attempts)
        self._max_deliveries = max(1, max_deliveries)
        self._failures: OrderedDict[int, int] = OrderedDict()  # update_id → failed deliveries
        self._retry_delay = retry_delay
        self._sleep = sleep
        self.updates_seen = 0
        self.updates_skipped = 0  # redeliveries of committed updates caught by the update_id LRU
        self.updates_quarantined = 0

    # -- the ack-after-commit step -------------------------------------------------------
    async def take(self, raw: Any) -> bool:
        """Commit ``raw``'s events, then start its handlers. True when it may be acknowledged;
        False when nothing durable could be written (the caller must not acknowledge)."""
        self.updates_seen += 1
        uid = update_id_of(raw)
        if uid is not None and uid in self._recent:
            self.updates_skipped += 1
            return True
        username, bot_id = self._identity()
        conversion = convert_update(raw, username, bot_id)
        if conversion.problem is not None:
            done = await self.quarantine(raw, uid, conversion.problem)
        else:
            done = await self._commit(raw, uid, conversion.events)
        if done and uid is not None:
            self._remember(uid)
        return done

    async def quarantine(self, raw: Any, uid: int | None, reason: str) -> bool:
        """Set ``raw`` aside as a dead letter (one short log line); True once it is stored."""
        self.updates_quarantined += 1
        letter = quarantined("telegram", uid if uid is not None else (raw.get("update_id") if isinstance(raw, dict) else None),
                             raw, reason)
        log.warning("telegram update %s quarantined: %s", uid if uid is not None else letter.key, letter.reason)
        if self._on_quarantine is None:
            return True
        try:
            await self._on_quarantine(letter)
        except Exception as exc:
            log.error("telegram update %s: storing its dead letter failed: %s", letter.key,
                      short(f"{type(exc).__name__}: {exc}", 200))
            return False
        return True

    async def _commit(self, raw: Any, uid: int | None, events: list[Event]) -> bool:
        outcomes: list[Outcome | BaseException] = list(
            await asyncio.gather(*(self._ingest.record(e) for e in events), return_exceptions=True))
        for attempt in range(1, self._store_attempts):
            failed = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
            if not failed:
                break
            await self._sleep(self._retry_delay * attempt)
            retried = await asyncio.gather(*(self._ingest.record(events[i]) for i in failed), return_exceptions=True)
            for i, o in zip(failed, retried, strict=True):
                outcomes[i] = o
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            for err in errors:
                if isinstance(err, asyncio.CancelledError):
                    raise err
            exc = errors[0]
            reason = f"storing failed: {type(exc).__name__}: {exc}"
            if uid is not None and self._failed_again(uid) < self._max_deliveries:
                # Not acknowledged: Telegram delivers it again (a database hiccup passes).
                log.warning("telegram update %s not stored, will be fetched again: %s", uid, short(reason, 200))
                return False
            # Stored events of this update stay stored; the rest is kept for the operator.
            if not await self.quarantine(raw, uid, reason):
                return False
        if (blocked := dm_status_change(raw)) is not None:
            try:
                await self._messenger.set_reachable(*blocked)  # blocked / unblocked in private
            except Exception as exc:
                log.warning("telegram: recording DM reachability failed: %s", short(str(exc), 200))
        for event, outcome in zip(events, outcomes, strict=True):
            if isinstance(outcome, Outcome):
                await self._slots.acquire()  # back-pressure: the next ack waits for a slot
                task = asyncio.create_task(self._react(event, outcome))
                self._tasks.add(task)
                task.add_done_callback(self._finished)
        return True

    def _failed_again(self, uid: int) -> int:
        count = self._failures.pop(uid, 0) + 1
        self._failures[uid] = count
        if len(self._failures) > 1024:
            self._failures.popitem(last=False)
        return count

    def _remember(self, uid: int) -> None:
        self._failures.pop(uid, None)
        if self._recent_max <= 0:
            return
        self._recent[uid] = None
        if len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)

    # -- after the commit -----------------------------------------------------------------
    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _react(self, event: Event, outcome: Outcome) -> None:
        try:
            await self._ingest.react(event, self._messenger, outcome)
        except Exception:  # react never raises; one bad handler must never stop the others
            log.exception("telegram: handling %s failed", event.dedup_key)
        finally:
            if isinstance(event, ButtonClicked) and event.click_id:
                await self._messenger.answer_click(event.click_id)
        if event.is_private and event.user_id and not outcome.duplicate:
            await self._messenger.mark_reachable(event.user_id)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every handler started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
