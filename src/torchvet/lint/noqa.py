"""Suppression comments: ``# noqa``, ``# noqa: TV002``, ``# torchvet: ignore[TV002]``.

Also what builds on them: the report of codes that suppress nothing (TV900, like
Ruff's RUF100) and ``--add-noqa``, which writes a directive for each finding.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from torchvet.lint.model import Diagnostic, Edit, Fix

_NOQA = re.compile(
    r"#\s*(?:noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?"
    r"|torchvet:\s*ignore(?:\[(?P<bracket>[^\]]*)\])?)",
    re.IGNORECASE,
)
_CODE = re.compile(r"[A-Za-z]+[0-9]+")
ALL = frozenset({"*"})
OWN_PREFIX = "TV"


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


@dataclass(frozen=True)
class Directive:
    """One directive on a line: its span, and each listed code with its span."""

    start: int
    end: int
    codes: tuple[tuple[str, int, int], ...]


def directives(text: str) -> list[Directive]:
    found = []
    for match in _NOQA.finditer(text):
        group = "codes" if match.group("codes") else "bracket"
        codes: tuple[tuple[str, int, int], ...] = ()
        if match.group(group):
            offset = match.start(group)
            codes = tuple(
                (m.group().upper(), offset + m.start(), offset + m.end())
                for m in _CODE.finditer(match.group(group))
            )
        found.append(Directive(match.start(), match.end(), codes))
    return found


def comment_lines(code: str) -> set[int] | None:
    """Lines whose comment holds a directive (``None``: the code does not tokenize)."""
    if "noqa" not in code and "torchvet:" not in code:
        return set()
    lines = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.COMMENT and _NOQA.search(token.string):
                lines.add(token.start[0])
    except (tokenize.TokenError, SyntaxError):
        return None
    return lines


# --- TV900: codes that suppress nothing ------------------------------------------------


_OWN_CODE = re.compile(r"\bTV\d")


def has_own_directive(text: str) -> bool:
    """Cheap test: the text may hold a directive naming one of our codes (a ``noqa`` or
    ``torchvet:`` with a ``TV`` code after it on its line)."""
    if OWN_PREFIX not in text:
        return False
    for marker in ("noqa", "NOQA", "torchvet:"):
        index = text.find(marker)
        while index != -1:
            end = text.find("\n", index)
            if _OWN_CODE.search(text, index, len(text) if end == -1 else end):
                return True
            index = text.find(marker, index + len(marker))
    return False


def unused_codes(
    path: str,
    unit: int | None,
    text: str,
    lines: list[str],
    findings: list[Diagnostic],
    enabled: Collection[str],
    known: Collection[str],
) -> list[Diagnostic]:
    """TV900 findings for the directives of one unit (a file, or a notebook cell)."""
    candidates = comment_lines(text)
    cell = None if unit is None else unit + 1
    out = []
    for number in sorted(candidates or ()):
        text = lines[number - 1]
        for directive in directives(text):
            for code, start, end in directive.codes:
                if not code.startswith(OWN_PREFIX):
                    continue  # another tool's code
                if code not in known:
                    message = f"unknown rule code `{code}` in a suppression comment"
                elif code in enabled and not _used(findings, cell, number, code):
                    message = f"unused suppression: no `{code}` finding on this line"
                else:
                    continue
                fix = _removal(unit, number, text, directive, start, end)
                out.append(
                    Diagnostic(
                        path, "TV900", message, number, start + 1, number, end + 1, cell, fix
                    )
                )
    return out


def _used(findings: Iterable[Diagnostic], cell: int | None, line: int, code: str) -> bool:
    return any(d.code == code and d.cell == cell and d.line <= line <= d.end_line for d in findings)


def _removal(unit, line: int, text: str, directive: Directive, start: int, end: int) -> Fix | None:
    others = [c for c in directive.codes if c[1] != start]
    if others:
        # Remove the code with the separator that joins it to its neighbour.
        index = [c[1] for c in directive.codes].index(start)
        if index + 1 < len(directive.codes):
            span = (start, directive.codes[index + 1][1])
        else:
            span = (directive.codes[index - 1][2], end)
        edit = Edit(unit, (line, span[0]), (line, span[1]), "")
        return Fix("Remove the unused code", (edit,), safe=True)
    if text[directive.end :].strip():
        return None  # more comment text follows: removing the directive would leave it bare
    begin = len(text[: directive.start].rstrip())
    edit = Edit(unit, (line, begin), (line, directive.end), "")
    return Fix("Remove the suppression comment", (edit,), safe=True)


# --- --add-noqa -----------------------------------------------------------------------


def noqa_fixes(findings: Iterable[Diagnostic], units: dict[int | None, str]) -> list[Fix]:
    """One edit per line with findings: add their codes to its directive, or append one."""
    codes: dict[tuple[int | None, int], set[str]] = defaultdict(set)
    for d in findings:
        codes[(None if d.cell is None else d.cell - 1, d.line)].add(d.code)
    lines_of: dict[int | None, list[str]] = {}
    fixes = []
    for (unit, line), wanted in sorted(
        codes.items(), key=lambda item: (item[0][0] or 0, item[0][1])
    ):
        if unit not in lines_of:
            lines_of[unit] = re.split(r"\r\n|\r|\n", units.get(unit, ""))
        lines = lines_of[unit]
        if line > len(lines):
            continue
        text = lines[line - 1]
        listed = [d for d in directives(text) if d.codes]
        listing = ", ".join(sorted(wanted))
        if listed:
            at = listed[-1].codes[-1][2]
            edit = Edit(unit, (line, at), (line, at), ", " + listing)
        else:
            edit = Edit(unit, (line, len(text)), (line, len(text)), f"  # noqa: {listing}")
        fixes.append(Fix(f"Add `# noqa: {listing}`", (edit,), safe=True))
    return fixes
