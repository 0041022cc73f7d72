"""A Messenger that records what handlers asked for, with configurable roles and failures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.markup import to_plain
from bot.ports import Button, Capability, ChatRef, NotReachable, Role, SentMessage
from engine.events import Event, Platform


@dataclass
class Said:
    kind: str  # reply | send | dm | picture | document | edit
    target: str
    text: str
    buttons: tuple[Button, ...] = ()
    data: bytes = b""

    @property
    def plain(self) -> str:
        return to_plain(self.text)


@dataclass
class RecordingMessenger:
    platform: Platform = Platform.CONSOLE
    roles: dict[str, Role] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)
    said: list[Said] = field(default_factory=list)
    capabilities: frozenset[Capability] = frozenset(Capability)
    _n: int = 0

    def _sent(self, chat: ChatRef) -> SentMessage:
        self._n += 1
        return SentMessage(chat, f"bot-{self._n}")

    async def reply(self, to: Event, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        self.said.append(Said("reply", to.user_id, text, tuple(buttons)))
        return self._sent(ChatRef.of(to))

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        self.said.append(Said("send", chat.chat_id, text, tuple(buttons)))
        return self._sent(chat)

    async def dm(self, user_id: str, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        if user_id in self.unreachable:
            raise NotReachable(user_id, "never opened the bot")
        self.said.append(Said("dm", user_id, text, tuple(buttons)))
        return self._sent(ChatRef(self.platform, "", f"dm:{user_id}"))

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage:
        self.said.append(Said("picture", chat.chat_id, caption, data=png))
        return self._sent(chat)

    async def send_document(self, user_id: str, filename: str, data: bytes, caption: str = "") -> SentMessage:
        if user_id in self.unreachable:
            raise NotReachable(user_id, "never opened the bot")
        self.said.append(Said("document", user_id, caption or filename, data=data))
        return self._sent(ChatRef(self.platform, "", f"dm:{user_id}"))

    async def edit(self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()) -> None:
        self.said.append(Said("edit", message.message_id, text, tuple(buttons)))

    async def role_of(self, community_id: str, user_id: str) -> Role:
        return self.roles.get(user_id, Role.MEMBER)

    def replies_to(self, user_id: str) -> list[str]:
        return [s.plain for s in self.said if s.kind == "reply" and s.target == user_id]
