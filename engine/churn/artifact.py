"""Saved churn models: a joblib file plus a JSON manifest that guards it.

scikit-learn estimators cannot be saved without pickle, so loading is refused unless the
manifest's format version, scikit-learn version, feature list and the file's SHA-256 all
match — a file someone swapped, truncated or wrote with another library version is never
unpickled. Both files are written to temporary names and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import sklearn

from engine.churn.features import FEATURES
from engine.churn.model import FittedModel

FORMAT_VERSION = 3  # 2: candidates and blends chosen on rolling-origin validation; 3: rhythm features


class ModelFileError(Exception):
    """The saved model is corrupt, altered, or from another format/library version."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_paths(directory: Path, key: str) -> tuple[Path, Path]:
    """(joblib file, manifest) for ``key`` (a community id or ``pooled``)."""
    return directory / f"churn-{key}.joblib", directory / f"churn-{key}.json"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: FittedModel, directory: Path, key: str, *, now: datetime | None = None) -> Path:
    """Write ``model`` for ``key``; returns the manifest's path."""
    directory.mkdir(parents=True, exist_ok=True)
    blob_path, manifest_path = model_paths(directory, key)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{blob_path.name}.")
    os.close(fd)
    try:
        joblib.dump(model.estimator, tmp, compress=3)
        digest = _sha256(Path(tmp))
        os.replace(tmp, blob_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    manifest = {
        "format_version": FORMAT_VERSION, "sklearn": sklearn.__version__, "numpy": np.__version__,
        "features": list(FEATURES), "sha256": digest, "name": model.name, "trained_on": model.trained_on,
        "n_train": model.n_train, "validation": model.validation,
        "reference": [float(v) for v in model.reference],
        "saved_at": (now or datetime.now(UTC)).isoformat(),
    }
    _atomic_write(manifest_path, json.dumps(manifest, indent=1).encode())
    return manifest_path


def load_model(directory: Path, key: str) -> FittedModel | None:
    """The saved model for ``key``, None if there is none; raises :class:`ModelFileError`."""
    blob_path, manifest_path = model_paths(directory, key)
    if not manifest_path.exists() and not blob_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{manifest_path}: unreadable manifest ({exc})") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{manifest_path}: format {manifest.get('format_version')!r}, expected {FORMAT_VERSION}")
    if manifest.get("sklearn") != sklearn.__version__:
        raise ModelFileError(f"{manifest_path}: saved with scikit-learn {manifest.get('sklearn')}, "
                             f"this is {sklearn.__version__}: retrain (cohort churn train)")
    if manifest.get("features") != list(FEATURES):
        raise ModelFileError(f"{manifest_path}: saved for other features: retrain (cohort churn train)")
    if not blob_path.exists() or _sha256(blob_path) != manifest.get("sha256"):
        raise ModelFileError(f"{blob_path}: missing or its SHA-256 does not match the manifest; not loaded")
    estimator = joblib.load(blob_path)  # only after the hash matched the manifest we wrote
    return FittedModel(name=str(manifest["name"]), estimator=estimator,
                       reference=np.asarray(manifest["reference"], dtype=np.float64),
                       validation=dict(manifest.get("validation") or {}),
                       trained_on=str(manifest.get("trained_on", "")), n_train=int(manifest.get("n_train", 0)))
