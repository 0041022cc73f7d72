"""The first-run demo: a simulated learning community to talk to in the console.

``cohort run`` without platform tokens on an empty database seeds one (see
:func:`prepare_demo`): the simulator's members, questions, answers, reactions and
course completions go through the live message path (:mod:`bot.history_cli`, replies
dropped), the simulator's course is loaded into the catalog (when ``engine.catalog``
is installed), recommendations are trained in a separate process (when the recsys
CLI is installed; torch never loads in the bot process), and the console opens as the
community's most active member, with the owner role.

A second start finds the community and reuses it. ``COHORT_DEMO_FROM=PATH`` seeds the
demo from an export instead (Telegram ``result.json``, DiscordChatExporter JSON or a
Stack Exchange dump directory), re-homed into the console's community so you can talk
to it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import importlib.util
import logging
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from bot.bootstrap import App
from engine.events import Event, Platform
from engine.history import EventStream, ImportReport, read_history
from engine.sim import SimulatedCommunity, simulate_community
from engine.store.models import Account, Community, CommunityMember, Member, Message

log = logging.getLogger(__name__)

DEMO_FROM_ENV = "COHORT_DEMO_FROM"
DEMO_TITLE = "Python Cohort"
TRAIN_TIMEOUT_SECONDS = 300


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What to simulate. ``start`` None means "so that the history ends now" (a demo whose
    last message is a year old has nobody active this week and everybody at risk)."""

    members: int = 120
    days: int = 45
    seed: int = 7
    language: str = "mixed"
    community_id: str = "demo"
    start: datetime | None = None

    def start_at(self) -> datetime:
        if self.start is not None:
            return self.start
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        return now - timedelta(days=self.days)


@dataclass
class DemoInfo:
    """Who the person at the terminal is in the demo, and what happened on the way."""

    community_id: str
    user_id: str
    user_name: str
    seeded: bool  # False: the database already had it
    members: int = 0
    messages: int = 0
    notes: list[str] = field(default_factory=list)


# -- the simulated history -------------------------------------------------------------------


def simulate(options: DemoOptions) -> SimulatedCommunity:
    """The simulated community ``options`` describe (events are generated lazily)."""
    return simulate_community(options.seed, members=options.members, days=options.days,
                              language=options.language, start=options.start_at(),
                              community_id=options.community_id)


def simulated_stream(
    options: DemoOptions, on_day: Callable[[int, int], None] | None = None, *, now: datetime | None = None
) -> EventStream:
    """The simulation as an EventStream; ``on_day(day, days)`` is called as simulated
    days go by (the progress bar of ``cohort import demo``). Events after ``now`` (default:
    the wall clock) are left out: a seeded history never holds the future."""
    sim = simulate(options)
    start, days = options.start_at(), options.days
    # The simulation runs whole days; what it plans after this moment has not happened yet.
    cutoff = now or datetime.now(UTC)

    def events() -> Iterator[Event]:
        shown = -1
        for event in sim.events:
            if event.at > cutoff:
                continue
            day = min(int((event.at - start) / timedelta(days=1)), days)
            if on_day is not None and day != shown:
                shown = day
                on_day(day, days)
            yield event
        if on_day is not None:
            on_day(days, days)

    return EventStream(events(), ImportReport(
        source=f"simulated:{options.community_id} ({options.members} members × {options.days} days, "
               f"seed {options.seed}, {options.language})"))


def rehomed(stream: EventStream, community_id: str) -> EventStream:
    """The events of an export moved into the console's community, so the console can talk
    about them: platform CONSOLE, ``community_id``; the chat that *is* the community
    (a Telegram group, a Stack Exchange site) gets the same id. Private chats are dropped."""
    def events() -> Iterator[Event]:
        for event in stream:
            if event.is_private:
                continue
            chat = community_id if event.chat_id == event.community_id else event.chat_id
            yield dataclasses.replace(event, platform=Platform.CONSOLE, community_id=community_id, chat_id=chat)

    return EventStream(events(), stream.report)


# -- reading the database ----------------------------------------------------------------------


async def has_any_community(app: App) -> bool:
    """True when the database already holds a community (then nothing is seeded)."""
    return await app.store.read(lambda s: s.execute(select(Community.id).limit(1)).first() is not None)


async def community_exists(app: App, community_id: str) -> bool:
    def read(s: Session) -> bool:
        return s.execute(select(Community.id).where(
            Community.platform == str(Platform.CONSOLE), Community.external_id == community_id)
        ).first() is not None

    return await app.store.read(read)


def most_active_member(session: Session, community_id: str, *, platform: str = Platform.CONSOLE,
                       ) -> tuple[str, str, int, int] | None:
    """(account id, display name, members, messages) for the community's member with the most
    messages who has not left; None when the community has no such member."""
    cid = session.execute(select(Community.id).where(
        Community.platform == str(platform), Community.external_id == community_id)).scalar_one_or_none()
    if cid is None:
        return None
    row = session.execute(
        select(Account.external_id, Member.display_name, func.count(Message.id).label("n"))
        .join(Member, Member.id == Account.member_id)
        .join(CommunityMember, (CommunityMember.member_id == Account.member_id)
              & (CommunityMember.community_id == cid))
        .join(Message, (Message.author_id == Account.member_id) & (Message.community_id == cid))
        .where(Account.platform == str(platform), CommunityMember.left_at.is_(None),
               Account.is_bot.is_(False))
        .group_by(Account.external_id, Member.display_name)
        .order_by(func.count(Message.id).desc(), Account.external_id)
        .limit(1)
    ).first()
    if row is None:
        return None
    members = session.execute(select(func.count()).select_from(CommunityMember)
                              .where(CommunityMember.community_id == cid)).scalar_one()
    messages = session.execute(select(func.count()).select_from(Message)
                               .where(Message.community_id == cid)).scalar_one()
    return str(row[0]), str(row[1] or row[0]), int(members), int(messages)


# -- catalog and training ----------------------------------------------------------------------


def _ensure_community(app: App, community_id: str, at: datetime) -> Callable[[Session], int]:
    def write(session: Session) -> int:
        # The recorder's own upsert (the writer thread owns its cache): the catalog needs
        # the community row before the first event creates it.
        return app.store.recorder.community(session, str(Platform.CONSOLE), community_id, DEMO_TITLE, at)

    return write


async def load_catalog(app: App, options: DemoOptions) -> list[str]:
    """Load the simulator's course into the catalog of the demo community.

    Done *before* the history is replayed, so that completions (``done:<key>`` clicks) and
    answers linking a lesson find their item. Returns notes for the terminal; a missing or
    incompatible catalog module is a note, not an error.
    """
    try:
        items_mod = importlib.import_module("engine.catalog.items")
        service = importlib.import_module("engine.catalog.service")
    except ImportError:
        return ["catalog: engine.catalog is not installed; the course was not loaded"]
    table = getattr(getattr(importlib.import_module("engine.catalog.tables"), "CatalogItem", None),
                    "__tablename__", "catalog_items")
    if not await asyncio.to_thread(inspect(app.store.engine).has_table, table):
        return [f"catalog: the database has no {table} table yet (no migration for it); the course was not loaded"]
    sim = simulate(options)
    rows = [{"key": item.key, "title": item.title, "url": item.url, "kind": "lesson",
             "tags": list(item.tags), "description": item.description,
             "prerequisites": list(item.prerequisites), "points": item.points} for item in sim.catalog]
    at = options.start_at()
    cid = await app.store.write(_ensure_community(app, options.community_id, at))

    def write(session: Session) -> tuple[int, int, int]:
        specs = [items_mod.spec_from_row(row, line) for line, row in enumerate(rows, 1)]
        plan = items_mod.plan_import(specs, [], service.prerequisite_map(session, cid))
        added, updated = service.apply_import(session, cid, plan, at=at)
        return added, updated, len(plan.errors)

    try:
        added, updated, errors = await app.store.write(write)
    except Exception as exc:  # another team's module, optional here: its failure is a note, not a crash
        log.warning("catalog load failed", exc_info=True)
        return [f"catalog: could not load the course ({type(exc).__name__}: {exc}); skipped"]
    return [f"catalog: {added} lessons added, {updated} updated" + (f", {errors} rows rejected" if errors else "")]


def recsys_cli_available() -> bool:
    """True when the ``cohort recsys`` sub-commands exist in this install."""
    from bot.bootstrap import capabilities
    from bot.settings import Settings

    return any(m.cli_name == "recsys" for m in capabilities(Settings.model_construct()))


def train_recommendations(config: Path | None = None, timeout: float = TRAIN_TIMEOUT_SECONDS,
                          community_id: str = "demo") -> str:
    """Run ``cohort recsys train`` for the console community ``community_id`` in a child
    process (without tuning: a demo should open within a minute) and return a one-line note.

    A child process because training imports torch, which the bot process must never
    load; the bot picks the new artifact up from ``recsys.artifact_dir``. Never raises:
    a missing trainer, a failure or a timeout is reported in the note.
    """
    if not recsys_cli_available():
        return "recommendations: the recsys trainer is not installed yet; /recommend uses what it has"
    from bot.recsys_cli import child_command

    cmd = child_command("train", "--no-tune", "--community", f"{Platform.CONSOLE}:{community_id}")
    env = {**os.environ, **({"COHORT_CONFIG": str(config)} if config else {})}  # what --config sets
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        return f"recommendations: training took over {timeout:.0f} s and was stopped; run `cohort recsys train`"
    except OSError as exc:
        return f"recommendations: could not start training ({exc})"
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"recommendations: training failed (exit {done.returncode}: {tail[0]}); run `cohort recsys train`"
    said = done.stdout.strip().splitlines()[-1:] or [""]
    return f"recommendations: trained in {seconds:.0f} s ({said[0][:120]})"


# -- the whole first run -----------------------------------------------------------------------


async def seed_demo(app: App, options: DemoOptions, *, source: Path | None = None,
                    on_event_count: Callable[[int], None] | None = None) -> list[str]:
    """Seed the demo community into a started app: catalog first, then the history (a
    simulation, or the export at ``source`` re-homed into the console community).

    Returns notes for the terminal. Raises HistoryFormatError when ``source`` is not a
    supported export (before anything is written).
    """
    from bot.history_import import import_events

    stream = (rehomed(read_history(source), options.community_id) if source is not None
              else simulated_stream(options))
    notes = await load_catalog(app, options) if source is None else []

    def progress(summary: object) -> None:
        if on_event_count is not None:
            on_event_count(getattr(summary, "total", 0))

    with stream:
        result = await import_events(app, stream, on_progress=progress)
    s = result.summary
    notes.insert(0, f"history: {s.new:,} events stored in {s.seconds:.0f} s ({result.report.source})"
                 + (f", {s.failed} failed" if s.failed else ""))
    return notes


async def demo_info(app: App, community_id: str, *, seeded: bool, notes: list[str] | None = None) -> DemoInfo | None:
    """Who to be in the demo community (its most active member), or None if it is empty."""
    found = await app.store.read(lambda s: most_active_member(s, community_id))
    if found is None:
        return None
    user_id, name, members, messages = found
    return DemoInfo(community_id, user_id, name, seeded, members, messages, list(notes or []))


def demo_source() -> Path | None:
    """The export ``COHORT_DEMO_FROM`` names, if set."""
    value = os.environ.get(DEMO_FROM_ENV, "").strip()
    return Path(value).expanduser() if value else None


def banner(app: App, info: DemoInfo) -> str:
    """The console's opening lines for the demo: where you are, who you are, what to try."""
    have = [f"/{name}" for name in ("me", "leaderboard", "badges", "recommend", "path", "atrisk", "digest", "help")
            if app.router.spec(name) is not None]
    lines = [
        f"Cohort demo: community '{info.community_id}' — {info.members:,} members, {info.messages:,} messages"
        + (" (just seeded)" if info.seeded else " (from your database)"),
        *[f"  · {note}" for note in info.notes],
        f"You are {info.user_name} ({info.user_id}), its most active member and its owner.",
        f"Try: {' · '.join(have)}",
        "Console: /as u5 [member|moderator|owner] · /in #chat · /topic NAME · /reply N text · /react N 👍 · /quit",
    ]
    return "\n".join(lines)
