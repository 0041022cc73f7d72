"""Import benchmark: history → live dispatch path (router, recorder, projections) → SQLite.

Two workloads, each in its own child process on a fresh database so peak memory is that
workload's alone:

* ``bicycles-meta``: the Stack Exchange dump at ``../shared/data/stackexchange/bicycles-meta``
  (relative to the repository root; skipped with a note when it is not there), parsed
  by ``read_stackexchange_dump``;
* ``simulated``: ``simulate_community`` with ``--members`` (default 100 000) over
  ``--days`` (default 7).

Each workload stops taking new events after ``--budget`` seconds (default 110) so the
whole run stays under five minutes whatever the write path costs today; the table says
how many events were imported and the rate over them. ``--without catalog`` drops a
writer projection by name, to see what it costs.

Both go through ``bot.history_import.import_events`` — the same path ``cohort import`` takes.
Printed per workload: events, new rows' events/s (wall clock, parsing included), peak RSS
(``resource.getrusage`` of the child) and, with ``--tracemalloc``, the peak of Python
allocations (slower: tracing costs time).

    .venv/bin/python benchmarks/import.py
    .venv/bin/python benchmarks/import.py --members 20000 --days 3 --budget 0   # 0 = no time limit
    .venv/bin/python benchmarks/import.py --without catalog
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_SE = ROOT.parent / "shared" / "data" / "stackexchange" / "bicycles-meta"


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux (bytes on macOS; this benchmark reports Linux figures)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(kind: str, args: argparse.Namespace) -> dict[str, object]:
    """One workload in this process; returns its measurements."""
    from bot.bootstrap import build_app
    from bot.history_import import import_events
    from bot.settings import load_settings
    from engine.events import Platform
    from engine.history import EventStream, read_stackexchange_dump
    from engine.sim import simulate_community

    if args.tracemalloc:
        tracemalloc.start()
    with tempfile.TemporaryDirectory(prefix="cohort-import-bench-") as tmp:
        settings = load_settings(storage={"url": f"sqlite:///{tmp}/bench.db"}, log_level="WARNING")
        app = build_app(settings)
        app.store.create_schema()
        dropped = set(args.without)
        app.store.writer.projections = [p for p in app.store.writer.projections if p.name not in dropped]
        app.start()
        if kind == "se":
            stream = read_stackexchange_dump(args.se_dir)
            label, platform = f"stackexchange {Path(args.se_dir).name}", Platform.STACKEXCHANGE
        else:
            sim = simulate_community(args.seed, members=args.members, days=args.days, language="mixed",
                                     community_id="bench")
            events = sim.events if not args.max_events else itertools.islice(sim.events, args.max_events)
            stream = EventStream(iter(events), _report(f"simulated {args.members:,} members × {args.days} d"))
            label, platform = stream.report.source, Platform.CONSOLE
        started = time.perf_counter()
        budget = _Budget(stream, args.budget)
        try:
            result = asyncio.run(import_events(app, budget, platform=platform,  # type: ignore[arg-type]
                                               concurrency=args.concurrency))
        finally:
            app.stop()
        wall = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    s = result.summary
    return {
        "workload": label,
        "events": s.total,
        "new": s.new,
        "failed": s.failed,
        "members": len(result.report.members_seen),
        "seconds": wall,
        "events_per_s": s.total / wall if wall else 0.0,
        "peak_rss_mb": _peak_rss_mb(),
        "traced_peak_mb": traced,
        "skipped": result.report.skipped_total,
        "complete": result.report.finished,
        "kinds": dict(result.summary.new_by_kind),
    }


class _Budget:
    """Passes a stream through until ``seconds`` have gone by (0: no limit), keeping its report."""

    def __init__(self, stream, seconds: float) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream
        self.report = stream.report
        self.deadline = time.perf_counter() + seconds if seconds else None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return self

    def __next__(self):  # type: ignore[no-untyped-def]
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise StopIteration
        return next(self.stream)

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()


def _report(source: str):  # type: ignore[no-untyped-def]
    from engine.history import ImportReport

    return ImportReport(source=source)


def _child(kind: str, argv: list[str]) -> dict[str, object] | None:
    """Run one workload in a fresh interpreter; its JSON result, or None if it failed."""
    done = subprocess.run([sys.executable, __file__, "--only", kind, *argv], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        print(f"{kind}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--se-dir", default=str(DEFAULT_SE), help="Stack Exchange dump directory")
    parser.add_argument("--members", type=int, default=100_000, help="simulated members")
    parser.add_argument("--days", type=int, default=7, help="simulated days")
    parser.add_argument("--max-events", type=int, default=0,
                        help="stop the simulated history after this many events (0: all of it)")
    parser.add_argument("--budget", type=float, default=110,
                        help="seconds per workload after which no new events are taken (0: none)")
    parser.add_argument("--without", action="append", default=[], metavar="PROJECTION",
                        help="drop a writer projection by name (points, catalog), repeatable")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=256, help="events in flight")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--skip-se", action="store_true")
    parser.add_argument("--skip-sim", action="store_true")
    parser.add_argument("--only", choices=("se", "sim"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.only:
        print(json.dumps(run_one(args.only, args)))
        return

    argv = [a for a in sys.argv[1:]]
    rows: list[dict[str, object]] = []
    notes: list[str] = []
    if args.skip_se:
        notes.append("bicycles-meta: skipped (--skip-se)")
    elif not (Path(args.se_dir) / "Posts.xml").exists():
        notes.append(f"bicycles-meta: {args.se_dir} not found, skipped")
    elif (row := _child("se", argv)) is not None:
        rows.append(row)
    if not args.skip_sim and (row := _child("sim", argv)) is not None:
        rows.append(row)

    header = ["workload", "events", "members", "seconds", "events/s", "peak RSS MB"]
    if args.tracemalloc:
        header.append("traced peak MB")
    table = [header]
    for r in rows:
        line = [str(r["workload"]), f"{r['events']:,}", f"{r['members']:,}", f"{r['seconds']:.1f}",
                f"{r['events_per_s']:,.0f}", f"{r['peak_rss_mb']:,.0f}"]
        if args.tracemalloc:
            line.append(f"{r['traced_peak_mb']:,.0f}")
        table.append(line)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    without = f", without {', '.join(args.without)}" if args.without else ""
    print(f"Import through the live dispatch path, SQLite, concurrency {args.concurrency}{without}")
    for i, row in enumerate(table):
        print("| " + " | ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        if r["failed"]:
            print(f"{r['workload']}: {r['failed']} events failed")
        if not r["complete"]:
            print(f"{r['workload']}: stopped by the {args.budget:.0f} s budget (--budget 0 for all of it)")
        mix = ", ".join(f"{k}={n:,}" for k, n in sorted(r["kinds"].items()))  # type: ignore[attr-defined]
        print(f"{r['workload']}: {mix}")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
