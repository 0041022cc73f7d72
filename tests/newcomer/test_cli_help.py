"""`cohort --help` as a newcomer reads it: flags look like flags, and no help text talks
about the code's insides (module names, transitions, reST markup)."""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.testing import CliRunner

from bot import cli

runner = CliRunner()
INTERNAL = re.compile(r"``|\bmodules?\b|\btransition|\blegacy\b", re.IGNORECASE)


def _paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(command, "commands", {}).items():
        found += _paths(sub, (*path, name))
    return found


def test_every_help_page_shows_flags_as_flags_and_no_internal_wording() -> None:
    cli.add_capability_commands()  # mounts each capability's sub-app once
    paths = _paths(typer.main.get_command(cli.app))
    assert len(paths) > 20  # every sub-command of every capability, not just the root
    for path in paths:
        result = runner.invoke(cli.app, [*path, "--help"], terminal_width=100)
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, (path, result.output)
        assert not INTERNAL.search(result.output), (path, INTERNAL.search(result.output), result.output)
    console = runner.invoke(cli.app, ["console", "--help"], terminal_width=100).output
    assert re.search(r"^\s+--demo / --no-demo\s", console, flags=re.M), console
    assert re.search(r"^\s+--help\s+Show this message", console, flags=re.M), console
