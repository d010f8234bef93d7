"""Scan model files: sniff the container, read its pickles symbolically, judge, conclude.

``scan_source`` is a pure function of (bytes, policy). ``scan_file`` and ``scan_paths``
add the file system: directories are walked, and a file that cannot be read becomes
a ``malformed`` result instead of stopping the run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.sniff import describe_not_model, sniff
from torchvet.policy.judge import Policy
from torchvet.results import Category, Finding, ScanResult, Verdict, worst
from torchvet.source import ByteSource, BytesSource, FileSource

# format -> "module:function" of the reader; imported on first use.
READERS: dict[str, str] = {
    "zip": "torchvet.containers.zipfamily:scan_any_zip",
    "pickle": "torchvet.containers.legacy:scan_pickle_or_legacy",
    "tar": "torchvet.containers.tarball:scan_tar",
    "npy": "torchvet.containers.numpy_files:scan_npy",
    "safetensors": "torchvet.containers.safetensors_files:scan_safetensors",
    "compressed": "torchvet.containers.compressed:scan_compressed",
}
_FALLBACKS: dict[str, str] = {
    "zip": "torchvet.containers.torchzip:scan_zip",
    "pickle": "torchvet.containers.rawpickle:scan_pickle",
}


def _reader(fmt: str) -> Callable[[ByteSource, ScanContext], ContainerScan] | None:
    for table in (READERS, _FALLBACKS):
        spec = table.get(fmt)
        if spec is None:
            continue
        module_name, func = spec.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        return getattr(module, func)
    return None


def scan_container(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    """Read one source with the reader its content calls for."""
    fmt = sniff(src)
    if fmt == "empty":
        scan = ContainerScan("empty")
        scan.add(Category.NOT_A_MODEL, "empty file")
        scan.torch_fails("EOFError: Ran out of input")
        return scan
    if fmt in ("not-a-model", "unknown"):
        scan = ContainerScan(fmt)
        what = describe_not_model(src)
        scan.add(Category.NOT_A_MODEL, f"not a model file: {what}")
        first = src.read_at(0, 1)[0]
        scan.torch_fails(f"Unsupported operand {first}")
        return scan
    reader = _reader(fmt)
    if reader is None:
        scan = ContainerScan(fmt)
        scan.add(Category.UNSUPPORTED_FORM, f"{fmt} files are not supported by this torchvet build")
        return scan
    return reader(src, ctx)


def conclude(path: str, scan: ContainerScan, size: int) -> ScanResult:
    """Verdict = the worst finding; SAFE needs torch to load the file as well."""
    verdict = worst(f.verdict for f in scan.findings)
    findings = list(scan.findings)
    if verdict is Verdict.SAFE and scan.torch_error is not None:
        # torch fails for a reason no finding explains: never call that safe.
        findings.append(Finding(Category.MALFORMED, f"torch.load would fail: {scan.torch_error}"))
        verdict = Verdict.MALFORMED
    findings.sort(
        key=lambda f: (-f.verdict.rank, f.entry, f.offset if f.offset is not None else -1)
    )
    return ScanResult(
        path=path,
        format=scan.format,
        verdict=verdict,
        findings=findings,
        torch_error=scan.torch_error,
        allowlist=list(scan.allowlist) if verdict is Verdict.NEEDS_ALLOWLIST else [],
        size=size,
    )


def scan_source(
    src: ByteSource, policy: Policy | None = None, path: str | None = None
) -> ScanResult:
    ctx = ScanContext(policy or Policy.for_torch(), path=path or src.name)
    return _scan_with(src, ctx)


def _scan_with(src: ByteSource, ctx: ScanContext) -> ScanResult:
    try:
        scan = _dcp_hook(src, ctx) or scan_container(src, ctx)
    except (RecursionError, MemoryError) as exc:  # fail closed, never a traceback
        scan = ContainerScan("unknown")
        scan.add(Category.LIMIT, f"file exceeds torchvet's resource bounds ({type(exc).__name__})")
    except Exception as exc:
        # A bug in torchvet must not turn into a traceback or a "safe": fail closed.
        # TORCHVET_DEBUG=1 (set by the test suite) re-raises so that bugs are seen.
        if os.environ.get("TORCHVET_DEBUG"):
            raise
        scan = ContainerScan("unknown")
        scan.add(
            Category.LIMIT,
            f"torchvet could not analyse this file ({type(exc).__name__}: {exc}); please report it",
        )
    return conclude(ctx.path, scan, src.size)


# ---- DCP hook (torch.distributed.checkpoint; see containers/dcp.py) -------------------
# A DCP metadata pickle is known by its content, a shard by the .metadata beside it
# (which needs the file's path). To be folded into the dispatcher: after sniffing, a
# pickle whose root is DCP's Metadata and a zip named by a sibling .metadata.
def _dcp_hook(src: ByteSource, ctx: ScanContext) -> ContainerScan | None:
    from torchvet.containers.dcp import scan_dcp

    return scan_dcp(src, ctx)


def scan_bytes(data: bytes, policy: Policy | None = None, name: str = "<bytes>") -> ScanResult:
    return scan_source(BytesSource(data, name), policy, name)


def scan_file(
    path: str | os.PathLike[str],
    *,
    allow: Iterable[str] = (),
    torch_version: str | None = None,
    policy: Policy | None = None,
) -> ScanResult:
    """Scan one file. Never raises for bad input: unreadable files are ``malformed``."""
    policy = policy or Policy.for_torch(torch_version, tuple(allow))
    name = os.fspath(path)
    try:
        with FileSource(name) as src:
            return _scan_with(src, ScanContext(policy, path=name))
    except OSError as exc:
        return ScanResult(
            path=name,
            format="unreadable",
            verdict=Verdict.MALFORMED,
            findings=[Finding(Category.MALFORMED, f"cannot read file: {exc.strerror or exc}")],
        )


# Directories never worth descending into when looking for model files.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".tox", ".mypy_cache", ".ruff_cache"})


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Files named directly, and every file under named directories (sorted, no symlink loops)."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            seen: set[tuple[int, int]] = set()
            for root, dirs, files in os.walk(path, followlinks=False):
                st = os.stat(root)
                if (st.st_dev, st.st_ino) in seen:
                    dirs[:] = []
                    continue
                seen.add((st.st_dev, st.st_ino))
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
                for f in sorted(files):
                    full = os.path.join(root, f)
                    if os.path.isfile(full):
                        yield full
        else:
            yield os.fspath(path)


def scan_paths(
    paths: Iterable[str | os.PathLike[str]], policy: Policy | None = None
) -> Iterator[ScanResult]:
    policy = policy or Policy.for_torch()
    for name in iter_files(paths):
        yield scan_file(name, policy=policy)
