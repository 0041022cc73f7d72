"""`cohort console` driven through its real stdin, as a member, a moderator and the owner:
numbered messages, replies, reactions, /solved in reply, buttons that answer, /points give
by the handle the console shows, /me @member, /as naming the Cohort role, /catalog."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMPT = re.compile(r"(?:^|\n)[^\n]*@(?:#[^\n>]+|dm)> $")
DEADLINE = 90.0  # seconds one answer may take on a loaded machine (it is a bound, not a wait)


class Console:
    """A `cohort console` process: type a line, get back everything printed until the next prompt."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "bot.cli", "console"], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        self.transcript = ""
        self.banner = self._until_prompt()

    def _until_prompt(self) -> str:
        assert self.proc.stdout is not None
        chunk = b""
        end = time.monotonic() + DEADLINE
        while not PROMPT.search(chunk.decode("utf-8", "replace")):
            if not self.selector.select(timeout=max(0.0, end - time.monotonic())):
                raise AssertionError(f"no prompt within {DEADLINE} s; got {chunk.decode('utf-8', 'replace')!r}")
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                raise AssertionError(f"the console exited; it printed {chunk.decode('utf-8', 'replace')!r}")
            chunk += data
        text = chunk.decode("utf-8")
        self.transcript += text
        return PROMPT.sub("", text)

    def say(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.transcript += line + "\n"
        self.proc.stdin.write((line + "\n").encode("utf-8"))
        self.proc.stdin.flush()
        return self._until_prompt()

    def close(self) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"/quit\n")
        self.proc.stdin.close()
        rest = self.proc.stdout.read().decode("utf-8")
        self.proc.wait(timeout=DEADLINE)
        self.transcript += rest
        return rest


def typed(out: str) -> int:
    """The number the console gave the line just typed (its "  [N]" marker)."""
    found = re.search(r"^\s*\[(\d+)\]$", out, flags=re.M)
    assert found, out
    return int(found.group(1))


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COHORT_", "TELEGRAM_", "DISCORD_"))}
    env.update(COHORT_STORAGE__URL=f"sqlite:///{tmp_path / 'cohort.db'}",
               COHORT_RECSYS__ARTIFACT_DIR=str(tmp_path / "models"), COHORT_LOG_LEVEL="WARNING",
               COHORT_SCHEDULER__ENABLED="false", PYTHONPATH=str(ROOT))
    process = Console(env)
    try:
        yield process
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


def test_a_console_session_through_stdin(console: Console) -> None:
    assert "You are the owner" in console.banner
    say = console.say
    say("hello everyone, the owner opens the course chat today")
    out = say("/item add https://learn.example.com/pandas Reading CSV files with pandas #pandas")
    assert "Added reading-csv-files-with-pandas" in out

    # a member asks, a moderator answers, reacts and looks at the member
    assert "you are now ann (member)" in say("/as ann")
    question = typed(say("How do I read a CSV file with pandas? It keeps failing"))
    assert "you are now bob (moderator)" in say("/as bob moderator")
    answer = typed(say(f"/reply {question} use pandas.read_csv with the right encoding, it works"))
    assert answer > question
    assert "is not an emoji" in say(f"/react {question} notanemoji")
    say(f"/react {question} 👍")
    out = say("/me @ann")
    assert "ann — " in out and "Level 0" in out and "Badges: First words" in out

    # the member accepts the answer by replying /solved, is refused another's profile, uses buttons
    say("/as ann")
    assert "accepted" in say(f"/reply {answer} /solved")
    assert "Only moderators can see another member's profile" in say("/me @bob")
    out = say("/recommend")
    buttons = dict((label, int(n)) for n, label in re.findall(r"⟨(\d+)⟩ (.+?)(?: →.*)?$", out, flags=re.M))
    assert "1. 👍 interested" in buttons and "1. done ✓" in buttons, out
    assert "Noted: you're interested in Reading CSV files with pandas" in say(f"/click {buttons['1. 👍 interested']}")
    assert "✓ Done: Reading CSV files with pandas" in say(f"/click {buttons['1. done ✓']}")
    assert "already marked" in say(f"/click {buttons['1. done ✓']}")
    assert "there is no button ⟨99⟩" in say("/click 99")
    out = say("/catalog #pandas")
    assert "✓ reading-csv-files-with-pandas — Reading CSV files with pandas" in out
    assert "Close tags: #pandas" in say("/catalog #panda")

    # the owner rewards the moderator by the handle the console shows
    assert "you are now you (owner)" in say("/as you")
    assert "Gave 5 points to bob" in say("/points give @bob 5 great answer")
    out = say("/me @bob")
    assert "bob — " in out
    assert "bye" in console.close()
    assert "Traceback" not in console.transcript
