"""Database engines: SQLite (WAL, embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", echo: bool = False) -> Engine:
    """Build an engine for ``url``.

    SQLite gets WAL, foreign keys, a busy timeout and ``synchronous`` as given (FULL: a
    commit survives power loss; the writer's group commits keep that to one fsync per
    batch). ``postgresql://`` URLs use psycopg 3. The parent folder of a SQLite file is
    created. Raises ``sqlalchemy.exc.ArgumentError`` for a URL that cannot be parsed and
    ``ValueError`` for an unknown synchronous mode.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        mode = sqlite_synchronous.upper()
        if mode not in SQLITE_SYNC_MODES:
            raise ValueError(f"sqlite synchronous must be one of {SQLITE_SYNC_MODES}, not {mode!r}")
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets readers run beside the single writer.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={mode}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        event.listen(engine, "connect", pragmas)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=8, max_overflow=8)
