"""Running nudge campaigns: the engine decides who and what, this hands it to the Notifier.

:class:`NudgeService` plans (or finds) a community's campaign for its local day in one
write transaction — the control group is drawn and stored before anything is sent — then
composes each treated member's message and delivers it with the key
``nudge:<campaign>:<member>``. The outbox behind the Notifier makes a key deliver once, so
a crash or a second run resumes the campaign instead of repeating it; each answer is
stored on the member's assignment (a 403 / 50007 becomes ``unreachable`` and is listed for
moderators, never retried by the campaign).

Messages are composed a chunk ahead of sending, so composing never slows the paced
sends down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.notify import Delivery, Notification, Notifier, Purpose
from bot.ports import Button
from engine.events import utcnow
from engine.nudge.campaign import (
    Plan,
    UpliftRanker,
    campaign_day,
    community_nudge_settings,
    open_campaigns,
    plan_campaign,
    record_deliveries,
    undelivered,
)
from engine.nudge.message import NudgeMessage, Recommending, compose, compose_many
from engine.nudge.risk import RiskSource
from engine.nudge.tables import NudgeCampaign
from engine.store.store import Store

log = logging.getLogger(__name__)
CHUNK = 200


def nudge_key(campaign_id: int, member_id: int) -> str:
    return f"nudge:{campaign_id}:{member_id}"


@dataclass(frozen=True, slots=True)
class RunResult:
    plan: Plan
    deliveries: dict[str, int]  # Delivery value → count, for this run

    @property
    def sent(self) -> int:
        return self.deliveries.get(str(Delivery.SENT), 0)


class NudgeService:
    """Plans, previews and delivers nudges. Built once by the composition root."""

    def __init__(self, store: Store, notifier: Notifier, *, risks: RiskSource, recommender: Recommending | None,
                 uplift: UpliftRanker | None = None, default_language: str = "en",
                 clock: Callable[[], datetime] = utcnow, chunk: int = CHUNK) -> None:
        self.store = store
        self.notifier = notifier
        self.risks = risks
        self.recommender = recommender
        self.uplift = uplift
        self.default_language = default_language
        self.clock = clock
        self.chunk = chunk
        self._running: dict[int, asyncio.Lock] = {}

    # -- planning ----------------------------------------------------------------------
    async def plan(self, community_id: int, *, now: datetime | None = None, dry_run: bool = False) -> Plan:
        when = now or self.clock()

        def fn(session: Session) -> Plan:
            return plan_campaign(session, community_id, when, risks=self.risks, dry_run=dry_run, uplift=self.uplift,
                                 default_language=self.default_language)

        if dry_run:
            return await self.store.read(fn)
        return await self.store.write(fn)

    async def preview(self, community_id: int, member_id: int, *, now: datetime | None = None) -> NudgeMessage:
        """Exactly what today's nudge to the member would say (nothing stored or sent)."""
        when = now or self.clock()

        def fn(session: Session) -> NudgeMessage:
            conf = community_nudge_settings(session, community_id, self.default_language)
            from engine.nudge.draw import campaign_seed
            seed = campaign_seed(community_id, when.astimezone(conf.zone).date())
            return compose(session, community_id, member_id, when, language=conf.language,
                           recommender=self.recommender, assignment_id=0, seed=seed)

        return await self.store.read(fn)

    # -- the daily run -------------------------------------------------------------------
    async def run(self, community_id: int, *, now: datetime | None = None) -> RunResult:
        """Plan (or find) today's campaign and deliver what is still undelivered."""
        plan = await self.plan(community_id, now=now)
        counts: dict[str, int] = {}
        if plan.campaign_id is not None and plan.status in ("planned", "exists"):
            counts = await self.deliver(plan.campaign_id)
        log.info("nudges: community %s: %s %s", community_id, plan.message, counts or "")
        return RunResult(plan, counts)

    async def resume(self) -> int:
        """Deliver what crashed or stopped campaigns left undelivered; returns how many
        campaigns were resumed."""
        ids = await self.store.read(lambda s: open_campaigns(s))
        for campaign_id in ids:
            try:
                await self.deliver(campaign_id)
            except Exception:
                log.exception("nudges: resuming campaign %s failed", campaign_id)
        return len(ids)

    async def deliver(self, campaign_id: int) -> dict[str, int]:
        """Send the campaign's undelivered treated members their nudge (once per key)."""
        lock = self._running.setdefault(campaign_id, asyncio.Lock())
        async with lock:  # a resume and the daily job never drive one campaign twice here
            return await self._deliver(campaign_id)

    async def _deliver(self, campaign_id: int) -> dict[str, int]:
        pending = await self.store.read(lambda s: undelivered(s, campaign_id))
        counts: dict[str, int] = {}
        if not pending:
            return counts
        chunks = [pending[i:i + self.chunk] for i in range(0, len(pending), self.chunk)]
        # Two chunks in flight: the next one's sends queue on the Notifier's pacer while the
        # previous one's last answers come back and are stored, so the paced rate never
        # dips between chunks; composing runs one chunk ahead.
        in_flight = asyncio.Semaphore(2)
        upcoming = asyncio.ensure_future(self._compose(campaign_id, chunks[0]))
        sending: list[asyncio.Task[list[Delivery]]] = []
        try:
            for index in range(len(chunks)):
                notes = await upcoming
                if index + 1 < len(chunks):
                    upcoming = asyncio.ensure_future(self._compose(campaign_id, chunks[index + 1]))
                await in_flight.acquire()
                sending.append(asyncio.create_task(self._send_chunk(campaign_id, notes, in_flight)))
            for results in await asyncio.gather(*sending):
                for d in results:
                    counts[str(d)] = counts.get(str(d), 0) + 1
        finally:
            for task in [*sending, upcoming]:
                if not task.done():
                    task.cancel()
        return counts

    async def _send_chunk(self, campaign_id: int, notes: list[tuple[int, Notification]],
                          in_flight: asyncio.Semaphore) -> list[Delivery]:
        try:
            results = await self.notifier.notify_all([n for _, n in notes])
            await self._record(campaign_id, {aid: str(d) for (aid, _), d in zip(notes, results, strict=True)})
            return results
        finally:
            in_flight.release()

    async def _record(self, campaign_id: int, answers: dict[int, str]) -> None:
        at = self.clock()
        await self.store.write(lambda s: record_deliveries(s, campaign_id, answers, at))

    async def _compose(self, campaign_id: int, chunk: Sequence[tuple[int, int]]) -> list[tuple[int, Notification]]:
        def fn(session: Session) -> list[tuple[int, Notification]]:
            campaign = session.get(NudgeCampaign, campaign_id)
            if campaign is None:
                return []
            conf = community_nudge_settings(session, campaign.community_id, self.default_language)
            day = campaign_day(session, campaign_id)
            assert day is not None
            when = campaign.created_at
            messages = compose_many(session, campaign.community_id, chunk, when, language=conf.language,
                                    recommender=self.recommender, seed=int(campaign.seed))
            out = []
            for assignment_id, member_id in chunk:
                msg = messages.get(assignment_id)
                if msg is None:
                    continue  # the member was forgotten since the draw
                out.append((assignment_id, Notification(
                    nudge_key(campaign_id, member_id), member_id, int(campaign.community_id), Purpose.NUDGE,
                    msg.text, tuple(Button(b.label, b.data, b.url) for b in msg.buttons))))
            return out

        return await self.store.read(fn)
