"""Every column in the schema that points at ``members.id``, found by walking the metadata.

Forgetting and merging members must reach tables other modules add later without this
package knowing them, so both walk ``Base.metadata`` instead of listing tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, CursorResult, Executable, Table, delete, update
from sqlalchemy.orm import Session

import engine.store.all_tables  # noqa: F401  (registers every module's tables on Base)
from engine.store.base import Base


@dataclass(frozen=True, slots=True)
class MemberRef:
    """One foreign-key column to ``members.id``."""

    table: Table
    column: Column  # type: ignore[type-arg]

    @property
    def label(self) -> str:
        return f"{self.table.name}.{self.column.name}"


def affected(session: Session, stmt: Executable) -> int:
    """Execute an UPDATE/DELETE and return how many rows it touched."""
    result: CursorResult[Any] = session.execute(stmt)  # type: ignore[assignment]
    return int(result.rowcount or 0)


def member_refs() -> list[MemberRef]:
    """All FK columns to ``members.id`` in the current metadata, parents before children."""
    refs: list[MemberRef] = []
    for table in Base.metadata.sorted_tables:
        if table.name == "members":
            continue
        for column in table.columns:
            if any(fk.column.table.name == "members" and fk.column.name == "id" for fk in column.foreign_keys):
                refs.append(MemberRef(table, column))
    return refs


def sweep_member(session: Session, member_id: int) -> dict[str, int]:
    """Remove every remaining reference to ``member_id``: nullable columns are set to NULL,
    rows whose column cannot be NULL are deleted.

    This is the safety net after the privacy hooks ran; a non-empty result names tables
    whose module has no hook (or a hook that missed rows). Returns rows touched per column.
    """
    touched: dict[str, int] = {}
    for ref in member_refs():
        col = ref.table.c[ref.column.name]
        if ref.column.nullable:
            n = affected(session, update(ref.table).where(col == member_id).values({col.name: None}))
        else:
            n = affected(session, delete(ref.table).where(col == member_id))
        if n:
            touched[ref.label] = int(n)
    return touched
