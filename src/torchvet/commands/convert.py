"""`torchvet convert`: argument parsing and output only; the work is in torchvet.converter."""

from __future__ import annotations

import argparse
import sys

from torchvet.commands.options import add_allow, add_flag, describe, exit_codes

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
EXIT_CODES = exit_codes("written", "refused or failed")


def configure(parser: argparse.ArgumentParser) -> None:
    describe(parser, DESCRIPTION, EXIT_CODES)
    parser.add_argument("input", metavar="IN", help="checkpoint file (or DCP folder) to convert")
    parser.add_argument("output", metavar="OUT", help="safetensors file to write")
    add_flag(
        parser, "--force", help="replace OUT if it exists; convert even a file rated dangerous"
    )
    parser.add_argument(
        "--include",
        action="append",
        choices=("optimizer", "all"),
        default=[],
        help="also write optimizer/scheduler tensors, or all tensors in the file",
    )
    add_flag(
        parser,
        "--no-unwrap",
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
    add_flag(
        parser,
        "--skip-unsupported",
        help="write what safetensors can hold and list the rest (sparse, quantized, "
        "complex128, nested, meta) as skipped",
    )
    add_allow(parser, "treat this global as allowlisted when scanning (repeatable)")
    add_flag(parser, "-q", "--quiet", help="print errors only")


def run(args: argparse.Namespace) -> int:
    import os

    from torchvet.converter import ConvertError, convert
    from torchvet.remote.urls import is_url
    from torchvet.report.convert_report import write_convert_report
    from torchvet.report.progress import transfer_bar

    if not is_url(args.input) and not os.path.exists(args.input):
        print(f"torchvet convert: no such file or directory: {args.input}", file=sys.stderr)
        return 2  # a usage error, like scan's and check's
    if not args.output.endswith(".safetensors"):
        print(
            f"torchvet convert: warning: {args.output} will be a safetensors file whatever "
            "its name; name it *.safetensors so that loaders treat it as one",
            file=sys.stderr,
        )
    progress, finish = transfer_bar("converting", enabled=not args.quiet)
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
        write_convert_report(report, sys.stdout)
    return 0
