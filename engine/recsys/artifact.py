"""Versioned, pickle-free model artifacts.

Layout of one artifact directory::

    <name>/
      manifest.json   format_version, model, hyper_parameters, metrics, created_at,
                      shapes, and a SHA-256 per array file
      arrays.npz      float32/int arrays only, read with allow_pickle=False
      user_ids.json   external user ids, list index = row
      item_ids.json   external item ids, list index = column

``save_artifact`` writes into a hidden temp directory next to the target and renames it
into place, so a reader sees either no artifact or a complete one. ``engine.recsys.serve.load_artifact``
verifies every checksum (through :func:`load_scoring`) before building a :class:`~engine.recsys.serve.ServingModel`.
Numpy/scipy only: the bot process loads artifacts without torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.recsys.scoring import ScoringArrays

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
USER_IDS = "user_ids.json"
ITEM_IDS = "item_ids.json"


class ArtifactError(Exception):
    """The artifact is missing, truncated, corrupt, or of an unsupported format version."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _arrays_of(scoring: ScoringArrays) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {
        "user_items_data": scoring.user_items.data.astype(np.float32),
        "user_items_indices": scoring.user_items.indices.astype(np.int32),
        "user_items_indptr": scoring.user_items.indptr.astype(np.int64),
        "item_popularity": scoring.item_popularity.astype(np.float32),
    }
    if scoring.item_item is not None:
        arrays["item_item_data"] = scoring.item_item.data.astype(np.float32)
        arrays["item_item_indices"] = scoring.item_item.indices.astype(np.int32)
        arrays["item_item_indptr"] = scoring.item_item.indptr.astype(np.int64)
    if scoring.content_item is not None:
        arrays["content_item_data"] = scoring.content_item.data.astype(np.float32)
        arrays["content_item_indices"] = scoring.content_item.indices.astype(np.int32)
        arrays["content_item_indptr"] = scoring.content_item.indptr.astype(np.int64)
    if scoring.user_factors is not None and scoring.item_factors is not None:
        arrays["user_factors"] = np.ascontiguousarray(scoring.user_factors, dtype=np.float32)
        arrays["item_factors"] = np.ascontiguousarray(scoring.item_factors, dtype=np.float32)
    return arrays


def save_artifact(
    path: str | os.PathLike[str],
    scoring: ScoringArrays,
    user_ids: list[str],
    item_ids: list[str],
    *,
    model_name: str,
    hyper_parameters: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> Path:
    """Atomically write an artifact directory at ``path`` and return its path.

    ``scoring`` comes from ``CohortRecommender.export()`` (already CPU float32).
    Raises ``ValueError`` if the id lists do not match the array shapes and
    ``ArtifactError`` if ``path`` already exists (artifacts are immutable; write a new one).
    """
    target = Path(path)
    if len(user_ids) != scoring.n_users or len(item_ids) != scoring.n_items:
        raise ValueError(
            f"{len(user_ids)} user ids / {len(item_ids)} item ids for a "
            f"{scoring.n_users}x{scoring.n_items} model"
        )
    if len(set(user_ids)) != len(user_ids) or len(set(item_ids)) != len(item_ids):
        raise ValueError("external ids must be unique")
    if target.exists():
        raise ArtifactError(f"{target} already exists; artifacts are written once")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        np.savez(staging / ARRAYS, **_arrays_of(scoring))  # type: ignore[arg-type]  # numpy's stub types **arrays as bool
        (staging / USER_IDS).write_text(json.dumps([str(u) for u in user_ids]), encoding="utf-8")
        (staging / ITEM_IDS).write_text(json.dumps([str(i) for i in item_ids]), encoding="utf-8")
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": model_name,
            "hyper_parameters": hyper_parameters,
            "metrics": metrics or {},
            "created_at": (created_at or datetime.now(UTC)).isoformat(),
            "n_users": scoring.n_users,
            "n_items": scoring.n_items,
            "item_weight": scoring.item_weight,
            "factor_weight": scoring.factor_weight,
            "popularity_weight": scoring.popularity_weight,
            "content_weight": scoring.content_weight,
            "checksums": {name: _sha256(staging / name) for name in (ARRAYS, USER_IDS, ITEM_IDS)},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(staging, target)  # atomic on one filesystem: readers never see a partial artifact
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``manifest.json`` of an artifact; raises ``ArtifactError`` if absent or invalid."""
    manifest_path = Path(path) / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path}: no {MANIFEST} (missing or incomplete artifact)") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable {MANIFEST}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path}: {MANIFEST} is not an object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(f"{path}: format_version {version!r}, this code reads {FORMAT_VERSION}")
    return manifest


def load_scoring(path: str | os.PathLike[str]) -> tuple[dict[str, Any], ScoringArrays, list[str], list[str]]:
    """Verify and read an artifact: ``(manifest, scoring arrays, user_ids, item_ids)``.

    Raises ``ArtifactError`` on a missing file, checksum mismatch, version mismatch or
    inconsistent shapes.
    """
    root = Path(path)
    if not root.is_dir():
        raise ArtifactError(f"{root}: artifact directory does not exist")
    manifest = read_manifest(root)
    checksums = manifest.get("checksums") or {}
    for name in (ARRAYS, USER_IDS, ITEM_IDS):
        file = root / name
        if not file.is_file():
            raise ArtifactError(f"{root}: missing {name}")
        if _sha256(file) != checksums.get(name):
            raise ArtifactError(f"{root}: checksum mismatch for {name} (corrupt or truncated)")
    try:
        user_ids = json.loads((root / USER_IDS).read_text(encoding="utf-8"))
        item_ids = json.loads((root / ITEM_IDS).read_text(encoding="utf-8"))
        with np.load(root / ARRAYS, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{root}: unreadable artifact data: {exc}") from exc
    n_users, n_items = int(manifest["n_users"]), int(manifest["n_items"])
    try:
        user_items = sp.csr_matrix(
            (arrays["user_items_data"], arrays["user_items_indices"], arrays["user_items_indptr"]),
            shape=(n_users, n_items),
        )
        item_item = None
        if "item_item_data" in arrays:
            item_item = sp.csr_matrix(
                (arrays["item_item_data"], arrays["item_item_indices"], arrays["item_item_indptr"]),
                shape=(n_items, n_items),
            )
        content_item = None
        if "content_item_data" in arrays:
            content_item = sp.csr_matrix(
                (arrays["content_item_data"], arrays["content_item_indices"], arrays["content_item_indptr"]),
                shape=(n_items, n_items),
            )
        user_factors = arrays.get("user_factors")
        item_factors = arrays.get("item_factors")
        if (
            user_factors is not None
            and item_factors is not None
            and (user_factors.shape[0] != n_users or item_factors.shape[0] != n_items)
        ):
            raise ValueError("factor shapes disagree with the manifest")
        popularity = arrays["item_popularity"]
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{root}: inconsistent arrays: {exc}") from exc
    if len(user_ids) != n_users or len(item_ids) != n_items:
        raise ArtifactError(f"{root}: id maps do not match {n_users}x{n_items}")
    scoring = ScoringArrays(
        user_items=user_items,
        item_item=item_item,
        user_factors=user_factors,
        item_factors=item_factors,
        item_weight=float(manifest.get("item_weight", 1.0)),
        factor_weight=float(manifest.get("factor_weight", 1.0)),
        item_popularity=popularity,
        popularity_weight=float(manifest.get("popularity_weight", 0.0)),
        content_item=content_item,
        content_weight=float(manifest.get("content_weight", 0.0)),
    )
    return manifest, scoring, [str(u) for u in user_ids], [str(i) for i in item_ids]
