"""Discord backfill: what was said while Cohort was not connected is stored after all.

The gateway does not redeliver: messages posted while the bot was stopped, or during a
disconnect the session could not resume, never arrive as MESSAGE_CREATE. So on READY
(start, and every new session after a reconnect) and on RESUMED, the adapter reads each
known channel and thread from Discord's history after the last message Cohort stored
there, at most :data:`DEFAULT_LIMIT` messages per channel, and feeds each raw message
through :func:`bot.adapters.discord.gateway.translate` — the live translation — and the
live dispatch, as ``cohort import`` does: stored, counted for points and badges, but with
the silent :class:`bot.history_import.ImportMessenger`, so nothing is answered or announced.
Prefix commands found in the backlog are stored as plain messages: an answer hours late
(or a moderator action nobody saw confirmed) would do more harm than good.

Dedup keys make an overlap with live delivery harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from bot.adapters.discord.gateway import ChannelInfo, GatewayContext, translate
from engine.events import Event
from engine.store.models import Chat, Community, Message, Thread
from engine.store.store import Store

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 1_000  # messages per channel or thread and backfill run
PAGE = 100  # Discord's maximum per history request


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where to resume one channel or thread: read ``channel_id`` after ``after``.

    ``parent_id`` is set for a thread (its messages belong to the parent chat).
    """

    guild_id: str
    channel_id: str
    after: str
    parent_id: str | None = None


@dataclass(slots=True)
class BackfillReport:
    """What one backfill run did, per channel: messages read, stored new, capped."""

    read: int = 0
    stored: int = 0
    channels: int = 0
    capped: list[str] = field(default_factory=list)  # channel ids that hit the limit
    failed: dict[str, str] = field(default_factory=dict)  # channel id → why it was skipped


def resume_points(session: Session) -> list[ResumePoint]:
    """The newest stored message of each Discord guild channel and thread."""
    newest = func.max(cast(Message.external_id, BigInteger))
    rows = session.execute(
        select(Community.external_id, Chat.external_id, Thread.external_id, newest)
        .join(Chat, Chat.id == Message.chat_id)
        .join(Community, Community.id == Message.community_id)
        .outerjoin(Thread, Thread.id == Message.thread_id)
        .where(Chat.platform == "discord", Chat.is_private.is_(False))
        .group_by(Community.external_id, Chat.external_id, Thread.external_id)
    ).all()
    points = []
    for guild, chat, thread, last in rows:
        if last is None or not str(guild):
            continue
        if thread:
            points.append(ResumePoint(str(guild), str(thread), str(last), parent_id=str(chat)))
        else:
            points.append(ResumePoint(str(guild), str(chat), str(last)))
    return points


def resume_points_reader(store: Store) -> Callable[[], Awaitable[list[ResumePoint]]]:
    """A ``resume_points`` callable for :class:`DiscordAdapter` reading ``store``."""

    async def read() -> list[ResumePoint]:
        return await store.read(resume_points)

    return read


FetchPage = Callable[[int, int, int], Awaitable[list[dict[str, Any]]]]
"""``(channel id, limit, after id) -> raw message payloads`` (any order)."""


def _with_parent(ctx: GatewayContext, point: ResumePoint) -> GatewayContext:
    """``ctx`` that knows ``point``'s thread parent even when the thread is not cached
    (archived), and treats no word as a command (see the module doc)."""
    if point.parent_id is None:
        return replace(ctx, command_names=frozenset())
    cached = ctx.channel

    def channel(channel_id: str) -> ChannelInfo | None:
        if channel_id == point.channel_id:
            found = cached(channel_id)
            return found if found is not None else ChannelInfo(channel_id, parent_id=point.parent_id, is_thread=True)
        return cached(channel_id)

    return replace(ctx, channel=channel, command_names=frozenset())


async def backfill(
    points: list[ResumePoint],
    fetch: FetchPage,
    ctx: GatewayContext,
    deliver: Callable[[Event], Awaitable[bool]],
    *,
    limit: int = DEFAULT_LIMIT,
) -> BackfillReport:
    """Read each point's channel after its last stored message and deliver what is new.

    ``deliver`` stores and handles one event silently, returning True when it was new.
    Oldest messages first, at most ``limit`` per channel. A channel that cannot be read
    (deleted, no access) is skipped with its reason. Never raises for one channel.
    """
    report = BackfillReport()
    for point in points:
        report.channels += 1
        after, seen, capped = int(point.after), 0, False
        point_ctx = _with_parent(ctx, point)
        try:
            while not capped:
                # One more than needed tells a gap longer than the bound (and some answers,
                # test doubles', include ``after`` itself).
                want = min(PAGE, max(limit - seen, 1) + 1)
                page = await fetch(int(point.channel_id), want, after)
                # Sorted here: Discord answers newest first, test doubles oldest first, and
                # a double may include ``after`` itself.
                fresh = sorted((m for m in page if _id(m) > after), key=_id)
                if not fresh:
                    break
                for raw in fresh:
                    if seen >= limit:  # one more was there: the gap is longer than the bound
                        capped = True
                        break
                    seen += 1
                    report.read += 1
                    for event in translate("MESSAGE_CREATE", {**raw, "guild_id": point.guild_id}, point_ctx):
                        if await deliver(event):
                            report.stored += 1
                    after = _id(raw)
                if not capped and len(page) < want:  # the channel has no more
                    break
        except Exception as exc:  # one unreadable channel must not stop the others
            report.failed[point.channel_id] = f"{type(exc).__name__}: {exc}"[:200]
            log.warning("discord: backfill of channel %s skipped: %s", point.channel_id, report.failed[point.channel_id])
            continue
        if capped:
            report.capped.append(point.channel_id)
            log.warning("discord: backfill of channel %s stopped at %d messages; the rest of the "
                        "gap is not stored", point.channel_id, limit)
    return report


def _id(raw: dict[str, Any]) -> int:
    value = raw.get("id")
    return int(value) if isinstance(value, int) or (isinstance(value, str) and value.isascii() and value.isdigit()) \
        else -1
