"""The outbound port: how anything that is not a reply messages a member.

Nudges, digests and moderators' DM warnings hand a :class:`Notification` to the
:class:`Notifier` the composition root injects (``notifier`` by parameter name). The
implementation (:class:`bot.notifier.OutboxNotifier`) picks the member's account and
platform, respects opt-out and DM reachability, paces per platform and keeps a durable
outbox so a key is delivered at most once per successful send (see its docstring for the
crash window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.ports import Button


class Delivery(StrEnum):
    SENT = "sent"
    OPTED_OUT = "opted_out"
    UNREACHABLE = "unreachable"
    FAILED = "failed"


class Purpose(StrEnum):
    """Why a member is messaged; decides whether their ``/optout`` blocks it
    (:data:`OPT_OUT_BLOCKS`)."""

    NUDGE = "nudge"
    DIGEST = "digest"
    MODERATION = "moderation"
    SERVICE = "service"


# /optout says "I won't send you nudges or other messages in private": it blocks everything
# Cohort sends on its own initiative. SERVICE is what the member asked for (an export, a
# link confirmation) and is never blocked.
OPT_OUT_BLOCKS: frozenset[Purpose] = frozenset({Purpose.NUDGE, Purpose.DIGEST, Purpose.MODERATION})


@dataclass(frozen=True, slots=True)
class Notification:
    key: str  # idempotency key chosen by the caller, e.g. "nudge:<campaign_id>:<member_id>"
    member_id: int
    community_id: int | None
    purpose: Purpose
    text: str  # the Messenger markup subset (bot/markup.py)
    buttons: tuple[Button, ...] = ()
    picture: bytes | None = None  # a PNG (digest chart)
    picture_name: str = "chart.png"


@runtime_checkable
class Notifier(Protocol):
    async def notify(self, notification: Notification) -> Delivery:
        """Deliver once per key; a key already delivered returns its recorded outcome."""
        ...

    async def notify_all(self, notifications: Sequence[Notification]) -> list[Delivery]:
        """Deliver each (paced per platform); outcomes in the order given."""
        ...
