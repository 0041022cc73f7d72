"""Imports every module that declares tables, so ``Base.metadata`` is complete.

Alembic's env and ``Store.create_schema`` import this. Add a line per new table module.
"""

from engine.catalog import tables as catalog_tables  # noqa: F401
from engine.churn import tables as churn_tables  # noqa: F401
from engine.ingest import tables as ingest_tables  # noqa: F401
from engine.members import tables as members_tables  # noqa: F401
from engine.moderation import tables as moderation_tables  # noqa: F401
from engine.outbox import tables as outbox_tables  # noqa: F401
from engine.points import tables as points_tables  # noqa: F401
from engine.store import models  # noqa: F401
