"""``DiscordAdapter``: a discord.py client running inside Cohort's one event loop.

How events flow: discord.py hands every gateway dispatch to its ``ConnectionState``
parser for that type. The adapter wraps the parsers of the types listed in
:data:`gateway.TRANSLATORS` with a tap that first gives the raw ``d`` dict to
:func:`gateway.translate` (pure), schedules Cohort's dispatch for each resulting event,
then lets discord.py parse as usual. Raw payloads mean uncached messages, reactions on
old messages and members Cohort never saw all count, and the translation is tested on
JSON alone. (Wrapping parsers relies on ``Client._connection.parsers``, internal API of
discord.py 2.x; ``attach()`` fails loudly if it changes.)

Application commands go through discord.py's ``CommandTree`` (``commands.py``); button
clicks are acknowledged here (``on_interaction``) and translated by the tap.

On READY and RESUMED the adapter backfills what the gateway did not deliver while it was
away (``backfill.py``): each known channel's history after the last stored message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import discord

from bot.adapters.base import Dispatch, Finding, Severity
from bot.adapters.discord.backfill import DEFAULT_LIMIT, BackfillReport, ResumePoint, backfill
from bot.adapters.discord.commands import SpecLike, add_commands, build_tree, command_event, sync_tree
from bot.adapters.discord.doctor import finding_for_exception, run_doctor
from bot.adapters.discord.gateway import TRANSLATORS, ChannelInfo, GatewayContext, translate
from bot.adapters.discord.messenger import NO_PINGS, DiscordMessenger, ReachabilityHook
from bot.settings import Settings
from engine.events import Event, Platform

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0  # how long start() waits for the first READY before going on
DRAIN_TIMEOUT = 10.0


def intents() -> discord.Intents:
    """Guilds, members, guild messages, message content, reactions and DMs - nothing else."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.members = True  # privileged: joins/leaves
    wanted.guild_messages = True
    wanted.message_content = True  # privileged: without it text arrives empty
    wanted.guild_reactions = True
    wanted.dm_messages = True
    wanted.dm_reactions = True
    return wanted


def make_client(settings: Settings) -> discord.Client:
    """The discord.py client Cohort runs: sharded when ``discord.sharded`` is set.

    Guilds are not chunked at start (big servers would delay READY for minutes); members
    are fetched on demand. A rate-limit wait longer than 30 s raises instead of blocking a
    handler, and then becomes a PlatformError.
    """
    cls: type[discord.Client] = discord.AutoShardedClient if settings.discord.sharded else discord.Client
    return cls(
        intents=intents(),
        chunk_guilds_at_startup=False,
        max_ratelimit_timeout=30.0,
        allowed_mentions=NO_PINGS,
    )


class DiscordSetupError(RuntimeError):
    """Discord refused to start Cohort; the message says how to fix it."""


class DiscordAdapter:
    """Runs one Discord bot for Cohort. See the module doc for the event flow.

    ``commands`` (the router's CommandSpecs) become slash commands and limit which
    ``!words`` are prefix commands; ``on_reachability`` is told about every DM attempt
    (see :func:`engine.members.reachability.reachability_hook`); ``dm_interval`` paces Cohort's own DMs;
    ``client`` replaces the discord.py client (tests).
    """

    name = "discord"

    def __init__(
        self,
        settings: Settings,
        dispatch: Dispatch,
        *,
        commands: Sequence[SpecLike] = (),
        on_reachability: ReachabilityHook | None = None,
        dm_interval: float = 1.0,
        client: discord.Client | None = None,
        resume_points: Callable[[], Awaitable[list[ResumePoint]]] | None = None,
        backfill_limit: int = DEFAULT_LIMIT,
    ) -> None:
        self.settings = settings
        self._dispatch = dispatch
        self.commands = list(commands)
        self.client = client or make_client(settings)
        self.messenger = DiscordMessenger(self.client, dm_interval=dm_interval, on_reachability=on_reachability)
        self.tree: discord.app_commands.CommandTree[Any] | None = None
        self._attached: object | None = None
        self._names = frozenset(
            n for spec in self.commands for n in (spec.name, *getattr(spec, "aliases", ()))
        ) or None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connect_task: asyncio.Task[None] | None = None
        self.last_error: BaseException | None = None
        self.client.on_interaction = self._on_interaction  # type: ignore[attr-defined]
        # Backfill after downtime: where each channel's stored history ends (None: off).
        self.resume_points = resume_points
        self.backfill_limit = backfill_limit
        self.last_backfill: BackfillReport | None = None
        self._backfilling: asyncio.Task[BackfillReport] | None = None
        self._backfill_again = False
        self.client.on_ready = self._on_session  # type: ignore[attr-defined]
        self.client.on_resumed = self._on_session  # type: ignore[attr-defined]

    # -- wiring into discord.py --------------------------------------------------------
    def attach(self) -> None:
        """Install the raw tap and the command tree on the client's current connection
        state. Idempotent; call again if the state is replaced (dpytest does that)."""
        state = self.client._connection
        if self._attached is state:
            return
        parsers = getattr(state, "parsers", None)
        if not isinstance(parsers, dict):
            raise RuntimeError("discord.py has no ConnectionState.parsers: update the Discord adapter's tap")
        for event_type in TRANSLATORS:
            attr = f"parse_{event_type.lower()}"
            original = getattr(state, attr, None)
            if original is None:
                log.warning("discord.py does not parse %s; Cohort will not see it", event_type)
                continue
            tapped = self._tap(event_type, original)
            setattr(state, attr, tapped)  # dpytest calls state.parse_x(...) directly
            parsers[event_type] = tapped  # the gateway looks parsers up in this dict
        self.tree = build_tree(self.client, self.commands, self._on_slash)
        self._attached = state

    def register_commands(self, specs: Sequence[SpecLike]) -> list[str]:
        """Add commands after construction: prefix names and slash commands (synced on the
        next ``sync_commands``). Returns the slash command names added."""
        self.commands.extend(specs)
        names = {n for spec in specs for n in (spec.name, *getattr(spec, "aliases", ()))}
        if self._names is not None:
            self._names = self._names | names
        if self.tree is None:
            return []
        return add_commands(self.tree, specs, self._on_slash)

    def _tap(self, event_type: str, original: Any) -> Any:
        def tapped(data: Any) -> Any:
            try:
                self.feed(event_type, data)
            except Exception:  # Cohort's bookkeeping must never break discord.py's parsing
                log.exception("discord: tap failed on %s", event_type)
            return original(data)

        return tapped

    def context(self) -> GatewayContext:
        """The gateway context answering from the client's cache."""
        user = self.client.user
        return GatewayContext(
            bot_user_id=str(user.id) if user else "",
            prefix=self.settings.discord.prefix,
            command_names=self._names,
            channel=self._channel_info,
            guild_name=self._guild_name,
            member_name=self._member_name,
        )

    def _member_name(self, guild_id: str, user_id: str) -> tuple[str, str]:
        """(display name, username) of a guild member from the cache; blanks when unknown."""
        if not (guild_id.isascii() and guild_id.isdigit() and user_id.isascii() and user_id.isdigit()):
            return "", ""
        guild = self.client.get_guild(int(guild_id))
        member = guild.get_member(int(user_id)) if guild else None
        return (member.display_name, member.name) if member else ("", "")

    def _channel_info(self, channel_id: str) -> ChannelInfo | None:
        if not (channel_id.isascii() and channel_id.isdigit()):
            return None
        channel = self.client.get_channel(int(channel_id))
        if channel is None:
            return None
        if isinstance(channel, discord.Thread):
            return ChannelInfo(channel_id, channel.name, str(channel.parent_id), is_thread=True)
        if isinstance(channel, discord.DMChannel | discord.GroupChannel):
            return ChannelInfo(channel_id, is_private=True)
        return ChannelInfo(channel_id, getattr(channel, "name", "") or "")

    def _guild_name(self, guild_id: str) -> str:
        guild = self.client.get_guild(int(guild_id)) if guild_id.isascii() and guild_id.isdigit() else None
        return guild.name if guild else ""

    def feed(self, event_type: str, data: Any) -> list[Event]:
        """Translate one raw dispatch and schedule Cohort's handling; returns the events."""
        events = translate(event_type, data, self.context())
        for event in events:
            self._spawn(self._deliver(event))
        return events

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro, name="cohort-discord-dispatch")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event: Event) -> None:
        try:
            await self._dispatch(event, self.messenger)
        except Exception:  # the router already logs handler errors; this is the store failing
            log.exception("discord: dispatching %s failed", event.dedup_key)

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait until every event handed over so far is stored and handled."""
        while others := self._tasks - {asyncio.current_task()}:  # a backfill drains too
            _, pending = await asyncio.wait(set(others), timeout=timeout)
            if pending:
                log.warning("discord: %d dispatches still running after %.0fs", len(pending), timeout)
                return

    # -- backfill ----------------------------------------------------------------------
    async def _on_session(self) -> None:
        """READY or RESUMED: fill the gap since the last stored message (one run at a time;
        a session starting during a run asks for one more run after it)."""
        if self.resume_points is None:
            return
        if self._backfilling is not None and not self._backfilling.done():
            self._backfill_again = True
            return
        self._backfilling = asyncio.get_running_loop().create_task(self._backfill_loop(), name="cohort-discord-backfill")
        self._tasks.add(self._backfilling)
        self._backfilling.add_done_callback(self._tasks.discard)

    async def _backfill_loop(self) -> BackfillReport:
        report = await self.backfill()
        while self._backfill_again:
            self._backfill_again = False
            report = await self.backfill()
        return report

    async def backfill(self) -> BackfillReport:
        """Store what each known channel received after its last stored message (at most
        ``backfill_limit`` each), silently: through the live translation and dispatch with
        :class:`~bot.history_import.ImportMessenger`, so points count and nothing is said."""
        from bot.history_import import ImportMessenger  # the import path's silent messenger

        if self.resume_points is None:
            return BackfillReport()
        await self.drain()  # live events first: what they stored is not refetched
        points = await self.resume_points()
        quiet = ImportMessenger(platform=Platform.DISCORD)

        async def deliver(event: Event) -> bool:
            try:
                return not (await self._dispatch(event, quiet)).duplicate
            except Exception:
                log.exception("discord: storing backfilled %s failed", event.dedup_key)
                return False

        async def fetch(channel_id: int, limit: int, after: int) -> list[dict[str, Any]]:
            # Raw payloads (internal HTTP client, as the tap uses raw dicts): the same
            # translation as a live MESSAGE_CREATE.
            return [dict(m) for m in await self.client.http.logs_from(channel_id, limit, after=after)]

        report = await backfill(points, fetch, self.context(), deliver, limit=self.backfill_limit)
        self.last_backfill = report
        log.info("discord: backfill read %d messages in %d channels, %d new%s", report.read, report.channels,
                 report.stored, f"; capped at {self.backfill_limit} in {len(report.capped)}" if report.capped else "")
        return report

    # -- interactions ------------------------------------------------------------------
    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        """Acknowledge button clicks within Discord's 3 s (the tap already translated them)."""
        if interaction.type is not discord.InteractionType.component or interaction.response.is_done():
            return
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            log.warning("discord: could not acknowledge click %s: %s", interaction.id, exc)

    async def _on_slash(self, interaction: discord.Interaction, name: str, args: tuple[str, ...],
                        mentions: tuple[str, ...]) -> None:
        """A slash command: defer at once (work may take longer than 3 s), dispatch the
        CommandInvoked, answer through the followup; remove the "thinking…" placeholder
        if the handler said nothing."""
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException as exc:  # token expired or already answered
            log.warning("discord: could not defer /%s: %s", name, exc)
            return
        event = command_event(interaction, name, args, mentions, self.context())
        self.messenger.remember_interaction(interaction)
        try:
            await self._dispatch(event, self.messenger)
        except Exception:
            log.exception("discord: dispatching /%s failed", name)
        if not self.messenger.replied_through(interaction):
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                log.debug("discord: no placeholder to delete for /%s", name)

    # -- lifecycle ---------------------------------------------------------------------
    def _token(self) -> str:
        if self.settings.discord_token is None:
            raise DiscordSetupError("DISCORD_TOKEN is not set")
        return self.settings.discord_token.get_secret_value()

    async def start(self) -> None:
        """Log in, connect in the background and wait (up to 60 s) for READY, then register
        slash commands in ``discord.guild_ids``.

        Raises DiscordSetupError with the fix for a bad token or missing intents.
        """
        self.attach()
        try:
            await self.client.login(self._token())
        except discord.LoginFailure as exc:
            self.last_error = exc
            raise DiscordSetupError(finding_for_exception(exc).fix) from exc
        self._connect_task = asyncio.create_task(self.client.connect(reconnect=True), name="cohort-discord")
        self._connect_task.add_done_callback(self._connection_ended)
        ready = asyncio.create_task(self.client.wait_until_ready())
        await asyncio.wait({ready, self._connect_task}, timeout=READY_TIMEOUT,
                           return_when=asyncio.FIRST_COMPLETED)
        if self._connect_task.done():
            ready.cancel()
            failure = self._connect_task.exception()
            if failure is not None:
                self.last_error = failure
                finding = finding_for_exception(failure)
                raise DiscordSetupError(f"{finding.detail}: {finding.fix}") from failure
        if not ready.done():
            ready.cancel()
            log.warning("discord: not READY after %.0fs; going on, discord.py keeps trying", READY_TIMEOUT)
        await self.sync_commands()

    def _connection_ended(self, task: asyncio.Task[None]) -> None:
        """Keep (for doctor) and log why the gateway connection gave up for good."""
        if task.cancelled() or task.exception() is None:
            return
        self.last_error = task.exception()
        finding = finding_for_exception(task.exception())  # type: ignore[arg-type]
        log.error("discord: connection lost for good: %s (%s)", finding.detail, finding.fix or "see logs")

    async def sync_commands(self, guild_ids: Sequence[int] | None = None) -> dict[str, int]:
        """Register slash commands (``discord.guild_ids`` by default). At start only guilds
        are synced - global sync is rate limited and left to ``cohort discord sync``.
        Returns what was synced; logs (never raises) on failure."""
        ids = list(self.settings.discord.guild_ids if guild_ids is None else guild_ids)
        if self.tree is None or (not ids and guild_ids is None):
            if not ids:
                log.info("discord: no discord.guild_ids; run `cohort discord sync` to register slash commands")
            return {}
        try:
            synced = await sync_tree(self.tree, ids)
        except (discord.HTTPException, discord.RateLimited) as exc:
            log.error("discord: registering slash commands failed: %s", exc)
            return {}
        log.info("discord: slash commands registered: %s", synced)
        return synced

    async def stop(self) -> None:
        """Finish in-flight dispatches, then close the connection."""
        await self.drain()
        await self.client.close()
        if self._connect_task is not None:
            try:
                await asyncio.wait_for(self._connect_task, timeout=DRAIN_TIMEOUT)
            except (TimeoutError, asyncio.CancelledError):
                self._connect_task.cancel()
            except Exception:  # connect() ended with the error already logged / stored
                log.debug("discord: connect task ended with an error", exc_info=True)

    async def doctor(self) -> list[Finding]:
        """Check the token, the privileged intents and every guild's channel permissions.

        Uses a separate REST-only client so it works while the bot runs or is down.
        Never raises."""
        if self.settings.discord_token is None:
            return [Finding("discord token", Severity.ERROR, "DISCORD_TOKEN is not set",
                            "Developer Portal → your app → Bot → Reset Token, then set DISCORD_TOKEN")]
        findings: list[Finding] = []
        if self.last_error is not None:
            findings.append(finding_for_exception(self.last_error))
        probe = discord.Client(intents=intents())
        findings.extend(await run_doctor(probe, self._token()))
        return findings


async def sync_commands(settings: Settings, commands: Sequence[SpecLike],
                        guild_ids: Sequence[int] | None = None) -> dict[str, int]:
    """``cohort discord sync``: register slash commands over REST, without connecting.

    Syncs ``guild_ids`` (default ``discord.guild_ids``; empty: globally). Returns
    ``{guild id or "global": count}``. Raises DiscordSetupError for a missing/bad token,
    discord.HTTPException if Discord refuses.
    """
    if settings.discord_token is None:
        raise DiscordSetupError("DISCORD_TOKEN is not set")
    client = discord.Client(intents=intents())

    async def nothing(*_: Any) -> None:  # syncing only describes commands, never runs them
        return None

    tree = build_tree(client, commands, nothing)
    try:
        await client.login(settings.discord_token.get_secret_value())
    except discord.LoginFailure as exc:
        await client.close()
        raise DiscordSetupError(finding_for_exception(exc).fix) from exc
    try:
        ids = list(settings.discord.guild_ids if guild_ids is None else guild_ids)
        return await sync_tree(tree, ids)
    finally:
        await client.close()
