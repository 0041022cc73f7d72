"""Automatic moderation: antiflood, filters and the command budget.

* **Antiflood** (``moderation.flood_*``, off while ``flood_messages`` is 0): more than
  ``flood_messages`` messages (commands included) in ``flood_seconds`` from one member of
  a community → ``flood_action``: mute for ``flood_mute_minutes``, a warning, or deleting
  the extra messages; one notice per burst.
* **Filters** (``/filter``, :mod:`engine.moderation.filters`): a message that trips a
  blocked word or pattern is deleted; a ``warn`` filter also warns, a ``mute`` one mutes
  for ``filter_mute_minutes``.
* **Link rules** (``/filter links``, :mod:`engine.moderation.links`): a link to a domain
  off the community's allow-list, or any link but to allowed domains from a member who
  joined less than ``links.newcomer_days`` ago → that rule's action (delete, warn + delete,
  mute + delete).
* **The command budget**: more than :data:`COMMAND_BURST` commands in
  :data:`COMMAND_WINDOW` seconds from one account are dropped unanswered (one notice), so
  a member spamming /commands cannot make the bot spam replies into the platform's rate
  limit and stall everyone else's answers.

Moderators and above are exempt from all three (their role is looked up only when a rule
trips). Messages posted as a chat (anonymous admins, linked channels) and by bots are not
watched. Counting uses the events' own times; an event older than :data:`STALE` by the
injected clock (a catch-up after downtime, a backfill) is not acted on: that flood is over.
Everything done is audited; a platform refusal (no rights) is logged, nothing recorded.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.handlers import link_filters
from bot.handlers.moderation_messages import say
from bot.i18n import text
from bot.markup import bold, esc
from bot.notify import Notifier
from bot.ports import Capability, ChatRef, Clock, Messenger, Moderating, PlatformError, Role, Unsupported
from bot.roles import RoleResolver
from bot.settings_schema import EMPTY_SCHEMA, SettingsSchema
from engine.events import CommandInvoked, Event, MessagePosted
from engine.members.lookup import MemberBrief, community_id_of, member_brief, member_of_account
from engine.members.moderation import write_audit
from engine.moderation.filters import Rule, RuleBook, rules_of
from engine.moderation.flood import Pace, SlidingWindows
from engine.moderation.links import LinkBreach, LinkRules, allowed, breach, link_hosts, shown_domain
from engine.moderation.settings import ModerationSettings, from_stored
from engine.store.community_settings import stored_settings
from engine.store.models import Chat, CommunityMember, Message
from engine.store.store import Store

log = logging.getLogger(__name__)

COMMAND_BURST = 10
COMMAND_WINDOW = 20.0
STALE = timedelta(minutes=2)
SNAPSHOT_TTL = 15.0  # seconds a community's settings and filters are reused (another process may change them)
SNAPSHOTS_MAX = 2_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What automoderation needs about one community, read once and reused briefly."""

    community_id: int
    language: str
    settings: ModerationSettings
    rules: RuleBook
    loaded: float
    links: LinkRules = field(default_factory=LinkRules)


class Automod:
    """The per-process state of automatic moderation (built once by the composition root):
    the flood windows, the command budget and a small cache of communities' rules."""

    def __init__(self, default_language: str = "en", *, monotonic: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000, schema: SettingsSchema = EMPTY_SCHEMA) -> None:
        self.default_language = default_language
        self.schema = schema
        self.messages = SlidingWindows(max_keys)
        self.commands = SlidingWindows(max_keys)
        self._monotonic = monotonic
        self._snapshots: OrderedDict[tuple[str, str], Snapshot] = OrderedDict()
        self._settled: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._max_keys = max_keys

    @property
    def settled(self) -> OrderedDict[tuple[str, str, str], None]:
        """(platform, community, account) past onboarding (its first week or checklist done)."""
        return self._settled

    def settle(self, key: tuple[str, str, str]) -> None:
        self._settled[key] = None
        self._settled.move_to_end(key)
        while len(self._settled) > self._max_keys:
            self._settled.popitem(last=False)

    def invalidate(self, community_id: int) -> None:
        """Forget the cached rules of a community (after /filter or /config changed them)."""
        for key in [k for k, v in self._snapshots.items() if v.community_id == community_id]:
            del self._snapshots[key]

    async def snapshot(self, store: Store, platform: str, community_ext: str) -> Snapshot | None:
        key = (platform, community_ext)
        hit = self._snapshots.get(key)
        now = self._monotonic()
        if hit is not None and now - hit.loaded < SNAPSHOT_TTL:
            return hit

        def load(s: Session) -> tuple[int, Any, list[Any]] | None:
            community_id = community_id_of(s, platform, community_ext)
            if community_id is None:
                return None
            stored = stored_settings(s, community_id)
            return community_id, stored, rules_of(s, community_id)

        found = await store.read(load)
        if found is None:
            return None
        community_id, stored, rules = found
        language = stored.get("language") if isinstance(stored, dict) else None
        links = link_filters.link_rules(self.schema.view(stored)) \
            if link_filters.ALLOW in self.schema.specs else LinkRules()
        snap = Snapshot(community_id, language if language in ("en", "zh") else self.default_language,
                        from_stored(stored), RuleBook(rules), now, links)
        self._snapshots[key] = snap
        self._snapshots.move_to_end(key)
        while len(self._snapshots) > SNAPSHOTS_MAX:
            self._snapshots.popitem(last=False)
        return snap


def make_automod(settings: Any, settings_schema: SettingsSchema) -> Automod:
    return Automod(getattr(settings, "language", "en") or "en", schema=settings_schema)


# -- the watch on every message -----------------------------------------------------------------
async def watch(event: Event, messenger: Messenger, store: Store, roles: RoleResolver, automod: Automod,
                notifier: Notifier, clock: Clock) -> None:
    """Check a new message (or command) against the community's filters and antiflood."""
    if not isinstance(event, MessagePosted | CommandInvoked) or event.is_private or event.is_bot \
            or not event.user_id or not event.community_id:
        return
    if event.at < clock() - STALE:
        return
    snap = await automod.snapshot(store, str(event.platform), event.community_id)
    if snap is None:
        return
    hit = snap.rules.first_match(event.text) if isinstance(event, MessagePosted) and snap.rules else None
    pace = Pace.CALM
    s = snap.settings
    if s.flood_messages:
        pace = automod.messages.observe((snap.community_id, event.user_id), event.at,
                                        limit=s.flood_messages, window=s.flood_seconds)
    hosts = link_hosts(event.text, event.links) if isinstance(event, MessagePosted) and snap.links else ()
    off_list = any(not allowed(h, snap.links.allow) for h in hosts)
    if hit is None and pace is Pace.CALM and not off_list:
        return
    if await roles(event, messenger) >= Role.MODERATOR:
        return
    target = await store.read(lambda ses: (lambda mid: member_brief(ses, mid, str(event.platform)) if mid else None)(
        member_of_account(ses, str(event.platform), event.user_id)))
    if target is None or target.user_ext is None:
        return
    scene = _Scene(event, messenger, store, notifier, clock, snap, target)
    link = None
    if hit is None and off_list:
        member_id = target.member_id
        joined = await store.read(lambda ses: ses.execute(select(CommunityMember.joined_at).where(
            CommunityMember.community_id == snap.community_id,
            CommunityMember.member_id == member_id)).scalar_one_or_none())
        link = breach(snap.links, hosts, joined_at=joined, now=event.at)
    if hit is not None:
        await _enforce_filter(scene, hit)
    elif link is not None:
        await _enforce_links(scene, link)
    elif pace is Pace.OVER or (pace is Pace.STILL_OVER and s.flood_action == "delete"):
        await _enforce_flood(scene, first=pace is Pace.OVER)


@dataclass(frozen=True, slots=True)
class _Scene:
    """One message that tripped a rule, and what acting on it needs."""

    event: MessagePosted | CommandInvoked
    messenger: Messenger
    store: Store
    notifier: Notifier
    clock: Clock
    snap: Snapshot
    target: MemberBrief

    @property
    def moderating(self) -> Moderating | None:
        m = self.messenger
        return m if Capability.MODERATE in m.capabilities and isinstance(m, Moderating) else None

    async def delete(self, details: dict[str, Any]) -> bool:
        """Delete the message on the platform, mark it deleted and audit it; False (logged,
        nothing recorded) when the platform cannot or will not."""
        event, platform = self.event, self.moderating
        if platform is None or not event.message_id:
            return False
        try:
            done = await platform.delete_messages(ChatRef.of(event), [(event.message_id, event.at)])
        except (PlatformError, Unsupported) as exc:
            log.warning("automod: could not delete %s in %s (the bot needs the right to delete messages): %s",
                        event.message_id, event.chat_id, exc)
            return False
        if not done.deleted:
            return False
        now = self.clock()
        message_ext, chat_ext, platform_name = event.message_id, event.chat_id, str(event.platform)
        community_id, member_id = self.snap.community_id, self.target.member_id

        def record(s: Session) -> None:
            chat_id = s.execute(select(Chat.id).where(Chat.platform == platform_name,
                                                      Chat.external_id == chat_ext)).scalar_one_or_none()
            if chat_id is not None:
                s.execute(update(Message).where(Message.chat_id == chat_id, Message.external_id == message_ext)
                          .values(deleted_at=now))
            write_audit(s, action="delete", at=now, community_id=community_id, actor_id=None,
                        target_member_id=member_id, details=details)

        await self.store.write(record)
        return True

    async def mute(self, minutes: int, reason: str, source: str) -> bool:
        from bot.handlers.moderation import apply_mute

        platform = self.moderating
        if platform is None:
            return False
        try:
            await apply_mute(self.store, self.clock, platform, self.snap.community_id, self.event.community_id,
                             self.target, until=self.clock() + timedelta(minutes=minutes), reason=reason,
                             actor=None, source=source)
        except (PlatformError, Unsupported) as exc:
            log.warning("automod: could not mute %s in %s (the bot needs the right to restrict members): %s",
                        self.target.user_ext, self.event.community_id, exc)
            return False
        return True

    async def warn(self, reason: str, source: str) -> str:
        """Warn as a moderator would (escalation and the DM included); the summary."""
        from bot.handlers.moderation import issue_warning

        return await issue_warning(None, self.store, self.clock, self.messenger, self.notifier, self.snap.community_id,
                                   self.target, reason, None, where=self.event.community_id, source=source,
                                   language=self.snap.language)

    async def notice(self, text: str) -> None:
        try:
            await self.messenger.send(ChatRef.of(self.event), text)
        except (PlatformError, Unsupported) as exc:
            log.warning("automod: could not post a notice in %s: %s", self.event.chat_id, exc)


async def _enforce_filter(scene: _Scene, rule: Rule) -> None:
    lang = scene.snap.language
    reason = say("filter.reason", lang, id=rule.id, kind=say(f"filter.kind.{rule.kind}", lang))
    await scene.delete({"source": "filter", "filter": rule.id, "reason": reason})
    name = bold(scene.target.display_name)
    if rule.action == "warn":
        summary = await scene.warn(reason, "filter")
        await scene.notice(say("filter.warned", lang, name=name, id=rule.id, summary=summary))
    elif rule.action == "mute":
        minutes = scene.snap.settings.filter_mute_minutes
        if await scene.mute(minutes, reason, "filter"):
            await scene.notice(say("filter.muted", lang, name=name, id=rule.id, minutes=minutes))


async def _enforce_links(scene: _Scene, found: LinkBreach) -> None:
    lang, catalog = scene.snap.language, link_filters.MESSAGES
    reason = text(catalog, f"links.reason.{found.rule}", lang, domain=shown_domain(found.host), days=found.days)
    await scene.delete({"source": "links", "rule": found.rule, "domain": found.host, "reason": reason})
    name = bold(scene.target.display_name)
    if found.action == "warn":
        summary = await scene.warn(reason, "links")
        await scene.notice(text(catalog, "links.warned", lang, name=name, reason=reason, summary=summary))
    elif found.action == "mute":
        minutes = scene.snap.settings.filter_mute_minutes
        if await scene.mute(minutes, reason, "links"):
            await scene.notice(text(catalog, "links.muted", lang, name=name, reason=reason, minutes=minutes))


async def _enforce_flood(scene: _Scene, *, first: bool) -> None:
    s, lang = scene.snap.settings, scene.snap.language
    shape = {"limit": s.flood_messages, "seconds": s.flood_seconds}
    reason = say("flood.reason", lang, **shape)
    name = bold(scene.target.display_name)
    if s.flood_action == "delete":
        await scene.delete({"source": "antiflood", "reason": reason})
        if first:
            await scene.notice(say("flood.deleting", lang, name=name, **shape))
    elif s.flood_action == "warn":
        summary = await scene.warn(reason, "antiflood")
        await scene.notice(say("flood.warned", lang, name=name, summary=summary, **shape))
    elif await scene.mute(s.flood_mute_minutes, reason, "antiflood"):
        await scene.notice(say("flood.muted", lang, name=name, minutes=s.flood_mute_minutes, **shape))


# -- the command budget ---------------------------------------------------------------------
def command_gate(automod: Automod, roles: RoleResolver) -> Callable[[CommandInvoked, Messenger], Any]:
    """The router's gate (:meth:`bot.router.Router.gate_commands`) for the command budget."""

    async def gate(event: CommandInvoked, messenger: Messenger) -> bool:
        if not event.user_id:
            return True  # posted as a chat: the router answers that it can't tell who
        pace = automod.commands.observe((str(event.platform), event.user_id), event.at,
                                        limit=COMMAND_BURST, window=COMMAND_WINDOW)
        if pace is Pace.CALM or await roles(event, messenger) >= Role.MODERATOR:
            return True
        if pace is Pace.OVER:
            lang = automod.default_language
            if not event.is_private and event.community_id:
                snap = await automod.snapshot(roles.store, str(event.platform), event.community_id)
                lang = snap.language if snap else lang
            try:
                await messenger.reply(event, say("commands.slow_down", lang, seconds=int(COMMAND_WINDOW)))
            except (PlatformError, Unsupported) as exc:
                log.warning("command budget: could not tell %s: %s", event.user_id, exc)
        log.info("command budget: dropped /%s from %s", esc(event.name), event.user_id)
        return False

    return gate
