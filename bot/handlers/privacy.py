"""``/optout``, ``/optin``, ``/mydata`` and ``/forget`` (with a confirmation button).

The work is in :mod:`engine.members.privacy`; this module talks to the member. Personal
data is only ever sent by DM, never into a group.

``/forget`` posts a button whose data is ``forget:confirm:<member_id>:<nonce>``. Pending
confirmations live in memory (:class:`PendingForgets`, provided as ``forget_pending``)
for ten minutes; a restart simply means running ``/forget`` again. Only a click by the
same member counts.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.modules import Catalog, EventHandler, Module, text
from bot.ports import Button, Clock, Messenger, NotReachable, Unsupported
from bot.router import CommandContext, CommandSpec
from bot.settings import Settings
from engine.args import is_ascii_id
from engine.events import ButtonClicked, Event
from engine.ingest import privacy as ingest_privacy
from engine.members.lookup import member_of_account
from engine.members.moderation import write_audit
from engine.members.privacy import ModuleHook, PrivacyHook, export_member, forget_member, set_dm_opt_out
from engine.members.reachability import mark_reachability
from engine.store.store import Store

log = logging.getLogger(__name__)

FORGET_TTL = timedelta(minutes=10)
FORGET_PREFIX = "forget:"

MESSAGES: Catalog = {
    "privacy.optout": {"en": "Done: I won't send you nudges or other private messages, in any community — "
                             "including ones you join later. Send /optin to undo.",
                       "zh": "好的：我不会再在任何社区（包括你以后加入的社区）给你发送提醒或其他私信。发送 /optin 可撤销。"},
    "privacy.optin": {"en": "Done: I may send you occasional private messages again. /optout stops them.",
                      "zh": "好的：我可能会偶尔再给你发私信。发送 /optout 可停止。"},
    "privacy.caption": {"en": "Everything Cohort stores about you.", "zh": "Cohort 保存的关于你的全部数据。"},
    "privacy.no_dm": {"en": "I can't message you privately yet. Open a private chat with me (send me any message "
                            "there), then send /mydata again — I never post your data in a group.",
                      "zh": "我还无法私信你。请先和我开启私聊（随便发一条消息），然后再发送 /mydata——我从不在群里发布你的数据。"},
    "privacy.no_files": {"en": "This platform doesn't let me send you a file privately, so I can't export your "
                               "data here.",
                         "zh": "这个平台不允许我私下给你发送文件，所以无法在这里导出你的数据。"},
    "privacy.sent": {"en": "I've sent you your data in a private message.", "zh": "我已通过私信把你的数据发给你。"},
    "privacy.forget_ask": {"en": "<b>Forget me?</b> This deletes your points, activity and account data in every "
                                 "community Cohort serves, and cannot be undone. Your messages stay on the platform; "
                                 "I keep only an anonymous placeholder (no author, no text) so others' threads stay "
                                 "intact. The button works for 10 minutes.",
                           "zh": "<b>要删除你的数据吗？</b>这会删除你在 Cohort 服务的所有社区中的积分、活动和账户数据，且无法撤销。"
                                 "你的消息仍留在平台上；我只保留一个匿名占位（无作者、无内容），以免打乱别人的讨论。按钮 10 分钟内有效。"},
    "privacy.forget_yes": {"en": "Yes, forget me", "zh": "是的，删除我的数据"},
    "privacy.forget_cancel": {"en": "Cancel", "zh": "取消"},
    "privacy.not_yours": {"en": "Only the person who asked can use this button.", "zh": "只有发起请求的人可以使用这个按钮。"},
    "privacy.expired": {"en": "That request has expired. Send /forget again if you still want this.",
                        "zh": "该请求已过期。如果仍想删除，请重新发送 /forget。"},
    "privacy.cancelled": {"en": "Cancelled; nothing was deleted.", "zh": "已取消，没有删除任何内容。"},
    "privacy.forgotten": {"en": "Done. I've deleted your data. If you keep posting, I'll count you as a new member "
                                "from zero; /optout stops my private messages.",
                          "zh": "完成，你的数据已删除。如果你继续发言，我会把你当作从零开始的新成员；/optout 可停止我的私信。"},
    "sum.optout": {"en": "stop private messages from Cohort", "zh": "停止接收 Cohort 的私信"},
    "sum.optin": {"en": "allow private messages from Cohort again", "zh": "重新允许 Cohort 私信"},
    "sum.mydata": {"en": "get everything Cohort stores about you, by DM", "zh": "通过私信获取 Cohort 保存的关于你的全部数据"},
    "sum.forget": {"en": "delete your data from Cohort", "zh": "从 Cohort 删除你的数据"},
}


@dataclass(frozen=True, slots=True)
class PendingForget:
    member_id: int
    platform: str
    user_ext: str
    expires_at: datetime


class PendingForgets:
    """``/forget`` requests waiting for their button, by nonce (in memory, 10 minutes)."""

    def __init__(self) -> None:
        self._by_nonce: dict[str, PendingForget] = {}

    def add(self, request: PendingForget, now: datetime) -> str:
        """Remember ``request`` (dropping expired ones); returns its nonce."""
        for nonce in [n for n, p in self._by_nonce.items() if p.expires_at <= now]:
            del self._by_nonce[nonce]
        nonce = secrets.token_urlsafe(9)
        self._by_nonce[nonce] = request
        return nonce

    def take(self, nonce: str, member_id: int, now: datetime) -> PendingForget | None:
        """The live request of ``member_id`` under ``nonce``, removed; None if none or expired."""
        request = self._by_nonce.pop(nonce, None)
        if request is None or request.member_id != member_id or request.expires_at <= now:
            return None
        return request


def identity_changed(store: Store) -> None:
    """Drop id caches after accounts moved between members. Call inside ``store.write``'s
    function: the writer thread runs it, and every cache user lives on that thread."""
    store.recorder.cache.clear()
    for projection in store.writer.projections:
        projection.reset()


async def set_reachable(store: Store, event: Event, reachable: bool, now: datetime) -> None:
    """Remember whether the caller can receive DMs (the scheduler reads this)."""
    await store.write(lambda s: mark_reachability(s, str(event.platform), event.user_id, reachable, now))


# -- opt-out ----------------------------------------------------------------------------
async def optout(ctx: CommandContext, store: Store) -> None:
    member_id = ctx.member_id
    await store.write(lambda s: set_dm_opt_out(s, member_id, True))
    await ctx.reply(ctx.t("privacy.optout"))


async def optin(ctx: CommandContext, store: Store) -> None:
    member_id = ctx.member_id
    await store.write(lambda s: set_dm_opt_out(s, member_id, False))
    await ctx.reply(ctx.t("privacy.optin"))


# -- export -----------------------------------------------------------------------------
async def mydata(ctx: CommandContext, store: Store, messenger: Messenger, clock: Clock,
                 privacy_hooks: Sequence[PrivacyHook]) -> None:
    event = ctx.event
    member_id = ctx.member_id
    data = await store.read(lambda s: export_member(s, member_id, privacy_hooks))
    now = clock()
    payload = {"generated_at": now.isoformat(), "format": "cohort-member-export/1", **data}
    blob = json.dumps(payload, ensure_ascii=False, indent=2, default=str).encode()
    try:
        await messenger.send_document(event.user_id, "cohort-my-data.json", blob, caption=ctx.t("privacy.caption"))
    except NotReachable:
        await set_reachable(store, event, False, now)
        await ctx.reply(ctx.t("privacy.no_dm"))
        return
    except Unsupported:
        await ctx.reply(ctx.t("privacy.no_files"))
        return
    await set_reachable(store, event, True, now)
    if not event.is_private:
        await ctx.reply(ctx.t("privacy.sent"))


# -- forget -----------------------------------------------------------------------------
async def forget(ctx: CommandContext, clock: Clock, forget_pending: PendingForgets) -> None:
    member_id = ctx.member_id
    now = clock()
    nonce = forget_pending.add(PendingForget(member_id, str(ctx.event.platform), ctx.event.user_id,
                                             now + FORGET_TTL), now)
    await ctx.reply(ctx.t("privacy.forget_ask"), buttons=[
        Button(ctx.t("privacy.forget_yes"), data=f"forget:confirm:{member_id}:{nonce}"),
        Button(ctx.t("privacy.forget_cancel"), data=f"forget:cancel:{member_id}:{nonce}"),
    ])


async def on_forget_click(event: ButtonClicked, store: Store, messenger: Messenger, clock: Clock,
                          forget_pending: PendingForgets, privacy_hooks: Sequence[PrivacyHook],
                          settings: Settings) -> None:
    """Handles ``forget:confirm|cancel:<member_id>:<nonce>``; other buttons are ignored."""
    if not event.data.startswith(FORGET_PREFIX):
        return
    parts = event.data.split(":")
    if len(parts) != 4 or not is_ascii_id(parts[2], max_digits=18):
        return
    action, member_id, nonce = parts[1], int(parts[2]), parts[3]
    language = settings.language

    def say(key: str) -> str:
        return text(MESSAGES, key, language)

    clicker = await store.read(lambda s: member_of_account(s, str(event.platform), event.user_id))
    if clicker != member_id:
        # Someone else's button: say nothing in the group beyond a short notice.
        await messenger.reply(event, say("privacy.not_yours"))
        return
    now = clock()
    if forget_pending.take(nonce, member_id, now) is None:
        await messenger.reply(event, say("privacy.expired"))
        return
    if action == "cancel":
        await messenger.reply(event, say("privacy.cancelled"))
        return
    if action != "confirm":
        return

    def erase(session: Session) -> int:
        report = forget_member(session, member_id, privacy_hooks)
        # No personal data: the member id is gone with the member; only counts remain.
        write_audit(session, action="member_forgotten", at=now,
                    details={"rows": report.total, "hooks": sorted(report.rows)})
        identity_changed(store)
        return report.total

    await store.write(erase)
    await messenger.reply(event, say("privacy.forgotten"))


INGEST_PRIVACY: PrivacyHook = ModuleHook(ingest_privacy.name, ingest_privacy)

MODULE = Module(
    name="privacy",
    provides=lambda deps: replace(deps, forget_pending=PendingForgets()),
    commands=(
        CommandSpec("optout", optout, summary="stop private messages from Cohort", usage="/optout"),
        CommandSpec("optin", optin, summary="allow private messages from Cohort again", usage="/optin"),
        CommandSpec("mydata", mydata, summary="get everything Cohort stores about you, by DM", usage="/mydata"),
        CommandSpec("forget", forget, summary="delete your data from Cohort", usage="/forget"),
    ),
    handlers=(EventHandler((ButtonClicked,), on_forget_click),),
    privacy=INGEST_PRIVACY,  # dead letters quarantined from the member's updates
    messages=MESSAGES,
)
