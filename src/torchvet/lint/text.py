"""Line handling that agrees with Python's tokenizer (``\\n``, ``\\r\\n`` and ``\\r`` only).

``str.splitlines`` also splits on form feeds and Unicode separators, which would
put our line numbers out of step with the ``ast`` module's.
"""

from __future__ import annotations

import re

_EOL = re.compile(r"\r\n|\r|\n")
_IDENTIFIER_TAIL = re.compile(r"[A-Za-z_0-9]+$")


def split_lines(text: str) -> list[str]:
    """Lines without their terminators; a final terminator adds no empty line."""
    lines = _EOL.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def line_starts(text: str) -> list[int]:
    """Offset of the first character of every line (1-based line n -> index n-1)."""
    starts = [0]
    starts.extend(m.end() for m in _EOL.finditer(text))
    return starts


def char_col(line_text: str, byte_col: int) -> int:
    """Convert an ``ast`` column (UTF-8 bytes) to a character column."""
    if line_text.isascii():
        return byte_col
    return len(line_text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def indent_of(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


def identifier_before(text: str, index: int, reach: int = 80) -> str:
    """The identifier ending right before ``index`` (``"torch"`` for ``torch|.load``)."""
    match = _IDENTIFIER_TAIL.search(text, max(0, index - reach), index)
    return match.group() if match else ""
