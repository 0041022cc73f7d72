"""The issue's "Bad input" list through the console adapter: /purge counts, durations,
targets that left, never existed, outrank the moderator or are the moderator; link rules.
Each gets a clear reply and nothing is recorded."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.bootstrap import App
from engine.moderation.tables import Restriction, Warning_
from engine.store.models import AuditEntry
from tests.members.fakes import Clock
from tests.moderation.test_console_moderation import session

CASES = [
    ("/purge 0", "from 1 to 100, not 0. Nothing was deleted"),
    ("/purge 100000", "from 1 to 100, not 100000. Nothing was deleted"),
    ("/purge -1", "from 1 to 100, not -1"),
    ("/purge ²", "digits 0-9"),
    ("/purge", "Usage: /purge N"),
    ("/mute @bob -5m", "can't be negative"),
    ("/mute @bob 0m", "from 1m to 365d, not 0m"),
    ("/mute @bob 999y", "unit “y” is unknown"),
    ("/mute @bob 1h30", "one number and one unit"),
    ("/mute @bob ²m", "digits 0-9"),
    ("/ban @bob -5m x", "can't be negative"),
    ("/ban @bob 999y x", "unit “y” is unknown"),
    ("/mute @nobody 10m", "I don't know @nobody"),
    ("/kick nobody", "I don't know nobody"),
    ("/warn @cohort x", "I don't know @cohort"),  # the bot is not a member
    ("/mute @owen", "owen is an owner here and you are a moderator"),
    ("/kick @owen", "owen is an owner here and you are a moderator"),
    ("/ban @mia", "You can't ban yourself"),
    ("/kick", "Who? Name a member"),
    ("/kick @leo", "leo has already left; there is nobody to remove"),
    ("/filter links allow", "Usage: /filter links"),
    ("/filter links newcomers -3d", "can't be negative"),
    ("/filter links newcomers ²d", "digits 0-9"),
    ("/filter links allow https://a.com/x", "not a link (did you mean a.com?)"),
]


async def test_bad_input_gets_clear_replies_and_changes_nothing(app: App, tmp_path: Path, clock: Clock) -> None:
    lines = ["hello", "/as bob", "hi, I'm bob", "/as leo", "hi, I'm leo", "/leave", "/as mia moderator", "mia here"]
    out, _ = await session(app, tmp_path, lines + [text for text, _ in CASES], clock)
    replies = [line for line in out if "cohort (to mia)" in line]
    assert len(replies) == len(CASES), replies
    for (text, expect), reply in zip(CASES, replies, strict=True):
        assert expect in reply, (text, reply)
    counts = await app.store.read(lambda s: [s.scalar(select(func.count()).select_from(t))
                                             for t in (AuditEntry, Warning_, Restriction)])
    assert counts == [0, 0, 0]
