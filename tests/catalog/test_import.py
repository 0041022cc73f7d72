"""Catalog import files: CSV/YAML parsing, bad rows reported by line, cycles rejected whole."""

from __future__ import annotations

import pytest

from bot.bootstrap import App
from engine.catalog.items import ItemError, plan_import, read_csv, read_yaml
from engine.catalog.paths import CatalogCycleError
from engine.catalog.service import apply_import, prerequisite_map
from tests.catalog.helpers import community_id, items
from tests.doubles.events import T0

CSV = """key,title,url,kind,tags,description,prerequisites,points
intro,Intro,https://learn.example.com/intro,lesson,#python basics,First steps,,10
broken,Broken link,javascript:alert(1),lesson,,,,5
loops,Loops,https://learn.example.com/loops,lesson,python;loops,,intro,15
bad-points,Bad,https://learn.example.com/bad,lesson,,,,lots
orphan,Orphan,https://learn.example.com/orphan,lesson,,,ghost,5
"""

YAML_CYCLE = """
- key: a
  title: A
  prerequisites: [c]
- key: b
  title: B
  prerequisites: [a]
- key: c
  title: C
  url: https://learn.example.com/c
  prerequisites: b
"""


def test_csv_bad_rows_are_reported_by_line_and_skipped() -> None:
    specs, errors = read_csv(CSV)
    plan = plan_import(specs, errors, {})
    assert [s.key for s in plan.items] == ["intro", "loops"]
    assert plan.items[0].tags == ("python", "basics") and plan.items[1].prerequisites == ("intro",)
    by_line = dict(plan.errors)
    assert set(by_line) == {3, 5, 6}
    assert "URL" in by_line[3] and "points" in by_line[5] and "ghost" in by_line[6]


def test_yaml_cycle_rejects_the_whole_file_naming_its_items() -> None:
    specs, errors = read_yaml(YAML_CYCLE)
    assert errors == [] and [s.line for s in specs] == [2, 5, 8]
    with pytest.raises(CatalogCycleError) as caught:
        plan_import(specs, errors, {})
    assert sorted(caught.value.cycle) == ["a", "b", "c"]


def test_bad_files_and_header() -> None:
    with pytest.raises(ItemError):
        read_csv("name,link\nx,y\n")
    with pytest.raises(ItemError):
        read_yaml("key: [unclosed")
    specs, errors = read_yaml("- key: x\n  colour: red\n- title: Fine\n")
    assert [s.key for s in specs] == ["fine"] and errors[0][0] == 1 and "colour" in errors[0][1]


async def test_import_writes_in_one_transaction_and_updates_on_reimport(app: App) -> None:
    cid = await community_id(app)

    def run(text: str):  # type: ignore[no-untyped-def]
        def write(session):  # type: ignore[no-untyped-def]
            specs, errors = read_csv(text)
            return apply_import(session, cid, plan_import(specs, errors, prerequisite_map(session, cid)), at=T0)
        return app.store.write(write)

    assert await run(CSV) == (2, 0)
    assert await run(CSV.replace("First steps", "Updated")) == (0, 2)
    assert (await items(app, cid))["intro"].description == "Updated"
    cycle = "key,title,prerequisites\nintro,Intro,loops\n"
    with pytest.raises(CatalogCycleError):
        await run(cycle)
    assert (await items(app, cid))["intro"].prerequisites == []
