"""Find where each notebook cell's ``source`` sits in the raw JSON text.

``json`` gives values but no positions; rewriting a notebook with ``json.dumps``
would reflow indentation, key order and escapes that the author's tools chose.
This small reader records the character span of every cell's ``source`` (and of
each string in it), so a fix replaces those characters and nothing else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass
class Span:
    start: int
    end: int
    items: list[Span] = field(default_factory=list)  # string elements of a list source
    is_list: bool = False


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def ws(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def expect(self, char: str) -> None:
        self.ws()
        if self.text[self.pos : self.pos + 1] != char:
            raise ValueError(f"expected {char!r} at {self.pos}")
        self.pos += 1

    def string(self) -> str:
        self.expect('"')
        value, self.pos = scanstring(self.text, self.pos)
        return value

    def skip_value(self) -> Span:
        self.ws()
        start = self.pos
        char = self.text[start : start + 1]
        if char == "{":
            self.pos += 1
            self.ws()
            if self.text[self.pos] == "}":
                self.pos += 1
            else:
                while True:
                    self.string()
                    self.expect(":")
                    self.skip_value()
                    if not self._comma_or("}"):
                        break
        elif char == "[":
            items = self._list_items()
            return Span(start, self.pos, items, is_list=True)
        elif char == '"':
            self.string()
        else:
            for literal in ("true", "false", "null"):
                if self.text.startswith(literal, start):
                    self.pos += len(literal)
                    break
            else:
                match = _NUMBER.match(self.text, start)
                if not match:
                    raise ValueError(f"unexpected character at {start}")
                self.pos = match.end()
        return Span(start, self.pos)

    def _list_items(self) -> list[Span]:
        self.pos += 1
        self.ws()
        items: list[Span] = []
        if self.text[self.pos] == "]":
            self.pos += 1
            return items
        while True:
            items.append(self.skip_value())
            if not self._comma_or("]"):
                return items

    def _comma_or(self, closer: str) -> bool:
        self.ws()
        char = self.text[self.pos]
        self.pos += 1
        if char == ",":
            return True
        if char == closer:
            return False
        raise ValueError(f"expected ',' or {closer!r} at {self.pos - 1}")

    def object_members(self) -> dict[str, Span]:
        """Spans of the members of the object starting here (last duplicate wins)."""
        self.expect("{")
        members: dict[str, Span] = {}
        self.ws()
        if self.text[self.pos] == "}":
            self.pos += 1
            return members
        while True:
            key = self.string()
            self.expect(":")
            members[key] = self.skip_value()
            if not self._comma_or("}"):
                return members


def source_spans(text: str) -> dict[int, Span]:
    """Cell index -> span of that cell's ``source`` value."""
    top = _Reader(text).object_members()
    cells = top.get("cells")
    if cells is None or not cells.is_list:
        raise ValueError("no cells list")
    spans: dict[int, Span] = {}
    for index, cell in enumerate(cells.items):
        reader = _Reader(text)
        reader.pos = cell.start
        members = reader.object_members()
        if "source" in members:
            spans[index] = members["source"]
    return spans


def replace_sources(text: str, new_sources: dict[int, str]) -> str:
    """Return the notebook text with the given cells' sources replaced, all else kept."""
    spans = source_spans(text)
    # An all-ASCII file was written with escapes (or had nothing to escape): keep it ASCII.
    ascii_only = text.isascii()
    pieces: list[tuple[int, int, str]] = []
    for index, new_source in new_sources.items():
        span = spans[index]
        if not span.is_list:
            pieces.append((span.start, span.end, json.dumps(new_source, ensure_ascii=ascii_only)))
            continue
        old_items = [json.loads(text[s.start : s.end]) for s in span.items]
        new_items = new_source.splitlines(keepends=True)
        if len(new_items) == len(old_items) and old_items:
            for item, old, new in zip(span.items, old_items, new_items, strict=True):
                if old != new:
                    encoded = json.dumps(new, ensure_ascii=ascii_only)
                    pieces.append((item.start, item.end, encoded))
            continue
        pieces.append((span.start, span.end, _render_list(text, span, new_items, ascii_only)))
    for start, end, replacement in sorted(pieces, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _render_list(text: str, span: Span, items: list[str], ascii_only: bool) -> str:
    """A new list in the original's layout (item indentation, separators, closing bracket)."""
    encoded = [json.dumps(item, ensure_ascii=ascii_only) for item in items]
    if not span.items:
        return "[" + ", ".join(encoded) + "]"
    first = span.items[0]
    lead = text[span.start + 1 : first.start]  # e.g. "\n    "
    tail = text[span.items[-1].end : span.end - 1]  # e.g. "\n   "
    if len(span.items) > 1:
        separator = text[first.end : span.items[1].start]
    else:
        separator = "," + (lead if "\n" in lead else " ")
    return "[" + lead + separator.join(encoded) + tail + "]"


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def raw_offset(text: str, span: Span, line: int, column: int) -> int | None:
    """Offset in the raw notebook ``text`` of a (1-based line, 0-based column) position
    in the cell source that ``span`` holds; ``None`` past its end."""
    here = (1, 0)
    strings = span.items if span.is_list else [span]
    last = None
    for item in strings:
        position, end = item.start + 1, item.end - 1  # inside the quotes
        while position < end:
            if here == (line, column):
                return position
            char, width = _decode_one(text, position)
            here = (here[0] + 1, 0) if char == "\n" else (here[0], here[1] + 1)
            position += width
        last = end
    return last if here == (line, column) else None


def _decode_one(text: str, position: int) -> tuple[str, int]:
    """One character of a JSON string at ``position``, and how many raw characters it takes."""
    if text[position] != "\\":
        return text[position], 1
    kind = text[position + 1 : position + 2]
    if kind != "u":
        return _ESCAPES.get(kind, kind), 2
    code = int(text[position + 2 : position + 6], 16)
    if 0xD800 <= code < 0xDC00 and text.startswith("\\u", position + 6):
        return "\ufffd", 12  # a surrogate pair: one character
    return chr(code), 6
