"""``DiscordMessenger``: Cohort's Messenger port on a discord.py client.

Replies are written in Cohort's HTML subset and rendered with
:func:`bot.markup.to_discord_markdown`; long texts are split at Discord's 2,000-character
limit (code blocks closed and reopened across a cut), edits and captions are cut.

Moderation: ``mute`` is Discord's member timeout (capped at Discord's 28 days), ``ban``
a guild ban that keeps the member's messages.

Errors: a DM refused with Discord code 50007 raises :class:`NotReachable` (never retried)
and is reported to the ``on_reachability`` hook; every other HTTP failure - including a
429 or 5xx that outlived discord.py's own per-route retries - becomes
:class:`PlatformError`, so a handler never sees a discord.py exception.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aiohttp
import discord

from bot.markup import to_discord_markdown, truncate
from bot.ports import (
    Button,
    Capability,
    ChatRef,
    NotReachable,
    PlatformError,
    Purged,
    Role,
    SentMessage,
)
from engine.args import is_ascii_id
from engine.events import Event, Platform

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000  # Discord's limit for a message's content
MAX_BUTTONS = 25  # 5 rows of 5
CANNOT_DM = 50007  # "Cannot send messages to this user"
UNKNOWN_USER = 10013
INTERACTION_TTL = 14 * 60.0  # interaction tokens live 15 minutes
# Discord refuses a timeout ending more than 28 days ahead; the minute's margin keeps a
# cap computed here valid if this host's clock runs a little ahead of Discord's.
MAX_TIMEOUT = timedelta(days=28) - timedelta(minutes=1)
# Bulk delete takes 2..100 messages, each younger than 14 days; a minute's margin.
BULK_DELETE_MAX_AGE = timedelta(days=14) - timedelta(minutes=1)
BULK_DELETE_BATCH = 100

ReachabilityHook = Callable[[str, str, bool], Awaitable[None]]
"""``on_reachability(platform, user_id, reachable)``: told after every DM attempt."""

NO_PINGS = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=False)


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut rendered Markdown into pieces of at most ``limit`` characters, on line breaks
    where possible. A ``` block cut in two is closed and reopened so both halves render.

    Returns ``[]`` for empty text.
    """
    if len(text) <= limit:
        return [text] if text else []
    reserve = 8  # room to close and reopen a code block at a cut
    pieces: list[str] = []
    for line in text.splitlines(keepends=True):
        while len(line) > limit - reserve:
            pieces.append(line[: limit - reserve])
            line = line[limit - reserve :]
        pieces.append(line)
    chunks: list[str] = []
    buf = ""
    open_fence = False
    for piece in pieces:
        if buf and len(buf) + len(piece) > limit - reserve:
            if open_fence:
                buf += "```" if buf.endswith("\n") else "\n```"
            chunks.append(buf)
            buf = "```\n" if open_fence else ""
        buf += piece
        if piece.count("```") % 2:
            open_fence = not open_fence
    if buf.strip():
        chunks.append(buf)
    return chunks


def render(markup: str) -> str:
    """Cohort markup → Discord Markdown."""
    return to_discord_markdown(markup)


def make_view(buttons: Sequence[Button]) -> discord.ui.View | None:
    """A persistent view (``timeout=None``) with one Discord button per Cohort button.

    A data button's ``custom_id`` is its ``data``; its click arrives as INTERACTION_CREATE
    and becomes :class:`~engine.events.ButtonClicked` in ``gateway.py``, also after a
    restart, because nothing about it lives in this process. Returns None without buttons.
    """
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in list(buttons)[:MAX_BUTTONS]:
        label = button.label[:80] or "…"
        if button.url:
            view.add_item(discord.ui.Button(label=label, url=button.url))
        else:
            view.add_item(discord.ui.Button(
                label=label, custom_id=(button.data or label)[:100], style=discord.ButtonStyle.secondary
            ))
    return view


def platform_error(exc: BaseException, what: str) -> PlatformError:
    """The :class:`PlatformError` for a failed Discord call, naming the call and the cause."""
    if isinstance(exc, discord.RateLimited):
        return PlatformError(f"discord: {what}: rate limited for {exc.retry_after:.0f}s")
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429:
            return PlatformError(f"discord: {what}: rate limited (429)")
        return PlatformError(f"discord: {what}: HTTP {exc.status} code {exc.code}: {exc.text}")
    return PlatformError(f"discord: {what}: {type(exc).__name__}: {exc}")


_TRANSPORT_ERRORS = (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, asyncio.TimeoutError, OSError)


@asynccontextmanager
async def platform_errors(what: str) -> AsyncIterator[None]:
    """Turn discord.py / transport failures inside the block into :class:`PlatformError`."""
    try:
        yield
    except _TRANSPORT_ERRORS as exc:
        raise platform_error(exc, what) from exc


def role_from_permissions(is_owner: bool, perms: discord.Permissions) -> Role:
    """Cohort's role for a guild member with these guild-wide permissions."""
    if is_owner:
        return Role.OWNER
    if perms.administrator or perms.manage_guild:
        return Role.ADMIN
    if perms.moderate_members or perms.manage_messages:
        return Role.MODERATOR
    return Role.MEMBER


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 20 else None


class DiscordMessenger:
    """Messenger for one discord.py client. Handlers only see Cohort types.

    ``dm_interval`` paces Cohort's own DMs (seconds between two; 0 disables, for tests):
    Discord punishes bots that DM many members quickly, independently of HTTP 429s.
    """

    platform = Platform.DISCORD
    capabilities = frozenset({
        Capability.REPLY, Capability.SEND, Capability.DM, Capability.PICTURE,
        Capability.DOCUMENT, Capability.BUTTONS, Capability.EDIT, Capability.ROLES,
        Capability.MODERATE,
    })

    def __init__(
        self,
        client: discord.Client,
        *,
        dm_interval: float = 1.0,
        on_reachability: ReachabilityHook | None = None,
    ) -> None:
        self.client = client
        self.dm_interval = dm_interval
        self.on_reachability = on_reachability
        self._next_dm_at = 0.0
        # interaction id → (interaction, expiry): slash commands answered by followup
        self._interactions: OrderedDict[str, tuple[discord.Interaction, float]] = OrderedDict()
        # followup message id → its interaction, so edit() can reach webhook-owned messages
        self._followups: OrderedDict[str, discord.Interaction] = OrderedDict()

    # -- interactions -----------------------------------------------------------------
    def remember_interaction(self, interaction: discord.Interaction) -> None:
        """Answer replies to the event made from ``interaction`` through its followup."""
        now = time.monotonic()
        self._interactions[str(interaction.id)] = (interaction, now + INTERACTION_TTL)
        while self._interactions:  # drop expired tokens, oldest first
            key, (_, expiry) = next(iter(self._interactions.items()))
            if expiry > now and len(self._interactions) <= 512:
                break
            del self._interactions[key]

    def replied_through(self, interaction: discord.Interaction) -> bool:
        """Whether a followup was sent for this interaction (else the adapter cleans up)."""
        return any(i.id == interaction.id for i in self._followups.values())

    def forget_interaction(self, interaction: discord.Interaction) -> None:
        self._interactions.pop(str(interaction.id), None)

    def _interaction_for(self, event: Event) -> discord.Interaction | None:
        if not event.message_id:
            return None
        found = self._interactions.get(event.message_id)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    # -- sending ----------------------------------------------------------------------
    def _channel(self, channel_id: str, guild_id: str | None = None) -> discord.abc.Messageable:
        cid = _int(channel_id)
        if cid is None:
            raise PlatformError(f"discord: {channel_id!r} is not a channel id")
        found = self.client.get_channel(cid)
        if isinstance(found, discord.abc.Messageable):
            return found
        # not cached: a partial channel is enough to post (no extra API call)
        return self.client.get_partial_messageable(cid, guild_id=_int(guild_id))

    async def _send_chunks(
        self,
        target: discord.abc.Messageable,
        text: str,
        *,
        buttons: Sequence[Button] = (),
        reference: discord.MessageReference | None = None,
        file: discord.File | None = None,
    ) -> discord.Message:
        chunks = split_text(render(text)) or ([] if file else ["\u200b"])
        view = make_view(buttons)
        first: discord.Message | None = None
        if file is not None and not chunks:
            chunks = [""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
            if i == 0 and reference is not None:
                kwargs["reference"] = reference
            if last and view is not None:
                kwargs["view"] = view
            if last and file is not None:
                kwargs["file"] = file
            sent = await target.send(chunk or None, **kwargs)
            first = first or sent
        assert first is not None
        return first

    async def _send_followup(self, interaction: discord.Interaction, text: str,
                             buttons: Sequence[Button]) -> str:
        chunks = split_text(render(text)) or ["\u200b"]
        view = make_view(buttons)
        first_id = ""
        for i, chunk in enumerate(chunks):
            kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS, "wait": True}
            if i == len(chunks) - 1 and view is not None:
                kwargs["view"] = view
            if not interaction.response.is_done():
                await interaction.response.defer()  # the adapter defers first; this is a guard
            msg = await interaction.followup.send(chunk, **kwargs)
            self._followups[str(msg.id)] = interaction
            while len(self._followups) > 512:
                self._followups.popitem(last=False)
            first_id = first_id or str(msg.id)
        return first_id

    async def reply(self, to: Event, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        """Answer an event where it happened: as a reply to its message, as the followup of
        the slash command it came from, or (member events) in the guild's system channel.

        Returns the first message sent. Raises PlatformError when Discord refuses.
        """
        chat = ChatRef.of(to)
        interaction = self._interaction_for(to)
        async with platform_errors("reply"):
            if interaction is not None:
                return SentMessage(chat, await self._send_followup(interaction, text, buttons))
            if not to.is_private and to.chat_id == to.community_id:
                return await self._send_system_channel(to.community_id, text, buttons)
            channel_id = to.thread_id or to.chat_id
            reference = None
            if to.message_id and _int(to.message_id) is not None:
                reference = discord.MessageReference(
                    message_id=int(to.message_id), channel_id=int(channel_id),
                    guild_id=_int(to.community_id), fail_if_not_exists=False,
                )
            sent = await self._send_chunks(
                self._channel(channel_id, to.community_id), text, buttons=buttons, reference=reference
            )
        return SentMessage(chat, str(sent.id))

    async def _send_system_channel(self, community_id: str, text: str,
                                   buttons: Sequence[Button]) -> SentMessage:
        gid = _int(community_id)
        guild = self.client.get_guild(gid) if gid else None
        channel = guild.system_channel if guild else None
        if channel is None:
            raise PlatformError(f"discord: guild {community_id} has no system channel to greet in")
        sent = await self._send_chunks(channel, text, buttons=buttons)
        return SentMessage(ChatRef(Platform.DISCORD, community_id, str(channel.id)), str(sent.id))

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        """Post to a channel or, with ``chat.thread_id``, to a thread. Raises PlatformError."""
        async with platform_errors("send"):
            target = self._channel(chat.thread_id or chat.chat_id, chat.community_id)
            sent = await self._send_chunks(target, text, buttons=buttons)
        return SentMessage(chat, str(sent.id))

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage:
        """Post a PNG (a chart) with an optional caption. Raises PlatformError."""
        async with platform_errors("send_picture"):
            target = self._channel(chat.thread_id or chat.chat_id, chat.community_id)
            file = discord.File(io.BytesIO(png), filename="cohort.png")
            sent = await target.send(
                truncate(render(caption), MAX_MESSAGE) or None, file=file, allowed_mentions=NO_PINGS
            )
        return SentMessage(chat, str(sent.id))

    # -- direct messages --------------------------------------------------------------
    async def _pace(self) -> None:
        """Wait for this DM's slot: at most one DM per ``dm_interval`` seconds."""
        if self.dm_interval <= 0:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next_dm_at)
        self._next_dm_at = slot + self.dm_interval  # reserved before sleeping: no lock needed
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _report(self, user_id: str, reachable: bool) -> None:
        if self.on_reachability is None:
            return
        try:
            await self.on_reachability(str(Platform.DISCORD), user_id, reachable)
        except Exception:  # bookkeeping must not turn a delivered DM into a failure
            log.exception("discord: recording reachability of %s failed", user_id)

    async def _direct(self, user_id: str, text: str, buttons: Sequence[Button],
                      file: discord.File | None, what: str) -> SentMessage:
        uid = _int(user_id)
        if uid is None:
            raise NotReachable(user_id, "not a Discord user id")
        await self._pace()
        try:
            user = self.client.get_user(uid) or await self.client.fetch_user(uid)
            sent = await self._send_chunks(user, text, buttons=buttons, file=file)
        except discord.Forbidden as exc:
            if exc.code == CANNOT_DM:
                await self._report(user_id, False)
                raise NotReachable(user_id, "the member does not accept DMs from this server's members") from exc
            raise platform_error(exc, what) from exc
        except discord.NotFound as exc:
            if exc.code == UNKNOWN_USER:
                await self._report(user_id, False)
                raise NotReachable(user_id, "unknown user") from exc
            raise platform_error(exc, what) from exc
        except _TRANSPORT_ERRORS as exc:
            raise platform_error(exc, what) from exc
        await self._report(user_id, True)
        channel_id = str(sent.channel.id) if sent.channel is not None else user_id
        return SentMessage(ChatRef(Platform.DISCORD, "", channel_id), str(sent.id))

    async def dm(self, user_id: str, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        """DM a member. Raises NotReachable (code 50007: DMs closed / no shared server),
        PlatformError for anything else Discord refuses. Paced by ``dm_interval``."""
        return await self._direct(user_id, text, buttons, None, "dm")

    async def dm_picture(self, user_id: str, png: bytes, *, filename: str = "chart.png",
                         caption: str = "") -> SentMessage:
        """DM a PNG (Discord shows an attached image inline). Raises like :meth:`dm`."""
        file = discord.File(io.BytesIO(png), filename=filename[:100] or "chart.png")
        return await self._direct(user_id, caption, (), file, "dm_picture")

    async def send_document(self, user_id: str, filename: str, data: bytes, caption: str = "") -> SentMessage:
        """DM a file (``/mydata``). Raises like :meth:`dm`."""
        file = discord.File(io.BytesIO(data), filename=filename[:100] or "cohort.dat")
        return await self._direct(user_id, caption, (), file, "send_document")

    # -- editing ----------------------------------------------------------------------
    async def edit(self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()) -> None:
        """Replace a sent message's text (cut to 2,000 chars) and buttons. Raises PlatformError."""
        content = truncate(render(text), MAX_MESSAGE) or "\u200b"
        view = make_view(buttons)
        async with platform_errors("edit"):
            interaction = self._followups.get(message.message_id)
            if interaction is not None:  # followups belong to the interaction's webhook
                await interaction.followup.edit_message(
                    int(message.message_id), content=content, view=view, allowed_mentions=NO_PINGS
                )
                return
            channel = self._channel(message.chat.thread_id or message.chat.chat_id, message.chat.community_id)
            partial = channel.get_partial_message(int(message.message_id))  # type: ignore[attr-defined]
            await partial.edit(content=content, view=view, allowed_mentions=NO_PINGS)

    # -- roles ------------------------------------------------------------------------
    async def _member(self, guild: discord.Guild, user_id: int) -> discord.Member | None:
        member = guild.get_member(user_id)
        if member is not None:
            return member
        try:
            return await guild.fetch_member(user_id)
        except discord.NotFound:
            return None

    async def role_of(self, community_id: str, user_id: str) -> Role:
        """Owner → OWNER; administrator / manage_guild → ADMIN; moderate_members /
        manage_messages → MODERATOR; everyone else, DMs and unknown guilds → MEMBER.

        Raises PlatformError when the member cannot be fetched."""
        gid, uid = _int(community_id), _int(user_id)
        guild = self.client.get_guild(gid) if gid else None
        if guild is None or uid is None:
            return Role.MEMBER
        if guild.owner_id == uid:
            return Role.OWNER
        async with platform_errors("role_of"):
            member = await self._member(guild, uid)
        if member is None:
            return Role.MEMBER
        return role_from_permissions(False, member.guild_permissions)

    async def set_role(self, community_id: str, user_id: str, role_name: str, present: bool) -> None:
        """Give (``present=True``) or take a guild role by name - level rewards.

        Raises PlatformError if the guild, member or role is unknown or Cohort may not
        manage that role (it needs Manage Roles and a higher role than the one it grants).
        """
        gid, uid = _int(community_id), _int(user_id)
        guild = self.client.get_guild(gid) if gid else None
        if guild is None or uid is None:
            raise PlatformError(f"discord: unknown guild {community_id} or user {user_id}")
        role = discord.utils.find(lambda r: r.name.casefold() == role_name.casefold(), guild.roles)
        if role is None:
            raise PlatformError(f"discord: guild {guild.name} has no role named {role_name!r}; create it first")
        async with platform_errors("set_role"):
            member = await self._member(guild, uid)
            if member is None:
                raise PlatformError(f"discord: {user_id} is not a member of {guild.name}")
            has = any(r.id == role.id for r in member.roles)
            try:
                if present and not has:
                    await member.add_roles(role, reason="Cohort level reward")
                elif not present and has:
                    await member.remove_roles(role, reason="Cohort level reward")
            except discord.Forbidden as exc:
                raise PlatformError(
                    f"discord: may not manage role {role.name!r}: give Cohort 'Manage Roles' and drag "
                    f"its role above {role.name!r} in Server Settings → Roles"
                ) from exc

    # -- moderation -------------------------------------------------------------------
    async def _guild(self, community_id: str, what: str) -> discord.Guild:
        """The guild from the cache, else over REST; PlatformError when Cohort isn't in it."""
        gid = _int(community_id)
        if gid is None:
            raise PlatformError(f"discord: {what}: {community_id!r} is not a server (use this in the server)")
        guild = self.client.get_guild(gid)
        if guild is not None:
            return guild
        try:
            return await self.client.fetch_guild(gid)
        except (discord.Forbidden, discord.NotFound) as exc:
            raise PlatformError(f"discord: {what}: Cohort is not in server {community_id}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise platform_error(exc, what) from exc

    async def mute(self, community_id: str, user_id: str, *, until: datetime | None, reason: str) -> datetime:
        """Time a member out (Discord's mute: they can read, but not post, react or speak)
        until ``until``.

        Discord caps a timeout at 28 days: ``until=None`` ("indefinitely") and any end
        further ahead become the maximum, 28 days from now (less a minute for clock skew).
        A naive ``until`` is taken as UTC. Returns when the mute really ends (aware, UTC),
        so the handler can say and audit the capped end rather than "indefinitely".

        Raises PlatformError when ``until`` is not in the future, the member is not in the
        server, Cohort lacks Timeout Members or ranks below them (administrators and the
        owner cannot be timed out), or Discord fails.
        """
        uid = _user_id(user_id, "mute")
        now = discord.utils.utcnow()
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        if until is not None and until <= now:
            raise PlatformError("discord: mute: the mute must end in the future")
        cap = now + MAX_TIMEOUT
        end = cap if until is None or until > cap else until
        guild = await self._guild(community_id, "mute")
        with _Acting("mute", user_id, "Timeout Members", "administrators and the owner",
                     f"{user_id} is not a member of {guild.name} any more") as acting:
            acting.member = await self._present(guild, uid, "mute")
            await acting.member.timeout(end, reason=reason or None)
        return end

    async def unmute(self, community_id: str, user_id: str) -> None:
        """End a member's timeout. Raises PlatformError like :meth:`mute`."""
        uid = _user_id(user_id, "unmute")
        guild = await self._guild(community_id, "unmute")
        with _Acting("unmute", user_id, "Timeout Members", "administrators and the owner",
                     f"{user_id} is not a member of {guild.name} any more") as acting:
            acting.member = await self._present(guild, uid, "unmute")
            await acting.member.timeout(None)

    async def ban(self, community_id: str, user_id: str, *, reason: str,
                  until: datetime | None = None) -> None:
        """Ban a user from the server, keeping their messages (``delete_message_seconds=0``).
        Someone who already left can be banned too, so they cannot come back. Discord has
        no timed bans: ``until`` is ignored and None returned, so the caller lifts the ban
        when it is due (Cohort's moderation sweep does).

        Raises PlatformError when Cohort lacks Ban Members or ranks below the member (the
        owner cannot be banned), the user does not exist, or Discord fails.
        """
        uid = _user_id(user_id, "ban")
        guild = await self._guild(community_id, "ban")
        with _Acting("ban", user_id, "Ban Members", "the owner", f"there is no Discord user {user_id}") as acting:
            # a cached member names them in errors; an Object is enough for the ban itself
            acting.member = guild.get_member(uid)
            await guild.ban(acting.member or discord.Object(id=uid), reason=reason or None, delete_message_seconds=0)
        return None

    async def unban(self, community_id: str, user_id: str) -> None:
        """Lift a ban. Raises PlatformError when the user is not banned (Discord: 10026),
        Cohort lacks Ban Members, or Discord fails."""
        uid = _user_id(user_id, "unban")
        guild = await self._guild(community_id, "unban")
        with _Acting("unban", user_id, "Ban Members", "nobody", f"{user_id} is not banned from {guild.name}"):
            await guild.unban(discord.Object(id=uid))

    async def kick(self, community_id: str, user_id: str, *, reason: str) -> None:
        """Remove a member from the server (they may rejoin with an invite).

        Raises PlatformError when they are not in the server, Cohort lacks Kick Members or
        ranks below them, or Discord fails."""
        uid = _user_id(user_id, "kick")
        guild = await self._guild(community_id, "kick")
        with _Acting("kick", user_id, "Kick Members", "the owner",
                     f"{user_id} is not a member of {guild.name} any more") as acting:
            acting.member = await self._present(guild, uid, "kick")
            await guild.kick(acting.member, reason=reason or None)

    async def _present(self, guild: discord.Guild, uid: int, action: str) -> discord.Member:
        member = await self._member(guild, uid)
        if member is None:
            raise PlatformError(f"discord: {action}: {uid} is not a member of {guild.name}")
        return member

    async def delete_messages(self, chat: ChatRef, messages: Sequence[tuple[str, datetime]]) -> Purged:
        """Bulk-delete messages in a channel (or thread), 100 per request. Discord's bulk
        delete refuses messages older than 14 days: those are left and counted in
        ``too_old``. Raises PlatformError without Manage Messages or when Discord fails."""
        oldest = discord.utils.utcnow() - BULK_DELETE_MAX_AGE
        ids = [int(mid) for mid, _ in messages
               if is_ascii_id(mid) and discord.utils.snowflake_time(int(mid)) >= oldest]
        too_old = len(messages) - len(ids)
        channel = self._channel(chat.thread_id or chat.chat_id, chat.community_id)
        try:
            for start in range(0, len(ids), BULK_DELETE_BATCH):
                batch = ids[start:start + BULK_DELETE_BATCH]
                if len(batch) == 1:  # bulk delete needs at least two
                    await channel.get_partial_message(batch[0]).delete()  # type: ignore[attr-defined]
                else:
                    await self.client.http.delete_messages(channel.id, cast(Any, batch))  # type: ignore[attr-defined]
        except discord.Forbidden as exc:
            raise PlatformError("discord: may not delete messages here: give Cohort 'Manage Messages' "
                                "in this channel") from exc
        except _TRANSPORT_ERRORS as exc:
            raise platform_error(exc, "delete messages") from exc
        return Purged(len(ids), too_old)


def _user_id(user_id: str, action: str) -> int:
    uid = _int(user_id)
    if uid is None:
        raise PlatformError(f"discord: {action}: {user_id!r} is not a Discord user id")
    return uid


class _Acting:
    """Turns what discord.py raises during one moderation call into a PlatformError in
    words a moderator can act on: 403 → which right to give, 404 → ``gone``, transport
    errors and rate limits → :func:`platform_error`."""

    def __init__(self, action: str, user_id: str, right: str, exempt: str, gone: str) -> None:
        self.action, self.user_id, self.right, self.exempt, self.gone = action, user_id, right, exempt, gone
        self.member: discord.Member | None = None  # named in a 403 once known

    def __enter__(self) -> _Acting:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, PlatformError):
            return
        if isinstance(exc, discord.Forbidden):
            raise _forbidden(self.action, self.member, self.user_id, self.right, self.exempt) from exc
        if isinstance(exc, discord.NotFound):
            raise PlatformError(f"discord: {self.action}: {self.gone}") from exc
        if isinstance(exc, _TRANSPORT_ERRORS):
            raise platform_error(exc, self.action) from exc


def _forbidden(verb: str, member: discord.Member | None, user_id: str, right: str, exempt: str) -> PlatformError:
    """The moderator-facing reason Discord refused a mute or ban (a 403)."""
    who = member.display_name if member else user_id
    done = {"ban": "banned", "unban": "unbanned", "mute": "muted", "unmute": "unmuted", "kick": "kicked"}
    return PlatformError(
        f"discord: may not {verb} {who}: give Cohort '{right}' and drag its role above theirs in "
        f"Server Settings → Roles ({exempt} cannot be {done.get(verb, verb)})"
    )
