"""Suppression comments: ``# noqa``, ``# noqa: TV002``, ``# torchvet: ignore[TV002]``."""

from __future__ import annotations

import re

_NOQA = re.compile(
    r"#\s*(?:noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?"
    r"|torchvet:\s*ignore(?:\[(?P<bracket>[^\]]*)\])?)",
    re.IGNORECASE,
)
ALL = frozenset({"*"})


def suppressed_codes(line: str) -> frozenset[str]:
    """Codes a line's comment suppresses; ``ALL`` for a bare ``noqa``/``ignore``."""
    if "#" not in line:
        return frozenset()
    codes: set[str] = set()
    for match in _NOQA.finditer(line):
        listed = match.group("codes") or match.group("bracket")
        if listed is None:
            return ALL
        codes.update(code.upper() for code in re.split(r"[\s,]+", listed) if code)
    return frozenset(codes)


def is_suppressed(code: str, lines: list[str], first: int, last: int) -> bool:
    """Whether any line of the finding's span (1-based, inclusive) suppresses ``code``."""
    for number in range(first, min(last, len(lines)) + 1):
        codes = suppressed_codes(lines[number - 1])
        if codes is ALL or code in codes:
            return True
    return False
