"""``/optout``, ``/optin``, ``/mydata`` and ``/forget`` (with a confirmation button).

The work is in :mod:`engine.members.privacy`; this module talks to the member. Personal
data is only ever sent by DM, never into a group.

``/forget`` posts a button whose data is ``forget:confirm:<member_id>:<nonce>``. Pending
confirmations live in memory (``app.services["forget_pending"]``) for ten minutes; a
restart simply means running ``/forget`` again. Only a click by the same member counts.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.ports import Button, Messenger, NotReachable, Unsupported
from bot.router import CommandContext, Router, UsageError
from engine.events import ButtonClicked, Event, utcnow
from engine.members.lookup import member_of_account
from engine.members.moderation import write_audit
from engine.members.privacy import export_member, forget_member, set_dm_opt_out
from engine.store.models import Account
from engine.store.store import Store

log = logging.getLogger(__name__)

FORGET_TTL = timedelta(minutes=10)
FORGET_PREFIX = "forget:"


@dataclass(frozen=True, slots=True)
class PendingForget:
    member_id: int
    platform: str
    user_ext: str
    expires_at: datetime


def clock(app: Any) -> datetime:
    """Now, from ``app.services["clock"]`` when a test injected one."""
    fn: Callable[[], datetime] = app.services.get("clock", utcnow)
    return fn()


def identity_changed(store: Store) -> None:
    """Drop id caches after accounts moved between members. Call inside ``store.write``'s
    function: the writer thread runs it, and every cache user lives on that thread."""
    store.recorder.cache.clear()
    for projection in store.writer.projections:
        projection.reset()


async def caller_member(store: Store, event: Event) -> int:
    """The caller's member id (the router stored the event, so the account exists).

    Raises UsageError if the account is unknown (e.g. forgotten a moment ago).
    """
    member_id = await store.read(lambda s: member_of_account(s, str(event.platform), event.user_id))
    if member_id is None:
        raise UsageError("I don't have any data about you.")
    return member_id


async def set_reachable(store: Store, event: Event, reachable: bool, app: Any) -> None:
    """Remember whether the caller can receive DMs (the scheduler reads this)."""
    now = clock(app)

    def fn(session: Session) -> None:
        session.execute(
            update(Account)
            .where(Account.platform == str(event.platform), Account.external_id == event.user_id)
            .values(dm_reachable=reachable, dm_checked_at=now)
        )

    await store.write(fn)


# -- opt-out ----------------------------------------------------------------------------
async def optout(ctx: CommandContext, store: Store) -> None:
    member_id = await caller_member(store, ctx.event)
    await store.write(lambda s: set_dm_opt_out(s, member_id, True))
    await ctx.reply(
        "Done: I won't send you nudges or other messages in private in any community you're in. "
        "Send /optin to undo. (Communities you join later start with messages on.)"
    )


async def optin(ctx: CommandContext, store: Store) -> None:
    member_id = await caller_member(store, ctx.event)
    await store.write(lambda s: set_dm_opt_out(s, member_id, False))
    await ctx.reply("Done: I may send you occasional private messages again. /optout stops them.")


# -- export -----------------------------------------------------------------------------
async def mydata(ctx: CommandContext, store: Store, messenger: Messenger, app: Any) -> None:
    event = ctx.event
    member_id = await caller_member(store, event)
    data = await store.read(lambda s: export_member(s, member_id))
    payload = {"generated_at": clock(app).isoformat(), "format": "cohort-member-export/1", **data}
    blob = json.dumps(payload, ensure_ascii=False, indent=2, default=str).encode()
    try:
        await messenger.send_document(event.user_id, "cohort-my-data.json", blob,
                                      caption="Everything Cohort stores about you.")
    except NotReachable:
        await set_reachable(store, event, False, app)
        await ctx.reply(
            "I can't message you privately yet. Open a private chat with me (send me any message "
            "there), then send /mydata again — I never post your data in a group."
        )
        return
    except Unsupported:
        await ctx.reply("This platform doesn't let me send you a file privately, so I can't export your data here.")
        return
    await set_reachable(store, event, True, app)
    if not event.is_private:
        await ctx.reply("I've sent you your data in a private message.")


# -- forget -----------------------------------------------------------------------------
def _pending(app: Any) -> dict[str, PendingForget]:
    pending: dict[str, PendingForget] = app.services.setdefault("forget_pending", {})
    return pending


async def forget(ctx: CommandContext, store: Store, app: Any) -> None:
    member_id = await caller_member(store, ctx.event)
    now = clock(app)
    pending = _pending(app)
    for nonce in [n for n, p in pending.items() if p.expires_at <= now]:
        del pending[nonce]
    nonce = secrets.token_urlsafe(9)
    pending[nonce] = PendingForget(member_id, str(ctx.event.platform), ctx.event.user_id, now + FORGET_TTL)
    await ctx.reply(
        "<b>Forget me?</b> This deletes your points, activity and account data in every community "
        "Cohort serves, and cannot be undone. Your messages stay on the platform; I keep only an "
        "anonymous placeholder (no author, no text) so others' threads stay intact. "
        "The button works for 10 minutes.",
        buttons=[
            Button("Yes, forget me", data=f"forget:confirm:{member_id}:{nonce}"),
            Button("Cancel", data=f"forget:cancel:{member_id}:{nonce}"),
        ],
    )


async def on_forget_click(event: ButtonClicked, store: Store, messenger: Messenger, app: Any) -> None:
    """Handles ``forget:confirm|cancel:<member_id>:<nonce>``; other buttons are ignored."""
    if not event.data.startswith(FORGET_PREFIX):
        return
    parts = event.data.split(":")
    if len(parts) != 4 or not (parts[2].isascii() and parts[2].isdigit()) or len(parts[2]) > 18:
        return
    action, member_id, nonce = parts[1], int(parts[2]), parts[3]
    clicker = await store.read(lambda s: member_of_account(s, str(event.platform), event.user_id))
    if clicker != member_id:
        # Someone else's button: say nothing in the group beyond a short notice.
        await messenger.reply(event, "Only the person who asked can use this button.")
        return
    pending = _pending(app)
    request = pending.get(nonce)
    now = clock(app)
    if request is None or request.member_id != member_id or request.expires_at <= now:
        pending.pop(nonce, None)
        await messenger.reply(event, "That request has expired. Send /forget again if you still want this.")
        return
    del pending[nonce]
    if action == "cancel":
        await messenger.reply(event, "Cancelled; nothing was deleted.")
        return
    if action != "confirm":
        return

    def erase(session: Session) -> int:
        report = forget_member(session, member_id)
        # No personal data: the member id is gone with the member; only counts remain.
        write_audit(session, action="member_forgotten", at=now,
                    details={"rows": report.total, "hooks": sorted(report.rows)})
        identity_changed(store)
        return report.total

    await store.write(erase)
    await messenger.reply(
        event,
        "Done. I've deleted your data. If you keep posting, I'll count you as a new member from zero; "
        "/optout stops my private messages.",
    )


def register(router: Router, app: Any) -> None:
    router.command("optout", optout, summary="stop private messages from Cohort", usage="/optout")
    router.command("optin", optin, summary="allow private messages from Cohort again", usage="/optin")
    router.command("mydata", mydata, summary="get everything Cohort stores about you, by DM", usage="/mydata")
    router.command("forget", forget, summary="delete your data from Cohort", usage="/forget")
    router.on(ButtonClicked, handler=on_forget_click)
