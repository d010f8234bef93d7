"""Lint output formats: text, json, sarif, github."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePath

from torchvet import __version__
from torchvet.lint.model import Diagnostic, Note
from torchvet.lint.rules import RULES
from torchvet.report.sarif import SarifResult, SarifRule, build_log

FORMATS = ("text", "json", "sarif", "github")
RULES_DOC = "docs/rules.md"


def _where(d: Diagnostic | Note) -> str:
    cell = f"cell {d.cell}:" if d.cell is not None else ""
    column = f":{d.column}" if isinstance(d, Diagnostic) else ""
    return f"{d.path}:{cell}{d.line}{column}"


def text(diagnostics: Sequence[Diagnostic], show_fixes: bool = False) -> str:
    lines = []
    for d in diagnostics:
        marker = " [*]" if show_fixes and d.fix is not None and d.fix.safe else ""
        lines.append(f"{_where(d)}: {d.code}{marker} {d.message}")
    return "".join(line + "\n" for line in lines)


def note_text(note: Note) -> str:
    return f"{_where(note)}: note: {note.message}"


def json_records(diagnostics: Sequence[Diagnostic]) -> list[dict]:
    """One JSON-ready record per diagnostic (``--format json``; ``torchvet check`` too)."""
    return [
        {
            "path": d.path,
            "line": d.line,
            "column": d.column,
            "end_line": d.end_line,
            "end_column": d.end_column,
            "code": d.code,
            "message": d.message,
            "fixable": d.fix is not None,
            "fix_applicability": None if d.fix is None else ("safe" if d.fix.safe else "unsafe"),
            "cell": d.cell,
        }
        for d in diagnostics
    ]


def as_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps(json_records(diagnostics), indent=2) + "\n"


def sarif_rules() -> list[SarifRule]:
    """Metadata of every lint rule, for a SARIF ``tool.driver.rules`` list."""
    return [
        SarifRule(
            rule.code,
            rule.name,
            rule.summary,
            help_uri=f"{RULES_DOC}#{rule.code.lower()}-{rule.name}",
        )
        for rule in RULES
    ]


def sarif_results(diagnostics: Sequence[Diagnostic]) -> list[SarifResult]:
    return [
        SarifResult(
            d.code,
            d.message,
            PurePath(d.path).as_posix(),
            d.line,
            d.column,
            d.end_line,
            d.end_column,
            properties={"cell": d.cell} if d.cell is not None else {},
        )
        for d in diagnostics
    ]


def as_sarif(diagnostics: Sequence[Diagnostic]) -> str:
    log = build_log("torchvet", __version__, sarif_rules(), sarif_results(diagnostics))
    return json.dumps(log, indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def as_github(diagnostics: Sequence[Diagnostic]) -> str:
    out = []
    for d in diagnostics:
        where = f" (cell {d.cell})" if d.cell is not None else ""
        out.append(
            f"::error title={_escape_property('torchvet ' + d.code)},"
            f"file={_escape_property(d.path)},line={d.line},col={d.column},"
            f"endLine={d.end_line},endColumn={d.end_column}"
            f"::{_escape_data(d.code + ' ' + d.message + where)}\n"
        )
    return "".join(out)


def statistics(diagnostics: Sequence[Diagnostic]) -> str:
    counts = Counter(d.code for d in diagnostics)
    fixable = Counter(d.code for d in diagnostics if d.fix is not None)
    names = {rule.code: rule.name for rule in RULES}
    rows = [
        f"{counts[code]:>6}  {code}  {'[*] ' if fixable[code] else ''}{names.get(code, '')}"
        for code in sorted(counts)
    ]
    return "".join(row + "\n" for row in rows)


def render(fmt: str, diagnostics: Sequence[Diagnostic], show_fixes: bool = False) -> str:
    if fmt == "json":
        return as_json(diagnostics)
    if fmt == "sarif":
        return as_sarif(diagnostics)
    if fmt == "github":
        return as_github(diagnostics)
    return text(diagnostics, show_fixes)
