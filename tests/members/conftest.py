"""Fixtures for the members tests: an injected clock and one fake messenger per platform."""

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


@pytest.fixture
def dc() -> FakeMessenger:
    return FakeMessenger(Platform.DISCORD)
