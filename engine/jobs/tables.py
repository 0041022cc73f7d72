"""One row per scheduled firing that started: the key that makes a firing run once.

``run_key`` is the community's local date for a daily job (a 02:30 job on the night
clocks go back fires twice in APScheduler; the second firing finds its key taken) and
the fire time for interval jobs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.base import Base, UtcDateTime


class JobRun(Base):
    __tablename__ = "scheduler_runs"

    job_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))  # host:pid of the process that ran it
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
