"""The nightly training child starts lean: ``python -m bot.recsys_cli train`` (what the job
runs) imports neither the chat side of the bot nor torch until a Cohort candidate is fit."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import jobs
from bot.bootstrap import App, build_app
from bot.recsys_cli import CHILD_MODULE, child_command
from bot.settings import Settings
from engine.sim import simulate_community
from engine.store import migrate
from tests.catalog.helpers import load_rows
from tests.doubles.messenger import RecordingMessenger

ROOT = Path(__file__).resolve().parents[2]
# What the training child must not load: the composition root and everything it mounts.
HEAVY = ("bot.cli", "bot.bootstrap", "bot.adapters", "bot.handlers", "bot.router", "bot.notifier",
         "bot.scheduler", "telegram", "discord", "apscheduler", "torch")


def _loaded_heavy_modules(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"heavy = {HEAVY!r}\n"
             "print(sorted({m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy)}))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return list(ast.literal_eval(done.stdout.strip().splitlines()[-1]))


def test_the_training_entry_point_imports_no_chat_code_and_no_torch() -> None:
    assert child_command("train")[1:] == ["-m", CHILD_MODULE, "train"]
    # The module, what `train` imports before it reads the log, and the NumPy-only model families.
    code = ("import bot.recsys_cli\nimport bot.cli_setup\nimport engine.recsys.community\n"
            "import engine.recsys.selection\nimport engine.recsys.artifact\nimport engine.store.migrate\n")
    assert _loaded_heavy_modules(code) == []


def test_numpy_families_fit_and_score_without_torch() -> None:
    code = ("import numpy as np, scipy.sparse as sp\n"
            "from engine.recsys.selection import Candidate, candidate_scores, fit_arrays\n"
            "m = sp.random(30, 12, density=0.3, format='csr', random_state=0, dtype=np.float32)\n"
            "pop = np.asarray(m.sum(axis=0)).ravel()\n"
            "for c in (Candidate('p', 'popularity'), Candidate('e', 'ease', {'l2': 10.0}),\n"
            "          Candidate('k', 'itemknn', {'neighbors': 5, 'shrink': 1.0})):\n"
            "    fit_arrays(c, m, pop, None); candidate_scores(c, m, np.arange(5), pop, None)\n")
    assert _loaded_heavy_modules(code) == []


@pytest.fixture
def migrated_app(settings: Settings) -> Iterator[App]:
    """A started app on a database migrated with Alembic, as the child expects."""
    application = build_app(settings)
    migrate.upgrade(application.store.engine)
    application.start()
    try:
        yield application
    finally:
        application.stop()


@pytest.mark.slow  # a child process that imports torch and runs model selection: ~10 s
async def test_the_nightly_job_trains_in_its_lean_child(migrated_app: App, settings: Settings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sim = simulate_community(7, members=40, days=20, language="en", community_id="g1")
    rows = [{"key": i.key, "title": i.title, "url": i.url, "kind": "lesson", "tags": list(i.tags),
             "description": i.description, "prerequisites": list(i.prerequisites), "points": i.points}
            for i in sim.catalog]
    cid = await load_rows(migrated_app, rows)
    tg = RecordingMessenger()
    for event in sim.events:
        await migrated_app.dispatch(event, tg)
    monkeypatch.setenv("COHORT_STORAGE__URL", settings.storage.url)
    monkeypatch.setenv("COHORT_RECSYS__ARTIFACT_DIR", settings.recsys.artifact_dir)
    await jobs.retrain()  # the scheduled job itself: python -m bot.recsys_cli train
    manifests = list(Path(settings.recsys.artifact_dir).glob(f"{cid}/*/manifest.json"))
    assert len(manifests) == 1, manifests
    metrics = json.loads(manifests[0].read_text())["metrics"]
    assert metrics["candidate"] in metrics["candidates"]  # chosen on validation, in the child
