"""Fixtures for the points tests."""

from __future__ import annotations

import pytest

from tests.points.fakes import FakeMessenger


@pytest.fixture
def tg() -> FakeMessenger:
    return FakeMessenger()
