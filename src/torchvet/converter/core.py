"""``convert(IN, OUT)``: a checkpoint's tensors as a safetensors file, without running it.

Pipeline: scan (the verdict decides whether to go on) -> the symbolic object torch.load
would return -> select and name tensors -> plan bytes per tensor -> write a temp file
beside OUT and rename it. Neither torch nor numpy is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.zipreader import ZipArchive, ZipError
from torchvet.converter.blobs import BlobError
from torchvet.converter.elementwise import byteswap, negate_twos, sign_pattern, xor_pattern
from torchvet.converter.gather import contiguous_chunks, gather
from torchvet.converter.plan import LOAD_FROM_BYTES, Plans, Resolver, TensorPlan, plan
from torchvet.converter.select import INCLUDE_CHOICES, Selection, select
from torchvet.converter.walk import Walker
from torchvet.converter.writer import AtomicFile, HeaderError, build_header, order_key
from torchvet.pickle.trace import CallEvent
from torchvet.pickle.values import Const, Obj, Value
from torchvet.policy.judge import Policy
from torchvet.remote.rangesource import RangeSource
from torchvet.remote.urls import is_url
from torchvet.results import Category, ScanResult, Verdict
from torchvet.scan import conclude, scan_container, scan_source
from torchvet.source import ByteSource, BytesSource, FileSource

Progress = Callable[[int, int], None]  # (bytes written so far, total tensor bytes)
READABLE_FORMATS = ("torch-zip", "torchscript", "torch-legacy", "pickle")


class ConvertError(Exception):
    """The conversion was refused or failed; the message says why and what to do."""


@dataclass
class ConvertReport:
    source: str
    output: str
    format: str
    verdict: Verdict
    tensors: list[tuple[str, str, list[int]]] = field(default_factory=list)  # name, dtype, shape
    bytes_written: int = 0
    aliases: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    excluded: list[tuple[str, int]] = field(default_factory=list)
    wrapper: str | None = None
    forced: bool = False


def convert(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    force: bool = False,
    include: Iterable[str] = (),
    unwrap: bool = True,
    strip_prefix: Iterable[str] = (),
    prefix: str = "",
    skip_unsupported: bool = False,
    allow: Iterable[str] = (),
    torch_version: str | None = None,
    progress: Progress | None = None,
) -> ConvertReport:
    """Write the tensors of checkpoint ``source`` to ``output`` as safetensors.

    Raises ``ConvertError`` (with a message meant for people) when the file is
    dangerous (unless ``force``), unreadable, holds tensors safetensors cannot store
    (unless ``skip_unsupported``), or ``output`` exists (unless ``force``).
    """
    src_path, out_path = os.fspath(source), os.fspath(output)
    include = tuple(include)
    bad = [i for i in include if i not in INCLUDE_CHOICES]
    if bad:
        raise ConvertError(f"unknown --include value {bad[0]!r} (choose from {INCLUDE_CHOICES})")
    _check_paths(src_path, out_path, force)
    policy = Policy.for_torch(torch_version, tuple(allow))
    try:
        src = _open_input(src_path)
    except OSError as exc:
        raise ConvertError(f"cannot read {src_path}: {exc.strerror or exc}") from None
    with src:
        ctx = ScanContext(policy, path=src_path)
        scan, result = _scan(src, ctx)
        root, resolver = _open_root(scan, result, src, ctx)
        report = ConvertReport(src_path, out_path, scan.format, result.verdict, forced=force)
        _check_danger(scan, result, resolver, force)
        walker = Walker(frozenset(policy.facts.dtypes))
        sel = select(root, walker, include, unwrap)
        plans = plan(sel.walk.tensors, resolver, _renamer(tuple(strip_prefix), prefix))
        _fill_report(report, sel, plans)
        _check_plans(plans, report, skip_unsupported)
        metadata = _metadata(sel, plans, report)
        _write(out_path, plans, metadata, force, progress, report)
    return report


# ------------------------------------------------------------------------- steps
def _open_input(src: str) -> FileSource | RangeSource:
    """A local file, or a URL read with range requests (torchvet[remote])."""
    if not is_url(src):
        return FileSource(src)
    from torchvet.remote.errors import MissingExtra
    from torchvet.remote.stores import open_source

    try:
        return open_source(src)
    except MissingExtra as exc:
        raise ConvertError(str(exc)) from None


def _check_paths(src: str, out: str, force: bool) -> None:
    remote = is_url(src)
    if not remote and not os.path.isfile(src):
        raise ConvertError(f"no such file: {src}")
    if os.path.isdir(out):
        raise ConvertError(f"{out} is a directory; give the output file's name")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConvertError(f"the output folder {parent} does not exist")
    if os.path.exists(out):
        if not remote and os.path.samefile(src, out):
            raise ConvertError("the output would overwrite the input")
        if not force:
            raise ConvertError(f"{out} exists; pass --force to replace it")


def _scan(src: ByteSource, ctx: ScanContext) -> tuple[ContainerScan, ScanResult]:
    try:
        scan = scan_container(src, ctx)
    except (RecursionError, MemoryError) as exc:
        raise ConvertError(
            f"the file exceeds torchvet's resource bounds ({type(exc).__name__})"
        ) from None
    return scan, conclude(ctx.path, scan, src.size)


def _first_problem(result: ScanResult) -> str:
    for f in result.findings:
        if f.category is not Category.NOTE:
            return f.message
    return result.torch_error or "no readable object"


def _open_root(
    scan: ContainerScan, result: ScanResult, src: ByteSource, ctx: ScanContext
) -> tuple[Value, Resolver]:
    if scan.format == "safetensors":
        raise ConvertError("the file is already safetensors")
    if scan.format not in READABLE_FORMATS:
        raise ConvertError(f"cannot convert a {scan.format} file: {_first_problem(result)}")
    archive = scan.extra.get("archive")
    if scan.root is None:
        raise ConvertError(f"nothing readable in the file: {_first_problem(result)}")
    byteorder = str(scan.extra.get("byteorder", "little"))
    return scan.root, Resolver(
        ctx, src, archive if isinstance(archive, ZipArchive) else None, byteorder
    )


def _check_danger(scan: ContainerScan, result: ScanResult, resolver: Resolver, force: bool) -> None:
    if result.verdict is not Verdict.DANGEROUS or force:
        return
    gadgets = [f for f in result.findings if f.category is Category.GADGET]
    if gadgets and all(f.global_name == LOAD_FROM_BYTES for f in gadgets):
        # pickle.dumps(tensor) stores each storage as a nested legacy file loaded by
        # torch.storage._load_from_bytes: dangerous for torch.load, but torchvet reads
        # the payloads itself. Go on if every payload is a plain storage and benign.
        problem = _nested_problem(scan, resolver)
        if problem is None:
            return
        raise ConvertError(f"refused: {problem}")
    lines = [f"  {f.global_name or ''}: {f.message}" for f in gadgets[:10]]
    raise ConvertError(
        "refused: the scanner rates this file dangerous (it names code-execution "
        "gadgets):\n" + "\n".join(lines) + "\nDo not load it. Pass --force only to extract "
        "the tensors for analysis; nothing in the file is run either way."
    )


def _nested_problem(scan: ContainerScan, resolver: Resolver) -> str | None:
    for trace in scan.streams:
        for event in trace.events:
            if not (isinstance(event, CallEvent) and event.call.target == LOAD_FROM_BYTES):
                continue
            args = event.call.args
            if not (len(args) == 1 and isinstance(args[0], Const)):
                return f"{LOAD_FROM_BYTES} is called with a computed argument"
            payload = args[0].value
            if not isinstance(payload, bytes):
                return f"{LOAD_FROM_BYTES} is called with a non-bytes argument"
            nested = scan_source(BytesSource(payload), Policy.for_torch(), "<nested>")
            if nested.verdict is Verdict.DANGEROUS:
                return f"a nested {LOAD_FROM_BYTES} payload is itself dangerous"
            probe = resolver.nested_storage(_obj_of(event))
            if probe is None:
                return f"a nested {LOAD_FROM_BYTES} payload is not a plain storage"
    return None


def _obj_of(event: CallEvent) -> Value:
    return Obj(event.call.pos, None, event.call)


def _renamer(strip: tuple[str, ...], prefix: str) -> Callable[[str], str]:
    def rename(name: str) -> str:
        for p in strip:
            if p and name.startswith(p):
                name = name[len(p) :]
                break
        return prefix + name if name else prefix.rstrip(".") or "tensor"

    return rename


def _fill_report(report: ConvertReport, sel: Selection, plans: Plans) -> None:
    report.wrapper = sel.wrapper
    report.excluded = sel.excluded
    report.dropped = list(sel.walk.dropped)
    report.aliases = dict(plans.aliases)


def _check_plans(plans: Plans, report: ConvertReport, skip: bool) -> None:
    names = [p.name for p in plans.tensors] + list(plans.aliases)
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ConvertError(
                f"two tensors would both be named {n!r}; use --prefix/--strip-prefix "
                "or --no-unwrap to keep them apart"
            )
        seen.add(n)
    if plans.unsupported and not skip:
        lines = [f"  {name}: {why}" for name, why in plans.unsupported[:20]]
        more = len(plans.unsupported) - 20
        if more > 0:
            lines.append(f"  ... and {more} more")
        raise ConvertError(
            "refused: safetensors cannot hold these tensors:\n"
            + "\n".join(lines)
            + "\nPass --skip-unsupported to write the others and list these as skipped."
        )
    report.skipped = list(plans.unsupported)
    if not plans.tensors:
        if plans.unsupported:
            raise ConvertError(
                "no tensors to write: every tensor is one safetensors cannot hold ("
                + "; ".join(f"{n}: {why}" for n, why in plans.unsupported[:5])
                + ")"
            )
        raise ConvertError(
            "no tensors to write"
            + (
                f" (left out: {', '.join(n for n, _ in report.excluded)}; see --include)"
                if report.excluded
                else ""
            )
        )


def _metadata(sel: Selection, plans: Plans, report: ConvertReport) -> dict[str, str]:
    # "format": "pt" is what transformers expects of any safetensors file with metadata.
    meta: dict[str, str] = {"format": "pt"}
    for alias, kept in plans.aliases.items():
        meta[alias] = kept
    for key, value in sel.walk.metadata.items():
        if key in meta:
            report.dropped.append((key, "its name is taken by a tensor alias or 'format'"))
            continue
        meta[key] = value
    report.metadata = {k: v for k, v in meta.items() if k not in plans.aliases}
    return meta


# ------------------------------------------------------------------------- writing
def _write(
    out_path: str,
    plans: Plans,
    metadata: dict[str, str],
    force: bool,
    progress: Progress | None,
    report: ConvertReport,
) -> None:
    tensors = sorted(plans.tensors, key=lambda p: order_key(p.name, p.target.code))
    try:
        header = build_header(
            ((p.name, p.target.code, p.header_shape, p.nbytes) for p in tensors), metadata
        )
    except HeaderError as exc:
        raise ConvertError(str(exc)) from None
    total = sum(p.nbytes for p in tensors)
    try:
        out = AtomicFile(out_path, overwrite=force)
    except OSError as exc:
        raise ConvertError(f"cannot write beside {out_path}: {exc.strerror or exc}") from None
    copier = _Copier(out)
    try:
        out.write(header)
        for p in tensors:
            copier.tensor(p)
            if progress is not None:
                progress(copier.done, total)
        out.commit()
    except FileExistsError:
        raise ConvertError(f"{out_path} appeared while converting; not replaced") from None
    except (BlobError, ZipError) as exc:
        out.abort()
        raise ConvertError(f"reading tensor data failed: {exc}") from None
    except OSError as exc:
        out.abort()
        raise ConvertError(f"writing {out_path} failed: {exc.strerror or exc}") from None
    except BaseException:
        out.abort()
        raise
    finally:
        copier.close()
    report.tensors = [(p.name, p.target.code, p.header_shape) for p in tensors]
    report.bytes_written = len(header) + total


class _Copier:
    """Copies tensor bytes: kernel-side for plain file ranges, else through memory."""

    def __init__(self, out: AtomicFile) -> None:
        self.out = out
        self.done = 0
        self._fds: dict[str, int] = {}
        self._kernel_copy = hasattr(os, "copy_file_range")

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def tensor(self, p: TensorPlan) -> None:
        info = p.info
        itemsize = p.target.itemsize
        if not p.contiguous:
            assert info.stride is not None
            data = gather(p.blob, itemsize, info.offset, info.shape, info.stride)
            self.out.write(_transform(p, data))
            self.done += len(data)
            return
        if not p.transformed and self._copy_range(p):
            return
        for chunk in contiguous_chunks(p.blob, itemsize, info.offset, p.numel):
            self.out.write(_transform(p, chunk) if p.transformed else chunk)
            self.done += len(chunk)

    def _copy_range(self, p: TensorPlan) -> bool:
        where = p.blob.file_range() if self._kernel_copy else None
        if where is None or p.nbytes == 0:
            return False
        path, base = where
        fd = self._fds.get(path)
        if fd is None:
            fd = self._fds[path] = os.open(path, os.O_RDONLY)
        pos = base + p.info.offset * p.target.itemsize
        left = p.nbytes
        while left:
            try:
                n = os.copy_file_range(fd, self.out.fd, min(left, 1 << 30), pos)
            except OSError:
                if left != p.nbytes:
                    raise
                self._kernel_copy = False  # e.g. across file systems: use plain reads
                return False
            if n == 0:
                raise BlobError(f"{path} ended early")
            pos += n
            left -= n
            self.done += n
        return True


def _transform(p: TensorPlan, data: bytes | bytearray) -> bytes | bytearray:
    info, target = p.info, p.target
    if p.swap:
        data = byteswap(data, p.swap)
    if info.conj:  # complex64: negate the imaginary (second) float32 of each element
        data = xor_pattern(data, sign_pattern(4, every=2, phase=1))
    if info.neg:
        if target.neg == "sign":
            width = 4 if target.kind == "complex" else target.itemsize
            data = xor_pattern(data, sign_pattern(width))
        else:
            data = negate_twos(data, target.itemsize)
    return data
