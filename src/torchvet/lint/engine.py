"""Lint (and fix) one file: read, prefilter, extract, check, suppress, fix, write."""

from __future__ import annotations

import bisect
import difflib
import json
import os
from dataclasses import dataclass, field

from torchvet.lint.checker import Context
from torchvet.lint.fix import apply_to_units, atomic_write
from torchvet.lint.model import Diagnostic, Note
from torchvet.lint.noqa import has_own_directive, is_suppressed, noqa_fixes, unused_codes
from torchvet.lint.prefilter import might_have_findings, worth_decoding
from torchvet.lint.rules import RULES_BY_CODE, Rule
from torchvet.lint.sources import extract, source_kind
from torchvet.lint.text import line_starts, split_lines

MAX_FIX_PASSES = 10


@dataclass
class Options:
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    add_noqa: bool = False


@dataclass
class FileOutcome:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    fixed: int = 0
    noqa_added: int = 0
    diff: str = ""
    new_text: str | None = None  # set when fixes changed the text


@dataclass
class _Lint:
    diagnostics: list[Diagnostic]
    notes: list[Note]
    failures: int
    units: dict[int | None, str]


def _units(kind: str, text: str) -> dict[int | None, str]:
    if kind != "notebook":
        return {None: text}
    from torchvet.lint.sources.notebook import cell_source

    cells = json.loads(text)["cells"]
    return {i: cell_source(c) for i, c in enumerate(cells) if isinstance(c, dict)}


def lint_text(path: str, text: str, rules: list[type[Rule]], kind: str | None = None) -> _Lint:
    kind = kind or source_kind(path)
    snippets, notes = extract(path, text, kind)
    if not snippets:
        return _Lint([], notes, 0, {})
    ctx = Context(path, [rule() for rule in rules])
    more_notes, failures = ctx.run(snippets)
    units = _units(kind, text)
    unit_lines: dict[int | None, list[str]] = {}
    kept = []
    for diagnostic in ctx.diagnostics:
        unit = None if diagnostic.cell is None else diagnostic.cell - 1
        if unit not in unit_lines:
            unit_lines[unit] = split_lines(units.get(unit, ""))
        lines = unit_lines[unit]
        if not is_suppressed(diagnostic.code, lines, diagnostic.line, diagnostic.end_line):
            kept.append(diagnostic)
    if "TV900" in (rule.code for rule in rules) and kind in ("python", "notebook"):
        kept += _unused_noqa(path, units, ctx.diagnostics, [rule.code for rule in rules])
    kept.sort(key=Diagnostic.sort_key)
    if kind == "notebook":
        _locate_in_file(text, kept)
    return _Lint(kept, notes + more_notes, failures, units)


def _locate_in_file(text: str, diagnostics: list[Diagnostic]) -> None:
    """Where each notebook finding sits in the raw JSON (what GitHub annotates)."""
    from torchvet.lint.jsonspan import raw_offset, source_spans

    try:
        spans = source_spans(text)
    except (ValueError, IndexError):
        return
    starts = line_starts(text)
    for d in diagnostics:
        span = spans.get((d.cell or 0) - 1)
        if span is None:
            continue
        start = raw_offset(text, span, d.line, d.column - 1)
        end = raw_offset(text, span, d.end_line, d.end_column - 1)
        if start is None or end is None:
            continue
        line, end_line = bisect.bisect_right(starts, start), bisect.bisect_right(starts, end)
        column, end_column = start - starts[line - 1] + 1, end - starts[end_line - 1] + 1
        d.file_span = (line, column, end_line, end_column)


def _unused_noqa(path, units, findings, enabled) -> list[Diagnostic]:
    out = []
    for unit, source in units.items():
        if has_own_directive(source):
            lines = split_lines(source)
            out += unused_codes(path, unit, source, lines, findings, enabled, RULES_BY_CODE)
    return out


def compile_failures(path: str, text: str, kind: str) -> int:
    """Snippets that do not compile: stricter than parsing (repeated keywords, ...)."""
    from torchvet.lint.checker import parse

    failures = 0
    for snippet in extract(path, text, kind)[0]:
        try:
            compile(parse(snippet), path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            failures += 1
    return failures


def _write_units(kind: str, text: str, changed: dict[int | None, str]) -> str:
    if kind != "notebook":
        return changed[None]
    from torchvet.lint.jsonspan import replace_sources

    return replace_sources(text, {unit: src for unit, src in changed.items() if unit is not None})


def _notebook_intact(before: str, after: str, changed: set[int | None]) -> bool:
    """Only the sources of the changed cells may differ, and the JSON must stay valid."""
    try:
        old, new = json.loads(before), json.loads(after)
    except ValueError:
        return False
    if len(old["cells"]) != len(new["cells"]):
        return False
    for index, (a, b) in enumerate(zip(old["cells"], new["cells"], strict=True)):
        if index not in changed and a != b:
            return False
        if {k: v for k, v in a.items() if k != "source"} != {
            k: v for k, v in b.items() if k != "source"
        }:
            return False
    return {k: v for k, v in old.items() if k != "cells"} == {
        k: v for k, v in new.items() if k != "cells"
    }


def lint_file_text(
    path: str, text: str, rules: list[type[Rule]], options: Options, kind: str | None = None
) -> FileOutcome:
    kind = kind or source_kind(path)
    outcome = FileOutcome(path)
    if not might_have_findings(text) and not has_own_directive(text):
        return outcome
    result = lint_text(path, text, rules, kind)
    current = text
    if options.fix or options.diff:
        current, result = _fix(path, text, rules, kind, options, result, outcome)
    if options.add_noqa:
        current, result = _add_noqa(path, text, current, rules, kind, result, outcome)
    outcome.diagnostics, outcome.notes = result.diagnostics, result.notes
    if current != text:
        outcome.new_text = current
        if options.diff:
            outcome.diff = "".join(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    current.splitlines(keepends=True),
                    fromfile=f"a/{path}",
                    tofile=f"b/{path}",
                )
            )
    return outcome


def _fix(path, text, rules, kind, options: Options, result: _Lint, outcome: FileOutcome):
    """Apply fixes pass after pass while they keep the code compiling."""
    current = text
    baseline: int | None = None  # compiled only when there is something to fix
    for _ in range(MAX_FIX_PASSES):
        fixes = [
            d.fix
            for d in result.diagnostics
            if d.fix is not None and (d.fix.safe or options.unsafe_fixes)
        ]
        if not fixes:
            break
        changed, applied = apply_to_units(result.units, fixes)
        after = _rewrite(path, current, changed, rules, kind, result.notes)
        if after is None:
            break
        candidate, relinted = after
        if baseline is None:
            baseline = compile_failures(path, text, kind)
        if (
            relinted.failures > result.failures
            or compile_failures(path, candidate, kind) > baseline
        ):
            result.notes.append(Note(path, 1, "fix would break the code; not applied"))
            break
        outcome.fixed += applied
        current, result = candidate, relinted
    return current, result


def _rewrite(path, current, changed, rules, kind, notes) -> tuple[str, _Lint] | None:
    """The text with ``changed`` units written in, linted again; ``None`` if impossible."""
    try:
        candidate = _write_units(kind, current, changed)
    except (ValueError, KeyError, IndexError):
        notes.append(Note(path, 1, "cannot rewrite this notebook's JSON; not fixed"))
        return None
    if candidate == current:
        return None
    if kind == "notebook" and not _notebook_intact(current, candidate, set(changed)):
        notes.append(Note(path, 1, "edit would alter the notebook; not applied"))
        return None
    return candidate, lint_text(path, candidate, rules, kind)


def _add_noqa(path, text, current, rules, kind, result: _Lint, outcome: FileOutcome):
    """Write ``# noqa: CODE`` on the lines of the findings left (not for TV900 itself)."""
    findings = [d for d in result.diagnostics if d.code != "TV900"]
    if not findings:
        return current, result
    changed, _ = apply_to_units(result.units, noqa_fixes(findings, result.units))
    after = _rewrite(path, current, changed, rules, kind, result.notes)
    if after is None:
        return current, result
    candidate, relinted = after
    if compile_failures(path, candidate, kind) > compile_failures(path, current, kind):
        result.notes.append(Note(path, 1, "a `# noqa` comment would break the code; not added"))
        return current, result
    outcome.noqa_added = len(findings) - sum(1 for d in relinted.diagnostics if d.code != "TV900")
    return candidate, relinted


def lint_path(path: str, rules: list[type[Rule]], options: Options) -> FileOutcome:
    """Read, lint and (with ``options.fix``) rewrite one file; never raises on bad input."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return FileOutcome(path, notes=[Note(path, 1, f"cannot read: {exc.strerror or exc}")])
    if not worth_decoding(data):
        return FileOutcome(path)  # nothing any rule reads: not even worth decoding
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return FileOutcome(path, notes=[Note(path, 1, "not UTF-8; skipped")])
    try:
        outcome = lint_file_text(path, text, rules, options)
    except Exception as exc:  # one odd file must not end the run; TORCHVET_DEBUG surfaces it
        if os.environ.get("TORCHVET_DEBUG"):
            raise
        return FileOutcome(path, notes=[Note(path, 1, f"internal error ({exc!r}); skipped")])
    if (options.fix or options.add_noqa) and not options.diff and outcome.new_text is not None:
        try:
            atomic_write(path, outcome.new_text.encode("utf-8"))
        except OSError as exc:
            outcome.notes.append(Note(path, 1, f"cannot write fixes: {exc.strerror or exc}"))
    outcome.new_text = None  # not needed by the caller; keeps results small to pass around
    return outcome
