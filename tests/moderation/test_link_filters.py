"""``/filter links``: the allow-list and the newcomer rule, stored as typed settings, audited,
enforced on every message (moderators exempt); bad input stores nothing."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from bot.bootstrap import App
from engine.moderation.tables import Restriction, Warning_
from engine.store.community_settings import stored_settings
from tests.members.fakes import Clock, ModeratingMessenger, cmd, msg
from tests.moderation.test_filters import audit, deleted, filter_cmd, messenger, setup

DAY = 24 * 60


async def settings_of(app: App) -> dict[str, object]:
    return await app.store.read(lambda s: stored_settings(s, 1).get("links", {}))


async def links(app: App, m: ModeratingMessenger, *args: str, who: str = "mia") -> str:
    return await filter_cmd(app, m, "links", *args, who=who)


async def test_the_allow_list_is_managed_shown_and_audited(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    assert "No allow-list" in await links(app, m)
    reply = await links(app, m, "allow", "Example.COM", "bücher.de", "warn")
    assert "Allowed: example.com, bücher.de." in reply and "→ warn" in reply
    assert await settings_of(app) == {"allow": "example.com,xn--bcher-kva.de", "allow_action": "warn"}
    assert "already allowed" in await links(app, m, "allow", "*.example.com")
    shown = await filter_cmd(app, m, "list")
    assert "No filters yet" in shown and "Allowed domains (and their subdomains)" in shown and "exempt" in shown
    await app.dispatch(cmd("max", "config"), m)
    config = m.last_reply("max")
    assert "✎ links.allow = example.com,xn--bcher-kva.de" in config
    assert "is no longer allowed." in await links(app, m, "remove", "BÜCHER.de")
    assert "not on the allow-list" in await links(app, m, "remove", "other.org")
    assert "allow-list is empty" in await links(app, m, "remove", "example.com")
    assert [(a, d.get("value"), d.get("previous")) for a, _, d in await audit(app)] == [
        ("config.links.allow", "example.com,xn--bcher-kva.de", None),
        ("config.links.allow_action", "warn", None),
        ("config.links.allow", "example.com", "example.com,xn--bcher-kva.de"),
        ("config.links.allow", "", "example.com"),
    ]


async def test_bad_input_gets_a_clear_reply_and_stores_nothing(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    for args, why in [
        (("allow",), "Usage: /filter links"),
        (("allow", "warn"), "has a dot"),
        (("allow", "https://example.com/page"), "not a link (did you mean example.com?)"),
        (("allow", "example.com/page"), "not a link"),
        (("allow", "localhost"), "has a dot"),
        (("allow", "ok.com", "10.0.0.1"), "IP address"),  # one bad domain: none stored
        (("remove",), "Usage: /filter links"),
        (("newcomers",), "Usage: /filter links"),
        (("newcomers", "-3d"), "can't be negative"),
        (("newcomers", "²d"), "digits 0-9"),
        (("newcomers", "1h30"), "one number and one unit"),
        (("newcomers", "12h"), "from 1d to 365d"),
        (("newcomers", "3d", "ban"), "Usage: /filter links"),
        (("off", "now"), "Usage: /filter links"),
        (("frobnicate",), "Usage: /filter links"),
    ]:
        reply = await links(app, m, *args)
        assert why in reply, (args, reply)
    assert "for moderators and above" in await links(app, m, "allow", "example.com", who="bob")
    assert await settings_of(app) == {}
    assert await audit(app) == []
    await app.dispatch(cmd("mia", "config", "links.allow", "https://x.com/a"), m)
    assert "not a link" in m.last_reply("mia")
    await app.dispatch(cmd("mia", "config", "links.newcomer_days", "-3"), m)
    assert "links.newcomer_days not changed" in m.last_reply("mia")
    assert await settings_of(app) == {}


async def test_links_off_the_allow_list_are_acted_on(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    await links(app, m, "allow", "example.com", "t.me")
    texts = ["docs at https://DOCS.example.com/intro", "join t.me/+AbCd", "see notexample.com/x",
             "here: evil.xyz", "setup.py and logger.info are fine"]
    for i, text in enumerate(texts):
        await app.dispatch(msg("bob", text, minutes=i / 60), m)
    hidden = replace(msg("carol", "click here", minutes=0.2), links=("https://hidden.example.net/x",))
    await app.dispatch(hidden, m)  # a Telegram text_link: the URL is not in the text
    await app.dispatch(msg("mia", "moderators may: https://anything.org", minutes=0.3), m)
    assert await deleted(app) == sorted(["see notexample.com/x", "here: evil.xyz", "click here"])
    entries = [(a, d.get("source"), d.get("domain")) for a, _, d in await audit(app) if a == "delete"]
    assert entries == [("delete", "links", "notexample.com"), ("delete", "links", "evil.xyz"),
                       ("delete", "links", "hidden.example.net")]

    assert "→ mute" in await links(app, m, "allow", "mute")
    await app.dispatch(msg("bob", "again https://evil.xyz", minutes=1), m)
    mute = await app.store.read(lambda s: s.scalars(select(Restriction)).one())
    assert mute.until is not None and (mute.until - clock.now).total_seconds() == 3600  # filter_mute_minutes
    assert any("Removed a link from Bob" in o.plain and "muted for 60 min" in o.plain for o in m.of("send"))


async def test_newcomers_may_post_no_links_but_to_allowed_domains(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)  # bob and carol were first seen half an hour ago
    await app.dispatch(msg("vera", "hi, I have been here a while", minutes=-10 * DAY), m)
    reply = await links(app, m, "newcomers", "3d", "warn")
    assert "less than 3 days ago can't post links" in reply and "→ warn" in reply
    assert await settings_of(app) == {"newcomer_days": 3, "newcomer_action": "warn"}
    await app.dispatch(msg("vera", "a veteran's link https://vera.blog/post", minutes=1), m)
    await app.dispatch(msg("bob", "free money https://spam.xyz", minutes=1), m)
    assert await deleted(app) == ["free money https://spam.xyz"]
    warning = await app.store.read(lambda s: s.scalars(select(Warning_.reason)).one())
    assert "first 3 days" in warning
    assert any("Removed a link from Bob" in o.plain and "(1 active)" in o.plain for o in m.of("send"))
    assert "first 3 days" in m.of("dm", "bob")[-1].plain

    await links(app, m, "allow", "example.com")
    await app.dispatch(msg("carol", "the docs: example.com/start", minutes=2), m)
    assert len(await deleted(app)) == 1  # allowed domains are fine for newcomers too
    clock.advance(days=3)
    await app.dispatch(msg("carol", "now I may: https://elsewhere.org", minutes=3 * DAY + 3), m)
    assert len(await deleted(app)) == 2  # …but the allow-list still holds
    assert "Link rules are off" in await links(app, m, "off")
    assert await settings_of(app) == {"allow": "", "newcomer_days": 0, "newcomer_action": "warn"}
    await app.dispatch(msg("bob", "https://spam.xyz again", minutes=3 * DAY + 4), m)
    assert len(await deleted(app)) == 2


async def test_link_replies_in_chinese(app: App, clock: Clock) -> None:
    m = messenger()
    await setup(app, m)
    await app.dispatch(cmd("max", "config", "language", "zh"), m)
    assert "已允许" in await links(app, m, "allow", "example.com")
    assert "未修改" in await links(app, m, "newcomers", "-3d")
    assert "链接规则" in await links(app, m)
    await app.dispatch(msg("bob", "https://evil.xyz", minutes=1), m)
    assert await deleted(app) == ["https://evil.xyz"]
