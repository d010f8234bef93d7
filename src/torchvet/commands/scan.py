"""`torchvet scan`: argument parsing and output only; the work is in torchvet.scan."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchvet.policy.judge import Policy
    from torchvet.results import ScanResult

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
EXIT_CODES = "exit codes: 0 = every file is safe, 1 = any other verdict, 2 = usage error"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES
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
    parser.add_argument(
        "--allow-download",
        action="store_true",
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

    try:
        version = pick_version(args.torch_version)
    except ValueError as exc:
        print(f"torchvet scan: {exc}", file=sys.stderr)
        return 2
    from torchvet.many.command import UsageError

    stack = ExitStack()
    try:
        targets = _targets(args)
        policy = Policy.for_torch(version, tuple(args.allow) + tuple(load_scan_allow()))
        skipped: list[str] = []
        results = _results(args, targets, policy, stack, skipped)
    except UsageError as exc:
        stack.close()
        print(f"torchvet scan: {exc}", file=sys.stderr)
        return 2
    repos = None
    if args.hf_cache is not None:
        repos = _hf_repos(args.hf_cache)
        if repos is None:
            stack.close()
            return 2
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if repos is not None:
            results = _chain(results, _scan_hf_cache(repos, policy, skipped))
        if args.format == "text":
            from torchvet.report.scan_text import write_text

            counts = write_text(results, out, notes=args.notes, quiet=args.quiet, skipped=skipped)
            ok = all(v is Verdict.SAFE for v in counts.elements())
            if not counts:
                print(
                    "torchvet scan: no model files found"
                    + (f" ({len(skipped)} other files skipped)" if skipped else ""),
                    file=sys.stderr,
                )
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
        stack.close()
        if out is not sys.stdout:
            out.close()
    return 0 if ok else 1


def _targets(args: argparse.Namespace) -> list[str]:
    """PATH arguments and --from-file lines; UsageError when there are none or one is missing."""
    from torchvet.many.command import UsageError, read_list
    from torchvet.remote.urls import is_url

    targets = list(args.paths) + (read_list(args.from_file) if args.from_file else [])
    if not targets and args.hf_cache is None and not args.from_file:
        raise UsageError("give at least one PATH or URL, or --hf-cache")
    missing = [p for p in targets if not is_url(p) and not _exists(p)]
    if missing:
        raise UsageError(f"no such file or directory: {missing[0]}")
    return targets


def _results(
    args: argparse.Namespace,
    targets: list[str],
    policy: Policy,
    stack: ExitStack,
    skipped: list[str],
) -> Iterable[ScanResult]:
    """Local paths only: scanned here, as always. URLs, lists and --dask: scan_many."""
    from torchvet.many.command import many_results, wanted
    from torchvet.scan import scan_paths

    if not wanted(targets, args.dask, args.from_file):
        return scan_paths(args.paths, policy, skipped)
    return stack.enter_context(
        many_results(
            targets, policy, dask=args.dask, allow_download=args.allow_download, collect=True
        )
    )


def _exists(path: str) -> bool:
    import os

    return os.path.exists(path)


def _chain(*iterables: Iterable[ScanResult]) -> Iterator[ScanResult]:
    for it in iterables:
        yield from it


def _hf_repos(directory: str) -> list[Path] | None:
    """The cache repos ``--hf-cache [DIR]`` names (the default cache without DIR)."""
    from torchvet.hfcache import cache_repos, default_cache_dir

    root = Path(directory) if directory else default_cache_dir()
    repos = cache_repos(root)
    if repos is None:
        print(
            f"torchvet scan: {root} is not a Hugging Face cache (expected a hub folder with "
            "models--ORG--NAME folders, an HF_HOME with hub/ inside, or one such repo folder)",
            file=sys.stderr,
        )
    return repos


def _scan_hf_cache(repos: list[Path], policy: Policy, skipped: list[str]) -> Iterator[ScanResult]:
    """Scan each blob once per name it is known by (the name decides what torch.load does
    with it: a *.safetensors path goes to safetensors) and report it under every
    repo/revision/path that references it. Files that are not models are skipped."""
    from dataclasses import replace

    from torchvet.check.detect import model_reason
    from torchvet.hfcache import iter_repos
    from torchvet.scan import scan_file

    done: dict[tuple[Path, bool], ScanResult | None] = {}
    for ref in iter_repos(repos):
        key = (ref.blob, ref.path.endswith(".safetensors"))
        if key not in done:
            is_model = model_reason(str(ref.snapshot)) is not None
            done[key] = scan_file(ref.snapshot, policy=policy) if is_model else None
        result = done[key]
        if result is None:
            skipped.append(ref.display)
            continue
        yield replace(result, path=ref.display)
