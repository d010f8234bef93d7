"""Open a convert input: scan it, then find the object whose tensors are written.

Every format ends up the same way: a symbolic root (dicts, lists, modules, tensors)
and a ``StorageResolver`` that finds each storage's bytes. torch files give the object
``torch.load`` would return; numpy, joblib, ``torch.export`` and DCP inputs give the
dict of arrays or tensors their own loaders would return.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torchvet import budget as budgets
from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.dispatch import scan_container
from torchvet.containers.joblib_files import InlineArray
from torchvet.containers.zipreader import ZipArchive, ZipError, read_archive
from torchvet.converter.arrays import array_tensor, pickled_dtype, reconstructed_array
from torchvet.converter.plan import StorageResolver
from torchvet.converter.walk import ArrayReader
from torchvet.pickle.tensorinfo import TensorInfo
from torchvet.pickle.values import Instance, Value
from torchvet.policy.verdict import conclude
from torchvet.remote.urls import is_url
from torchvet.results import Category, ScanResult
from torchvet.source import ByteSource, FileSource

if TYPE_CHECKING:
    from torchvet.remote.rangesource import RangeSource

TORCH_FORMATS = ("torch-zip", "torchscript", "torch-legacy", "pickle", "joblib")


class InputError(Exception):
    """The input cannot be converted; the message says why (and what to do)."""


def read_input_archive(src: ByteSource) -> ZipArchive:
    """A zip input's central directory (npz, .pt2), or InputError."""
    try:
        return read_archive(src)
    except ZipError as exc:
        raise InputError(f"zip archive unreadable: {exc}") from None


@dataclass
class Opened:
    format: str
    scan: ContainerScan
    result: ScanResult
    root: Value
    resolver: StorageResolver
    arrays: ArrayReader | None = None


def open_input(path: str, ctx: ScanContext, stack: ExitStack) -> Opened:
    """Scan ``path`` (a file, or a DCP folder) and open what its tensors are read from."""
    if os.path.isdir(path):
        from torchvet.converter.dcp_input import open_dcp

        return open_dcp(path, ctx, stack)
    try:
        src = stack.enter_context(_open_file_or_url(path))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    _refuse_dcp_member(path, ctx)
    scan, result = scan_source(src, ctx)
    return open_scanned(scan, result, src, ctx, stack)


def _open_file_or_url(path: str) -> FileSource | RangeSource:
    """A local file, or a URL read with range requests (torchvet[remote])."""
    if not is_url(path):
        return FileSource(path)
    from torchvet.remote.errors import MissingExtra
    from torchvet.remote.stores import open_source

    try:
        return open_source(path)
    except MissingExtra as exc:
        raise InputError(str(exc)) from None


def scan_source(src: ByteSource, ctx: ScanContext) -> tuple[ContainerScan, ScanResult]:
    """The scan ``torchvet scan`` makes (same budget), kept whole for the converter."""
    try:
        with budgets.spending(budgets.Budget.for_input(src.size)):
            scan = scan_container(src, ctx)
    except (RecursionError, MemoryError) as exc:
        raise InputError(
            f"the file exceeds torchvet's resource bounds ({type(exc).__name__})"
        ) from None
    return scan, conclude(ctx.path, scan.format, scan.observations, src.size, ctx.policy)


def open_scanned(
    scan: ContainerScan, result: ScanResult, src: ByteSource, ctx: ScanContext, stack: ExitStack
) -> Opened:
    fmt = scan.format
    if fmt == "safetensors":
        raise InputError("the file is already safetensors")
    if fmt in ("npy", "npy-object"):
        from torchvet.converter.numpy_inputs import npy_root

        root, resolver = npy_root(src, ctx)
        return Opened(fmt, scan, result, root, resolver)
    if fmt == "npz":
        from torchvet.converter.numpy_inputs import npz_root

        root, resolver = npz_root(src, ctx)
        return Opened(fmt, scan, result, root, resolver)
    if fmt == "torch-export":
        from torchvet.converter.export_input import pt2_root

        root, resolver = pt2_root(src, ctx)
        return Opened(fmt, scan, result, root, resolver)
    if ":" in fmt and scan.inner is not None:
        return _open_compressed(scan, result, src, ctx, stack)
    if fmt not in TORCH_FORMATS:
        raise InputError(f"cannot convert a {fmt} file: {first_problem(result)}")
    if scan.root is None:
        raise InputError(f"nothing readable in the file: {first_problem(result)}")
    resolver = StorageResolver(ctx, src, scan.archive, scan.byteorder)
    inline = src if fmt == "joblib" else None  # joblib arrays: offsets into this file
    return Opened(fmt, scan, result, scan.root, resolver, array_reader(inline))


def _open_compressed(
    scan: ContainerScan, result: ScanResult, src: ByteSource, ctx: ScanContext, stack: ExitStack
) -> Opened:
    """A gzip/zlib/... file (joblib's compress=N): the inner file, decompressed beside."""
    from torchvet.containers.compressed import DecompressError, decompressed

    try:
        inner = stack.enter_context(decompressed(src, ctx))
    except DecompressError as exc:
        raise InputError(f"cannot decompress it: {exc}") from None
    inner_scan, _ = scan_source(inner, ctx)
    opened = open_scanned(inner_scan, result, inner, ctx, stack)
    opened.format = scan.format
    opened.scan = scan  # the verdict and the findings are the outer file's
    return opened


def array_reader(inline: ByteSource | None) -> ArrayReader:
    """numpy arrays become tensors: joblib's inline arrays (data in ``inline``) and arrays
    pickled by ``ndarray.__reduce__`` (data in the pickle)."""
    cache: dict[int, TensorInfo | None] = {}
    keep: list[Value] = []

    def read(v: Value) -> TensorInfo | None:
        if not (isinstance(v, Instance) and v.pytype == "numpy.ndarray"):
            return None
        if id(v) not in cache:  # one Storage per array, so tied names stay tied
            keep.append(v)
            cache[id(v)] = _inline(v, inline) or reconstructed_array(v)
        return cache[id(v)]

    return read


def _inline(v: Instance, source: ByteSource | None) -> TensorInfo | None:
    rec = v.info
    if source is None or not isinstance(rec, InlineArray):
        return None
    dtype = pickled_dtype(rec.dtype)
    if dtype is None:
        return None
    return array_tensor(dtype, rec.shape, rec.fortran, source, rec.offset, f"array@{rec.offset}")


def first_problem(result: ScanResult) -> str:
    for f in result.findings:
        if f.category is not Category.NOTE:
            return f.message
    return result.torch_error or "no readable object"


def _refuse_dcp_member(path: str, ctx: ScanContext) -> None:
    from torchvet.containers.dcp import dcp_folder

    folder = dcp_folder(path, ctx)
    if folder is not None:
        raise InputError(
            f"this file is part of the torch.distributed.checkpoint folder {folder}: "
            "convert the folder instead"
        )
