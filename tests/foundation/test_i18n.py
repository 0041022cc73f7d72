"""``/config language zh`` switches every reply: each capability's catalog says it in both
languages, and the commands of the converted capabilities answer in Chinese."""

from __future__ import annotations

import re

import pytest

from bot.bootstrap import App
from bot.ports import Role
from bot.router import MESSAGES as ROUTER_MESSAGES
from tests.doubles.events import command, message
from tests.doubles.messenger import RecordingMessenger

CJK = re.compile(r"[\u4e00-\u9fff]")

# (command, args): replies worded by help, points, catalog, recommend, privacy, config,
# linking, digest and moderation, plus the router's own (unknown command, too low a role).
ZH_COMMANDS = [
    ("help", ()), ("me", ()), ("leaderboard", ("never",)), ("leaderboard", ()), ("badges", ()), ("solved", ()),
    ("points", ()), ("points", ("give", "@nobody", "5", "why")), ("badge", ()), ("season", ()),
    ("pointsconfig", ("points.nope", "1")), ("config", ()), ("config", ("colour", "blue")),
    ("config", ("timezone", "Mars/Base")), ("item", ()), ("done", ()), ("done", ("nothing-here",)),
    ("rate", ("x", "²")), ("path", ("x",)), ("recommend", ("a", "b")), ("recommend", ("²",)), ("recommend", ()),
    ("optout", ()), ("optin", ()), ("forget", ()), ("link", ("abc",)), ("link", ()), ("unlink", ()),
    ("owner", ()), ("owner", ("sing",)), ("owner", ("add", "@nobody")), ("digest", ("year",)), ("nosuchcommand", ()),
    # moderation
    ("warn", ()), ("warn", ("@nobody", "rude")), ("warn", ("@mod",)), ("warn", ("@mod", "rude")), ("warns", ("@mod",)), ("warns", ()), ("unwarn", ()), ("mute", ()),
    ("mute", ("@nobody", "10m")), ("unmute", ()), ("ban", ()), ("unban", ()), ("kick", ()), ("purge", ()),
    ("modlog", ()), ("audit", ("@nobody",)), ("mod", ()), ("mod", ("sing",)), ("mod", ("add", "@nobody")),
    ("modconfig", ()), ("config", ("moderation.warn_mute_at", "many")),
]


@pytest.fixture
def zh(app: App) -> RecordingMessenger:
    m = RecordingMessenger(roles={"boss": Role.OWNER, "mod": Role.MODERATOR})
    return m


async def _chinese_community(app: App, m: RecordingMessenger) -> None:
    await app.dispatch(message("boss", "hello everyone in this course", minutes=0), m)
    await app.dispatch(message("mod", "hello from the moderator too", minutes=1), m)
    await app.dispatch(command("boss", "config", "language", "zh", minutes=2), m)
    assert m.replies_to("boss")[-1] == "语言已设为中文。"


@pytest.mark.parametrize(("name", "args"), ZH_COMMANDS, ids=[f"{n}-{'-'.join(a) or 'bare'}" for n, a in ZH_COMMANDS])
async def test_every_reply_follows_the_community_language(app: App, zh: RecordingMessenger, name: str,
                                                          args: tuple[str, ...]) -> None:
    await _chinese_community(app, zh)
    before = len(zh.replies_to("boss"))
    await app.dispatch(command("boss", name, *args, minutes=3), zh)
    replies = zh.replies_to("boss")[before:]
    assert replies, f"/{name} said nothing"
    for said in replies:
        assert CJK.search(said), f"/{name} {' '.join(args)} answered in English: {said!r}"
        assert "went wrong" not in said


async def test_a_members_refusal_is_in_the_community_language(app: App, zh: RecordingMessenger) -> None:
    await _chinese_community(app, zh)
    await app.dispatch(command("someone", "config", minutes=3), zh)
    assert zh.replies_to("someone") == ["/config 仅限版主及以上使用。"]


def test_every_catalog_entry_has_english_and_chinese(app: App) -> None:
    for module in app.modules:
        for key, entry in module.messages.items():
            assert entry.get("en") and entry.get("zh"), f"{module.name}: {key} lacks a language"
    for key, entry in ROUTER_MESSAGES.items():
        assert entry.get("en") and entry.get("zh"), key
