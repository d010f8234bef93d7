"""numpy ``.npy`` files (and the members of ``.npz`` archives).

Layout (numpy 2.4, ``numpy/lib/_format_impl.py``): ``\\x93NUMPY``, major and minor
version bytes ((1,0), (2,0) or (3,0)), the header length (u16 for 1.0, u32 otherwise),
then the header: a Python dict literal (latin-1, UTF-8 for 3.0) with exactly the keys
``descr``, ``fortran_order`` and ``shape``, read with ``ast.literal_eval`` (numpy refuses
headers over 10,000 characters unless ``allow_pickle=True``). The data follows: raw
bytes for plain dtypes, or, when the dtype holds Python objects, a pickle that
``numpy.load(allow_pickle=True)`` runs.

torch.load never reads either kind (it sees byte 0x93 as a pickle opcode it refuses).
"""

from __future__ import annotations

import ast
import io
import struct
import tokenize
from dataclasses import dataclass

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.buffers import Buffer, TooLarge, read_as_pickle_by_torch, whole
from torchvet.containers.safetensors_files import check_safetensors_suffix
from torchvet.numpy_dtypes import dtype_layout
from torchvet.observations import Seen
from torchvet.source import ByteSource

MAGIC = b"\x93NUMPY"
NUMPY_MAX_HEADER = 10_000  # numpy's limit without allow_pickle
MAX_HEADER = 1 << 20  # torchvet's: still parse bigger headers to find pickled data
_LENGTH = {(1, 0): ("<H", "latin1"), (2, 0): ("<I", "latin1"), (3, 0): ("<I", "utf8")}
NUMERIC_MESSAGE = (
    "a numpy array file: torch.load(weights_only=True) refuses it; load it with "
    "numpy.load(f, allow_pickle=False)"
)
OBJECT_MESSAGE = (
    "a numpy object array: its data is a pickle that numpy.load(allow_pickle=True) runs; "
    "torch.load refuses the file and numpy.load(allow_pickle=False) refuses the array"
)


class NpyError(Exception):
    """numpy.load refuses the file; the message is numpy's."""


@dataclass
class NpyHeader:
    version: tuple[int, int]
    data_offset: int
    descr: object
    fortran_order: bool
    shape: tuple[int, ...]
    header_chars: int
    has_object: bool | None  # None: dtype not modelled
    itemsize: int | None


def scan_npy(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    scan = ContainerScan("npy")
    kind = scan_npy_into(scan, src, ctx, "")
    if kind == "object":
        scan.format = "npy-object"
    scan.observe(Seen.FORM_REFUSED, OBJECT_MESSAGE if kind == "object" else NUMERIC_MESSAGE)
    read_as_pickle_by_torch(scan, src, ctx)
    check_safetensors_suffix(scan, src, ctx)
    return scan


def scan_npy_into(scan: ContainerScan, src: ByteSource, ctx: ScanContext, entry: str) -> str:
    """Add one .npy's findings to ``scan``; return "numeric", "object" or "invalid"."""
    try:
        header = parse_header(src.read_at(0, 12 + MAX_HEADER))
    except NpyError as exc:
        scan.observe(Seen.BROKEN, f"invalid .npy file: {exc}", entry)
        return "invalid"
    if header.header_chars > NUMPY_MAX_HEADER:
        scan.observe(
            Seen.FORM_REFUSED,
            f"header of {header.header_chars} characters: "
            f"numpy.load refuses more than {NUMPY_MAX_HEADER} unless allow_pickle=True",
            entry,
            10,
        )
    if header.has_object is None:
        scan.observe(Seen.UNMODELLED, f"dtype {header.descr!r} is not one torchvet models", entry)
        if src.read_at(header.data_offset, 1) == b"\x80":
            _scan_data_pickle(scan, src, ctx, header, entry)
        return "invalid"
    if header.has_object:
        _scan_data_pickle(scan, src, ctx, header, entry)
        return "object"
    _check_length(scan, src.size, header, entry)
    return "numeric"


def _scan_data_pickle(
    scan: ContainerScan, src: ByteSource, ctx: ScanContext, header: NpyHeader, entry: str
) -> None:
    try:
        with whole(src, ctx.max_pickle_bytes) as buf:
            _run_data_pickle(scan, buf, ctx, header, entry)
    except TooLarge as exc:
        scan.observe(Seen.LIMIT, f"object array of {exc}; not read", entry)


def _run_data_pickle(
    scan: ContainerScan, buf: Buffer, ctx: ScanContext, header: NpyHeader, entry: str
) -> None:
    trace = scan.run_pickle(ctx, buf, entry, None, header.data_offset, torch_reads=False)  # type: ignore[arg-type]
    if trace.stopped and trace.end < len(buf):
        scan.observe(
            Seen.NOTE,
            f"{len(buf) - trace.end} bytes after the object array's pickle (ignored by numpy)",
            entry,
            trace.end,
        )


def _check_length(scan: ContainerScan, size: int, header: NpyHeader, entry: str) -> None:
    count = 1
    for dim in header.shape:
        count *= dim
    bad = any(d < 0 or isinstance(d, bool) for d in header.shape)
    if bad or count >= 1 << 63:
        scan.observe(Seen.BROKEN, f"shape {header.shape} is not a valid array shape", entry)
        return
    nbytes = count * (header.itemsize or 0)
    have = size - header.data_offset
    if have < nbytes:
        scan.observe(
            Seen.BROKEN,
            f"array data is truncated: shape {header.shape} needs "
            f"{nbytes} bytes, the file has {have} (numpy.load fails)",
            entry,
            header.data_offset,
        )
    elif have > nbytes:
        scan.observe(
            Seen.NOTE,
            f"{have - nbytes} bytes after the array data (ignored by numpy)",
            entry,
            header.data_offset + nbytes,
        )


# -- header ----------------------------------------------------------------------------
def parse_header(data: bytes) -> NpyHeader:
    """Parse the magic, version and header dict from the file's first bytes."""
    if len(data) < 8 or not data.startswith(MAGIC):
        raise NpyError("the magic string is not correct")
    version = (data[6], data[7])
    if version not in _LENGTH:
        raise NpyError(f"we only support format version (1,0), (2,0), and (3,0), not {version}")
    fmt, encoding = _LENGTH[version]
    size = struct.calcsize(fmt)
    if len(data) < 8 + size:
        raise NpyError("EOF: reading array header length")
    (length,) = struct.unpack_from(fmt, data, 8)
    start = 8 + size
    if length > MAX_HEADER:
        raise NpyError(f"header of {length} bytes is beyond torchvet's bound of {MAX_HEADER}")
    if len(data) < start + length:
        raise NpyError(
            f"EOF: reading array header, expected {length} bytes got {len(data) - start}"
        )
    try:
        text = data[start : start + length].decode(encoding)
    except UnicodeDecodeError as exc:
        raise NpyError(f"header is not {encoding}: {exc.reason}") from None
    d = _literal(text, version)
    if not isinstance(d, dict):
        raise NpyError(f"Header is not a dictionary: {_short(d)}")
    if set(d) != {"descr", "fortran_order", "shape"}:
        raise NpyError(f"Header does not contain the correct keys: {sorted(map(repr, d))}")
    shape = d["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(x, int) for x in shape):
        raise NpyError(f"shape is not valid: {_short(shape)}")
    if not isinstance(d["fortran_order"], bool):
        raise NpyError(f"fortran_order is not a valid bool: {_short(d['fortran_order'])}")
    layout = dtype_layout(d["descr"])
    has_object, itemsize = layout if layout is not None else (None, None)
    return NpyHeader(
        version,
        start + length,
        d["descr"],
        d["fortran_order"],
        shape,
        len(text),
        has_object,
        itemsize,
    )


def _literal(text: str, version: tuple[int, int]) -> object:
    try:
        return ast.literal_eval(text)
    except SyntaxError:
        if version > (2, 0):
            raise NpyError(f"Cannot parse header: {_short(text)}") from None
    except (ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise NpyError(f"Cannot parse header: {type(exc).__name__}") from None
    try:  # headers written by Python 2 may hold longs such as 3L
        return ast.literal_eval(_drop_long_suffix(text))
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise NpyError(f"Cannot parse header: {_short(text)}") from None


def _drop_long_suffix(text: str) -> str:
    out = []
    after_number = False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if after_number and tok.type == tokenize.NAME and tok.string == "L":
                continue
            out.append(tok)
            after_number = tok.type == tokenize.NUMBER
    except (tokenize.TokenError, SyntaxError):
        return text
    return tokenize.untokenize(out)


def _short(v: object) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."
