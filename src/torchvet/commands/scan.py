"""`torchvet scan`: argument parsing and output only; the work is in torchvet.scan."""

from __future__ import annotations

import argparse
import sys

from torchvet.commands.options import (
    CannotWrite,
    add_allow,
    add_flag,
    add_format,
    add_output,
    describe,
    exit_codes,
    open_output,
)

DESCRIPTION = """\
Predict, without running or importing anything the file names, what
torch.load(weights_only=True) does with each model file, and why.

Formats are recognised by content, not by extension: torch zip checkpoints,
legacy torch files, TorchScript archives, plain pickles, joblib, .npy/.npz,
safetensors, tar. Every reading a real loader could take of a file is checked
(pickle.load from byte 0, numpy's and pandas' zipfile, ...): the worst wins.
Directories are scanned recursively for model files (by extension or content);
other files there (config.json, README.md) are skipped. Files named on the
command line are always scanned.

URLs are read with range requests, so a checkpoint costs the few hundred KB its
directory and pickles take, not its size (needs torchvet[remote]):
  https://host/model.bin          any server that supports Range
  hf://ORG/NAME[@REV][/PATH]      a Hugging Face repo, folder or file (also
                                  hf://datasets/... and hf://spaces/...)
  s3://bucket/prefix/  gs://...   object stores, and any other fsspec URL
Folders, prefixes and repos are listed; their model files are scanned.

verdicts (worst finding wins):
  safe             torch.load(f, weights_only=True) loads it
  needs-allowlist  refused only because of inert names; the exact allowlist is printed
  unsupported      harmless content in a form torch refuses (protocol >= 3, tar, plain pickle)
  not-a-model      not a model file at all (text, an image, a Git LFS pointer)
  malformed        damaged: no loader can run anything from it
  unknown          names classes or code torchvet cannot vouch for (a pickled nn.Module,
                   TorchScript), or a bound stopped torchvet before the end
  dangerous        names a code-execution gadget, or a call chain that reaches one
"""
EXIT_CODES = exit_codes("every file is safe", "any other verdict")


def configure(parser: argparse.ArgumentParser) -> None:
    describe(parser, DESCRIPTION, EXIT_CODES)
    parser.add_argument(
        "paths", nargs="*", metavar="PATH|URL", help="model files, folders, URLs, prefixes, repos"
    )
    parser.add_argument(
        "--from-file",
        metavar="FILE",
        help="also scan the paths and URLs listed in FILE, one per line ('-': standard input)",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="scan on a Dask cluster: a scheduler address (tcp://host:8786), or local[:N] "
        "for N worker processes on this machine (needs torchvet[dask])",
    )
    add_flag(
        parser,
        "--allow-download",
        help="download whole files from servers that ignore range requests (default: "
        "refuse to scan them)",
    )
    parser.add_argument(
        "--hf-cache",
        nargs="?",
        const="",
        metavar="DIR",
        help="scan the Hugging Face hub cache DIR (default: $HF_HUB_CACHE, $HF_HOME/hub or "
        "~/.cache/huggingface/hub; DIR may also be an HF_HOME or one models--ORG--NAME "
        "folder), reporting each model file as hf://ORG/NAME@REVISION/PATH",
    )
    add_format(parser)
    add_allow(
        parser,
        "treat this global as allowlisted, like torch.serialization.add_safe_globals "
        "(repeatable; also [tool.torchvet] allow = [...] in pyproject.toml)",
    )
    parser.add_argument(
        "--torch-version",
        metavar="X.Y.Z",
        help="predict this torch release (default: the installed torch's, else the newest known)",
    )
    add_flag(parser, "--notes", help="also show informational notes")
    add_flag(parser, "-q", "--quiet", help="do not list safe files")
    add_output(parser)


def run(args: argparse.Namespace) -> int:
    from torchvet.config_file import load_scan_allow
    from torchvet.many.command import ScanRequest, UsageError, scan_results
    from torchvet.pickle.torchfacts import pick_version
    from torchvet.policy.judge import Policy
    from torchvet.report.scan_report import write_scan_report

    try:
        version = pick_version(args.torch_version)
    except ValueError as exc:
        print(f"torchvet scan: {exc}", file=sys.stderr)
        return 2
    policy = Policy.for_torch(version, tuple(args.allow) + tuple(load_scan_allow()))
    request = ScanRequest(args.paths, args.from_file, args.dask, args.allow_download, args.hf_cache)
    skipped: list[str] = []
    try:
        with scan_results(request, policy, skipped) as results, open_output(args.output) as out:
            ok = write_scan_report(
                results,
                out,
                sys.stderr,
                fmt=args.format,
                torch_version=version,
                notes=args.notes,
                quiet=args.quiet,
                skipped=skipped,
            )
    except (UsageError, CannotWrite) as exc:
        print(f"torchvet scan: {exc}", file=sys.stderr)
        return 2
    return 0 if ok else 1
