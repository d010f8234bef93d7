"""`torchvet scan`: argument parsing and output only; the work is in torchvet.scan."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchvet.policy.judge import Policy
    from torchvet.results import ScanResult

DESCRIPTION = """\
Predict, without running or importing anything the file names, what
torch.load(weights_only=True) does with each model file, and why.

Formats are recognised by content, not by extension: torch zip checkpoints,
legacy torch files, TorchScript archives, plain pickles, joblib, .npy/.npz,
safetensors, tar. Directories are scanned recursively.

verdicts (worst finding wins):
  safe             torch.load(f, weights_only=True) loads it
  needs-allowlist  refused only because of inert names; the exact allowlist is printed
  unsupported      harmless content in a form torch refuses (protocol >= 3, tar, plain pickle)
  unknown          names classes or code torchvet cannot vouch for (a pickled nn.Module, TorchScript)
  malformed        not readable as the format it claims, or beyond resource bounds
  dangerous        names a code-execution gadget, or a call chain that reaches one
"""
EXIT_CODES = "exit codes: 0 = every file is safe, 1 = any other verdict, 2 = usage error"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES
    parser.add_argument("paths", nargs="*", metavar="PATH", help="model files or directories")
    parser.add_argument(
        "--hf-cache",
        nargs="?",
        const="",
        metavar="DIR",
        help="scan the Hugging Face hub cache (default: $HF_HUB_CACHE, $HF_HOME/hub or "
        "~/.cache/huggingface/hub), reporting repo id, revision and file",
    )
    parser.add_argument(
        "--format", choices=("text", "json", "sarif"), default="text", help="output format"
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="MODULE.NAME",
        help="treat this global as allowlisted, like torch.serialization.add_safe_globals "
        "(repeatable; also [tool.torchvet] allow = [...] in pyproject.toml)",
    )
    parser.add_argument(
        "--torch-version",
        metavar="X.Y.Z",
        help="predict this torch release (default: the installed torch's, else the newest known)",
    )
    parser.add_argument("--notes", action="store_true", help="also show informational notes")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not list safe files")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")


def run(args: argparse.Namespace) -> int:
    from torchvet.config_file import load_scan_allow
    from torchvet.pickle.torchfacts import pick_version
    from torchvet.policy.judge import Policy
    from torchvet.results import Verdict
    from torchvet.scan import scan_paths

    try:
        version = pick_version(args.torch_version)
    except ValueError as exc:
        print(f"torchvet scan: {exc}", file=sys.stderr)
        return 2
    if not args.paths and args.hf_cache is None:
        print("torchvet scan: give at least one PATH, or --hf-cache", file=sys.stderr)
        return 2
    missing = [p for p in args.paths if not _exists(p)]
    if missing:
        print(f"torchvet scan: no such file or directory: {missing[0]}", file=sys.stderr)
        return 2
    allow = tuple(args.allow) + tuple(load_scan_allow())
    policy = Policy.for_torch(version, allow)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        results = scan_paths(args.paths, policy)
        if args.hf_cache is not None:
            results = _chain(results, _scan_hf_cache(args.hf_cache, policy))
        if args.format == "text":
            from torchvet.report.scan_text import write_text

            counts = write_text(results, out, notes=args.notes, quiet=args.quiet)
            ok = all(v is Verdict.SAFE for v in counts.elements())
        else:
            collected = list(results)
            ok = all(r.verdict is Verdict.SAFE for r in collected)
            if args.format == "json":
                from torchvet.report.scan_text import advice_json

                files = [{**r.to_json(), **advice_json(r)} for r in collected]
                doc = {"torch_version": version, "files": files}
                json.dump(doc, out, indent=2)
                out.write("\n")
            else:
                from torchvet.report.scan_sarif import scan_sarif

                json.dump(scan_sarif(collected), out, indent=2)
                out.write("\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0 if ok else 1


def _exists(path: str) -> bool:
    import os

    return os.path.exists(path)


def _chain(*iterables: Iterable[ScanResult]) -> Iterator[ScanResult]:
    for it in iterables:
        yield from it


def _scan_hf_cache(directory: str, policy: Policy) -> Iterator[ScanResult]:
    """Scan each blob once; report it under every repo/revision/path that references it."""
    from dataclasses import replace
    from pathlib import Path

    from torchvet.hfcache import default_cache_dir, iter_cache
    from torchvet.scan import scan_file

    root = Path(directory) if directory else default_cache_dir()
    if not root.is_dir():
        print(f"torchvet scan: no Hugging Face cache at {root}", file=sys.stderr)
        return
    done: dict[Path, ScanResult] = {}
    for ref in iter_cache(root):
        if ref.blob not in done:
            done[ref.blob] = scan_file(ref.blob, policy=policy)
        yield replace(done[ref.blob], path=ref.display)
