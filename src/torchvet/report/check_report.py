"""``torchvet check`` output: text (findings, then one summary), JSON and SARIF."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import PurePath
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from torchvet import __version__
from torchvet.check.runner import CheckRun
from torchvet.lint.rules import RULES
from torchvet.report import lint_report
from torchvet.report.sarif import SarifResult, SarifRule, torchvet_log
from torchvet.report.scan_sarif import scan_results, scan_rules
from torchvet.report.scan_text import STYLE, TextReporter
from torchvet.results import Verdict

NOT_SCANNED = SarifRule(
    id="TVC-not-scanned",
    name="NotScanned",
    short_description="a model file torchvet check did not scan (over --max-size, or its "
    "worker process failed)",
    level="warning",
)
_TABLE: dict[str, Any] = {"box": box.SIMPLE_HEAD, "show_edge": False, "pad_edge": False}
# Output that is not a terminal gets a fixed width, so that it does not depend on $COLUMNS.
PLAIN_WIDTH = 100


def found_nothing(run: CheckRun) -> bool:
    """Exit 0 only for a complete run with no lint finding and only safe model files."""
    return (
        not run.interrupted
        and not run.diagnostics
        and all(m.result is not None and m.result.safe for m in run.models)
    )


def verdict_counts(run: CheckRun) -> Counter[Verdict]:
    return Counter(r.verdict for r in run.scanned)


def rule_counts(run: CheckRun) -> Counter[str]:
    return Counter(d.code for d in run.diagnostics)


# ------------------------------------------------------------------------ text
def console_for(stream: TextIO) -> Console:
    width = None if Console(file=stream).is_terminal else PLAIN_WIDTH
    return Console(file=stream, highlight=False, soft_wrap=True, width=width)


def write_text(run: CheckRun, stream: TextIO) -> None:
    console = console_for(stream)
    for line in lint_report.text(run.diagnostics, show_fixes=True).splitlines():
        console.print(escape(line))
    files = TextReporter(stream, quiet=True, brief=True)
    for model in run.models:
        if model.result is not None:
            files.file(model.result)
        else:
            console.print(
                f"[bold]{escape(model.path)}[/]  [bold red]NOT SCANNED[/]  "
                f"[dim]{escape(model.skipped or '')}[/]"
            )
    if run.diagnostics or not all(m.result and m.result.safe for m in run.models):
        console.print()
    _summary_tables(run, console)
    console.print(summary_line(run))


def _summary_tables(run: CheckRun, console: Console) -> None:
    verdicts = verdict_counts(run)
    if run.models:
        table = Table("verdict", "model files", **_TABLE)
        table.columns[1].justify = "right"
        for verdict in Verdict:
            if verdicts[verdict]:
                table.add_row(f"[{STYLE[verdict]}]{verdict.value}[/]", str(verdicts[verdict]))
        if run.skipped:
            table.add_row("[bold red]not scanned[/]", str(len(run.skipped)))
        console.print(table)
        console.print()
    rules = rule_counts(run)
    if rules:
        names = {rule.code: rule.name for rule in RULES}
        fixable = Counter(d.code for d in run.diagnostics if d.fix is not None and d.fix.safe)
        table = Table("rule", "name", "findings", **_TABLE)
        table.columns[2].justify = "right"
        for code in sorted(rules):
            marker = escape(" [*]") if fixable[code] else ""
            table.add_row(f"[bold]{code}[/]", names.get(code, "") + marker, str(rules[code]))
        console.print(table)
        console.print()


def summary_line(run: CheckRun) -> str:
    linted = f"{run.lint_files} file{'s' if run.lint_files != 1 else ''} linted"
    models = len(run.models)
    scanned = f"{models} model file{'s' if models != 1 else ''} found"
    head = "torchvet check"
    if run.interrupted:
        head += f" [bold red]interrupted[/] after {run.done} of {run.total} files (partial results)"
    if found_nothing(run):
        return f"{head}: {linted}, {scanned}: [bold green]nothing found[/]"
    parts = []
    if run.diagnostics:
        count = len(run.diagnostics)
        fixable = sum(1 for d in run.diagnostics if d.fix is not None and d.fix.safe)
        hint = f" ({fixable} {escape('[*]')} fixable with torchvet lint --fix)" if fixable else ""
        parts.append(f"{count} lint finding{'s' if count != 1 else ''}{hint}")
    unsafe = sum(1 for m in run.models if m.result is None or not m.result.safe)
    if unsafe:
        parts.append(f"{unsafe} of {models} model files not safe")
    found = ", ".join(parts) or "nothing found so far"
    return f"{head}: {linted}, {scanned}: {found}"


def write_report(
    run: CheckRun, out: TextIO, err: TextIO, fmt: str, torch_version: str, quiet: bool = False
) -> None:
    """The report in ``fmt`` (text, json or sarif) on ``out``; with text, lint notes on
    ``err`` unless ``quiet``."""
    if fmt == "text":
        if not quiet:
            write_notes(run, err)
        write_text(run, out)
        return
    doc = as_json(run, torch_version) if fmt == "json" else as_sarif(run)
    json.dump(doc, out, indent=2)
    out.write("\n")


def write_notes(run: CheckRun, stream: TextIO) -> None:
    for note in run.notes:
        if not note.verbose:  # code blocks that do not parse: `torchvet lint -v` lists them
            stream.write(lint_report.note_text(note) + "\n")


# ------------------------------------------------------------------------ json
def as_json(run: CheckRun, torch_version: str) -> dict[str, Any]:
    return {
        "torchvet_version": __version__,
        "torch_version": torch_version,
        "interrupted": run.interrupted,
        "summary": {
            "files_linted": run.lint_files,
            "lint_findings": len(run.diagnostics),
            "findings_by_rule": dict(sorted(rule_counts(run).items())),
            "model_files": len(run.models),
            "verdicts": {v.value: n for v, n in sorted(verdict_counts(run).items(), key=_rank)},
            "not_scanned": len(run.skipped),
            "files_done": run.done,
            "files_total": run.total,
        },
        "lint": lint_report.json_records(run.diagnostics),
        "models": [
            {**m.result.to_json(), "detected_by": m.reason}
            for m in run.models
            if m.result is not None
        ],
        "not_scanned": [
            {"path": m.path, "reason": m.skipped, "detected_by": m.reason} for m in run.skipped
        ],
    }


def _rank(item: tuple[Verdict, int]) -> int:
    return item[0].rank


# ------------------------------------------------------------------------ sarif
def as_sarif(run: CheckRun) -> dict[str, Any]:
    """One SARIF run: lint rules and results, then scan verdict rules and results."""
    rules = [*lint_report.sarif_rules(), *scan_rules(), NOT_SCANNED]
    results = [
        *lint_report.sarif_results(run.diagnostics),
        *scan_results(run.scanned),
        *(
            SarifResult(
                rule_id=NOT_SCANNED.id,
                message=f"model file not scanned: {model.skipped}",
                uri=_posix(model.path),
                level="warning",
            )
            for model in run.skipped
        ),
    ]
    log = torchvet_log(rules, results)
    log["runs"][0]["invocations"] = [{"executionSuccessful": not run.interrupted}]
    return log


def _posix(path: str) -> str:
    return PurePath(path).as_posix()
