"""A small streaming reader for a JSON object with one huge array in it.

Exports look like ``{"name": ..., "id": ..., "messages": [ {...}, {...}, ... ]}``.
This reads the top-level object key by key; ordinary values are decoded whole,
and the one big array is handed out item by item, so memory is bounded by the
largest single item, not the file. Decoding uses ``json.JSONDecoder.raw_decode``
on a sliding text buffer fed from an incremental UTF-8 decoder.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import IO, Any

CHUNK_SIZE = 1 << 16
MAX_ITEM_CHARS = 256 << 20  # a single message this large is a broken file, not a message
_WHITESPACE = " \t\n\r"


class JsonSyntaxError(ValueError):
    """The text is not valid JSON at ``offset`` (characters from the start)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at character {offset}")
        self.offset = offset


class JsonObjectReader:
    """Reads a top-level JSON object from a binary stream, streaming one array member.

    ``members(stream_key)`` yields ``(key, value)`` pairs in file order; for
    ``stream_key`` (when it holds an array) the value is an iterator of the array's
    items instead. Whatever of that iterator is not consumed is skipped when the
    next pair is asked for. Raises :class:`JsonSyntaxError` on invalid JSON.
    """

    def __init__(self, raw: IO[bytes] | Any, chunk_size: int = CHUNK_SIZE) -> None:
        self._raw = raw
        self._chunk = chunk_size
        # utf-8-sig drops a BOM; bad bytes become U+FFFD rather than aborting the import
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._json = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._consumed = 0  # characters dropped from the front of _buf
        self._eof = False

    # -- buffer -------------------------------------------------------------
    def _fill(self, at_least: int = 0) -> bool:
        """Append more text; False at end of input."""
        if self._eof:
            return False
        if self._pos:
            self._consumed += self._pos
            self._buf = self._buf[self._pos :]
            self._pos = 0
        data = self._raw.read(max(self._chunk, at_least))
        if not data:
            self._eof = True
            self._buf += self._decoder.decode(b"", final=True)
            return False
        self._buf += self._decoder.decode(data)
        return True

    @property
    def offset(self) -> int:
        """Characters read and consumed so far."""
        return self._consumed + self._pos

    def _skip_ws(self) -> str:
        """Skip whitespace; return the next character without consuming it ("" at EOF)."""
        while True:
            buf = self._buf
            pos = self._pos
            while pos < len(buf) and buf[pos] in _WHITESPACE:
                pos += 1
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._fill():
                return ""

    def _expect(self, chars: str) -> str:
        char = self._skip_ws()
        if not char or char not in chars:
            found = repr(char) if char else "end of file"
            raise JsonSyntaxError(f"expected one of {chars!r}, found {found}", self.offset)
        self._pos += 1
        return char

    def _value(self) -> Any:
        self._skip_ws()
        while True:
            try:
                value, end = self._json.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as err:
                if self._eof or not self._maybe_incomplete(err):
                    raise JsonSyntaxError(err.msg, self._consumed + err.pos) from None
                if len(self._buf) - self._pos > MAX_ITEM_CHARS:
                    raise JsonSyntaxError("value too large", self.offset) from None
                # grow geometrically so a big value is re-scanned O(log n) times
                self._fill(at_least=len(self._buf) - self._pos)
                continue
            if end == len(self._buf) and not self._eof:
                # a number or literal at the very end may continue in the next chunk
                self._fill()
                continue
            self._pos = end
            return value

    def _maybe_incomplete(self, err: json.JSONDecodeError) -> bool:
        """True when the error could be the buffer ending mid-value, not bad JSON."""
        return err.pos >= len(self._buf) - 6 or err.msg.startswith("Unterminated string")

    # -- structure ----------------------------------------------------------
    def members(self, stream_key: str) -> Iterator[tuple[str, Any]]:
        """Yield the top-level object's members; see the class docstring."""
        self._expect("{")
        if self._skip_ws() == "}":
            self._pos += 1
            return
        while True:
            key = self._value()
            if not isinstance(key, str):
                raise JsonSyntaxError("expected a property name", self.offset)
            self._expect(":")
            if key == stream_key and self._skip_ws() == "[":
                items = self._items()
                yield key, items
                for _ in items:  # skip what the consumer left
                    pass
            else:
                yield key, self._value()
            if self._expect(",}") == "}":
                return

    def _items(self) -> Iterator[Any]:
        self._expect("[")
        if self._skip_ws() == "]":
            self._pos += 1
            return
        while True:
            yield self._value()
            if self._expect(",]") == "]":
                return
