"""``/link`` and ``/unlink``: one member across Telegram, Discord, ...

``/link`` in a private chat gives a one-time code; ``/link CODE`` sent privately from the
other platform merges the two accounts into one member (the code issuer's survives; see
:mod:`engine.members.linking`). A code posted in a group is voided on the spot, because
anyone reading it could otherwise attach their own account to the issuer.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from bot.handlers.privacy import identity_changed
from bot.markup import code, esc
from bot.modules import Catalog, Module
from bot.ports import Clock
from bot.router import CommandContext, CommandSpec, UsageError
from engine.members import linking as linking_data
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
from engine.members.privacy import ModuleHook, PrivacyHook
from engine.store.store import Store

MESSAGES: Catalog = {
    "link.wrong": {"en": "That code is wrong. Check it, or send /link on your other account for a new one.",
                   "zh": "这个代码不对。请检查，或在另一个账户上发送 /link 获取新代码。"},
    "link.expired": {"en": "That code has expired. Send /link on your other account for a new one.",
                     "zh": "这个代码已过期。请在另一个账户上发送 /link 获取新代码。"},
    "link.used": {"en": "That code has already been used. Send /link on your other account for a new one.",
                  "zh": "这个代码已被使用。请在另一个账户上发送 /link 获取新代码。"},
    "link.self": {"en": "These accounts are already linked — they're the same member.",
                  "zh": "这些账户已经关联——它们是同一位成员。"},
    "link.same_platform": {"en": "Your accounts would end up with two accounts on the same platform. "
                                 "/unlink the extra one first, then link again.",
                           "zh": "这样你会在同一平台上有两个账户。请先 /unlink 多余的那个，再重新关联。"},
    "link.rate_limited": {"en": "Too many wrong codes ({max} in an hour). Wait a while, then try again.",
                          "zh": "错误代码太多（一小时内 {max} 次）。请稍后再试。"},
    "link.unknown_account": {"en": "I don't know your account yet; send me any message first.",
                             "zh": "我还不认识你的账户，请先给我发任意一条消息。"},
    "link.in_group": {"en": "Please send link codes to me in a private chat, never in a group. ",
                      "zh": "请在私聊中把关联代码发给我，不要发在群里。"},
    "link.voided": {"en": "I've voided that code; get a new one with /link.", "zh": "我已作废该代码，请用 /link 获取新代码。"},
    "link.private_only": {"en": "Send /link to me in a private chat; I'll give you a code there.",
                          "zh": "请在私聊中给我发送 /link，我会在那里给你代码。"},
    "link.code": {"en": "Your link code: {code}\nOn your other platform, send me privately: {command}\n"
                        "It works once, within {minutes} minutes. Your points and history will be combined.",
                  "zh": "你的关联代码：{code}\n在另一个平台上私信我：{command}\n只能使用一次，{minutes} 分钟内有效。"
                        "你的积分和历史将会合并。"},
    "link.linked": {"en": "Linked! Your accounts on {platforms} are now one member, with one set of points and "
                          "history. /unlink undoes it for this account.",
                    "zh": "已关联！你在 {platforms} 上的账户现在是同一位成员，共享积分和历史。/unlink 可为此账户撤销。"},
    "unlink.private_only": {"en": "Send /unlink to me in a private chat on the platform you want to split off.",
                            "zh": "请在要拆分出去的平台上私聊我发送 /unlink。"},
    "unlink.not_linked": {"en": "This account isn't linked to another one.", "zh": "这个账户没有关联其他账户。"},
    "unlink.done": {"en": "Unlinked your {platform} account. It starts fresh as a separate member; the points and "
                          "history so far stay with your other account(s).",
                    "zh": "已拆分你的 {platform} 账户。它将作为独立成员重新开始；之前的积分和历史留在你的其他账户。"},
    "sum.link": {"en": "link your accounts on different platforms (in private)", "zh": "关联你在不同平台上的账户（私聊）"},
    "sum.unlink": {"en": "split this platform's account off again (in private)", "zh": "把此平台的账户重新拆分出去（私聊）"},
}
_REPLIES: dict[LinkStatus, str] = {
    LinkStatus.WRONG: "link.wrong", LinkStatus.EXPIRED: "link.expired", LinkStatus.USED: "link.used",
    LinkStatus.SELF: "link.self", LinkStatus.SAME_PLATFORM: "link.same_platform",
    LinkStatus.RATE_LIMITED: "link.rate_limited", LinkStatus.UNKNOWN_ACCOUNT: "link.unknown_account",
}


def _reply(ctx: CommandContext, status: LinkStatus) -> str:
    return ctx.t(_REPLIES[status], max=MAX_FAILURES)


async def _account(store: Store, ctx: CommandContext) -> int:
    account_id = await store.read(lambda s: account_id_of(s, str(ctx.event.platform), ctx.event.user_id))
    if account_id is None:
        raise UsageError(_reply(ctx, LinkStatus.UNKNOWN_ACCOUNT))
    return account_id


async def link(ctx: CommandContext, store: Store, clock: Clock, privacy_hooks: Sequence[PrivacyHook]) -> None:
    now = clock()
    if ctx.args and not ctx.event.is_private:
        entered = "".join(ctx.args)
        voided = await store.write(lambda s: void_code(s, entered, now=now))
        raise UsageError(ctx.t("link.in_group") + (ctx.t("link.voided") if voided else ""))
    if not ctx.event.is_private:
        raise UsageError(ctx.t("link.private_only"))
    account_id = await _account(store, ctx)
    if not ctx.args:
        new_code = await store.write(lambda s: issue_code(s, account_id, now=now))
        minutes = int(CODE_TTL.total_seconds() // 60)
        await ctx.reply(ctx.t("link.code", code=code(new_code), command=code("/link " + new_code), minutes=minutes))
        return
    entered = "".join(ctx.args)

    def redeem(session: Session) -> LinkResult:
        result = redeem_code(session, account_id, entered, now=now, hooks=privacy_hooks)
        if result.status is LinkStatus.LINKED:
            identity_changed(store)
        return result

    result = await store.write(redeem)
    if result.status is LinkStatus.LINKED:
        await ctx.reply(ctx.t("link.linked", platforms=esc(", ".join(result.platforms))))
        return
    await ctx.reply(_reply(ctx, result.status))


async def unlink(ctx: CommandContext, store: Store, clock: Clock) -> None:
    if not ctx.event.is_private:
        raise UsageError(ctx.t("unlink.private_only"))
    account_id = await _account(store, ctx)
    now = clock()

    def split(session: Session) -> tuple[int, int] | str:
        try:
            result = unlink_account(session, account_id, now=now)
        except LinkError as exc:
            return exc.reason
        identity_changed(store)
        return result

    result = await store.write(split)
    if isinstance(result, str):
        raise UsageError(ctx.t("unlink.not_linked") if result == "not_linked"
                         else ctx.t("link.unknown_account"))
    await ctx.reply(ctx.t("unlink.done", platform=esc(ctx.event.platform)))


MODULE = Module(
    name="linking",
    commands=(
        CommandSpec("link", link, summary="link your accounts on different platforms (in private)",
                    usage="/link [code]"),
        CommandSpec("unlink", unlink, summary="split this platform's account off again (in private)",
                    usage="/unlink"),
    ),
    privacy=ModuleHook(linking_data.name, linking_data),  # link codes and failures of the member's accounts
    messages=MESSAGES,
)
