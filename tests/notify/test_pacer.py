"""The Notifier's per-platform pacer, on virtual time: what the platform counts is when a
request *arrives*, which can be anywhere between its start and its answer."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random

import pytest

from bot.notifier import Pacer


class VirtualTime:
    """Sleeps that end in virtual time: the driver moves time to the next wake-up only when
    every task is waiting, so latency and stalls cost no real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._wakeups: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._wakeups, (self.now + max(0.0, seconds), next(self._seq), fut))
        await fut

    async def run(self, *coros: object) -> None:
        tasks = [asyncio.ensure_future(c) for c in coros]  # type: ignore[call-overload]
        while not all(t.done() for t in tasks):
            for _ in range(20):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            if self._wakeups:
                at, _, fut = heapq.heappop(self._wakeups)
                self.now = max(self.now, at)
                fut.set_result(None)
        for t in tasks:
            t.result()


def busiest_second(times: list[float]) -> int:
    ordered, best, j = sorted(times), 0, 0
    for i, t in enumerate(ordered):
        while ordered[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


async def campaign(vt: VirtualTime, pacer: Pacer, sends: int, workers: int,
                   latency: object, rng: random.Random) -> list[float]:
    """``workers`` concurrent senders share ``sends``; each send's request reaches the
    platform at a random point between its start and its answer."""
    arrivals: list[float] = []
    left = iter(range(sends))

    async def worker() -> None:
        for _ in left:
            async with pacer.send():
                started = vt.now
                took = latency(rng)  # type: ignore[operator]
                await vt.sleep(took)
                arrivals.append(started + rng.random() * took)

    await vt.run(*(worker() for _ in range(workers)))
    return arrivals


def pacer_on(vt: VirtualTime, interval: float) -> Pacer:
    return Pacer(interval, sleep=vt.sleep, monotonic=lambda: vt.now)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_jittery_latency_never_puts_more_than_the_limit_in_any_second(seed: int) -> None:
    # Latency from 1 ms to 400 ms, with a stall now and then: started evenly, the requests
    # would bunch at the platform; the pacer holds each place until a second after its answer.
    vt = VirtualTime()
    pacer = pacer_on(vt, 1 / 30)
    rng = random.Random(seed)
    arrivals = await campaign(vt, pacer, 600, 8,
                              lambda r: r.choice([0.001, 0.005, 0.02, 0.4]) if r.random() > 0.02 else 1.5, rng)
    assert len(arrivals) == 600
    assert busiest_second(arrivals) <= 30


async def test_on_a_fast_link_the_rate_stays_within_two_percent_of_the_limit() -> None:
    vt = VirtualTime()
    pacer = pacer_on(vt, 1 / 30)
    arrivals = await campaign(vt, pacer, 900, 8, lambda r: 0.004, random.Random(0))
    rate = (len(arrivals) - 1) / (max(arrivals) - min(arrivals))
    assert busiest_second(arrivals) <= 30
    assert rate >= 0.98 * 30


async def test_a_late_wake_catches_up_without_a_burst_over_the_limit() -> None:
    now = [0.0]
    stalls = iter([0.9] + [0.0] * 100)  # the first wait overruns by 0.9 s (a busy machine)

    async def sleep(seconds: float) -> None:
        now[0] += seconds + next(stalls)

    pacer = Pacer(0.25, sleep=sleep, monotonic=lambda: now[0])
    sent = []
    for _ in range(16):
        async with pacer.send():
            sent.append(now[0])
    # Never more than 1 / 0.25 = 4 sends in any second, though the stall left slots behind...
    assert busiest_second(sent) == 4
    # ...and the average still holds after it: 16 sends in 16 × 0.25 s plus the stall, at most.
    assert sent[-1] <= 15 * 0.25 + 0.9 + 1e-9


async def test_sends_held_in_flight_keep_their_places() -> None:
    # A limit of 1 (one DM a second): the second send waits for the first one's answer and
    # a second more, however long the first takes (a 429 pause inside the messenger).
    vt = VirtualTime()
    pacer = pacer_on(vt, 1.0)
    starts: list[float] = []

    async def one(took: float) -> None:
        async with pacer.send():
            starts.append(vt.now)
            await vt.sleep(took)

    await vt.run(one(3.0), one(0.1))
    assert starts == [0.0, pytest.approx(4.0)]


async def test_no_interval_means_no_pacing() -> None:
    pacer = Pacer(0.0, sleep=lambda s: pytest.fail("slept"), monotonic=lambda: 0.0)  # type: ignore[arg-type,return-value]
    for _ in range(100):
        async with pacer.send():
            pass
