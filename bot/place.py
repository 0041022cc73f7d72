"""Resolving, once per command, where it acts and who sent it (:class:`bot.router.Place`),
and finding the member a command names. The router calls these; handlers don't query.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.i18n import language_of
from bot.router import Place
from bot.settings_schema import SettingsSchema
from engine.events import Event
from engine.members.lookup import (
    MemberBrief,
    community_id_of,
    home_community,
    member_brief,
    member_of_account,
    resolve_member_in,
)
from engine.store.community_settings import stored_settings
from engine.store.store import Store


def locate(session: Session, event: Event, schema: SettingsSchema, default_language: str) -> Place:
    """The event's community (in a private chat: the member's home community on that
    platform), the sender's member id, the community's language and typed settings."""
    platform = str(event.platform)
    member = member_of_account(session, platform, event.user_id) if event.user_id else None
    if event.is_private or not event.community_id:
        community = home_community(session, platform, event.user_id) if event.user_id else None
    else:
        community = community_id_of(session, platform, event.community_id)
    settings = schema.view(stored_settings(session, community) if community is not None else {})
    language = language_of(settings["language"] if "language" in schema.specs else None, default_language)
    return Place(None if community is None else int(community), None if member is None else int(member),
                 language, settings)


class Locator:
    """The router's ``locate``: one read per command."""

    def __init__(self, store: Store, schema: SettingsSchema, default_language: str) -> None:
        self.store = store
        self.schema = schema
        self.default_language = default_language

    async def __call__(self, event: Event) -> Place:
        return await self.store.read(lambda s: locate(s, event, self.schema, self.default_language))


class MemberFinder:
    """The router's ``find_member``: one set of rules for naming a member
    (:func:`engine.members.lookup.resolve_member_in`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, community_id: int, platform: str, ref: str) -> MemberBrief | None:
        def find(session: Session) -> MemberBrief | None:
            member_id = resolve_member_in(session, platform, community_id, ref)
            return member_brief(session, member_id, platform) if member_id is not None else None

        return await self.store.read(find)
