"""Kill -9 under load, restart, count (slow: real processes). Smaller numbers than
``benchmarks/crash_ingest.py``, which is the same code."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_SPEC = importlib.util.spec_from_file_location(
    "crash_ingest", Path(__file__).resolve().parents[2] / "benchmarks" / "crash_ingest.py")
assert _SPEC is not None and _SPEC.loader is not None
crash_ingest = importlib.util.module_from_spec(_SPEC)
sys.modules["crash_ingest"] = crash_ingest  # dataclasses look their module up there
_SPEC.loader.exec_module(crash_ingest)


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_no_acknowledged_update_is_lost_or_stored_twice(mode: str) -> None:
    # Enough updates that a quiet machine is still ingesting when the kills land; how many
    # land before the last update is acknowledged depends on the machine's speed.
    result = await crash_ingest.run_mode(mode, updates=1500, kills=10, seed=3, keep=None)
    print(result.line())
    assert result.kills >= 3  # killed while updates were flowing, not after
    assert result.acknowledged == result.updates
    assert result.lost == 0 and result.duplicated == 0
    assert result.stored == result.updates
