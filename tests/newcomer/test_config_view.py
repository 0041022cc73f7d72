"""``/config`` with no arguments: every setting as it applies to this community — the
defaults merged with what the community changed, the changed ones marked with their default."""

from __future__ import annotations

from bot.adapters.console import ConsoleAdapter, ConsoleState
from bot.bootstrap import App
from bot.handlers import moderation
from bot.handlers.community_settings import effective_settings
from bot.ports import Role
from bot.settings_schema import SettingSpec


def test_effective_settings_merge_defaults_with_overrides() -> None:
    stored = {"timezone": "Asia/Shanghai", "points": {"reply_points": 7, "bogus": 1},
              "moderation": {"warn_mute_at": 2}, "digest": {"send_at": "18:30"}}
    specs = [SettingSpec("language", str, "zh"), SettingSpec("timezone", str, "UTC"),
             SettingSpec("digest.send_at", str, "09:00"), SettingSpec("other.flag", bool, True),
             *moderation.SETTINGS]  # moderation declares its own
    rows = {r.key: r for r in effective_settings(stored, specs)}
    assert (rows["language"].value, rows["language"].overridden) == ("zh", False)
    assert (rows["timezone"].value, rows["timezone"].default, rows["timezone"].overridden) == (
        "Asia/Shanghai", "UTC", True)
    assert (rows["points.reply_points"].value, rows["points.reply_points"].default) == (7, 3)
    assert rows["points.reply_points"].overridden and not rows["points.accepted_points"].overridden
    assert rows["points.accepted_points"].value == 15
    assert "points.bogus" not in rows  # only settings Cohort knows
    assert rows["moderation.warn_mute_at"].value == 2 and rows["moderation.warn_mute_at"].overridden
    assert rows["moderation.warn_expiry_days"].value == 30
    assert (rows["digest.send_at"].value, rows["digest.send_at"].overridden) == ("18:30", True)
    assert (rows["other.flag"].value, rows["other.flag"].overridden) == (True, False)


async def test_config_shows_each_communitys_effective_settings(app: App) -> None:
    out: list[str] = []
    state = ConsoleState(community="g1", user="owner")
    state.roles["owner"] = Role.OWNER
    console = ConsoleAdapter(app.dispatch, state, write=out.append)
    say = console.handle_line
    await say("hello, the owner opens the first community")
    await say("/config points.reply_points 5")
    await say("/config")
    shown = out[-1]
    assert "Community settings — g1" in shown
    assert "✎ points.reply_points = 5 (default 3)" in shown
    assert "\n  points.accepted_points = 15\n" in shown  # a default, unmarked
    assert "\n  timezone = UTC\n" in shown and "\n  language = en\n" in shown
    assert "moderation.warn_mute_at = 3" in shown and "digest.send_at = " in shown
    assert "{" not in shown  # not raw JSON

    state.community = "g2"  # another community keeps its own (default) settings
    await say("hello, the owner opens a second community")
    await say("/config")
    assert "Community settings — g2" in out[-1]
    assert "\n  points.reply_points = 3\n" in out[-1] and "✎" not in out[-1].split("\n", 1)[1]
    assert "every setting has its default" in out[-1]

    state.community = "g1"
    await say("/config language zh")
    await say("/config")
    assert "社区设置 — g1" in out[-1] and "✎ language = zh（默认 en）" in out[-1], out[-1]
    await say("/as ann")
    await say("/config")
    assert "/config 仅限版主及以上使用" in out[-1]  # the community speaks Chinese now
