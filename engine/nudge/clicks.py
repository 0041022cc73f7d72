"""Clicks on a nudge's buttons, recorded in the click event's own transaction.

``nudge:<assignment>:like-<item>`` counts interest in a recommended item;
``nudge:<assignment>:stop`` also opts the member out of nudges (as ``/nudges off``).
A click from someone other than the nudged member (a forwarded message) is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from engine.events import ButtonClicked
from engine.nudge.campaign import set_opt_out
from engine.nudge.message import parse_click
from engine.nudge.tables import NudgeAssignment, NudgeClick
from engine.store.base import table_of
from engine.store.recorder import Recorded, insert_ignore
from engine.store.writer import Notice

STOPPED = "nudge.stopped"


def record_click(session: Session, assignment_id: int, action: str, member_id: int, at: datetime) -> str:
    """Store one click. Returns ``recorded``, ``stopped`` (opted out now), ``repeat`` (the
    same action clicked before) or ``ignored`` (no such assignment, or not the member's)."""
    assignment = session.get(NudgeAssignment, assignment_id)
    if assignment is None or assignment.member_id != member_id:
        return "ignored"
    new = insert_ignore(session, table_of(NudgeClick), {"assignment_id": assignment_id, "action": action, "at": at})
    if action == "stop":
        changed = set_opt_out(session, member_id, True, at)
        return "stopped" if changed else "repeat"
    return "recorded" if new else "repeat"


class NudgeClickProjection:
    """The writer-side projection for nudge buttons; a stop click leaves a notice so the
    bot can confirm it in the chat."""

    name = "nudge-clicks"

    def project(self, session: Session, recorded: Recorded) -> Sequence[Notice]:
        ev = recorded.event
        if not isinstance(ev, ButtonClicked) or recorded.member_id is None or recorded.repeat:
            return ()
        parsed = parse_click(ev.data)
        if parsed is None:
            return ()
        outcome = record_click(session, parsed[0], parsed[1], recorded.member_id, ev.at)
        if outcome in ("stopped", "repeat") and parsed[1] == "stop":
            return (Notice(STOPPED, recorded.community_id, recorded.member_id, {"assignment_id": parsed[0]}),)
        return ()

    def reset(self) -> None:
        """Nothing cached."""
