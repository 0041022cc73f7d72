"""Claim and finish a scheduled firing (inside the writer's transaction)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.jobs.tables import JobRun
from engine.store.base import table_of
from engine.store.recorder import insert_ignore


def claim_run(session: Session, job_id: str, run_key: str, holder: str, now: datetime) -> bool:
    """True when this firing had not started anywhere (and is now ours)."""
    return bool(insert_ignore(session, table_of(JobRun), {
        "job_id": job_id, "run_key": run_key, "holder": holder, "started_at": now,
        "finished_at": None, "ok": None,
    }))


def finish_run(session: Session, job_id: str, run_key: str, ok: bool, now: datetime) -> None:
    session.execute(update(JobRun).where(JobRun.job_id == job_id, JobRun.run_key == run_key)
                    .values(finished_at=now, ok=ok))
