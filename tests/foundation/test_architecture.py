"""The dependency rules hold: engine knows no chat SDK or bot; the bot never imports torch."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is not installed (pip install -e '.[dev]')"
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bot_startup_and_message_path_do_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys, asyncio\n"
        "from bot.bootstrap import build_app\n"
        "from bot.settings import load_settings\n"
        "import bot.cli, bot.adapters.console\n"
        "s = load_settings(storage={'url': 'sqlite:///' + sys.argv[1]})\n"
        "a = build_app(s); a.store.create_schema(); a.start()\n"
        "from tests.doubles.events import message\n"
        "from tests.doubles.messenger import RecordingMessenger\n"
        "asyncio.run(a.dispatch(message('x'), RecordingMessenger())); a.stop()\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "notorch.db")],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("False")


def test_idle_bot_and_recommend_path_import_neither_torch_nor_sklearn(tmp_path: Path) -> None:
    # scikit-learn alone adds ~63 MB to the bot's RSS; serving (content picks included) is numpy.
    code = (
        "import sys, asyncio\n"
        "from bot.bootstrap import build_app\n"
        "from bot.settings import load_settings\n"
        "import bot.cli, bot.adapters.console\n"
        "s = load_settings(storage={'url': 'sqlite:///' + sys.argv[1]})\n"
        "a = build_app(s); a.store.create_schema(); a.start()\n"
        "from tests.doubles.events import command, message\n"
        "from tests.doubles.messenger import RecordingMessenger\n"
        "m = RecordingMessenger()\n"
        "asyncio.run(a.dispatch(message('x', 'how do I test async code with pytest?'), m))\n"
        "asyncio.run(a.dispatch(command('x', 'recommend'), m)); a.stop()\n"
        "print(sorted(n for n in ('torch', 'sklearn') if n in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "lean.db")],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
