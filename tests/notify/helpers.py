"""A scripted Messenger of Cohort's own port (failures per user) and helpers for the
notifier tests; members come from real events through the real router and store."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.bootstrap import App
from bot.ports import Button, Capability, ChatRef, PlatformError, Role, SentMessage
from engine.events import Platform
from engine.members.lookup import member_of_account
from engine.outbox.tables import OutboxEntry
from engine.store.models import Account, Community
from tests.members.fakes import msg


@dataclass
class ScriptedMessenger:
    """Records DMs and pictures; ``script[user]`` holds exceptions raised by the next calls."""

    platform: Platform = Platform.TELEGRAM
    capabilities: frozenset[Capability] = frozenset({Capability.DM, Capability.PICTURE, Capability.BUTTONS})
    script: dict[str, deque[Exception]] = field(default_factory=dict)
    sent: list[tuple[str, str, str, tuple[Button, ...]]] = field(default_factory=list)  # kind, user, text, buttons
    calls: int = 0

    def fail(self, user: str, *errors: Exception) -> None:
        self.script.setdefault(user, deque()).extend(errors)

    def _maybe_fail(self, user: str) -> None:
        self.calls += 1
        queue = self.script.get(user)
        if queue:
            raise queue.popleft()

    async def dm(self, user_id: str, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        self._maybe_fail(user_id)
        self.sent.append(("dm", user_id, text, tuple(buttons)))
        return SentMessage(ChatRef(self.platform, "", user_id), str(len(self.sent)))

    async def dm_picture(self, user_id: str, png: bytes, *, filename: str = "chart.png",
                         caption: str = "") -> SentMessage:
        self._maybe_fail(user_id)
        self.sent.append(("picture", user_id, filename, ()))
        return SentMessage(ChatRef(self.platform, "", user_id), str(len(self.sent)))

    async def reply(self, to: object, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        raise AssertionError("the notifier never replies")

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        raise AssertionError("the notifier never posts in a group")

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage:
        raise AssertionError("pictures go by dm_picture")

    async def send_document(self, user_id: str, filename: str, data: bytes, caption: str = "") -> SentMessage:
        raise AssertionError("pictures go by dm_picture")

    async def edit(self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()) -> None:
        raise AssertionError("no edits")

    async def role_of(self, community_id: str, user_id: str) -> Role:
        return Role.MEMBER

    def dms_to(self, user: str) -> list[str]:
        return [text for kind, u, text, _ in self.sent if kind == "dm" and u == user]


FLAKY = PlatformError("telegram sendMessage: 502 Bad Gateway")


async def member(app: App, user: str, *, platform: Platform = Platform.TELEGRAM, community: str = "tg-group") -> int:
    """A member who posted once in ``community`` (created through the real router)."""
    from tests.members.fakes import FakeMessenger

    await app.dispatch(msg(user, "hello", platform=platform, community=community), FakeMessenger(platform))
    mid = await app.store.read(lambda s: member_of_account(s, str(platform), user))
    assert mid is not None
    return mid


async def community_id(app: App, platform: Platform, external: str) -> int:
    cid = await app.store.read(lambda s: s.execute(select(Community.id).where(
        Community.platform == str(platform), Community.external_id == external)).scalar_one())
    return int(cid)


async def outbox_row(app: App, key: str) -> OutboxEntry | None:
    return await app.store.read(lambda s: s.execute(select(OutboxEntry).where(OutboxEntry.key == key)).scalar_one_or_none())


async def reachable(app: App, platform: Platform, user: str) -> bool | None:
    return await app.store.read(lambda s: s.execute(select(Account.dm_reachable).where(
        Account.platform == str(platform), Account.external_id == user)).scalar_one())
