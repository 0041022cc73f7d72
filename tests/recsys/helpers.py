"""Synthetic data shared by the recsys tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def block_matrix(
    n_users: int = 120, n_items: int = 60, n_blocks: int = 3, density: float = 0.5, seed: int = 0
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Users in block b interact only with items in block b (random half of them).

    Returns ``(matrix, user_block, item_block)``.
    """
    rng = np.random.default_rng(seed)
    user_block = np.arange(n_users) % n_blocks
    item_block = np.arange(n_items) % n_blocks
    dense = (user_block[:, None] == item_block[None, :]) & (rng.random((n_users, n_items)) < density)
    return sp.csr_matrix(dense.astype(np.float32)), user_block, item_block
