"""The audit log: every moderation action and settings change, /modlog [@member] [n] in the
community's timezone, and ``cohort audit export`` as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import audit_cli
from bot.bootstrap import App
from bot.ports import Capability, Role
from engine.events import Platform
from tests.members.fakes import Clock, ModeratingMessenger, cmd, msg


def messenger() -> ModeratingMessenger:
    m = ModeratingMessenger(Platform.TELEGRAM, roles={"mia": Role.MODERATOR, "max": Role.ADMIN})
    m.capabilities = m.capabilities | {Capability.MODERATE}
    return m


async def busy_day(app: App, clock: Clock) -> ModeratingMessenger:
    m = messenger()
    for i, user in enumerate(("max", "mia", "bob", "carol")):
        await app.dispatch(msg(user, f"hello from {user}", minutes=i), m)
    await app.dispatch(cmd("max", "config", "timezone", "Asia/Shanghai"), m)
    clock.advance(minutes=1)
    await app.dispatch(cmd("mia", "warn", "@bob", "=HYPERLINK(evil)"), m)
    clock.advance(minutes=1)
    await app.dispatch(cmd("mia", "mute", "@carol", "1h", "flood"), m)
    clock.advance(minutes=1)
    await app.dispatch(cmd("max", "config", "moderation.warn_mute_at", "5"), m)
    clock.advance(minutes=1)
    await app.dispatch(cmd("mia", "points", "give", "@carol", "5", "nice", minutes=4), m)  # points use the event time
    return m


async def test_modlog_filters_by_member_and_shows_local_time(app: App, clock: Clock) -> None:
    m = await busy_day(app, clock)
    await app.dispatch(cmd("mia", "modlog"), m)
    log = m.last_reply("mia").splitlines()
    assert "Asia/Shanghai" in log[0] and len(log) == 6
    assert "points.give → Carol" in log[1] and "config.moderation.warn_mute_at = 5" in log[2]
    assert log[3].startswith("2026-03-02 18:02 ·")  # 10:02 UTC is 18:02 in Shanghai
    assert "config.timezone" in log[5]
    await app.dispatch(cmd("mia", "modlog", "@carol", "1"), m)
    only = m.last_reply("mia").splitlines()
    assert len(only) == 2 and "points.give → Carol" in only[1]
    await app.dispatch(cmd("mia", "modlog", "@nobody"), m)
    assert "don't know @nobody" in m.last_reply("mia")
    await app.dispatch(cmd("mia", "modlog", "999"), m)
    assert "1 to 50" in m.last_reply("mia")
    await app.dispatch(cmd("bob", "modlog"), m)
    assert "for moderators and above" in m.last_reply("bob")


@pytest.fixture
def cli_env(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHORT_STORAGE__URL", str(app.store.engine.url))
    monkeypatch.setenv("COHORT_LOG_LEVEL", "WARNING")


async def test_export_csv_and_json(app: App, clock: Clock, cli_env: None, tmp_path: Path) -> None:
    await busy_day(app, clock)
    runner = CliRunner()
    result = runner.invoke(audit_cli.cli, ["export", "--community", "telegram:tg-group"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["action"] for r in rows] == ["config.timezone", "warn", "mute", "config.moderation.warn_mute_at",
                                           "points.give"]
    warn = rows[1]
    assert warn["actor"] == "Mia" and warn["target"] == "Bob" and warn["reason"] == "'=HYPERLINK(evil)"
    assert warn["at_utc"].startswith("2026-03-02T10:01") and warn["at_local"].startswith("2026-03-02T18:01")
    out = tmp_path / "audit.json"
    result = runner.invoke(audit_cli.cli, ["export", "--community", "telegram:tg-group", "--format", "json",
                                           "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data[2]["action"] == "mute" and data[2]["details"]["reason"] == "flood"
    assert data[1]["reason"] == "=HYPERLINK(evil)"  # JSON keeps the text as it is
    bad = runner.invoke(audit_cli.cli, ["export", "--community", "nowhere"])
    assert bad.exit_code == 2 and "no unique community" in bad.output
    assert runner.invoke(audit_cli.cli, ["export", "--format", "xml"]).exit_code == 2
