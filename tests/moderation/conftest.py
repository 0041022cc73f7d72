"""Fixtures for the moderation tests: the members' recording messenger and an injected clock."""

from __future__ import annotations

import pytest

from bot.bootstrap import App
from engine.events import Platform
from tests.members.fakes import Clock, FakeMessenger


@pytest.fixture
def clock(app: App) -> Clock:
    c = Clock()
    app.clock = c
    return c


@pytest.fixture
def tg() -> FakeMessenger:
    return FakeMessenger(Platform.TELEGRAM)
