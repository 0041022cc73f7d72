from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.recsys.artifact import ArtifactError, save_artifact
from engine.recsys.serve import ArtifactWatcher, latest_artifact, load_artifact
from engine.recsys.torch_model import CohortParams, CohortRecommender
from tests.recsys.helpers import block_matrix

ROOT = Path(__file__).resolve().parents[2]


def _fit(seed: int = 0, neighbors: int | None = None) -> tuple[CohortRecommender, list[str], list[str]]:
    matrix, _, _ = block_matrix(seed=seed)
    model = CohortRecommender(CohortParams(l2=5.0, factors=4, neighbors=neighbors)).fit(matrix, device="cpu")
    users = [f"member-{n}" for n in range(matrix.shape[0])]
    items = [f"lesson-{n}" for n in range(matrix.shape[1])]
    return model, users, items


def _save(path: Path, seed: int = 0) -> Path:
    model, users, items = _fit(seed)
    return save_artifact(path, model.export(), users, items, model_name=model.name, hyper_parameters=model.params.as_dict())


def test_round_trip_matches_training_model(tmp_path: Path) -> None:
    model, users, items = _fit()
    path = save_artifact(
        tmp_path / "a1", model.export(), users, items, model_name=model.name,
        hyper_parameters=model.params.as_dict(), metrics={"ndcg@10": 0.5},
    )
    served = load_artifact(path)
    assert served.manifest["metrics"] == {"ndcg@10": 0.5} and served.model_name == model.name
    expected_items, expected_scores = model.recommend(np.arange(10), k=5)
    for row in range(10):
        got = served.recommend(users[row], k=5)
        assert [i for i, _ in got] == [items[c] for c in expected_items[row]]
        np.testing.assert_allclose([s for _, s in got], expected_scores[row], rtol=1e-5, atol=1e-5)
    assert not list(tmp_path.glob(".*"))  # no staging directory left behind


def test_serving_excludes_seen_and_requested_and_unknown_user(tmp_path: Path) -> None:
    model, users, items = _fit()
    served = load_artifact(save_artifact(tmp_path / "a", model.export(), users, items, model_name="m", hyper_parameters={}))
    seen = {items[c] for c in model.export().seen(0)}
    first = served.recommend(users[0], k=3)
    banned = {first[0][0], "not-an-item"}
    again = served.recommend(users[0], k=3, exclude=banned)
    assert not ({i for i, _ in first} & seen)
    assert first[0][0] not in {i for i, _ in again}
    assert served.recommend("stranger", k=3) == []
    assert len(served.popular(4)) == 4


def test_pruned_neighbours_still_serve(tmp_path: Path) -> None:
    model, users, items = _fit(neighbors=10)
    served = load_artifact(save_artifact(tmp_path / "p", model.export(), users, items, model_name="m", hyper_parameters={}))
    assert served.scoring.item_item is not None and served.scoring.item_item.nnz == 10 * len(items)
    assert len(served.recommend(users[1], k=5)) == 5


def test_missing_artifact_raises(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError):
        load_artifact(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="manifest"):
        load_artifact(tmp_path / "empty")


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "version"])
def test_corrupt_artifact_raises(tmp_path: Path, damage: str) -> None:
    path = _save(tmp_path / "a")
    arrays = path / "arrays.npz"
    if damage == "flip":
        data = bytearray(arrays.read_bytes())
        data[len(data) // 2] ^= 0xFF
        arrays.write_bytes(bytes(data))
    elif damage == "truncate":
        arrays.write_bytes(arrays.read_bytes()[:100])
    elif damage == "delete":
        (path / "item_ids.json").unlink()
    else:
        manifest = (path / "manifest.json").read_text()
        (path / "manifest.json").write_text(manifest.replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(ArtifactError):
        load_artifact(path)


def test_existing_path_is_never_overwritten(tmp_path: Path) -> None:
    _save(tmp_path / "a")
    with pytest.raises(ArtifactError):
        _save(tmp_path / "a")


def _age(path: Path, seconds_ago: int) -> None:
    stamp = 1_700_000_000 - seconds_ago
    os.utime(path, (stamp, stamp))


def test_hot_reload_picks_newer_and_keeps_old_on_corrupt(tmp_path: Path) -> None:
    old = _save(tmp_path / "old", seed=0)
    _age(old, 300)
    watcher = ArtifactWatcher(tmp_path)
    assert watcher.model is not None and watcher.model.path == old
    assert watcher.refresh() is False

    new = _save(tmp_path / "new", seed=1)
    _age(new, 200)
    assert watcher.refresh() is True and watcher.model.path == new

    broken = _save(tmp_path / "broken", seed=2)
    (broken / "arrays.npz").write_bytes(b"garbage")
    _age(broken, 100)
    assert watcher.refresh() is False
    assert watcher.model.path == new
    assert watcher.recommend("member-0", k=2)
    assert latest_artifact(tmp_path).path == new


def test_latest_artifact_without_valid_raises(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    with pytest.raises(ArtifactError):
        latest_artifact(tmp_path)
    assert ArtifactWatcher(tmp_path / "absent").model is None


def test_serving_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import engine.recsys, engine.recsys.serve, engine.recsys.artifact, engine.recsys.scoring\n"
        "import engine.recsys.content, engine.recsys.bandit, engine.catalog.paths\n"
        "import engine.recsys.feedback, engine.recsys.evaluate\n"
        "bad = [m for m in ('torch', 'bot', 'telegram', 'discord') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_engine_recsys_never_imports_bot_layers() -> None:
    import re

    for source in (ROOT / "engine" / "recsys").glob("*.py"):
        text = source.read_text(encoding="utf-8")
        imported = set(re.findall(r"^\s*(?:from|import)\s+(\w+)", text, flags=re.MULTILINE))
        assert not imported & {"bot", "telegram", "discord"}, source.name
        if "torch" in imported:
            assert source.name == "train.py" or source.name.startswith("torch_"), source.name


def test_train_artifact_writes_loadable_artifact_with_metrics(tmp_path: Path) -> None:
    from engine.recsys.train import train_artifact

    matrix, _, _ = block_matrix()
    users = [f"member-{n}" for n in range(matrix.shape[0])]
    items = [f"lesson-{n}" for n in range(matrix.shape[1])]
    path = train_artifact(matrix, users, items, tmp_path, params=CohortParams(l2=5.0, factors=4), device="cpu")
    served = latest_artifact(tmp_path)
    assert served.path == path
    assert set(served.manifest["metrics"]) >= {"validation_ndcg@10", "fit_seconds", "device"}
    assert served.manifest["hyper_parameters"]["factors"] == 4
    assert len(served.recommend("member-3", k=5)) == 5
