"""Apply fixes in original coordinates, and write files atomically.

Edits are (line, column) ranges in one *unit*: the whole text of a ``.py``,
Markdown or reST file, or the source of one notebook cell.  Overlapping fixes are
not applied together: the later one waits for the next pass.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable

from torchvet.lint.model import Edit, Fix
from torchvet.lint.text import line_starts


def _offset(starts: list[int], text: str, position: tuple[int, int]) -> int:
    line, col = position
    if line - 1 >= len(starts):
        return len(text)
    return min(starts[line - 1] + col, len(text))


def apply_to_units(
    units: dict[int | None, str], fixes: Iterable[Fix]
) -> tuple[dict[int | None, str], int]:
    """Apply every fix whose edits overlap no earlier fix; returns changed units and count."""
    taken: dict[int | None, list[tuple[int, int]]] = defaultdict(list)
    chosen: dict[int | None, list[tuple[int, int, str]]] = defaultdict(list)
    starts_cache: dict[int | None, list[int]] = {}
    applied = 0
    for fix in fixes:
        ranges = []
        for edit in fix.edits:
            text = units[edit.unit]
            starts = starts_cache.setdefault(edit.unit, line_starts(text))
            ranges.append(
                (edit, _offset(starts, text, edit.start), _offset(starts, text, edit.end))
            )
        if any(_overlaps(taken[e.unit], a, b) for e, a, b in ranges):
            continue
        applied += 1
        for edit, a, b in ranges:
            taken[edit.unit].append((a, b))
            chosen[edit.unit].append((a, b, edit.text))
    changed = {}
    for unit, edits in chosen.items():
        text = units[unit]
        for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + replacement + text[end:]
        changed[unit] = text
    return changed, applied


def _overlaps(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    # Two insertions at one point also conflict: their order would be arbitrary.
    return any((start < b and a < end) or start == a or end == b for a, b in taken)


def atomic_write(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` via a temp file in the same directory and ``os.replace``.

    The file's permission bits are kept; a symlink is followed and its target replaced.
    """
    import tempfile  # only when writing: it imports `random`, which costs start-up time

    target = os.path.realpath(path)
    mode = os.stat(target).st_mode & 0o7777
    directory = os.path.dirname(target) or "."
    fd, temp = tempfile.mkstemp(prefix=".torchvet-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


__all__ = ["Edit", "apply_to_units", "atomic_write"]
