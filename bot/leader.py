"""One scheduler per database: a lock only one process holds at a time.

* PostgreSQL: a session-level advisory lock on a connection the leader keeps open. When
  the leader dies (even ``kill -9``) its connection closes and the server releases the
  lock at once; a standby polling ``pg_try_advisory_lock`` takes over on its next poll.
* SQLite: an exclusive ``flock`` on ``<database>.scheduler.lock`` next to the file; the
  kernel releases it when the process dies. SQLite is single-process: a second ``cohort
  run`` on the same file is told so at start and runs no scheduled jobs.
* An in-memory database (tests) is private to its process: always the leader.

All methods block (database / file calls); the scheduler calls them from a thread.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

# A fixed 63-bit key: "cohort scheduler" in ASCII, folded.
ADVISORY_KEY = int.from_bytes(b"cohortSc", "big") & 0x7FFF_FFFF_FFFF_FFFF


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaderLock(Protocol):
    description: str

    def acquire(self) -> bool:
        """Take the lock if free; never waits. True when this process holds it."""
        ...

    def held(self) -> bool:
        """Whether this process still holds the lock (False after a lost connection)."""
        ...

    def release(self) -> None: ...

    def holder_hint(self) -> str:
        """Who holds it, as far as can be told (for the standby's log line)."""
        ...


class PgAdvisoryLock:
    description = "PostgreSQL advisory lock"

    def __init__(self, engine: Engine, key: int = ADVISORY_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return self.held()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            count = self._conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :k"
            ), {"k": self.key}).scalar()
        except Exception as exc:
            log.warning("scheduler: lost the connection holding the leader lock (%s)", exc.__class__.__name__)
            self._drop()
            return False
        if not count:
            self._drop()
        return bool(count)

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
        except Exception:
            log.debug("scheduler: unlock failed; closing the connection releases it", exc_info=True)
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()  # never back to the pool: the session may hold the lock
            finally:
                self._conn = None

    def holder_hint(self) -> str:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(text(
                    "SELECT a.client_addr, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted "
                    "AND ((l.classid::bigint << 32) | l.objid::bigint) = :k"
                ), {"k": self.key}).first()
        except Exception:
            return "another process"
        return f"server backend {row[1]} ({row[0] or 'local'})" if row else "another process"


class FileLock:
    description = "lock file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        import fcntl

        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, holder_id().encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def holder_hint(self) -> str:
        try:
            return f"process {self.path.read_text().strip() or '?'}"
        except OSError:
            return "another process"


class ProcessLock:
    description = "in-process database"

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        return None

    def holder_hint(self) -> str:
        return "this process"


def lock_for(engine: Engine) -> LeaderLock:
    """The leader lock that fits ``engine``'s database."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return PgAdvisoryLock(engine)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        try:
            import fcntl  # noqa: F401
        except ImportError:  # Windows: no flock; a single process is the operator's promise
            log.warning("scheduler: no file locking on this system; run one `cohort run` per SQLite file")
            return ProcessLock()
        return FileLock(Path(f"{url.database}.scheduler.lock"))
    return ProcessLock()
