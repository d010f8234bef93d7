"""`torchvet convert`: argument parsing and output only; the work is in torchvet.converter."""

from __future__ import annotations

import argparse
import os
import sys

DESCRIPTION = """\
Rewrite a checkpoint's tensors as a safetensors file without running the checkpoint
and without torch: torch zip and legacy files, TorchScript archives, torch.export
.pt2 archives, plain pickles of tensors, state_dicts, training checkpoints, whole
pickled nn.Modules, joblib files, .npy/.npz arrays, and torch.distributed.checkpoint
folders (IN is then the folder).

Naming: if the file is a dict with a weights entry (state_dict, model_state_dict,
model, module, net, network, weights) the tensors are named relative to it, as
model.load_state_dict expects; other tensors (optimizer state, EMA, callbacks) are
left out unless --include asks for them. Plain-data values go to __metadata__.

Files the scanner rates dangerous are refused unless --force.
"""
EXIT_CODES = "exit codes: 0 = written, 1 = refused or failed, 2 = usage error"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES
    parser.add_argument("input", metavar="IN", help="checkpoint file (or DCP folder) to convert")
    parser.add_argument("output", metavar="OUT", help="safetensors file to write")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace OUT if it exists; convert even a file rated dangerous",
    )
    parser.add_argument(
        "--include",
        action="append",
        choices=("optimizer", "all"),
        default=[],
        help="also write optimizer/scheduler tensors, or all tensors in the file",
    )
    parser.add_argument(
        "--no-unwrap",
        action="store_true",
        help="name tensors by their full path from the file's root (keep 'state_dict.' etc.)",
    )
    parser.add_argument(
        "--strip-prefix",
        action="append",
        default=[],
        metavar="PREFIX",
        help="remove PREFIX from tensor names that start with it, e.g. 'module.' (repeatable; "
        "the first match is removed)",
    )
    parser.add_argument("--prefix", default="", help="prepend PREFIX to every tensor name")
    parser.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="write what safetensors can hold and list the rest (sparse, quantized, "
        "complex128, nested, meta) as skipped",
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="MODULE.NAME",
        help="treat this global as allowlisted when scanning (repeatable)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def run(args: argparse.Namespace) -> int:
    import os

    from torchvet.converter import ConvertError, convert
    from torchvet.remote.urls import is_url

    if not is_url(args.input) and not os.path.exists(args.input):
        print(f"torchvet convert: no such file or directory: {args.input}", file=sys.stderr)
        return 2  # a usage error, like scan's and check's
    if not args.output.endswith(".safetensors"):
        print(
            f"torchvet convert: warning: {args.output} will be a safetensors file whatever "
            "its name; name it *.safetensors so that loaders treat it as one",
            file=sys.stderr,
        )
    progress, finish = _progress(args.quiet)
    try:
        report = convert(
            args.input,
            args.output,
            force=args.force,
            include=tuple(args.include),
            unwrap=not args.no_unwrap,
            strip_prefix=tuple(args.strip_prefix),
            prefix=args.prefix,
            skip_unsupported=args.skip_unsupported,
            allow=tuple(args.allow),
            progress=progress,
        )
    except ConvertError as exc:
        finish()
        print(f"torchvet convert: {exc}", file=sys.stderr)
        return 1
    finish()
    if not args.quiet:
        _print_report(report)
    return 0


def _print_report(report) -> None:  # type: ignore[no-untyped-def]
    out = sys.stdout
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


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    """A rich progress bar on a terminal; nothing otherwise."""
    if quiet or not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        return None, lambda: None
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        "converting",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    state: dict[str, int] = {}

    def update(done: int, total: int) -> None:
        if "task" not in state:
            bar.start()
            state["task"] = bar.add_task("convert", total=total)
        bar.update(state["task"], completed=done)  # type: ignore[arg-type]

    def finish() -> None:
        if "task" in state:
            bar.stop()

    return update, finish
