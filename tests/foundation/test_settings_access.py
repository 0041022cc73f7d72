"""Nobody but :mod:`engine.store.community_settings` touches the ``Community.settings`` JSON
column: capabilities read and write through it and their declared ``SettingSpec``s."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWNER = ROOT / "engine" / "store" / "community_settings.py"


def _touches_the_column(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "settings" and isinstance(node.value, ast.Name) \
                and node.value.id == "Community":
            lines.append(node.lineno)
    return lines


def test_only_the_settings_store_reads_the_column() -> None:
    offenders = []
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "engine").rglob("*.py")]):
        if path == OWNER:
            continue
        source = path.read_text(encoding="utf-8")
        for line in _touches_the_column(ast.parse(source)):
            offenders.append(f"{path.relative_to(ROOT)}:{line}")
        if ".values(settings=" in source:
            offenders.append(f"{path.relative_to(ROOT)}: writes settings=")
    assert offenders == []


def test_the_scan_sees_a_direct_read() -> None:
    tree = ast.parse("select(Community.settings).where(Community.id == 1)")
    assert _touches_the_column(tree) == [1]
