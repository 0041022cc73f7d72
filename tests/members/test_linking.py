"""/link and /unlink across Telegram and Discord through the real router and store."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.bootstrap import App
from engine.events import Platform
from engine.members.linking import MAX_FAILURES, merge_members
from engine.members.lookup import member_of_account
from engine.store.models import Account, AuditEntry, CommunityMember, Interaction, Member, Message, Reaction
from tests.members.fakes import Clock, FakeMessenger, cmd, code_in, msg, react
from tests.members.test_privacy import references

D = {"platform": Platform.DISCORD, "community": "guild-1"}


async def member(app: App, user: str, platform: str) -> int | None:
    return await app.store.read(lambda s: member_of_account(s, platform, user))


async def issue(app: App, tg: FakeMessenger, user: str = "alice-tg") -> str:
    await app.dispatch(cmd(user, "link", private=True), tg)
    return code_in(tg.last_reply(user))


async def two_alices(app: App, tg: FakeMessenger, dc: FakeMessenger) -> tuple[int, int]:
    """Alice active on Telegram (2 messages) and on Discord (1 message), not yet linked."""
    await app.dispatch(msg("alice-tg", "telegram question one"), tg)
    await app.dispatch(msg("alice-tg", "telegram question two"), tg)
    await app.dispatch(msg("alice-dc", "discord hello", **D), dc)
    tg_member, dc_member = await member(app, "alice-tg", "telegram"), await member(app, "alice-dc", "discord")
    assert tg_member is not None and dc_member is not None and tg_member != dc_member
    return tg_member, dc_member


async def test_link_merges_accounts_into_one_member(app: App, tg: FakeMessenger, dc: FakeMessenger,
                                                   clock: Clock) -> None:
    tg_member, dc_member = await two_alices(app, tg, dc)
    code = await issue(app, tg)
    assert len(code) == 8
    await app.dispatch(cmd("alice-dc", "link", code, private=True, **D), dc)
    assert "Linked!" in dc.last_reply("alice-dc")

    assert await member(app, "alice-dc", "discord") == tg_member
    # The recorder's id cache was cleared: new Discord activity lands on the merged member.
    await app.dispatch(msg("alice-dc", "discord again", **D), dc)

    def state(s: Session) -> dict[str, object]:
        return {
            "members_of_accounts": set(s.execute(select(Account.member_id)).scalars()),
            "dropped": s.get(Member, dc_member),
            "interaction_members": set(s.execute(select(Interaction.member_id)).scalars()),
            "authors": set(s.execute(select(Message.author_id)).scalars()),
            "memberships": sorted(s.execute(select(CommunityMember.member_id)).scalars()),
            "audit": s.execute(select(AuditEntry.action)).scalars().all(),
            "refs_to_dropped": references(s, dc_member),  # every table, points' ledger included
        }

    got = await app.store.read(state)
    assert got["members_of_accounts"] == {tg_member}
    assert got["dropped"] is None
    assert got["interaction_members"] == {tg_member}
    assert got["authors"] == {tg_member}
    assert got["memberships"] == [tg_member, tg_member]  # one per community
    assert "members_linked" in got["audit"]
    assert got["refs_to_dropped"] == {}


async def test_code_is_single_use(app: App, tg: FakeMessenger, dc: FakeMessenger, clock: Clock) -> None:
    await two_alices(app, tg, dc)
    await app.dispatch(msg("carol", "hi", **D), dc)
    code = await issue(app, tg)
    await app.dispatch(cmd("alice-dc", "link", code, private=True, **D), dc)
    await app.dispatch(cmd("carol", "link", code, private=True, **D), dc)
    assert "already been used" in dc.last_reply("carol")
    assert await member(app, "carol", "discord") != await member(app, "alice-tg", "telegram")


async def test_expired_code(app: App, tg: FakeMessenger, dc: FakeMessenger, clock: Clock) -> None:
    _, dc_member = await two_alices(app, tg, dc)
    code = await issue(app, tg)
    clock.advance(minutes=10, seconds=1)
    await app.dispatch(cmd("alice-dc", "link", code, private=True, **D), dc)
    assert "expired" in dc.last_reply("alice-dc")
    assert await member(app, "alice-dc", "discord") == dc_member


async def test_wrong_codes_are_rate_limited(app: App, tg: FakeMessenger, dc: FakeMessenger,
                                            clock: Clock) -> None:
    _, dc_member = await two_alices(app, tg, dc)
    code = await issue(app, tg)
    for _ in range(MAX_FAILURES):
        await app.dispatch(cmd("alice-dc", "link", "ABCDEFGH", private=True, **D), dc)
        assert "wrong" in dc.last_reply("alice-dc")
    # Even the right code is refused while the limit holds...
    await app.dispatch(cmd("alice-dc", "link", code, private=True, **D), dc)
    assert "Too many wrong codes" in dc.last_reply("alice-dc")
    assert await member(app, "alice-dc", "discord") == dc_member
    # ...and accepted once the hour has passed (the code is re-issued; the old one expired).
    clock.advance(hours=1, minutes=1)
    code = await issue(app, tg)
    await app.dispatch(cmd("alice-dc", "link", code.lower(), private=True, **D), dc)
    assert "Linked!" in dc.last_reply("alice-dc")


async def test_linking_an_account_to_itself(app: App, tg: FakeMessenger, clock: Clock) -> None:
    await app.dispatch(msg("alice-tg", "hi"), tg)
    code = await issue(app, tg)
    await app.dispatch(cmd("alice-tg", "link", code, private=True), tg)
    assert "already linked" in tg.last_reply("alice-tg")


async def test_link_outside_private_chat(app: App, tg: FakeMessenger, dc: FakeMessenger, clock: Clock) -> None:
    _, dc_member = await two_alices(app, tg, dc)
    await app.dispatch(cmd("alice-tg", "link"), tg)
    assert "private chat" in tg.last_reply("alice-tg")
    code = await issue(app, tg)
    # Posted in a group: voided, so a bystander cannot use it.
    await app.dispatch(cmd("alice-dc", "link", code, **D), dc)
    assert "voided" in dc.last_reply("alice-dc")
    await app.dispatch(cmd("alice-dc", "link", code, private=True, **D), dc)
    assert "already been used" in dc.last_reply("alice-dc")
    assert await member(app, "alice-dc", "discord") == dc_member


async def test_unlink_splits_the_account_and_history_stays(app: App, tg: FakeMessenger, dc: FakeMessenger,
                                                           clock: Clock) -> None:
    tg_member, _ = await two_alices(app, tg, dc)
    code = await issue(app, tg)
    await app.dispatch(cmd("alice-dc", "link", code, private=True, **D), dc)
    await app.dispatch(cmd("alice-dc", "unlink", private=True, **D), dc)
    assert "Unlinked" in dc.last_reply("alice-dc")
    new_member = await member(app, "alice-dc", "discord")
    assert new_member is not None and new_member != tg_member
    await app.dispatch(msg("alice-dc", "fresh start", **D), dc)

    def counts(s: Session, mid: int) -> tuple[int, int]:
        msgs = s.execute(select(func.count()).where(Message.author_id == mid)).scalar_one()
        inter = s.execute(select(func.count()).where(Interaction.member_id == mid)).scalar_one()
        return int(msgs), int(inter)

    kept = await app.store.read(lambda s: counts(s, tg_member))
    fresh = await app.store.read(lambda s: counts(s, new_member))
    assert kept[0] == 3  # both Telegram messages and the Discord one from before the unlink
    assert fresh[0] == 1
    await app.dispatch(cmd("alice-dc", "unlink", private=True, **D), dc)
    assert "isn't linked" in dc.last_reply("alice-dc")


async def test_merge_folds_colliding_rows(app: App, tg: FakeMessenger, clock: Clock) -> None:
    """Two members in the same community (unique keys collide) merge cleanly."""
    post = msg("bob", "bob posts", community="shared")
    await app.dispatch(post, tg)
    await app.dispatch(msg("alice-tg", "in shared", community="shared"), tg)
    await app.dispatch(react("alice-tg", post, "🔥"), tg)
    await app.dispatch(react("zed", post, "🔥"), tg)
    keep = await member(app, "alice-tg", "telegram")
    drop = await member(app, "zed", "telegram")
    assert keep is not None and drop is not None
    await app.store.write(lambda s: merge_members(s, keep, drop, app.privacy_hooks))

    def rows(s: Session) -> tuple[list[int], int]:
        cms = s.execute(select(CommunityMember.member_id).where(CommunityMember.member_id == keep)).scalars().all()
        reactions = s.execute(select(func.count()).where(Reaction.member_id == keep)).scalar_one()
        return list(cms), int(reactions)

    cms, reactions = await app.store.read(rows)
    assert cms == [keep]  # one membership in "shared", not two
    assert reactions == 1  # the duplicate 🔥 on the same message was dropped
