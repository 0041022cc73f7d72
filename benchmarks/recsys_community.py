"""Recommenders on real and simulated communities, temporal split, every candidate in one table.

    nice .venv/bin/python benchmarks/recsys_community.py                  # bicycles-meta + simulator
    nice .venv/bin/python benchmarks/recsys_community.py --db /tmp/bm.db  # reuse an imported bicycles-meta
    nice .venv/bin/python benchmarks/recsys_community.py --skip-sim
    nice .venv/bin/python benchmarks/recsys_community.py --quick   # make bench: bicycles-meta member × item + training time
    nice .venv/bin/python benchmarks/recsys_community.py --training-only --importtime  # training time + the child's imports

bicycles-meta (``/work/shared/data/stackexchange/bicycles-meta/``, CC BY-SA, see its
ATTRIBUTION.md) is imported with ``cohort import stackexchange`` into a temporary SQLite
file; the simulator's community with ``cohort import demo``. For each: the newest 20 % of
the log is test; the model family is chosen on rolling-origin validation inside the older
80 % (never on test); every candidate, implicit ALS (``OPENBLAS_NUM_THREADS=1``, settings
chosen on the same validation) and popularity are refit on the training period and scored
on the test members with 95 % bootstrap intervals. Tables: member × item (threads, links,
catalog) and member × tag (the tags of the threads a member posted in). Then question
routing (hit@5/@10 of a real answerer for questions in the newest 30 %) and the end-to-end
``train_community`` time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's documented setting, before numpy loads BLAS

import argparse
import itertools
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.recsys.community import (
    EvalReport,
    catalog_of,
    evaluate_log,
    item_interactions,
    recsys_settings,
    train_community,
)
from engine.recsys.feedback import Interaction
from engine.recsys.routing import (
    TextIndex,
    likely_answerers,
    most_active_answerers,
    question_history,
)
from engine.recsys.selection import (
    bootstrap_interval,
    make_window,
    per_user_ndcg,
    rolling_origins,
)
from engine.store.models import Community

ROOT = Path(__file__).resolve().parents[1]
BICYCLES = Path("/work/shared/data/stackexchange/bicycles-meta")
TRAIN_TARGET = 30.0
ALS_GRID = {"factors": [32, 64], "regularization": [0.1, 10.0], "alpha": [1.0, 10.0]}


def import_into(db: Path, *args: str) -> float:
    env = {**os.environ, "COHORT_STORAGE__URL": f"sqlite:///{db}"}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "bot.cli", "import", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"import {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return time.perf_counter() - start


def cli_training(db: Path, artifacts: str, *, importtime: bool = False) -> tuple[float, float, str, str]:
    """``cohort recsys train`` in a child process exactly as the nightly job starts it
    (``bot.recsys_cli.child_command``, ``--device`` from the settings: ``auto``): process
    start, imports (torch included when a Cohort candidate is fit), reading the log, model
    choice, refit, artifact. Returns ``(wall seconds, CPU seconds of the child, its last
    output line, the child's command)``; with ``importtime`` the child runs under
    ``python -X importtime`` and its biggest imports are printed (that run is slower)."""
    from bot.recsys_cli import child_command

    env = {**os.environ, "COHORT_STORAGE__URL": f"sqlite:///{db}", "COHORT_RECSYS__ARTIFACT_DIR": artifacts}
    env.pop("OPENBLAS_NUM_THREADS", None)  # the job's own thread settings, not this benchmark's
    cmd = child_command("train")
    if importtime:
        cmd = [cmd[0], "-X", "importtime", *cmd[1:]]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"cohort recsys train failed:\n{out.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if importtime:
        print_importtime(out.stderr)
    shown = " ".join(Path(c).name if n == 0 else c for n, c in enumerate(cmd))
    return wall, cpu, out.stdout.strip().splitlines()[-1], shown


def print_importtime(stderr: str, top: int = 12) -> None:
    """The child's top-level imports by cumulative time (``-X importtime`` lines)."""
    rows = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|", 2)
            if name.startswith(" ") and not name.startswith("  ") and cumulative.strip().isdigit():
                rows.append((int(cumulative.strip()), name.strip()))
    total = sum(us for us, _ in rows)
    print(f"  the child's imports (python -X importtime, top-level modules): {total / 1e6:.2f}s in all")
    for us, name in sorted(rows, reverse=True)[:top]:
        print(f"    {us / 1e6:6.2f}s  {name}")


def als_scores(fit, rows: np.ndarray, factors: int, reg: float, alpha: float) -> np.ndarray:
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(factors=factors, regularization=reg, alpha=alpha, iterations=15, random_state=0)
    model.fit(fit, show_progress=False)
    return model.user_factors[rows] @ model.item_factors.T


def als_row(rows: list[Interaction], item_ids: list[str], weights: dict[str, float], half_life: float | None,
            created, cutoff) -> tuple[str, float, float, float, float]:
    """ALS settings chosen on the same rolling origins inside the training period, then scored on test."""
    train_rows = [r for r in rows if r.at < cutoff]
    origins = rolling_origins(train_rows)
    windows = [make_window(train_rows, o, origins[n + 1] if n + 1 < len(origins) else None, item_ids, weights,
                           half_life, created) for n, o in enumerate(origins)]
    windows = [w for w in windows if w is not None]
    best = None
    for factors, reg, alpha in itertools.product(*ALS_GRID.values()):
        values = [per_user_ndcg(als_scores(w.fit, w.rows, int(factors), reg, alpha), w.fit[w.rows], w.target)
                  for w in windows]
        val = float(np.concatenate(values).mean())
        if best is None or val > best[0]:
            best = (val, int(factors), reg, alpha)
    assert best is not None
    val, factors, reg, alpha = best
    test = make_window(rows, cutoff, None, item_ids, weights, half_life, created)
    assert test is not None
    values = per_user_ndcg(als_scores(test.fit, test.rows, factors, reg, alpha), test.fit[test.rows], test.target)
    low, high = bootstrap_interval(values)
    return f"implicit ALS f={factors} reg={reg:g} a={alpha:g}", val, float(values.mean()), low, high


def print_table(title: str, report: EvalReport, als: tuple[str, float, float, float, float] | None) -> None:
    print(f"\n{title}: cutoff {report.cutoff:%Y-%m-%d}, {report.train_interactions} training pairs, "
          f"{report.test_users} test members, validation origins "
          f"{', '.join(f'{o:%Y-%m-%d}' for o in report.validation_origins)}")
    print(f"  {'candidate':<58} {'val':>7} {'test NDCG@10':>12}  95% interval")
    for c in report.candidates:
        print(f"{'→' if c.chosen else ' '} {c.name:<58} {c.validation_ndcg:>7.4f} {c.test_ndcg:>12.4f}  "
              f"[{c.low:.4f}, {c.high:.4f}]")
    if als is not None:
        name, val, test, low, high = als
        print(f"  {name + ' (peer)':<58} {val:>7.4f} {test:>12.4f}  [{low:.4f}, {high:.4f}]")
    chosen = report.chosen
    singles = [c for c in report.candidates if c.family != "blend" and not c.chosen]
    best_single = max(singles, key=lambda c: c.test_ndcg) if singles else None
    peers = [(best_single.name, best_single.test_ndcg, best_single.low, best_single.high)] if best_single else []
    if als is not None:
        peers.append((als[0], als[2], als[3], als[4]))
    best_peer = max(peers, key=lambda p: p[1]) if peers else None
    popularity = next((c for c in report.candidates if c.family == "popularity"), None)
    if best_peer is not None:
        verdict = ("beats" if chosen.test_ndcg > best_peer[1] else
                   "ties (within its interval)" if chosen.test_ndcg >= best_peer[2] else "LOSES to")
        print(f"  chosen {chosen.name}: {chosen.test_ndcg:.4f} {verdict} the best single baseline "
              f"{best_peer[0]} ({best_peer[1]:.4f} [{best_peer[2]:.4f}, {best_peer[3]:.4f}])")
    if popularity is not None and not popularity.chosen:
        ok = chosen.test_ndcg >= popularity.low
        print(f"  vs popularity: {chosen.test_ndcg - popularity.test_ndcg:+.4f} "
              f"({'not below popularity' if ok else 'BELOW popularity'})")
    if report.beats_best_other is False:
        print(f"  {report.test_users} test members are too few to tell the chosen candidate from "
              f"{report.best_other} (paired bootstrap interval includes 0)")


def tag_rows(session: Session, community_id: int) -> list[Interaction]:
    """Member × tag: each message a member posted in a thread counts for the thread's tags."""
    questions, answers = question_history(session, community_id)
    rows = [Interaction(q.asker_id, tag, "reply", q.at) for q in questions if q.asker_id for tag in q.tags]
    rows += [Interaction(a.member_id, tag, "reply", a.at) for a in answers for tag in a.tags]
    return sorted(rows, key=lambda r: r.at)


def community(db: Path, title: str, *, with_tags: bool, with_routing: bool, importtime: bool = False,
              quality: bool = True) -> None:
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        cid = int(session.scalars(select(Community.id).order_by(Community.id)).first() or 0)
    if quality:
        quality_tables(engine, cid, title, with_tags=with_tags, with_routing=with_routing)
    training_time(engine, cid, db, title, importtime=importtime)


def quality_tables(engine, cid: int, title: str, *, with_tags: bool, with_routing: bool) -> None:
    with Session(engine) as session:
        weights, half_life = recsys_settings(session, cid)
        item_ids, texts, created = catalog_of(session, cid)
        rows = [r for r in item_interactions(session, cid) if r.kind in weights]
        tags = tag_rows(session, cid) if with_tags else []
        routing = question_history(session, cid) if with_routing else None
        answered = question_history(session, cid, answers_only=True)[1] if with_routing else []
    start = time.perf_counter()
    report = evaluate_log(rows, item_ids, kind_weights=weights, half_life=half_life, item_texts=texts,
                          item_created=created, device="cpu")
    evaluated = time.perf_counter() - start
    als = als_row(rows, item_ids, weights, half_life, created, report.cutoff)
    print_table(f"{title} — member × item ({len(rows)} interactions, {len(item_ids)} items)", report, als)
    print(f"  (selection + refit of every candidate took {evaluated:.1f}s)")
    if tags:
        tag_ids = sorted({r.item_id for r in tags})
        tag_weights = {"reply": 1.0}
        tag_report = evaluate_log(tags, tag_ids, kind_weights=tag_weights, half_life=half_life, device="cpu")
        tag_als = als_row(tags, tag_ids, tag_weights, half_life, None, tag_report.cutoff)
        print_table(f"{title} — member × tag ({len(tags)} member-tag events, {len(tag_ids)} tags)", tag_report,
                    tag_als)
    if routing is not None:
        questions, past = routing
        questions = sorted(questions, key=lambda q: q.at)
        split = questions[int(len(questions) * 0.7)].at
        truth: dict[str, set[str]] = {}
        for a in answered:
            truth.setdefault(a.thread_id, set()).add(a.member_id)
        test = [q for q in questions if q.at >= split and q.thread_id in truth]
        index = TextIndex([q.text for q in questions if q.at < split])
        hits = {name: [0, 0] for name in ("likely_answerers", "most active overall", "most active in its tags")}
        for q in test:
            ranked = {"likely_answerers": [r.member_id for r in likely_answerers(q, past, k=10, text_index=index)],
                      "most active overall": most_active_answerers(q, past, k=10),
                      "most active in its tags": most_active_answerers(q, past, k=10, in_tags=True)}
            for name, members in ranked.items():
                hits[name][0] += bool(truth[q.thread_id] & set(members[:5]))
                hits[name][1] += bool(truth[q.thread_id] & set(members[:10]))
        print(f"\n{title} — question routing: {len(test)} answered questions from {split:%Y-%m-%d} on "
              "(history = every reply before each question)")
        for name, (h5, h10) in hits.items():
            print(f"  {name:<26} hit@5 {h5 / len(test):.3f}  hit@10 {h10 / len(test):.3f}")


def training_time(engine, cid: int, db: Path, title: str, *, importtime: bool) -> None:
    with tempfile.TemporaryDirectory() as artifacts:
        wall, cpu = time.perf_counter(), time.process_time()
        path = train_community(engine, cid, artifacts, "cpu")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"\n{title} — training time (target ≤ {TRAIN_TARGET:.0f} s on CPU including model selection; "
              f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
        print(f"  `train_community` in this process (read log, choose on validation, refit, write artifact; torch "
              f"already imported): {wall:.1f}s wall, {cpu:.1f}s CPU -> {path.name}")
        c_wall, c_cpu, line, cmd = cli_training(db, artifacts)
        print(f"  `{cmd}` in a child process (what the nightly job runs: start, imports, the same "
              f"work, --device auto): {c_wall:.1f}s wall, {c_cpu:.1f}s CPU -> "
              f"{'met' if c_wall <= TRAIN_TARGET else 'MISSED by wall time'}"
              f"{'' if c_cpu <= TRAIN_TARGET else ', MISSED by CPU time'}  ({line.split(' -> ')[0]}); "
              f"load {os.getloadavg()[0]:.1f}")
        if importtime:
            cli_training(db, artifacts, importtime=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, help="an already imported bicycles-meta SQLite file (skips the import)")
    ap.add_argument("--sim-db", type=Path, help="an already imported simulator community (skips its import)")
    ap.add_argument("--skip-sim", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help="make bench's size: bicycles-meta member × item (with the ALS peer) and the training time; "
                         "no member × tag, routing or simulator (the simulator only when bicycles-meta is missing)")
    ap.add_argument("--skip-bicycles", action="store_true")
    ap.add_argument("--importtime", action="store_true",
                    help="run the training child once more under python -X importtime and print its biggest imports")
    ap.add_argument("--training-only", action="store_true",
                    help="bicycles-meta training time only (in process and the nightly child), no quality tables")
    ap.add_argument("--sim-members", type=int, default=300)
    ap.add_argument("--sim-days", type=int, default=180)
    args = ap.parse_args()
    if args.quick and args.sim_members == 300 and args.sim_days == 180:
        args.sim_members, args.sim_days = 80, 30
    started = time.perf_counter()
    import torch  # noqa: F401 - import once up front so the timings below are model work, not imports

    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} (1-min average) at start; "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.skip_bicycles:
            pass
        elif BICYCLES.is_dir() or args.db:
            db = args.db
            if db is None:
                db = Path(tmp) / "bicycles-meta.db"
                print(f"importing {BICYCLES} ... {import_into(db, 'stackexchange', str(BICYCLES)):.0f}s")
            community(db, "bicycles-meta", with_tags=not args.quick, with_routing=not args.quick,
                      importtime=args.importtime, quality=not args.training_only)
        else:
            print(f"{BICYCLES} not found: skipping the Stack Exchange community")
        if (args.quick or args.training_only) and (BICYCLES.is_dir() or args.db) and not args.skip_bicycles:
            pass
        elif not args.skip_sim:
            sim = args.sim_db
            if sim is None:
                sim = Path(tmp) / "sim.db"
                seconds = import_into(sim, "demo", "--members", str(args.sim_members), "--days", str(args.sim_days))
                print(f"\nsimulated community ({args.sim_members} members, {args.sim_days} days) imported in "
                      f"{seconds:.0f}s")
            community(sim, "simulator", with_tags=False, with_routing=False)
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime
    print(f"\nmachine load at the end: {os.getloadavg()[0]:.1f}; this benchmark took "
          f"{time.perf_counter() - started:.0f}s wall, {cpu:.0f}s CPU (imports and child processes included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
