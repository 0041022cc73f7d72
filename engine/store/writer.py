"""The single writer: events and write jobs are applied in group commits.

One thread owns every write. It takes whatever has queued up (up to ``max_batch``),
applies it in one transaction and commits once, so throughput does not pay one fsync
per message; each caller's future resolves only after that commit. If a batch fails,
it is retried job by job so one bad event fails alone and loses nobody else's data.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine.events import Event
from engine.refusal import Refusal
from engine.store.recorder import Recorded, Recorder

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a projection wants said in chat after the commit (a badge, a level)."""

    kind: str
    community_id: int
    member_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


class Projection(Protocol):
    """A capability's write-side reaction to an event, in the same transaction."""

    name: str

    def project(self, session: Session, recorded: Recorded) -> Sequence[Notice]: ...

    def reset(self) -> None:
        """Forget in-memory state after a rollback."""
        ...

    # Optional: ``flush(session)`` writes what the projection deferred, once per batch.


_PROJECTIONS = "cohort.projections"  # the session.info entry the writer fills


def projections_in(session: Session) -> Sequence[Projection]:
    """The projections of the writer whose transaction ``session`` is (none outside one).

    A write that bypasses a projection's caches (a completion paid by the catalog, an
    erasure) uses this to flush or drop exactly the caches of that writer — no registry."""
    found = session.info.get(_PROJECTIONS, ())
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of recording one event: ``duplicate`` means it had been handled before."""

    duplicate: bool
    recorded: Recorded | None = None
    notices: tuple[Notice, ...] = ()


_STOP = object()


@dataclass
class _Job:
    event: Event | None
    fn: Callable[[Session], Any] | None
    future: Future[Any] | asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop | None = None  # set when ``future`` is the loop's own


def _resolve(fut: Future[Any] | asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    """Give one waiting caller its result or error (nothing if it stopped waiting)."""
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def _settle(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    """Resolve a batch's futures, on their event loop (a caller may have been cancelled)."""
    for fut, result, exc in settled:
        _resolve(fut, result, exc)


class EventWriter:
    """Owns the write thread. ``record``/``write`` are awaitable from any event loop;
    ``record_sync``/``write_sync`` block, for CLI tools and importers."""

    def __init__(
        self,
        engine: Engine,
        recorder: Recorder,
        projections: Sequence[Projection] = (),
        *,
        max_batch: int = 512,
    ) -> None:
        self.engine = engine
        self.recorder = recorder
        self.projections = list(projections)
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.jobs = 0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cohort-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish everything queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def add_projection(self, projection: Projection) -> None:
        self.projections.append(projection)

    # -- submitting --------------------------------------------------------------------
    def _submit(self, event: Event | None, fn: Callable[[Session], Any] | None) -> Future[Any]:
        if self._thread is None:
            raise RuntimeError("the writer is not started")
        fut: Future[Any] = Future()
        self._queue.put(_Job(event, fn, fut))
        return fut

    def _submit_async(self, event: Event | None, fn: Callable[[Session], Any] | None) -> asyncio.Future[Any]:
        # A future of the caller's loop, resolved with the rest of its batch in one
        # call_soon_threadsafe: a wake-up per event costs the writer more than the event.
        if self._thread is None:
            raise RuntimeError("the writer is not started")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(event, fn, fut, loop))
        return fut

    async def record(self, event: Event) -> Outcome:
        """Store ``event``; returns after its transaction has committed.

        Raises whatever storing it raised (the event is then not stored).
        """
        return await self._submit_async(event, None)  # type: ignore[no-any-return]

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in the writer's transaction; returns its result after commit."""
        return await self._submit_async(None, fn)  # type: ignore[no-any-return]

    def record_sync(self, event: Event) -> Outcome:
        return self._submit(event, None).result()  # type: ignore[no-any-return]

    def write_sync(self, fn: Callable[[Session], T]) -> T:
        return self._submit(None, fn).result()  # type: ignore[no-any-return]

    # -- the thread --------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Job] = [first]
            stop_after = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop_after = True
                    break
                batch.append(nxt)
            self._run_batch(batch)
            if stop_after:
                return

    def _apply(self, session: Session, job: _Job, claimed: bool | None = None) -> Any:
        if job.fn is not None:
            self._flush(session)  # a write job sees every earlier event of its batch
            return job.fn(session)
        event = job.event
        assert event is not None
        if claimed is None:
            claimed = self.recorder.claim(session, event)
        if not claimed:
            return Outcome(duplicate=True)
        recorded = self.recorder.record(session, event)
        if recorded.repeat:
            return Outcome(duplicate=True)
        notices: list[Notice] = []
        for projection in self.projections:
            notices.extend(projection.project(session, recorded))
        return Outcome(False, recorded, tuple(notices))

    def _flush(self, session: Session) -> None:
        self.recorder.flush(session)
        for projection in self.projections:
            flush = getattr(projection, "flush", None)
            if flush is not None:
                flush(session)

    def _forget_state(self) -> None:
        self.recorder.reset()
        for projection in self.projections:
            projection.reset()

    def _run_batch(self, batch: list[_Job]) -> None:
        self.batches += 1
        self.jobs += len(batch)
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                session.info[_PROJECTIONS] = self.projections
                # One statement claims every event's dedup key for the whole batch.
                events = [job.event for job in batch if job.event is not None]
                claims = iter(self.recorder.claim_many(session, events) if events else [])
                if events:
                    self.recorder.prefetch_accounts(session, events)
                results = [
                    self._apply(session, job, next(claims) if job.event is not None else None)
                    for job in batch
                ]
                self._flush(session)
        except Exception as exc:
            self._forget_state()
            if len(batch) == 1:
                self._deliver([self._run_alone(batch[0])])
            else:
                # A validator's refusal in one job is expected, not a failure worth a warning.
                level = logging.DEBUG if isinstance(exc, Refusal) else logging.WARNING
                log.log(level, "group commit of %d jobs failed; retrying one by one", len(batch))
                self._deliver([self._run_alone(job) for job in batch])
            return
        self._deliver([(job, result, None) for job, result in zip(batch, results, strict=True)])

    def _run_alone(self, job: _Job) -> tuple[_Job, Any, BaseException | None]:
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                session.info[_PROJECTIONS] = self.projections
                result = self._apply(session, job)
                self._flush(session)
        except Exception as exc:
            self._forget_state()
            key = job.event.dedup_key if job.event is not None else getattr(job.fn, "__name__", "job")
            if isinstance(exc, Refusal):  # the caller replies with it; not a failure
                log.debug("write refused for %s: %s", key, exc)
            else:
                log.exception("write failed for %s", key)
            return job, None, exc
        return job, result, None

    @staticmethod
    def _deliver(done: list[tuple[_Job, Any, BaseException | None]]) -> None:
        """Hand each job its result: blocking callers directly, each event loop once."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for job, result, exc in done:
            if job.loop is not None:
                by_loop.setdefault(job.loop, []).append((job.future, result, exc))  # type: ignore[arg-type]
                continue
            _resolve(job.future, result, exc)
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting
                log.debug("event loop closed before %d results were delivered", len(settled))
