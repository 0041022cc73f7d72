"""The uplift report recovers a known injected effect on the simulator's community."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nudge.helpers import schema_engine
from tests.nudge.simab import run_ab


@pytest.mark.parametrize("seed", [3, pytest.param(8, marks=pytest.mark.slow)])
def test_a_known_effect_lies_in_the_interval_and_no_effect_covers_zero(tmp_path: Path, seed: int) -> None:
    (tmp_path / "effect").mkdir()
    (tmp_path / "none").mkdir()
    with_effect = run_ab(schema_engine(tmp_path / "effect"), p=0.5, seed=seed)
    report = with_effect.report
    assert report.overall is not None
    assert with_effect.plan.control and with_effect.plan.treated
    assert report.overall.ci_low <= with_effect.true_effect <= report.overall.ci_high
    assert report.overall.ci_low > 0  # this large an effect is detected, not just covered
    none = run_ab(schema_engine(tmp_path / "none"), p=0.0, seed=seed)
    assert none.injected == 0 and none.report.overall is not None
    assert none.report.overall.ci_low <= 0 <= none.report.overall.ci_high
