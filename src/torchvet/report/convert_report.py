"""``torchvet convert``'s report: what was written, and what was not."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from torchvet.converter import ConvertReport


def write_convert_report(report: ConvertReport, out: TextIO) -> None:
    """What was written, and what was renamed, left out, skipped or dropped."""
    size = report.bytes_written
    print(
        f"wrote {report.output}: {len(report.tensors)} tensors, {_human(size)} "
        f"(from {report.format}, scan verdict: {report.verdict})",
        file=out,
    )
    if report.forced and str(report.verdict) == "dangerous":
        print("  warning: converted with --force although the file is dangerous", file=out)
    if report.wrapper:
        print(f"  names are relative to the {report.wrapper!r} entry", file=out)
    for alias, kept in sorted(report.aliases.items()):
        print(f"  alias: {alias} -> {kept} (same tensor, written once)", file=out)
    extra = sorted(k for k in report.metadata if k != "format")
    if extra:
        shown = ", ".join(extra[:8]) + (", ..." if len(extra) > 8 else "")
        print(f"  metadata: {shown}", file=out)
    for entry, count in report.excluded:
        print(f"  left out: {entry} ({count} tensors; see --include)", file=out)
    for name, why in report.skipped:
        print(f"  skipped: {name}: {why}", file=out)
    for path, why in report.dropped[:20]:
        print(f"  dropped: {path}: {why}", file=out)
    if len(report.dropped) > 20:
        print(f"  ... and {len(report.dropped) - 20} more dropped values", file=out)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
