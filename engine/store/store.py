"""The storage facade handlers use: one writer for writes, a thread pool for reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from engine.events import Event
from engine.store.base import Base
from engine.store.recorder import Recorder, RecorderOptions
from engine.store.writer import EventWriter, Outcome, Projection

T = TypeVar("T")


class Store:
    """Reads run concurrently on a small pool; every write goes through the single writer.

    Call :meth:`start` before use and :meth:`stop` at shutdown (it drains the writer).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        options: RecorderOptions | None = None,
        projections: Sequence[Projection] = (),
        readers: int = 4,
    ) -> None:
        self.engine = engine
        self.recorder = Recorder(options)
        self.writer = EventWriter(engine, self.recorder, projections)
        self._pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="cohort-read")

    def start(self) -> None:
        self.writer.start()

    def stop(self) -> None:
        self.writer.stop()
        self._pool.shutdown(wait=True)

    def create_schema(self) -> None:
        """Create every table directly (tests, throwaway databases); production uses Alembic."""
        import engine.store.all_tables  # noqa: F401  (registers every module's tables)

        Base.metadata.create_all(self.engine)

    async def record(self, event: Event) -> Outcome:
        return await self.writer.record(event)

    async def write(self, fn: Callable[[Session], T]) -> T:
        return await self.writer.write(fn)

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` on a reader thread; returns its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.read_sync, fn)

    def read_sync(self, fn: Callable[[Session], T]) -> T:
        with Session(self.engine, expire_on_commit=False) as session:
            return fn(session)
