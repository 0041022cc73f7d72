"""Thread counts for training, set deliberately instead of inherited.

torch's intra-op pool and the BLAS pool (OpenBLAS/MKL, through threadpoolctl) default to
one thread per core. On a shared or busy machine their spin-waiting threads fight the
other processes for the cores, and the spectral step was measured up to 25× slower than
on one thread; a community's matrices are small enough that one thread loses little on a
quiet machine. So training uses :func:`training_threads` — one thread below
``PARALLEL_FROM`` interactions, else the cores this process may run on (capped at 8) —
unless the operator sets ``COHORT_TRAIN_THREADS``. The NumPy/SciPy families of model
selection (EASE, item-kNN, content) run under :func:`blas_threads`, which limits only the
BLAS pool and so does not import torch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

PARALLEL_FROM = 500_000
MAX_THREADS = 8


def default_threads(interactions: int) -> int:
    """How many threads to train a matrix of ``interactions`` stored entries with."""
    configured = os.environ.get("COHORT_TRAIN_THREADS", "").strip()
    if configured.isascii() and configured.isdigit() and int(configured) > 0:
        return int(configured)
    if interactions < PARALLEL_FROM:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cores))


@contextmanager
def blas_threads(threads: int) -> Iterator[int]:
    """Run the block with the BLAS libraries (OpenBLAS/MKL) limited to ``threads``; restores them.

    Does not import torch, so NumPy-only training work can use it.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield threads


@contextmanager
def training_threads(threads: int) -> Iterator[int]:
    """Run the block with torch and the BLAS libraries limited to ``threads``; restores both."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with blas_threads(threads):
            yield threads
    finally:
        torch.set_num_threads(before)
