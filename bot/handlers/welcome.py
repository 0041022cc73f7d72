"""Onboarding in the chat: the welcome, the private-chat invitation and the first-week checklist.

* A member who joins gets the community's welcome (``/welcome``; off until an admin turns
  it on) with a button opening a private chat with the bot: on Telegram a deep link
  ``t.me/<bot>?start=c<community id>`` (a bot may only DM members who started a chat with
  it), elsewhere a button whose click sends the first DM. Opening it records the account
  reachable (the Notifier's reachability), the ``dm`` step, and answers with the checklist.
* ``delete_after``: the welcome is deleted that many minutes later by the every-minute
  job :func:`delete_due_welcomes` (persisted, so a restart does not leave it up).
* The checklist (:mod:`engine.moderation.onboarding`): ``#intro``, a question, a first
  completed lesson; all three within a week of joining earns the ``first_week`` badge.
  ``/checklist`` shows it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.handlers.automod import Automod
from bot.handlers.filters import language_of
from bot.handlers.moderation_messages import say
from bot.handlers.points_i18n import badge_name
from bot.markup import bold, esc
from bot.notify import Delivery, Notification, Notifier, Purpose
from bot.ports import (
    Button,
    Capability,
    ChatRef,
    Clock,
    DeepLinks,
    Messenger,
    Moderating,
    PlatformError,
    Unsupported,
)
from bot.router import CommandContext, UsageError
from bot.settings import Settings
from engine.args import ArgError, is_ascii_id, parse_int
from engine.events import ButtonClicked, CommandInvoked, Event, MemberJoined, MessagePosted, Platform
from engine.members.lookup import community_id_of, home_community, member_of_account
from engine.moderation import onboarding as ob
from engine.moderation.tables import WelcomePost
from engine.points.projection import PointsError
from engine.store.models import Community
from engine.store.store import Store

log = logging.getLogger(__name__)

CLICK_PREFIX = "welcome:dm:"
LINK_PREFIX = "c"  # the deep-link payload: c<community id> (Telegram allows [A-Za-z0-9_-]{1,64})


# -- the welcome ------------------------------------------------------------------------------
async def greet(event: MemberJoined, messenger: Messenger, store: Store, automod: Automod, clock: Clock) -> None:
    """Post the welcome for a member who joined (when the community turned it on)."""
    if event.is_bot or not event.user_id or event.is_private:
        return
    if event.at < clock() - timedelta(minutes=10):
        return  # a join replayed long after (catch-up, backfill): nobody is there to greet
    platform = str(event.platform)

    def load(s: Session) -> tuple[int, ob.WelcomeSettings, str] | None:
        community_id = community_id_of(s, platform, event.community_id)
        if community_id is None:
            return None
        title = s.execute(select(Community.title).where(Community.id == community_id)).scalar_one_or_none()
        return community_id, ob.welcome_settings(s, community_id), title or event.chat_title

    found = await store.read(load)
    if found is None or not found[1].enabled:
        return
    community_id, settings, title = found
    lang = await language_of(store, community_id, automod.default_language)
    text = ob.render(esc(settings.template), name=bold(event.user_name or event.username or "there"),
                     community=esc(title), rules=esc(settings.rules) or say("welcome.no_rules", lang))
    buttons = _invite(messenger, community_id, lang)
    try:
        sent = await messenger.send(ChatRef.of(event), text, buttons=buttons)
    except (PlatformError, Unsupported) as exc:
        log.warning("welcome: could not post in %s: %s", event.chat_id, exc)
        return
    if settings.delete_after_minutes:
        at = clock()
        row = WelcomePost(community_id=community_id, platform=platform, community_ext=event.community_id,
                          chat_ext=sent.chat.chat_id, thread_ext=sent.chat.thread_id, message_ext=sent.message_id,
                          posted_at=at, delete_at=at + timedelta(minutes=settings.delete_after_minutes))
        await store.write(lambda s: s.add(row))


def _invite(messenger: Messenger, community_id: int, lang: str) -> tuple[Button, ...]:
    if isinstance(messenger, DeepLinks):
        link = messenger.private_chat_link(f"{LINK_PREFIX}{community_id}")
        if link:
            return (Button(say("welcome.button.link", lang), url=link),)
    if Capability.BUTTONS in messenger.capabilities:
        return (Button(say("welcome.button.dm", lang), data=f"{CLICK_PREFIX}{community_id}"),)
    return ()


async def delete_due_welcomes(store: Store, notifier: Any, now: datetime) -> int:
    """Every minute: delete the welcomes whose delete-after has come, through the running
    messengers; returns how many went. A refusal is logged and not retried."""
    due = await store.read(lambda s: list(s.scalars(select(WelcomePost).where(
        WelcomePost.deleted_at.is_(None), WelcomePost.delete_at <= now).order_by(WelcomePost.delete_at).limit(200))))
    gone = 0
    for post in due:
        messenger: Messenger | None = notifier.messenger(post.platform)
        if messenger is None:
            continue
        if Capability.MODERATE in messenger.capabilities and isinstance(messenger, Moderating):
            chat = ChatRef(Platform(post.platform), post.community_ext, post.chat_ext, post.thread_ext)
            try:
                gone += (await messenger.delete_messages(chat, [(post.message_ext, post.posted_at)])).deleted
            except (PlatformError, Unsupported) as exc:
                log.warning("welcome: could not delete %s in %s: %s", post.message_ext, post.chat_ext, exc)
        post_id = post.id
        await store.write(lambda s, pid=post_id: s.execute(  # type: ignore[misc]
            update(WelcomePost).where(WelcomePost.id == pid).values(deleted_at=now)))
    return gone


# -- opening the private chat ---------------------------------------------------------------------
async def _first_dm_text(store: Store, community_id: int, member_id: int, name: str, lang: str) -> str:
    title = await store.read(lambda s: s.execute(
        select(Community.title).where(Community.id == community_id)).scalar_one_or_none())
    return say("welcome.first_dm", lang, name=bold(name), community=esc(title or ""),
               checklist=await _checklist_text(store, community_id, member_id, lang))


async def opened_from_link(ctx: CommandContext, store: Store, clock: Clock, settings: Settings) -> bool:
    """``/start c<community id>`` in private (the welcome's deep link): record the ``dm``
    step and answer with the checklist; False when the payload is not ours. The account is
    recorded reachable by the Notifier's private-contact handler."""
    payload = ctx.args[0] if ctx.args else ""
    ident = payload[len(LINK_PREFIX):]
    if not ctx.event.is_private or not payload.startswith(LINK_PREFIX) or not (
            is_ascii_id(ident, max_digits=18)):
        return False
    community_id = int(ident)
    exists = await store.read(lambda s: s.get(Community, community_id) is not None)
    if not exists:
        return False
    member_id = ctx.member_id
    now = clock()
    await store.write(lambda s: ob.record_steps(s, community_id, member_id, {"dm"}, now))
    lang = await language_of(store, community_id, settings.language)
    await ctx.reply(await _first_dm_text(store, community_id, member_id, ctx.event.user_name, lang))
    return True


async def on_dm_click(event: ButtonClicked, messenger: Messenger, store: Store, notifier: Notifier,
                      automod: Automod, clock: Clock) -> None:
    """The welcome's "Send me a DM" button (platforms without deep links)."""
    if not event.data.startswith(CLICK_PREFIX):
        return
    ident = event.data[len(CLICK_PREFIX):]
    if not is_ascii_id(ident, max_digits=18):
        return
    community_id = int(ident)
    member_id = await store.read(lambda s: member_of_account(s, str(event.platform), event.user_id))
    if member_id is None:
        return
    lang = await language_of(store, community_id, automod.default_language)
    text = await _first_dm_text(store, community_id, member_id, event.user_name, lang)
    delivery = await notifier.notify(Notification(f"welcome:{community_id}:{member_id}", member_id, community_id,
                                                  Purpose.SERVICE, text))
    if delivery is Delivery.SENT:
        now = clock()
        await store.write(lambda s: ob.record_steps(s, community_id, member_id, {"dm"}, now))
    answer = say("welcome.check_dms" if delivery is Delivery.SENT else "welcome.dm_closed", lang)
    try:
        await messenger.reply(event, answer)
    except (PlatformError, Unsupported) as exc:
        log.warning("welcome: could not answer a click in %s: %s", event.chat_id, exc)


# -- the checklist ------------------------------------------------------------------------------
async def _checklist_text(store: Store, community_id: int, member_id: int, lang: str) -> str:
    done = await store.read(lambda s: ob.done_steps(s, community_id, member_id))
    lines = [f"{'✅' if step in done else '⬜'} {say(f'checklist.{step}', lang)}" for step in ob.STEPS]
    return "\n".join([say("checklist.title", lang), *lines,
                      say("checklist.badge", lang, badge=esc(badge_name(lang, ob.BADGE)))])


async def track_checklist(event: Event, messenger: Messenger, store: Store, automod: Automod, clock: Clock) -> None:
    """Count a newcomer's message toward the checklist (and a lesson completed since, e.g.
    by the /done before it); grant the badge when it is complete. Members past their first
    week (or done) are remembered per process, so their messages cost nothing here."""
    if not isinstance(event, MessagePosted | CommandInvoked) or event.is_bot or not event.user_id \
            or (event.is_private and not isinstance(event, CommandInvoked)):
        return
    platform, at = str(event.platform), event.at
    key = (platform, event.community_id, event.user_id)
    if key in automod.settled and not event.is_private:
        return
    steps = ob.steps_in(event.text) if isinstance(event, MessagePosted) else set()

    def look(s: Session) -> tuple[int, int, set[str]] | None:
        # a command in a private chat (a /done there) acts on the member's home community
        community_id = home_community(s, platform, event.user_id) if event.is_private \
            else community_id_of(s, platform, event.community_id)
        member_id = member_of_account(s, platform, event.user_id)
        if community_id is None or member_id is None or not ob.is_newcomer(s, community_id, member_id, at):
            return None
        done = ob.done_steps(s, community_id, member_id)
        if ob.checklist_complete(done):
            return None
        return community_id, member_id, ob.due_steps(s, community_id, member_id, steps, done)

    found = await store.read(look)
    if found is None:
        automod.settle(key)
        return
    community_id, member_id, due = found
    if not due:
        return

    def work(s: Session) -> tuple[int, int, bool] | None:
        if not ob.record_steps(s, community_id, member_id, due, at):
            return None
        if not ob.checklist_complete(ob.done_steps(s, community_id, member_id)):
            return None
        from engine.points import service as points

        try:
            points.grant_badge(s, community_id, member_id, ob.BADGE, actor_id=None, at=at,
                               reason="first-week checklist")
        except PointsError:
            return None  # held already, or a bot
        return community_id, member_id, True

    earned = await store.write(work)
    if earned is None:
        return
    lang = await language_of(store, earned[0], automod.default_language)
    try:
        await messenger.send(ChatRef.of(event), say("checklist.earned", lang, name=bold(event.user_name),
                                                    badge=esc(badge_name(lang, ob.BADGE))))
    except (PlatformError, Unsupported) as exc:
        log.warning("checklist: could not announce in %s: %s", event.chat_id, exc)


async def checklist(ctx: CommandContext, store: Store, automod: Automod, clock: Clock) -> None:
    """``/checklist``: the caller's first-week checklist."""
    from bot.handlers.moderation import _community

    community_id = _community(ctx)
    member_id = ctx.member_id
    now = clock()
    await store.write(lambda s: ob.record_steps(s, community_id, member_id, set(), now))
    lang = await language_of(store, community_id, automod.default_language)
    await ctx.reply(await _checklist_text(store, community_id, member_id, lang))


# -- /welcome ---------------------------------------------------------------------------------------
async def welcome(ctx: CommandContext, store: Store, automod: Automod, clock: Clock) -> None:
    """``/welcome show|on|off|set <text>|rules <text>|delete_after <minutes|off>`` (admins)."""
    from bot.handlers.moderation import _community

    community_id = _community(ctx)
    lang = await language_of(store, community_id, automod.default_language)
    sub = ctx.args[0].lower() if ctx.args else "show"
    rest = " ".join(ctx.args[1:]).strip()
    changes: dict[str, Any]
    if sub == "show":
        current = await store.read(lambda s: ob.welcome_settings(s, community_id))
        await ctx.reply(_shown(current, lang))
        return
    if sub in ("on", "off"):
        changes = {"enabled": sub == "on"}
    elif sub == "set" and rest:
        changes = {"template": _raw_text(ctx, rest), "enabled": True}
    elif sub == "rules":
        changes = {"rules": _raw_text(ctx, rest) if rest else ""}
    elif sub in ("delete_after", "delete-after") and rest:
        if rest.lower() in ("off", "0", "never"):
            minutes = 0
        else:
            try:
                minutes = parse_int(rest.removesuffix("m"), lo=1, hi=ob.DELETE_AFTER_MAX, what="delete-after")
            except ArgError as exc:
                raise UsageError(say("welcome.refused", lang, reason=esc(str(exc)))) from None
        changes = {"delete_after_minutes": minutes}
    else:
        raise UsageError(say("welcome.usage", lang))
    actor, now = ctx.member_id, clock()
    try:
        saved = await store.write(lambda s: ob.change_welcome(s, community_id, actor_id=actor, at=now, **changes))
    except ob.WelcomeError as exc:
        raise UsageError(say("welcome.refused", lang, reason=esc(str(exc)))) from None
    await ctx.reply(say("welcome.saved", lang, shown=_shown(saved, lang)))


def _raw_text(ctx: CommandContext, fallback: str) -> str:
    """The text after ``/welcome set`` (or ``rules``) with its line breaks, when the platform kept them."""
    raw = ctx.event.raw_text
    parts = raw.split(None, 2)
    return parts[2].strip() if len(parts) == 3 and parts[2].strip() else fallback


def _shown(s: ob.WelcomeSettings, lang: str) -> str:
    after = say("welcome.minutes", lang, n=s.delete_after_minutes) if s.delete_after_minutes else say(
        "welcome.never", lang)
    return say("welcome.show", lang, state=say("welcome.on" if s.enabled else "welcome.off", lang), after=after,
               rules=esc(s.rules) or say("welcome.no_rules", lang), template=f"<i>{esc(s.template)}</i>")
