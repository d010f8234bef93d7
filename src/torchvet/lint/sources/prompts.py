"""Turn interactive-session text (doctest ``>>>``, IPython ``In [1]:``) into plain code.

Prompts are stripped and their width added to each line's column shift, so a
finding still points at the right character; output lines are dropped.
"""

from __future__ import annotations

import re

from torchvet.lint.model import SourceLine

_PROMPT = re.compile(r"^(\s*)(>>>(?: |$)|\.\.\.(?: |$)|In \[\d*\]: ?|\s*\.\.\.: ?)")


def looks_interactive(lines: list[SourceLine]) -> bool:
    for sl in lines:
        stripped = sl.text.lstrip()
        if stripped:
            return stripped.startswith(">>>") or bool(re.match(r"In \[\d*\]:", stripped))
    return False


def strip_prompts(lines: list[SourceLine]) -> list[SourceLine]:
    code: list[SourceLine] = []
    for sl in lines:
        match = _PROMPT.match(sl.text)
        if match is None:
            continue  # output of the previous example
        width = match.end()
        code.append(SourceLine(sl.line, sl.col + width, sl.text[width:]))
    return code
