"""Logs carry no secrets and no noise: a distinctive token and webhook secret run through
start (polling), webhook set-up, sends, a 429 and ``cohort doctor`` at DEBUG, and appear
nowhere in the log, stdout or stderr; a handled 429 is one WARNING line, not a traceback."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.adapters.telegram import TelegramAdapter
from bot.bootstrap import App
from bot.logs import MASK, RedactSecrets, install_redaction, redact
from bot.ports import ChatRef
from bot.settings import Settings
from engine.events import Platform
from tests.fakes.telegram_api import FakeTelegram

from .conftest import GROUP, AdapterFactory, eventually, free_port, message, private_chat, tg_settings, user

TOKEN = "987654321:ZZdistinctiveTOKEN-for_redaction_tests42"
SECRET = "webhook-SECRET_distinctive_4242"
DISCORD = "MTEyMzQ1Njc4OTAxMjM0NTY3OA.GAbCdE.distinctive_discord_token_value_xyz0"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything every logger writes at DEBUG, through a root handler with redaction on,
    as ``bot.logs.configure_logging`` sets it up (httpx left at DEBUG to prove the filter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("httpx", "httpcore", "telegram", "aiohttp"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    install_redaction([TOKEN, SECRET, DISCORD])
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for h in root.handlers:
            for f in [f for f in h.filters if isinstance(f, RedactSecrets)]:
                h.removeFilter(f)


def _settings(settings: Settings, fake: FakeTelegram, **telegram: object) -> Settings:
    s = tg_settings(settings, fake, **telegram)
    return s.model_copy(update={"telegram_token": SecretStr(TOKEN),
                                "telegram_webhook_secret": SecretStr(SECRET)})


async def test_token_and_secret_never_reach_the_log_or_output(
        app: App, settings: Settings, captured: io.StringIO, tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        # Polling: start, an update, a reply, a DM, a 429 on a send.
        polling = TelegramAdapter(_settings(settings, fake), app.router, poll_timeout=1, retry_delay=0.001,
                                  sleep=sleep)
        await polling.start()
        try:
            fake.push_update(message("/help", chat=private_chat(1001), sender=user(1001, "Ada")))
            await fake.wait_for("sendMessage")
            fake.fail("sendMessage", status=429, description="Too Many Requests: retry after 3", retry_after=3)
            await polling.messenger.send(ChatRef(Platform.TELEGRAM, str(GROUP), str(GROUP)), "after a flood wait")
            assert sleeps == [3.0]
            await polling.messenger.dm("1001", "a direct message")
        finally:
            await polling.stop()

        # Webhook: set-up (PTB logs setWebhook's parameters at DEBUG) and one delivered update.
        port = free_port()
        hook = TelegramAdapter(_settings(settings, fake, mode="webhook", listen="127.0.0.1", port=port,
                                         webhook_url="https://bot.example.test/tg/hook"),
                               app.router, webhook_secret=SECRET, retry_delay=0.001)
        await hook.start()
        try:
            assert fake.calls_to("setWebhook")[0].params["secret_token"] == SECRET
            async with httpx.AsyncClient() as client:
                answer = await client.post(f"http://127.0.0.1:{port}/tg/hook",
                                           json=message("via the webhook", message_id=901),
                                           headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert answer.status_code == 200
            await eventually(lambda: _sent_count(fake, 0))
        finally:
            await hook.stop()

        # `cohort doctor` in its own process, at DEBUG, against the same fake.
        env = {**os.environ, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET, "DISCORD_TOKEN": "",
               "COHORT_TELEGRAM__BASE_URL": fake.base_url, "COHORT_LOG_LEVEL": "DEBUG",
               "COHORT_STORAGE__URL": f"sqlite:///{tmp_path / 'doctor.db'}"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "doctor", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        shown = await _config_show(env)

    log = captured.getvalue()
    doctor = out.decode() + err.decode()
    assert "getMe" in log and "setWebhook" in log and "sendMessage" in log  # the calls were logged …
    assert "[telegram]" in doctor, doctor
    assert proc.returncode in (0, 1), doctor
    for text in (log, doctor, shown):
        for secret in (TOKEN, SECRET, TOKEN.split(":")[1]):
            assert secret not in text  # … without the token or the secret
    assert MASK in log


async def _sent_count(fake: FakeTelegram, at_least: int) -> bool:
    return len(fake.calls_to("sendMessage")) >= at_least


async def _config_show(env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "config", "show", cwd=ROOT,
        env={**env, "COHORT_STORAGE__URL": "postgresql://cohort:pg-Passw0rd@127.0.0.1:1/x"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = out.decode() + err.decode()
    assert '"telegram_token": "***set***"' in text, text
    assert "pg-Passw0rd" not in text and "cohort:***@127.0.0.1" in text
    return text


async def test_a_handled_429_is_one_warning_line(
        fake: FakeTelegram, make_adapter: AdapterFactory, caplog: pytest.LogCaptureFixture) -> None:
    async def sleep(seconds: float) -> None:
        return None

    adapter = await make_adapter(sleep=sleep)
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    fake.fail("sendMessage", status=429, description="Too Many Requests: retry after 5", retry_after=5)
    await adapter.messenger.send(ChatRef(Platform.TELEGRAM, str(GROUP), str(GROUP)), "hi")
    assert len(fake.calls_to("sendMessage")) == 2
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelname for r in warnings] == ["WARNING"], caplog.text
    assert "429" in warnings[0].getMessage() and "5.0s" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info], caplog.text


def test_genuine_rate_limiter_errors_are_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    from bot.adapters.telegram.logs import RATE_LIMITER_LOGGER, quiet_handled_flood_waits

    quiet_handled_flood_waits()
    try:
        raise RuntimeError("a real bug in the limiter")
    except RuntimeError:
        logging.getLogger(RATE_LIMITER_LOGGER).exception("unexpected")
    assert [r.getMessage() for r in caplog.records] == ["unexpected"]


# -- the filter itself -----------------------------------------------------------------------------
def test_redact_masks_configured_secrets_and_token_shapes() -> None:
    other = "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    text = (f"POST https://api.telegram.org/bot{TOKEN}/getMe secret_token={SECRET} "
            f"https://api.telegram.org/bot{other}/sendMessage Bot {DISCORD} postgresql://u:p4ss@db/x")
    masked = redact(text, [TOKEN, SECRET])
    for leaked in (TOKEN, SECRET, other, DISCORD, "p4ss"):
        assert leaked not in masked
    assert "https://api.telegram.org/bot***/getMe" in masked and "postgresql://u:***@db/x" in masked


def test_every_logger_and_level_is_redacted_and_bounded(captured: io.StringIO) -> None:
    for name in ("httpx", "telegram.ext.Updater", "discord.gateway", "apscheduler.scheduler", "cohort"):
        logging.getLogger(name).debug("url https://api.telegram.org/bot%s/getUpdates", TOKEN)
    logging.getLogger("telegram.ext.Updater").critical("Cannot parse body %s", "x" * 1_000_000)
    try:
        raise ValueError(f"bad request to /bot{TOKEN}/x with {SECRET}")
    except ValueError:
        logging.getLogger("discord.client").exception("failed with %s", DISCORD)
    log = captured.getvalue()
    assert TOKEN not in log and SECRET not in log and DISCORD not in log
    assert log.count("bot***") >= 6
    assert len(log) < 20_000 and "more characters cut" in log
