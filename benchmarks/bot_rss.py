"""Idle RSS of the bot process (built app, handlers loaded, one message and one /recommend
dispatched), beside the same process after importing scikit-learn and torch, which the bot
must not do (``tests/foundation/test_architecture.py`` asserts it).

    .venv/bin/python benchmarks/bot_rss.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = """
import sys, asyncio
from bot.bootstrap import build_app
from bot.settings import load_settings
import bot.cli, bot.adapters.console
s = load_settings(storage={'url': 'sqlite:///' + sys.argv[1]})
a = build_app(s); a.store.create_schema(); a.start()
from tests.doubles.events import command, message
from tests.doubles.messenger import RecordingMessenger
m = RecordingMessenger()
asyncio.run(a.dispatch(message('x', 'how do I test async code?'), m))
asyncio.run(a.dispatch(command('x', 'recommend'), m))
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
print(f'idle {rss():.1f}')
print('loaded', sorted(n for n in ('torch', 'sklearn') if n in sys.modules))
import sklearn.feature_extraction.text
print(f'sklearn {rss():.1f}')
import torch
print(f'torch {rss():.1f}')
a.stop()
"""


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", CODE, str(Path(tmp) / "rss.db")], cwd=ROOT,
                             capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr)
        return 1
    lines = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())
    idle, with_sklearn, with_torch = (float(lines[k]) for k in ("idle", "sklearn", "torch"))
    print(f"bot process idle RSS (app built, handlers loaded, one message + /recommend): {idle:.1f} MB; "
          f"heavy modules loaded: {lines['loaded']}")
    print(f"  for comparison, the same process after importing scikit-learn: {with_sklearn:.1f} MB "
          f"(+{with_sklearn - idle:.1f}), then torch: {with_torch:.1f} MB (+{with_torch - with_sklearn:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
