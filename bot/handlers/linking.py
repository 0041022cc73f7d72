"""``/link`` and ``/unlink``: one member across Telegram, Discord, ...

``/link`` in a private chat gives a one-time code; ``/link CODE`` sent privately from the
other platform merges the two accounts into one member (the code issuer's survives; see
:mod:`engine.members.linking`). A code posted in a group is voided on the spot, because
anyone reading it could otherwise attach their own account to the issuer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.handlers.privacy import clock, identity_changed
from bot.markup import code, esc
from bot.router import CommandContext, Router, UsageError
from engine.members.linking import (
    CODE_TTL,
    MAX_FAILURES,
    LinkError,
    LinkResult,
    LinkStatus,
    issue_code,
    redeem_code,
    unlink_account,
    void_code,
)
from engine.members.lookup import account_id_of
from engine.store.store import Store

_REPLIES: dict[LinkStatus, str] = {
    LinkStatus.WRONG: "That code is wrong. Check it, or send /link on your other account for a new one.",
    LinkStatus.EXPIRED: "That code has expired. Send /link on your other account for a new one.",
    LinkStatus.USED: "That code has already been used. Send /link on your other account for a new one.",
    LinkStatus.SELF: "These accounts are already linked — they're the same member.",
    LinkStatus.SAME_PLATFORM: (
        "Your accounts would end up with two accounts on the same platform. "
        "/unlink the extra one first, then link again."
    ),
    LinkStatus.RATE_LIMITED: (
        f"Too many wrong codes ({MAX_FAILURES} in an hour). Wait a while, then try again."
    ),
    LinkStatus.UNKNOWN_ACCOUNT: "I don't know your account yet; send me any message first.",
}


async def _account(store: Store, ctx: CommandContext) -> int:
    account_id = await store.read(lambda s: account_id_of(s, str(ctx.event.platform), ctx.event.user_id))
    if account_id is None:
        raise UsageError(_REPLIES[LinkStatus.UNKNOWN_ACCOUNT])
    return account_id


async def link(ctx: CommandContext, store: Store, app: Any) -> None:
    now = clock(app)
    if ctx.args and not ctx.event.is_private:
        entered = "".join(ctx.args)
        voided = await store.write(lambda s: void_code(s, entered, now=now))
        raise UsageError(
            "Please send link codes to me in a private chat, never in a group. "
            + ("I've voided that code; get a new one with /link." if voided else "")
        )
    if not ctx.event.is_private:
        raise UsageError("Send /link to me in a private chat; I'll give you a code there.")
    account_id = await _account(store, ctx)
    if not ctx.args:
        new_code = await store.write(lambda s: issue_code(s, account_id, now=now))
        minutes = int(CODE_TTL.total_seconds() // 60)
        await ctx.reply(
            f"Your link code: {code(new_code)}\n"
            f"On your other platform, send me privately: {code('/link ' + new_code)}\n"
            f"It works once, within {minutes} minutes. Your points and history will be combined."
        )
        return
    entered = "".join(ctx.args)

    def redeem(session: Session) -> LinkResult:
        result = redeem_code(session, account_id, entered, now=now)
        if result.status is LinkStatus.LINKED:
            identity_changed(store)
        return result

    result = await store.write(redeem)
    if result.status is LinkStatus.LINKED:
        await ctx.reply(
            "Linked! Your accounts on " + esc(", ".join(result.platforms))
            + " are now one member, with one set of points and history. /unlink undoes it for this account."
        )
        return
    await ctx.reply(_REPLIES[result.status])


async def unlink(ctx: CommandContext, store: Store, app: Any) -> None:
    if not ctx.event.is_private:
        raise UsageError("Send /unlink to me in a private chat on the platform you want to split off.")
    account_id = await _account(store, ctx)
    now = clock(app)

    def split(session: Session) -> tuple[int, int] | str:
        try:
            result = unlink_account(session, account_id, now=now)
        except LinkError as exc:
            return exc.reason
        identity_changed(store)
        return result

    result = await store.write(split)
    if isinstance(result, str):
        raise UsageError("This account isn't linked to another one." if result == "not_linked"
                         else "I don't know your account yet.")
    await ctx.reply(
        f"Unlinked your {esc(ctx.event.platform)} account. It starts fresh as a separate member; "
        "the points and history so far stay with your other account(s)."
    )


def register(router: Router, app: Any) -> None:
    router.command("link", link, summary="link your accounts on different platforms (in private)",
                   usage="/link [code]")
    router.command("unlink", unlink, summary="split this platform's account off again (in private)",
                   usage="/unlink")
