"""IPython syntax that is not Python, replaced by ``pass`` so the rest of a cell parses.

Line counts and the columns of every other line are unchanged, so findings and
edits on real code keep their original positions.
"""

from __future__ import annotations

import re

# `%magic`, `!shell`, `?help`, `x = !cmd`, `obj?`; never matches valid Python.
_LINE_MAGIC = re.compile(r"^\s*(?:[%!?]|[\w.]+\s*=\s*[%!])|^[^#'\"]*\?\s*$")
# Cell magics whose body is still Python.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "python", "python3"}


def cell_magic(first_line: str) -> str | None:
    """The name of a ``%%magic`` opening a cell, else ``None``."""
    if not first_line.startswith("%%"):
        return None
    rest = first_line[2:].split(maxsplit=1)
    return rest[0] if rest else ""


def neutralise(code: str) -> str:
    lines = code.split("\n")
    for i, line in enumerate(lines):
        if _LINE_MAGIC.match(line):
            indent = len(line) - len(line.lstrip())
            lines[i] = line[:indent] + "pass"
    return "\n".join(lines)
