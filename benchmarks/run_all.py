"""Every benchmark, one after the other (``make bench``). Each prints Cohort's figure beside
its peer's, measured in the same run. PostgreSQL figures need a server: the loopback one
``scripts/pg-test-server.sh`` starts is used when it can be started.

    .venv/bin/python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 600.0  # make bench's target: the whole run within 10 minutes


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
        # bicycles-meta member × item beside implicit ALS, and the training time (CLI included);
        # the full community run (member × tag, routing, simulator) is recsys_community.py alone.
        ["recsys_community.py", "--quick"],
        ["bot_rss.py"],
    ]
    failed = 0
    started = time.perf_counter()
    spent: list[tuple[str, float, float]] = []
    for run in runs:
        print(f"\n=== benchmarks/{' '.join(run)}", flush=True)
        before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        failed += subprocess.run([sys.executable, str(ROOT / "benchmarks" / run[0]), *run[1:]], cwd=ROOT).returncode != 0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent.append((run[0], time.perf_counter() - wall,
                      after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
    total = time.perf_counter() - started
    print(f"\n=== time per benchmark (wall / CPU of its processes; load {os.getloadavg()[0]:.1f} at the end)")
    for name, wall, cpu in spent:
        print(f"  {name:<22} {wall:7.0f}s {cpu:7.0f}s")
    print(f"  {'total':<22} {total:7.0f}s   (budget {BUDGET_SECONDS:.0f}s: {'met' if total <= BUDGET_SECONDS else 'MISSED'})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
