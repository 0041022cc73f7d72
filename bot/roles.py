"""Who may do what: the platform's view of a member, Cohort's own moderator list and the
operator's ``owner_ids``, combined once per command in the router — and the rank rule:
a moderator never acts on a member who ranks at or above them, nor on a bot.

Every moderator command that names a member (points, badges, warnings, mutes, bans,
kicks, filter exemptions, ...) resolves that member and then calls
:meth:`RoleResolver.ensure_outranks`; it is the one place the rule lives.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.markup import esc
from bot.ports import Messenger, NotReachable, PlatformError, Role, Unsupported
from bot.router import CommandContext, UsageError
from engine.events import Event
from engine.store.models import Account, Community, CommunityMember
from engine.store.store import Store


def stored_role(session: Session, platform: str, community_ext: str, user_ext: str) -> Role:
    """The role Cohort's own moderator list gives this account in this community."""
    value = session.execute(
        select(CommunityMember.role)
        .join(Community, Community.id == CommunityMember.community_id)
        .join(Account, Account.member_id == CommunityMember.member_id)
        .where(
            Community.platform == platform,
            Community.external_id == community_ext,
            Account.platform == platform,
            Account.external_id == user_ext,
        )
    ).scalar_one_or_none()
    return Role(value or 0)


def _member_standing(session: Session, platform: str, community_id: int,
                     member_id: int) -> tuple[str | None, list[tuple[str, bool]], int]:
    """(community's platform id, the member's accounts there as (id, is_bot), stored role)."""
    community_ext = session.execute(
        select(Community.external_id).where(Community.id == community_id)).scalar_one_or_none()
    accounts = [(str(ext), bool(is_bot)) for ext, is_bot in session.execute(
        select(Account.external_id, Account.is_bot)
        .where(Account.member_id == member_id, Account.platform == platform))]
    role = session.execute(select(CommunityMember.role).where(
        CommunityMember.community_id == community_id, CommunityMember.member_id == member_id)
    ).scalar_one_or_none()
    return community_ext, accounts, int(role or 0)


class RoleResolver:
    """Callable the router uses: the highest of platform role, stored role and owner list."""

    def __init__(self, store: Store, owner_ids: list[str]) -> None:
        self.store = store
        self.owner_ids = set(owner_ids)

    async def __call__(self, event: Event, messenger: Messenger) -> Role:
        if not event.user_id or event.is_bot:  # posted as a chat (anonymous admin, channel) or by a bot
            return Role.MEMBER
        if f"{event.platform}:{event.user_id}" in self.owner_ids:
            return Role.OWNER
        platform_role = await messenger.role_of(event.community_id, event.user_id)
        own = await self.store.read(
            lambda s: stored_role(s, str(event.platform), event.community_id, event.user_id)
        )
        return max(platform_role, own)

    async def role_of_member(self, messenger: Messenger, community_id: int, member_id: int) -> Role:
        """A stored member's role in a community, ranked like a caller: owner list, the
        platform's view (for every account the member has there) and Cohort's own list.
        A bot account ranks as OWNER: nobody moderates the bots, Cohort included.

        Raises PlatformError when the platform cannot tell (the rule then refuses)."""
        platform = str(messenger.platform)
        community_ext, accounts, own = await self.store.read(
            lambda s: _member_standing(s, platform, community_id, member_id))
        best = Role(min(own, Role.OWNER))
        for ext, is_bot in accounts:
            if is_bot or f"{platform}:{ext}" in self.owner_ids:
                return Role.OWNER
            if community_ext:
                best = max(best, await messenger.role_of(community_ext, ext))
        return best

    async def ensure_outranks(self, ctx: CommandContext, community_id: int, member_id: int,
                              name: str, *, actor_member_id: int | None = None) -> Role:
        """The rank rule. Returns the target's role when the caller (``ctx.role``) ranks
        strictly above it; raises UsageError (nothing done) when the target is the caller,
        a bot, or ranks at or above the caller, or when their role cannot be checked."""
        if actor_member_id is not None and actor_member_id == member_id:
            raise UsageError("You can't do that to yourself.")
        try:
            target = await self.role_of_member(ctx.messenger, community_id, member_id)
        except (PlatformError, NotReachable, Unsupported):
            raise UsageError(f"I couldn't check {esc(name)}'s role on {esc(ctx.event.platform)}, "
                             "so I did nothing. Please try again in a moment.") from None
        if target >= ctx.role:
            raise UsageError(
                f"{esc(name)} is {_a(target)} here and you are {_a(ctx.role)}: moderators can't "
                "act on members who rank at or above them. Nothing was changed.")
        return target


def _a(role: Role) -> str:
    name = role.name.lower()
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"
