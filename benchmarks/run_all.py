"""Every benchmark, one after the other (``make bench``). Each prints Cohort's figure beside
its peer's, measured in the same run. PostgreSQL figures need a server: the loopback one
``scripts/pg-test-server.sh`` starts is used when it can be started.

    .venv/bin/python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pg_url() -> str:
    """``COHORT_BENCH_PG_URL`` when set (a database of its own: the ingest benchmark drops its
    schema), else the loopback test server's."""
    if os.environ.get("COHORT_BENCH_PG_URL"):
        return os.environ["COHORT_BENCH_PG_URL"]
    try:
        out = subprocess.run([str(ROOT / "scripts" / "pg-test-server.sh"), "start"], capture_output=True,
                             text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = ap.parse_args()
    url = pg_url()
    events = "5000" if args.quick else "20000"
    runs: list[list[str]] = [
        ["ingest.py", "--events", events, *(["--pg-url", url] if url else [])],
        ["points_ingest.py", "--events", events],
        ["telegram_ingest.py", "--updates", "1000" if args.quick else "5000"],
        ["import.py", *(["--members", "2000"] if args.quick else [])],
        ["recsys.py", *(["--seeds", "2"] if args.quick else ["--scale"])],
        ["bot_rss.py"],
    ]
    failed = 0
    for run in runs:
        print(f"\n=== benchmarks/{' '.join(run)}", flush=True)
        failed += subprocess.run([sys.executable, str(ROOT / "benchmarks" / run[0]), *run[1:]], cwd=ROOT).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
