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


# -- dtypes ----------------------------------------------------------------------------
# numpy's dtype strings and names -> item size (object dtypes are handled apart).
_CHAR_SIZES = {
    "?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8,
    "Q": 8, "p": 8, "P": 8, "n": 8, "N": 8, "e": 2, "f": 4, "d": 8, "g": 16, "F": 8,
    "D": 16, "G": 32, "c": 1,
}  # fmt: skip
_KIND_SIZES = {
    "b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8, 16), "c": (8, 16, 32),
}  # fmt: skip
_NAMES = {
    "bool": 1, "bool_": 1, "int8": 1, "uint8": 1, "byte": 1, "ubyte": 1, "int16": 2,
    "uint16": 2, "short": 2, "ushort": 2, "int32": 4, "uint32": 4, "intc": 4, "uintc": 4,
    "int64": 8, "uint64": 8, "long": 8, "ulong": 8, "longlong": 8, "ulonglong": 8,
    "intp": 8, "uintp": 8, "int": 8, "float16": 2, "half": 2, "float32": 4, "single": 4,
    "float64": 8, "double": 8, "float": 8, "longdouble": 16, "float128": 16,
    "complex64": 8, "csingle": 8, "complex128": 16, "cdouble": 16, "complex": 16,
    "clongdouble": 32, "complex256": 32, "datetime64": 8, "timedelta64": 8,
}  # fmt: skip
_OBJECT_NAMES = frozenset({"O", "O8", "O4", "object", "object_"})


def dtype_layout(descr: object) -> tuple[bool, int] | None:
    """(holds Python objects, item size) for a header's ``descr``, or None if unknown."""
    if isinstance(descr, str):
        return _dtype_str(descr)
    if isinstance(descr, tuple) and len(descr) == 2:
        base = dtype_layout(descr[0])
        shape = descr[1]
        if isinstance(shape, int):
            shape = (shape,)
        if (
            base is None
            or not isinstance(shape, tuple)
            or not all(isinstance(d, int) and d >= 0 for d in shape)
        ):
            return None
        n = 1
        for d in shape:
            n *= d
        return base[0], base[1] * n
    if isinstance(descr, list) and descr:
        has_object, size = False, 0
        for fld in descr:
            if not isinstance(fld, tuple) or len(fld) not in (2, 3):
                return None
            part = dtype_layout(fld[1] if len(fld) == 2 else (fld[1], fld[2]))
            if part is None:
                return None
            has_object = has_object or part[0]
            size += part[1]
        return has_object, size
    return None


def _dtype_str(s: str) -> tuple[bool, int] | None:
    if "," in s:  # "i4,f8": a structured dtype
        parts = [_dtype_str(p.strip()) for p in s.split(",")]
        if any(p is None for p in parts):
            return None
        return any(p[0] for p in parts), sum(p[1] for p in parts)  # type: ignore[index]
    code = s[1:] if s[:1] in "<>|=" else s
    if code in _OBJECT_NAMES:
        return True, 8
    if code in _NAMES:
        return False, _NAMES[code]
    if code in _CHAR_SIZES:
        return False, _CHAR_SIZES[code]
    kind, rest = code[:1], code[1:]
    if kind in "Mm" and (rest == "8" or rest.startswith("8[")) and rest.endswith(("8", "]")):
        return False, 8
    if kind in "SaUV" and rest.isdigit():
        return False, int(rest) * (4 if kind == "U" else 1)
    if kind in _KIND_SIZES and rest.isdigit() and int(rest) in _KIND_SIZES[kind]:
        return False, int(rest)
    return None
