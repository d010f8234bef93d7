"""Lint output: the findings as text, json, sarif or github; notes and the summary."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, TextIO

from torchvet.lint.model import Diagnostic, Note
from torchvet.lint.rules import RULES, RULES_BY_CODE
from torchvet.report.sarif import PROJECT_URI, SarifResult, SarifRule, torchvet_log

if TYPE_CHECKING:
    from torchvet.lint.api import LintRun
    from torchvet.lint.discover import WalkStats
    from torchvet.lint.engine import Options

FORMATS = ("text", "json", "sarif", "github")
RULES_DOC = f"{PROJECT_URI}/blob/main/docs/rules.md"
GITHUB_COMMANDS = {"error": "error", "warning": "warning", "note": "notice"}


def level(d: Diagnostic) -> str:
    """The finding's level ("error", "warning" or "note"): its rule's, in every format."""
    rule = RULES_BY_CODE.get(d.code)
    return rule.level if rule is not None else "warning"


def file_position(d: Diagnostic) -> tuple[int, int, int, int]:
    """Where the finding is in the file as stored (the raw JSON line for a notebook)."""
    return d.file_span or (d.line, d.column, d.end_line, d.end_column)


def _cell_place(d: Diagnostic) -> str:
    return f"cell {d.cell}, line {d.line}, column {d.column}"


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
            "level": level(d),
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
            level=rule.level,
        )
        for rule in RULES
    ]


def sarif_results(diagnostics: Sequence[Diagnostic]) -> list[SarifResult]:
    """One result per finding; a notebook's points at the raw ``.ipynb`` line (which is what
    GitHub shows), with the cell, line and column in the message and properties."""
    results = []
    for d in diagnostics:
        message, properties = d.message, {}
        if d.cell is not None:
            message = f"{d.message} ({_cell_place(d)})"
            properties = {"cell": d.cell, "cellLine": d.line, "cellColumn": d.column}
        results.append(
            SarifResult(
                d.code,
                message,
                PurePath(d.path).as_posix(),
                *file_position(d),
                level=level(d),
                properties=properties,
            )
        )
    return results


def as_sarif(diagnostics: Sequence[Diagnostic]) -> str:
    log = torchvet_log(sarif_rules(), sarif_results(diagnostics))
    return json.dumps(log, indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def as_github(diagnostics: Sequence[Diagnostic]) -> str:
    out = []
    for d in diagnostics:
        where = f" ({_cell_place(d)})" if d.cell is not None else ""
        line, column, end_line, end_column = file_position(d)
        out.append(
            f"::{GITHUB_COMMANDS[level(d)]} title={_escape_property('torchvet ' + d.code)},"
            f"file={_escape_property(d.path)},line={line},col={column},"
            f"endLine={end_line},endColumn={end_column}"
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


@dataclass(frozen=True)
class LintOutput:
    """How ``torchvet lint`` shows a run."""

    fmt: str = "text"  # text, json, sarif or github
    statistics: bool = False  # counts per rule instead of each finding
    quiet: bool = False  # no notes, no summary
    verbose: bool = False  # also the code blocks that do not parse


def write_run(run: LintRun, options: Options, output: LintOutput, out: TextIO, err: TextIO) -> None:
    """What ``torchvet lint`` prints: the fixed stdin text, the diff, the statistics or
    the findings on ``out``; notes and the summary on ``err``."""
    fixed_stdin = run.text if options.fix or options.add_noqa else None
    if fixed_stdin is not None:
        out.write(fixed_stdin)
    if options.diff:
        out.write("".join(run.diffs))
    elif output.statistics:
        out.write(statistics(run.diagnostics))
    elif fixed_stdin is None and not options.add_noqa:
        out.write(render(output.fmt, run.diagnostics, show_fixes=True))
    if output.quiet:
        return
    for note in run.notes:
        if output.verbose or not note.verbose:
            err.write(note_text(note) + "\n")
    if run.files == 0 and run.text is None:
        err.write(_nothing_linted(run.skipped) + "\n")
    err.write(_summary(run, options, output.verbose) + "\n")


def _nothing_linted(skipped: WalkStats) -> str:
    reasons = [
        (skipped.gitignored, ".gitignore (untracked)", "--no-respect-gitignore"),
        (skipped.excluded, "`exclude`", "name the files, or change `exclude`"),
        (skipped.environments, "environment/VCS folders", "--include-environments"),
    ]
    parts = [f"{count} by {why} ({how})" for count, why, how in reasons if count]
    if not parts:
        return "torchvet lint: nothing to lint: no .py, .ipynb, .md or .rst files under the paths"
    example = f"; e.g. {skipped.examples[0]}" if skipped.examples else ""
    return "torchvet lint: nothing was linted: skipped " + ", ".join(parts) + example


def _summary(run: LintRun, options: Options, verbose: bool) -> str:
    count = len(run.diagnostics)
    parts = [f"{run.files} file{'s' if run.files != 1 else ''} checked"]
    if options.fix and not options.diff:
        parts.append(f"{run.fixed} fixed")
    if options.add_noqa:
        parts.append(f"{run.noqa_added} `# noqa` added")
    if count:
        safe = sum(1 for d in run.diagnostics if d.fix is not None and d.fix.safe)
        unsafe = sum(1 for d in run.diagnostics if d.fix is not None and not d.fix.safe)
        found = f"{count} finding{'s' if count != 1 else ''}"
        hints = []
        if safe and not options.fix:
            hints.append(f"{safe} fixable with --fix")
        if unsafe and not options.unsafe_fixes:
            hints.append(f"{unsafe} more with --unsafe-fixes")
        parts.append(found + (f" ({'; '.join(hints)})" if hints else ""))
    else:
        parts.append("no findings")
    unparsed = sum(1 for note in run.notes if note.verbose)
    if unparsed and not verbose:
        parts.append(f"{unparsed} code block{'s' if unparsed != 1 else ''} not parsed (--verbose)")
    return "torchvet lint: " + ", ".join(parts)
