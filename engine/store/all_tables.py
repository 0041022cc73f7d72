"""Imports every module that declares tables, so ``Base.metadata`` is complete.

Alembic's env and ``Store.create_schema`` import this. Add a line per new table module.
"""

from engine.store import models  # noqa: F401
