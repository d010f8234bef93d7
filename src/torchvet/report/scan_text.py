"""Human-readable scan report (colour on a terminal, plain text otherwise)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from torchvet.policy.snippet import allowlist_code
from torchvet.results import Category, ScanResult, Verdict

STYLE = {
    Verdict.SAFE: "bold green",
    Verdict.NEEDS_ALLOWLIST: "bold yellow",
    Verdict.UNSUPPORTED: "bold cyan",
    Verdict.UNKNOWN: "bold magenta",
    Verdict.MALFORMED: "bold red",
    Verdict.DANGEROUS: "bold white on red",
}
ADVICE = {
    Verdict.SAFE: "loads with torch.load(..., weights_only=True)",
    Verdict.NEEDS_ALLOWLIST: "refused only because of inert names: allowlist them (below) or convert",
    Verdict.UNSUPPORTED: "harmless content in a form torch.load refuses: use torchvet convert",
    Verdict.UNKNOWN: "names code torchvet cannot vouch for: convert it, or review that code",
    Verdict.MALFORMED: "not a readable model file: do not load it",
    Verdict.DANGEROUS: "runs code when loaded: DO NOT LOAD IT",
}
MAX_FINDINGS = 12


def _location(entry: str, offset: int | None) -> str:
    if offset is None:
        return entry
    return f"{entry}@{offset}" if entry else f"@{offset}"


class TextReporter:
    def __init__(self, stream: TextIO, *, notes: bool = False, quiet: bool = False) -> None:
        self.console = Console(file=stream, highlight=False, soft_wrap=True)
        self.notes = notes
        self.quiet = quiet
        self.counts: Counter[Verdict] = Counter()

    def file(self, result: ScanResult) -> None:
        self.counts[result.verdict] += 1
        if self.quiet and result.verdict is Verdict.SAFE:
            return
        c = self.console
        v = result.verdict
        c.print(
            f"[bold]{escape(result.path)}[/]  [dim]{escape(result.format)}[/]  "
            f"[{STYLE[v]}]{v.value.upper()}[/]  [dim]{ADVICE[v]}[/]"
        )
        if result.torch_error and v is not Verdict.SAFE:
            c.print(f"  [dim]torch.load says:[/] {escape(_first_line(result.torch_error))}")
        shown = [f for f in result.findings if self.notes or f.category is not Category.NOTE]
        for f in shown[:MAX_FINDINGS]:
            where = _location(f.entry, f.offset)
            style = "bold yellow" if f.category is Category.WARNING else STYLE[f.verdict]
            c.print(f"  [{style}]{f.category.value}[/] [dim]{escape(where)}[/] {escape(f.message)}")
        if len(shown) > MAX_FINDINGS:
            c.print(f"  [dim]... {len(shown) - MAX_FINDINGS} more (use --format json for all)[/]")
        if v is Verdict.NEEDS_ALLOWLIST and result.allowlist:
            c.print("  [dim]If you trust the file, this loads it with weights_only=True:[/]")
            for line in allowlist_code(result.allowlist, result.path).splitlines():
                c.print(f"    {escape(line)}")
        if v in (Verdict.NEEDS_ALLOWLIST, Verdict.UNSUPPORTED, Verdict.UNKNOWN):
            c.print(
                f"  [dim]Or extract the tensors without running anything:[/] "
                f"torchvet convert {escape(result.path)} OUT.safetensors"
            )

    def summary(self) -> None:
        total = sum(self.counts.values())
        parts = [f"{self.counts[v]} {v.value}" for v in Verdict if self.counts[v]]
        noun = "file" if total == 1 else "files"
        self.console.print(f"[bold]{total} {noun} scanned[/]: {', '.join(parts) or 'none'}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def write_text(results: Iterable[ScanResult], stream: TextIO, **options: bool) -> Counter[Verdict]:
    reporter = TextReporter(stream, **options)
    for r in results:
        reporter.file(r)
    reporter.summary()
    return reporter.counts
