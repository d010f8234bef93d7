"""Human-readable scan report (colour on a terminal, plain text otherwise)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape

from torchvet.policy.snippet import allowlist_code
from torchvet.remote.urls import is_url
from torchvet.results import Category, ScanResult, Verdict

STYLE = {
    Verdict.SAFE: "bold green",
    Verdict.NEEDS_ALLOWLIST: "bold yellow",
    Verdict.UNSUPPORTED: "bold cyan",
    Verdict.NOT_A_MODEL: "bold blue",
    Verdict.UNKNOWN: "bold magenta",
    Verdict.MALFORMED: "bold red",
    Verdict.DANGEROUS: "bold white on red",
}
# What each verdict means for the user. Converting is offered separately, and only for
# files convert accepts (convert_advice), never by the verdict alone.
ADVICE = {
    Verdict.SAFE: "loads with torch.load(..., weights_only=True)",
    Verdict.NEEDS_ALLOWLIST: "refused only because of inert names: allowlist them (below)",
    Verdict.UNSUPPORTED: "harmless content in a form torch.load refuses",
    Verdict.UNKNOWN: "names code torchvet cannot vouch for: review that code",
    Verdict.NOT_A_MODEL: "not a model file (see why below)",
    Verdict.MALFORMED: "not a readable model file: do not load it",
    Verdict.DANGEROUS: "runs code when loaded: DO NOT LOAD IT",
}
# Verdicts for which extracting the tensors is the way forward (when convert accepts it).
CONVERTIBLE_VERDICTS = frozenset({Verdict.NEEDS_ALLOWLIST, Verdict.UNSUPPORTED, Verdict.UNKNOWN})
MAX_FINDINGS = 12
BRIEF_FINDINGS = 4


def _location(entry: str, offset: int | None) -> str:
    if offset is None:
        return entry
    return f"{entry}@{offset}" if entry else f"@{offset}"


def convert_advice(result: ScanResult) -> str | None:
    """The ``torchvet convert`` command for this file, when converting it is the way
    forward and convert accepts it (converter/advice.py asks convert's planner)."""
    if result.verdict not in CONVERTIBLE_VERDICTS:
        return None
    from torchvet.converter.advice import convert_command

    return convert_command(result.path)


def advice_json(result: ScanResult) -> dict[str, str | None]:
    """The advice fields of a file in the JSON report."""
    return {"advice": ADVICE[result.verdict], "convert": convert_advice(result)}


class TextReporter:
    """``brief`` (used by ``torchvet check``): at most BRIEF_FINDINGS findings per file and,
    instead of the allowlist code and the convert command, a pointer to ``torchvet scan``."""

    def __init__(
        self,
        stream: TextIO,
        *,
        notes: bool = False,
        quiet: bool = False,
        brief: bool = False,
        skipped: list[str] | None = None,
    ) -> None:
        self.skipped = skipped if skipped is not None else []
        self.console = Console(file=stream, highlight=False, soft_wrap=True)
        self.notes = notes
        self.quiet = quiet
        self.brief = brief
        self.max_findings = BRIEF_FINDINGS if brief else MAX_FINDINGS
        self.counts: Counter[Verdict] = Counter()

    def file(self, result: ScanResult) -> None:
        self.counts[result.verdict] += 1
        if self.quiet and result.verdict is Verdict.SAFE:
            return
        c = self.console
        v = result.verdict
        command = None if self.brief else convert_advice(result)
        advice = ADVICE[v].replace(" (below)", "") if self.brief else ADVICE[v]
        if command is not None:
            advice += ", or convert it (below)"
        c.print(
            f"[bold]{escape(result.path)}[/]  [dim]{escape(result.format)}[/]  "
            f"[{STYLE[v]}]{v.value.upper()}[/]  [dim]{advice}[/]"
        )
        if result.torch_error and v is not Verdict.SAFE:
            said = _first_line(result.torch_error)
            if self.brief:
                said = _first_sentence(said)
            c.print(f"  [dim]torch.load says:[/] {escape(said)}")
        shown = [f for f in result.findings if self.notes or f.category is not Category.NOTE]
        for f in shown[: self.max_findings]:
            where = _location(f.entry, f.offset)
            style = "bold yellow" if f.category is Category.WARNING else STYLE[f.verdict]
            c.print(f"  [{style}]{f.category.value}[/] [dim]{escape(where)}[/] {escape(f.message)}")
        if self.brief:
            more = len(shown) - self.max_findings
            extra = f"{more} more finding{'s' if more > 1 else ''}; " if more > 0 else ""
            what = "allowlist code" if result.allowlist else "details"
            c.print(f"  [dim]{extra}{what}: torchvet scan {escape(result.path)}[/]")
            return
        if len(shown) > self.max_findings:
            c.print(
                f"  [dim]... {len(shown) - self.max_findings} more (use --format json for all)[/]"
            )
        if v is Verdict.NEEDS_ALLOWLIST and result.allowlist:
            c.print("  [dim]If you trust the file, this loads it with weights_only=True:[/]")
            for line in load_code(result).splitlines():
                c.print(f"    {escape(line)}")
        if command is not None:
            c.print(f"  [dim]Extract the tensors without running anything:[/] {escape(command)}")

    def summary(self) -> None:
        total = sum(self.counts.values())
        parts = [f"{self.counts[v]} {v.value}" for v in Verdict if self.counts[v]]
        noun = "file" if total == 1 else "files"
        line = f"[bold]{total} {noun} scanned[/]: {', '.join(parts) or 'none'}"
        if self.skipped:
            line += f" [dim]({len(self.skipped)} other files skipped: not model files)[/]"
        self.console.print(line)


def load_code(result: ScanResult) -> str:
    """The allowlist code for ``result``'s file; a URL is opened with fsspec (which
    torchvet[remote] brings), since torch.load reads file objects but not URLs."""
    code = allowlist_code(result.allowlist, result.path)
    if not is_url(result.path):
        return code
    *lines, _load = code.splitlines()
    return "\n".join(
        [
            "import fsspec",
            *lines,
            f"    with fsspec.open({result.path!r}, 'rb') as f:",
            "        obj = torch.load(f, weights_only=True)",
        ]
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _first_sentence(text: str) -> str:
    end = text.find(". ")
    return text[: end + 1] if end > 0 else text


def write_text(results: Iterable[ScanResult], stream: TextIO, **options: Any) -> Counter[Verdict]:
    reporter = TextReporter(stream, **options)
    for r in results:
        reporter.file(r)
    reporter.summary()
    return reporter.counts
