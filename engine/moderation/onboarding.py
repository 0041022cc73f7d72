"""Onboarding: the per-community welcome (template, rules, delete-after) and the newcomer's
first-week checklist — introduce yourself, ask a question, finish a first lesson — which
earns the ``first_week`` badge when done within :data:`WEEK` of joining.

Settings live in ``Community.settings["welcome"]`` and are read through
:func:`welcome_settings` only. The template takes ``{name}``, ``{community}`` and
``{rules}``, substituted literally (never ``str.format``: the template is a moderator's text).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.catalog.tables import CatalogCompletion
from engine.members.moderation import write_audit
from engine.moderation.tables import OnboardingStep
from engine.refusal import Refusal
from engine.store.community_settings import store_setting, stored_settings
from engine.store.models import CommunityMember

SECTION = "welcome"
WEEK = timedelta(days=7)
STEPS = ("intro", "question", "lesson")
BADGE = "first_week"
TEMPLATE_MAX = 1500
RULES_MAX = 1500
DELETE_AFTER_MAX = 24 * 60  # minutes
DEFAULT_TEMPLATE = ("Welcome, {name}! Please read the rules:\n{rules}\n\nTap the button to open a private "
                    "chat with me: that's how I can send you tips and your weekly digest.")
_INTRO = re.compile(r"#(intro|introduction|hello|自我介绍|介绍)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WelcomeSettings:
    enabled: bool = False
    template: str = DEFAULT_TEMPLATE
    rules: str = ""
    delete_after_minutes: int = 0  # 0 = the welcome stays


class WelcomeError(Refusal, ValueError):
    """A bad welcome setting; the message says what is accepted."""


def welcome_settings(session: Session, community_id: int) -> WelcomeSettings:
    return from_stored(stored_settings(session, community_id))


def from_stored(stored: Any) -> WelcomeSettings:
    section = stored.get(SECTION) if isinstance(stored, dict) else None
    if not isinstance(section, dict):
        return WelcomeSettings()
    d = WelcomeSettings()
    template = section.get("template")
    rules = section.get("rules")
    minutes = section.get("delete_after_minutes")
    return WelcomeSettings(
        enabled=section.get("enabled") is True,
        template=template if isinstance(template, str) and template.strip() else d.template,
        rules=rules if isinstance(rules, str) else d.rules,
        delete_after_minutes=minutes if isinstance(minutes, int) and not isinstance(minutes, bool)
        and 0 <= minutes <= DELETE_AFTER_MAX else 0,
    )


def change_welcome(session: Session, community_id: int, *, actor_id: int | None, at: datetime,
                   **changes: Any) -> WelcomeSettings:
    """Validate and store welcome settings (``enabled``, ``template``, ``rules``,
    ``delete_after_minutes``) with an audit entry; returns the new settings. Raises
    WelcomeError (nothing written)."""
    for key, value in changes.items():
        if key == "template" and not (isinstance(value, str) and 0 < len(value.strip()) <= TEMPLATE_MAX):
            raise WelcomeError(f"the welcome text has 1 to {TEMPLATE_MAX} characters")
        if key == "rules" and not (isinstance(value, str) and len(value) <= RULES_MAX):
            raise WelcomeError(f"the rules have at most {RULES_MAX} characters")
        if key == "delete_after_minutes" and not (isinstance(value, int) and 0 <= value <= DELETE_AFTER_MAX):
            raise WelcomeError(f"delete-after is from 0 (keep it) to {DELETE_AFTER_MAX} minutes")
        if key not in ("enabled", "template", "rules", "delete_after_minutes"):
            raise WelcomeError(f"unknown welcome setting {key!r}")
    section = {**asdict(from_stored(stored_settings(session, community_id))), **changes}
    store_setting(session, community_id, SECTION, section)
    shown = {k: (v if k != "template" and k != "rules" else v[:80]) for k, v in changes.items()}
    write_audit(session, action="config.welcome", at=at, community_id=community_id, actor_id=actor_id,
                details={"value": ", ".join(f"{k}={v}" for k, v in shown.items())})
    return from_stored({SECTION: section})


def render(template: str, *, name: str, community: str, rules: str) -> str:
    """The template with its placeholders filled (values as given: escape them first)."""
    return template.replace("{name}", name).replace("{community}", community).replace("{rules}", rules)


# -- the checklist -----------------------------------------------------------------------------
def steps_in(text: str) -> set[str]:
    """The checklist steps a message counts for: ``#intro`` (or ``#自我介绍``) introduces, a
    question mark in a real sentence asks."""
    found = set()
    if _INTRO.search(text):
        found.add("intro")
    stripped = text.strip()
    if ("?" in stripped or "？" in stripped) and len(stripped) >= 8:
        found.add("question")
    return found


def is_newcomer(session: Session, community_id: int, member_id: int, now: datetime) -> bool:
    joined = session.execute(select(CommunityMember.joined_at).where(
        CommunityMember.community_id == community_id, CommunityMember.member_id == member_id)).scalar_one_or_none()
    return joined is not None and now - joined <= WEEK


def done_steps(session: Session, community_id: int, member_id: int) -> dict[str, datetime]:
    rows = session.execute(select(OnboardingStep.step, OnboardingStep.at).where(
        OnboardingStep.community_id == community_id, OnboardingStep.member_id == member_id)).all()
    return {step: at for step, at in rows}


def due_steps(session: Session, community_id: int, member_id: int, steps: set[str],
              done: dict[str, datetime]) -> set[str]:
    """Of ``steps`` (and ``lesson`` once a catalog item is completed), those not done yet."""
    wanted = set(steps)
    if "lesson" not in done:
        first = session.scalar(select(func.min(CatalogCompletion.at)).where(
            CatalogCompletion.community_id == community_id, CatalogCompletion.member_id == member_id))
        if first is not None:
            wanted.add("lesson")
    return {s for s in wanted if s not in done}


def record_steps(session: Session, community_id: int, member_id: int, steps: set[str], at: datetime) -> set[str]:
    """Record the steps not done yet (and ``lesson`` once a catalog item is completed);
    returns the ones newly done."""
    new = due_steps(session, community_id, member_id, steps, done_steps(session, community_id, member_id))
    for step in sorted(new):
        session.add(OnboardingStep(community_id=community_id, member_id=member_id, step=step, at=at))
    if new:
        session.flush()
    return new


def checklist_complete(done: dict[str, datetime]) -> bool:
    return all(step in done for step in STEPS)
