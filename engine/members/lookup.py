"""Finding members: from a command argument (``@handle``, a platform id, a Discord mention),
from a platform account, and a member's home community for commands sent in private."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from engine.store.models import Account, Chat, Community, CommunityMember, Member, Message

# Discord renders a mention in message text as <@123> or <@!123> (nickname form).
_DISCORD_MENTION = re.compile(r"<@!?(\d+)>")


@dataclass(frozen=True, slots=True)
class MemberBrief:
    """What a handler needs to talk about a member on one platform."""

    member_id: int
    display_name: str
    user_ext: str | None  # the member's account id on that platform, if they have one
    username: str
    is_bot: bool


def community_id_of(session: Session, platform: str, community_ext: str) -> int | None:
    """The internal id of a community, or None if Cohort has never seen it."""
    return session.execute(
        select(Community.id).where(
            Community.platform == platform, Community.external_id == community_ext
        )
    ).scalar_one_or_none()


def community_ext_of(session: Session, community_id: int) -> str | None:
    """The platform's own id of a community (a Telegram chat id, a Discord guild id)."""
    return session.execute(
        select(Community.external_id).where(Community.id == community_id)
    ).scalar_one_or_none()


def member_of_account(session: Session, platform: str, user_ext: str) -> int | None:
    """The member behind a platform account, or None if the account is unknown."""
    return session.execute(
        select(Account.member_id).where(
            Account.platform == platform, Account.external_id == user_ext
        )
    ).scalar_one_or_none()


def account_id_of(session: Session, platform: str, user_ext: str) -> int | None:
    """The internal account id for a platform account, or None if unknown."""
    return session.execute(
        select(Account.id).where(Account.platform == platform, Account.external_id == user_ext)
    ).scalar_one_or_none()


def resolve_member_in(session: Session, platform: str, community_id: int, token: str) -> int | None:
    """Like :func:`resolve_member` with the community's internal id."""
    token = token.strip()
    if not token or len(token) > 300:
        return None
    members = (
        select(Account.member_id)
        .join(CommunityMember, CommunityMember.member_id == Account.member_id)
        .where(Account.platform == platform, CommunityMember.community_id == community_id)
        # A handle can have moved between accounts; the most recently active holder wins.
        .order_by(CommunityMember.last_seen_at.desc())
        .limit(1)
    )
    mention = _DISCORD_MENTION.fullmatch(token)
    if mention:
        return _first(session, members.where(Account.external_id == mention.group(1)))
    name = token[1:] if token.startswith("@") else token
    if not name:
        return None
    # Adapters may store the handle with or without its "@"; accept both. Then the account id
    # (the console's "u5", a Telegram number), then the display name as shown in /leaderboard.
    handle = name.lower()
    for condition in (func.lower(Account.username).in_([handle, "@" + handle]),
                      Account.external_id == name,
                      func.lower(Member.display_name) == handle):
        found = _first(session, members.join(Member, Member.id == Account.member_id).where(condition))
        if found is not None:
            return found
    return None


def _first(session: Session, query: Select[int]) -> int | None:
    found = session.execute(query).scalar_one_or_none()
    return int(found) if found is not None else None


def resolve_member(session: Session, platform: str, community_ext: str, token: str) -> int | None:
    """The member a command argument names, among the members of one community.

    ``token`` is ``@username`` (case-insensitive), a platform user id (with or without
    ``@``), a display name, or a Discord mention ``<@id>``. Returns the member id, or None when the community is unknown or no
    member of it matches. Never raises for unknown input.
    """
    community_id = community_id_of(session, platform, community_ext)
    if community_id is None:
        return None
    return resolve_member_in(session, platform, community_id, token)


def home_community(session: Session, platform: str, user_ext: str) -> int | None:
    """The community (internal id) where this account's member was most recently active.

    Used for commands sent in a private chat, which carry no community. Only communities
    on the same platform count; ones the member has left rank after current ones. Returns
    None when the member belongs to no community on that platform.
    """
    found = session.execute(
        select(CommunityMember.community_id)
        .join(Account, Account.member_id == CommunityMember.member_id)
        .join(Community, Community.id == CommunityMember.community_id)
        .where(
            Account.platform == platform,
            Account.external_id == user_ext,
            Community.platform == platform,
        )
        .order_by(CommunityMember.left_at.is_not(None), CommunityMember.last_seen_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return int(found) if found is not None else None


def member_brief(session: Session, member_id: int, platform: str) -> MemberBrief | None:
    """Name and platform account of a member, or None if the member does not exist.

    When the member has several accounts on ``platform`` the most recent one is given.
    """
    member = session.get(Member, member_id)
    if member is None:
        return None
    account = session.execute(
        select(Account)
        .where(Account.member_id == member_id, Account.platform == platform)
        .order_by(Account.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if account is None:
        return MemberBrief(member_id, member.display_name, None, "", False)
    name = account.display_name or member.display_name or account.username
    return MemberBrief(member_id, name, account.external_id, account.username, account.is_bot)


@dataclass(frozen=True, slots=True)
class StoredCommunity:
    platform: str
    external_id: str
    title: str
    members: int
    messages: int
    busiest_chat: str  # the external id of the chat with the most messages ("" without messages)


def find_communities(session: Session, ref: str | None) -> list[StoredCommunity]:
    """Communities matching ``ref`` — ``platform:external_id``, or an external id on any
    platform — or every community when ``ref`` is None, largest first."""
    query = select(Community.id, Community.platform, Community.external_id, Community.title)
    if ref is not None:
        platform, sep, external = ref.partition(":")
        exact = Community.external_id == ref
        query = query.where(((Community.platform == platform) & (Community.external_id == external)) | exact
                            if sep else exact)
    found = []
    for cid, platform, external, title in session.execute(query):
        members = session.scalar(select(func.count()).select_from(CommunityMember)
                                 .where(CommunityMember.community_id == cid)) or 0
        busiest = session.execute(
            select(Chat.external_id, func.count(Message.id)).join(Message, Message.chat_id == Chat.id)
            .where(Message.community_id == cid, Chat.is_private.is_(False))
            .group_by(Chat.external_id).order_by(func.count(Message.id).desc()).limit(1)).first()
        messages = session.scalar(select(func.count()).select_from(Message).where(Message.community_id == cid)) or 0
        found.append(StoredCommunity(str(platform), str(external), str(title or ""), int(members), int(messages),
                                     str(busiest[0]) if busiest else ""))
    return sorted(found, key=lambda c: (-c.messages, c.platform, c.external_id))


def resolve_community(session: Session, ref: str | None) -> int:
    """A community by internal id, ``platform:external_id`` or external id; the only one
    when ``ref`` is None. Raises ``LookupError`` when there is no unique match."""
    rows = session.execute(select(Community.id, Community.platform, Community.external_id)).all()
    if ref is None:
        if len(rows) == 1:
            return int(rows[0][0])
        raise LookupError(f"{len(rows)} communities exist; pass --community (id, platform:external_id)")
    matches = [int(r[0]) for r in rows if ref in (str(r[0]), f"{r[1]}:{r[2]}", r[2])]
    if len(set(matches)) != 1:
        raise LookupError(f"no unique community matches {ref!r}")
    return matches[0]
