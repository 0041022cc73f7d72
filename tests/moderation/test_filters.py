"""/filter add|remove|list and their enforcement: normalised matching (NFKC, case-folded,
zero-width characters ignored), RE2 patterns (refused when RE2 cannot run them, never
stalling), moderators exempt, every change and action audited."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from bot.bootstrap import App
from bot.ports import Capability, Role
from engine.events import Platform
from engine.moderation.filters import normalise
from engine.moderation.tables import Filter, Restriction, Warning_
from engine.store.models import AuditEntry, Message
from tests.members.fakes import Clock, ModeratingMessenger, cmd, msg


def messenger() -> ModeratingMessenger:
    m = ModeratingMessenger(Platform.TELEGRAM, roles={"mia": Role.MODERATOR, "max": Role.ADMIN})
    m.capabilities = m.capabilities | {Capability.MODERATE}
    return m


async def setup(app: App, m: ModeratingMessenger) -> None:
    app.notifier.attach(m)  # warnings go out by DM through the Notifier, as the adapters attach it
    for i, who in enumerate(("max", "mia", "bob", "carol")):
        await app.dispatch(msg(who, f"hello from {who}", minutes=i - 30), m)
    m.out.clear()


async def filter_cmd(app: App, m: ModeratingMessenger, *args: str, who: str = "mia") -> str:
    await app.dispatch(cmd(who, "filter", *args), m)
    return m.last_reply(who)


async def audit(app: App) -> list[tuple[str, int | None, dict[str, object]]]:
    rows = await app.store.read(lambda s: s.execute(
        select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.details).order_by(AuditEntry.id)).all())
    return [(a, actor, dict(d or {})) for a, actor, d in rows]


async def deleted(app: App) -> list[str]:
    return await app.store.read(lambda s: sorted(s.scalars(
        select(Message.text).where(Message.deleted_at.is_not(None)))))


async def test_words_and_patterns_are_enforced_on_normalised_text(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    assert "Filter #1 added: blocked word spam → delete" in await filter_cmd(app, m, "add", "word", "SPAM")
    assert "→ warn" in await filter_cmd(app, m, "add", "regex", r"b[a4]d\s*w[o0]rd", "warn")
    assert "→ mute" in await filter_cmd(app, m, "add", "坏蛋", "mute")  # "word" is the default kind
    listing = await filter_cmd(app, m, "list")
    assert "#1" in listing and "#2" in listing and "坏蛋" in listing

    for i, text in enumerate(["buy s\u200bpam now", "a classic spammer", "ｂ４ｄ ＷＯＲＤ", "你是坏蛋吗"]):
        await app.dispatch(msg("bob", text, minutes=i / 60), m)
    await app.dispatch(msg("mia", "spam is fine from a moderator", minutes=0.1), m)
    await app.dispatch(msg("max", "b4d word from an admin", minutes=0.1), m)
    assert await deleted(app) == sorted(["buy s\u200bpam now", "ｂ４ｄ ＷＯＲＤ", "你是坏蛋吗"])
    assert [a[0] for a in m.actions] == ["delete", "delete", "delete", "mute"]
    warning = await app.store.read(lambda s: s.scalars(select(Warning_.reason)).one())
    assert "filter #2" in warning
    mute = await app.store.read(lambda s: s.scalars(select(Restriction)).one())
    assert mute.until is not None and (mute.until - clock.now).total_seconds() == 3600  # filter_mute_minutes
    notices = [o.plain for o in m.of("send")]
    assert any("Removed a message from Bob (filter #2)" in n and "(1 active)" in n for n in notices)
    assert any("muted for 60 min" in n for n in notices)
    dm = m.of("dm", "bob")[-1].plain
    assert "filter #2 (blocked pattern)" in dm
    actions = [a for a, _, _ in await audit(app)]
    assert actions == ["filter.add"] * 3 + ["delete", "delete", "warn", "delete", "mute"]


async def test_patterns_rre2_cannot_run_or_that_match_everything_are_refused(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    for pattern, why in [(r"(a)\1", "backreferences"), ("(?=x)y", "lookarounds"), (".*", "matches every message"),
                         ("x" * 201, "at most 200 characters"), ("[", "missing ]")]:
        reply = await filter_cmd(app, m, "add", "regex", pattern)
        assert reply.startswith("Not added") and why in reply, (pattern, reply)
    assert "at most 100 characters" in await filter_cmd(app, m, "add", "word", "x" * 5000)
    assert "empty once normalised" in await filter_cmd(app, m, "add", "word", "\u200b")
    assert await app.store.read(lambda s: s.scalar(select(func.count()).select_from(Filter))) == 0
    assert await audit(app) == []


async def test_a_catastrophic_backtracking_pattern_cannot_stall_the_bot(app: App, clock: Clock) -> None:
    """``(a+)+$`` takes exponential time in a backtracking engine on ``aaaa…!``; RE2 runs
    it in linear time, so the message is checked at once and passes."""
    m = messenger()
    await setup(app, m)
    assert "added" in await filter_cmd(app, m, "add", "regex", "(a+)+$")
    started = time.process_time()
    await app.dispatch(msg("bob", "a" * 4000 + "!"), m)
    assert time.process_time() - started < 5  # a backtracking engine would need ~2^4000 steps
    assert await deleted(app) == []
    await app.dispatch(msg("bob", "aaaa", minutes=1), m)
    assert await deleted(app) == ["aaaa"]


async def test_remove_list_and_bad_input(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    await filter_cmd(app, m, "add", "word", "spam")
    await filter_cmd(app, m, "add", "word", "scam", "warn")
    assert "already there" in await filter_cmd(app, m, "add", "word", "SCAM", "warn")
    assert "now does: mute" in await filter_cmd(app, m, "add", "word", "scam", "mute")
    assert "removed" in await filter_cmd(app, m, "remove", "#1")
    assert "removed" in await filter_cmd(app, m, "remove", "ＳＣＡＭ")  # by the word, normalised
    assert "no filter" in await filter_cmd(app, m, "remove", "999")
    assert "No filters yet" in await filter_cmd(app, m, "list")
    assert "Usage: /filter" in await filter_cmd(app, m, "frobnicate")
    assert "Usage: /filter" in await filter_cmd(app, m, "add")
    assert "Usage: /filter" in await filter_cmd(app, m, "remove")
    assert "added" in await filter_cmd(app, m, "add", "word", "²")  # odd Unicode is a word like any other
    actions = [(a, actor is not None) for a, actor, _ in await audit(app)]
    assert actions == [("filter.add", True), ("filter.add", True), ("filter.change", True),
                       ("filter.remove", True), ("filter.remove", True), ("filter.add", True)]
    await app.dispatch(msg("bob", "x²"), m)
    assert await deleted(app) == []  # "x2": 2 is not a whole word here
    await app.dispatch(msg("bob", "the answer is ²", minutes=1), m)
    assert await deleted(app) == ["the answer is ²"]


async def test_members_cannot_touch_filters_and_nothing_is_written(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    reply = await filter_cmd(app, m, "add", "word", "spam", who="bob")
    assert "is for moderators and above" in reply
    assert await audit(app) == []


async def test_replies_in_chinese_for_a_chinese_community(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    await app.dispatch(cmd("max", "config", "language", "zh"), m)
    assert "已添加过滤规则 #1" in await filter_cmd(app, m, "add", "word", "spam")
    assert "过滤规则" in await filter_cmd(app, m, "list")


def test_normalisation() -> None:
    assert normalise("ＢＡＤ") == "bad"
    assert normalise("Stra\u00dfe") == "strasse"
    assert normalise("s\u00adp\u200da\u200bm") == "spam"
    assert normalise("x" * 100_000) == "x" * 8192
