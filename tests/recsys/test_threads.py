"""Thread counts for training are set deliberately (engine.recsys.torch_threads)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from engine.recsys.torch_threads import blas_threads, default_threads, training_threads

ROOT = Path(__file__).resolve().parents[2]


def _blas() -> list[int]:
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the BLAS library is loaded
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_blas_threads_limits_the_blas_pool_and_restores_it() -> None:
    before = _blas()
    assert before
    with blas_threads(1):
        assert _blas() == [1] * len(before)
    assert _blas() == before


def test_training_threads_limits_torch_and_blas_and_restores_both() -> None:
    import torch

    torch_before, blas_before = torch.get_num_threads(), _blas()
    with training_threads(1):
        assert torch.get_num_threads() == 1
        assert _blas() == [1] * len(blas_before)
    assert torch.get_num_threads() == torch_before
    assert _blas() == blas_before


def test_blas_threads_does_not_import_torch() -> None:
    code = ("import sys\nfrom engine.recsys.torch_threads import blas_threads\n"
            "with blas_threads(1):\n    pass\nassert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_default_threads_one_for_a_community_and_the_operator_overrides(monkeypatch) -> None:
    monkeypatch.delenv("COHORT_TRAIN_THREADS", raising=False)
    assert default_threads(20_000) == 1
    assert default_threads(2_000_000) >= 1
    monkeypatch.setenv("COHORT_TRAIN_THREADS", "3")
    assert default_threads(20_000) == 3
    monkeypatch.setenv("COHORT_TRAIN_THREADS", "²")  # not an ASCII digit: ignored
    assert default_threads(20_000) == 1
