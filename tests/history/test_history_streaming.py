"""The streaming JSON reader across chunk boundaries, and bounded memory on a big export."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest

from engine.history import read_telegram_export
from engine.history._jsonstream import JsonObjectReader, JsonSyntaxError

DOCUMENT = {
    "name": "név 🐍",
    "id": 12345678901234567890,
    "flag": True,
    "nothing": None,
    "messages": [
        {"n": i, "x": -1.5e-3, "s": "é\u200b👩‍💻" * (i % 7), "nested": [[], {}]} for i in range(300)
    ],
    "after": [1, 2, 3],
}


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 16])
def test_reader_matches_json_loads_at_any_chunk_size(chunk: int) -> None:
    raw = io.BytesIO(b"\xef\xbb\xbf" + json.dumps(DOCUMENT, ensure_ascii=False, indent=1).encode())
    seen: dict = {}
    for key, value in JsonObjectReader(raw, chunk_size=chunk).members("messages"):
        seen[key] = list(value) if key == "messages" else value
    assert seen == DOCUMENT


def test_unconsumed_array_is_skipped() -> None:
    raw = io.BytesIO(json.dumps(DOCUMENT).encode())
    keys = [key for key, _ in JsonObjectReader(raw, chunk_size=5).members("messages")]
    assert keys == list(DOCUMENT)


@pytest.mark.parametrize(
    "text", ['{"a": 1,, "b": 2}', '{"messages": [1, 2', '["not an object"]', '{"a": tru}']
)
def test_invalid_json_raises_with_offset(text: str) -> None:
    with pytest.raises(JsonSyntaxError, match="at character"):
        for _, value in JsonObjectReader(io.BytesIO(text.encode()), chunk_size=4).members("messages"):
            if not isinstance(value, int | str | bool):
                list(value)


def _write_big_export(path: Path, count: int) -> None:
    """A Telegram export of ``count`` messages, written without holding it in memory."""
    with path.open("w", encoding="utf-8") as out:
        out.write('{"name": "Big", "type": "public_supergroup", "id": 555, "messages": [\n')
        for i in range(1, count + 1):
            message = {
                "id": i,
                "type": "message",
                "date_unixtime": str(1_700_000_000 + i * 30),
                "from": f"Member {i % 500}",
                "from_id": f"user{i % 500}",
                "reply_to_message_id": i - 1 if i % 3 == 0 else None,
                "text": f"Message {i}: how do I await two tasks? — спасибо 🙏",
            }
            if i % 10 == 0:  # some entities and reactions, so every code path is exercised
                message["text"] = ["See ", {"type": "link", "text": f"https://learn.example.com/{i % 40}"}]
                message["reactions"] = [
                    {
                        "type": "emoji",
                        "count": 2,
                        "emoji": "👍",
                        "recent": [{"from": "R", "from_id": f"user{i % 11}", "date": "2024-01-01T00:10:00"}],
                    }
                ]
            out.write(("," if i > 1 else "") + json.dumps(message, ensure_ascii=False) + "\n")
        out.write("]}\n")


def test_big_export_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    _write_big_export(path, 50_000)
    tracemalloc.start()
    try:
        stream = read_telegram_export(path)
        messages = 0
        for event in stream:
            messages += event.kind == "message"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert messages == 50_000
    assert stream.report.skipped_total == 0
    # json.load of this file would need several times its size; streaming stays well under it
    assert peak < min(30_000_000, path.stat().st_size), f"peak {peak / 1e6:.1f} MB"
