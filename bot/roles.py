"""Who may do what: the platform's view of a member, Cohort's own moderator list and the
operator's ``owner_ids``, combined once per command in the router."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.ports import Messenger, Role
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


class RoleResolver:
    """Callable the router uses: the highest of platform role, stored role and owner list."""

    def __init__(self, store: Store, owner_ids: list[str]) -> None:
        self.store = store
        self.owner_ids = set(owner_ids)

    async def __call__(self, event: Event, messenger: Messenger) -> Role:
        if f"{event.platform}:{event.user_id}" in self.owner_ids:
            return Role.OWNER
        platform_role = await messenger.role_of(event.community_id, event.user_id)
        own = await self.store.read(
            lambda s: stored_role(s, str(event.platform), event.community_id, event.user_id)
        )
        return max(platform_role, own)
