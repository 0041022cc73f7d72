"""Serving: recommend from a loaded artifact with numpy only, and hot-reload new artifacts.

This is the module the bot process imports. It must never import torch (a test runs it
in a subprocess and checks ``sys.modules``).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from engine.recsys.artifact import ArtifactError, load_scoring, read_manifest
from engine.recsys.scoring import ScoringArrays, top_k

log = logging.getLogger(__name__)


class ServingModel:
    """A loaded artifact: external ids in, ``(item_id, score)`` lists out."""

    def __init__(
        self,
        scoring: ScoringArrays,
        user_ids: list[str],
        item_ids: list[str],
        *,
        manifest: dict[str, Any] | None = None,
        path: Path | None = None,
    ) -> None:
        self.scoring = scoring
        self.user_ids = list(user_ids)
        self.item_ids = list(item_ids)
        self.user_index = {user: row for row, user in enumerate(self.user_ids)}
        self.item_index = {item: col for col, item in enumerate(self.item_ids)}
        self.manifest = manifest or {}
        self.path = path

    @property
    def model_name(self) -> str:
        """Name of the model that produced the artifact (``""`` if unknown)."""
        return str(self.manifest.get("model", ""))

    def knows(self, user_external_id: str) -> bool:
        """True if the user was in the training data (else :meth:`recommend` returns [])."""
        return user_external_id in self.user_index

    def recommend(
        self, user_external_id: str, k: int = 10, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """Top-``k`` ``(item_external_id, score)`` pairs, best first.

        Items the user already interacted with and the ids in ``exclude`` are never
        returned. An unknown user gets ``[]`` so the caller can fall back to content or
        popularity. Unknown ids in ``exclude`` are ignored.
        """
        row = self.user_index.get(user_external_id)
        if row is None or k <= 0:
            return []
        scores = self.scoring.score_row(row)
        banned = self._banned(self.scoring.seen(row), exclude)
        cols, values = top_k(scores, k, banned)
        return [(self.item_ids[c], float(v)) for c, v in zip(cols.tolist(), values.tolist(), strict=True)]

    def popular(self, k: int = 10, exclude: set[str] | None = None) -> list[tuple[str, float]]:
        """Most-interacted items in the training data (a cold-start fallback)."""
        cols, values = top_k(self.scoring.item_popularity, k, self._banned(None, exclude))
        return [(self.item_ids[c], float(v)) for c, v in zip(cols.tolist(), values.tolist(), strict=True)]

    def _banned(self, seen: np.ndarray | None, exclude: set[str] | None) -> np.ndarray:
        extra = [self.item_index[i] for i in (exclude or ()) if i in self.item_index]
        parts = [np.asarray(extra, dtype=np.int64)]
        if seen is not None:
            parts.append(seen.astype(np.int64))
        return np.concatenate(parts)


def load_artifact(path: str | os.PathLike[str]) -> ServingModel:
    """Load and verify an artifact as a ready :class:`~engine.recsys.serve.ServingModel`.

    Raises ``ArtifactError`` on missing/corrupt/truncated/version-mismatched artifacts.
    """
    manifest, scoring, user_ids, item_ids = load_scoring(path)
    return ServingModel(scoring, user_ids, item_ids, manifest=manifest, path=Path(path))


def _candidates(directory: Path) -> list[Path]:
    # Hidden entries are save_artifact's staging directories; never load those.
    entries = [p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(entries, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)


def latest_artifact(directory: str | os.PathLike[str]) -> ServingModel:
    """Load the newest valid artifact in ``directory`` (newest mtime first, corrupt ones skipped).

    Raises ``ArtifactError`` if the directory is missing or holds no valid artifact.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ArtifactError(f"{root}: artifact directory does not exist")
    errors = []
    for candidate in _candidates(root):
        try:
            return load_artifact(candidate)
        except ArtifactError as exc:
            errors.append(str(exc))
    raise ArtifactError(f"{root}: no valid artifact ({'; '.join(errors) or 'empty'})")


class ArtifactWatcher:
    """Serve the newest valid artifact of a directory, swapping in newer ones on :meth:`refresh`.

    A new artifact that fails verification is logged and remembered (so it is not
    re-read on every poll) and the current model keeps serving. Thread-safe: the swap
    is a single reference assignment under a lock.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._model: ServingModel | None = None
        self._rejected: set[tuple[str, int]] = set()
        self.refresh()

    @property
    def model(self) -> ServingModel | None:
        """The model being served, or ``None`` if no valid artifact was ever found."""
        return self._model

    @property
    def rejected(self) -> list[str]:
        """Paths of artifacts that failed verification (never served)."""
        return sorted({path for path, _ in self._rejected})

    def refresh(self) -> bool:
        """Check the directory; load a newer valid artifact if there is one.

        Returns True if the served model changed. Never raises for bad artifacts.
        """
        if not self.directory.is_dir():
            return False
        current = self._model.path if self._model is not None else None
        current_mtime = current.stat().st_mtime_ns if current is not None and current.exists() else -1
        for candidate in _candidates(self.directory):
            mtime = candidate.stat().st_mtime_ns
            if candidate == current or mtime < current_mtime:
                return False  # everything further down the list is older than what we serve
            key = (str(candidate), mtime)
            if key in self._rejected:
                continue
            try:
                read_manifest(candidate)  # cheap version check before hashing the arrays
                model = load_artifact(candidate)
            except ArtifactError as exc:
                log.warning("recsys: keeping current model, rejected %s: %s", candidate, exc)
                self._rejected.add(key)
                continue
            with self._lock:
                self._model = model
            log.info("recsys: now serving %s", candidate)
            return True
        return False

    def recommend(
        self, user_external_id: str, k: int = 10, exclude: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """:meth:`ServingModel.recommend` on the current model; ``[]`` if none is loaded."""
        model = self._model
        return [] if model is None else model.recommend(user_external_id, k, exclude)
