"""safetensors files, validated the way safetensors 0.8.0 validates them.

Layout: u64 little-endian ``N`` | ``N`` bytes of UTF-8 JSON | the byte buffer. torch 2.13
hands any path ending in ``.safetensors`` to ``safetensors.torch.load_file`` (whatever
its content), so such a file is safe exactly when safetensors accepts its header and
torch can represent every dtype; any other file is read as a legacy pickle and fails.

The JSON is read with ``json`` but held to serde_json's rules where they differ: no
NaN/Infinity, no lone surrogate escapes, ``-0`` and out-of-range numbers are floats,
duplicate fields of one tensor are an error while duplicate tensor names are not (last
wins). Only the header is read, never the tensor data.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.buffers import read_as_pickle_by_torch
from torchvet.observations import Seen
from torchvet.source import ByteSource

MAX_HEADER = 100_000_000
SUFFIX = ".safetensors"
_U64_MAX = (1 << 64) - 1
# dtype -> size in bits (safetensors 0.8.0's Dtype enum, in its order).
DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8,
    "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16,
    "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64,
    "U64": 64,
}  # fmt: skip
# Valid for safetensors but not convertible by safetensors.torch ("Dtype not understood").
NOT_IN_TORCH = frozenset({"F6_E2M3", "F6_E3M2"})
_TENSOR_FIELDS = ("dtype", "shape", "data_offsets")
_MAX_NESTING = 127  # serde_json's recursion limit (128) counts one more level


class SafetensorsError(Exception):
    """safetensors refuses the file; the message follows safetensors' own."""


@dataclass
class HeaderTensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass
class Header:
    header_len: int
    tensors: list[HeaderTensor]  # sorted by data offsets
    metadata: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def data_start(self) -> int:
        return 8 + self.header_len


def scan_safetensors(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    scan = ContainerScan("safetensors")
    named = ctx.path.endswith(SUFFIX)
    try:
        header = read_header(src)
    except SafetensorsError as exc:
        scan.observe(Seen.BROKEN, f"invalid safetensors file: {exc}")
        if named:
            scan.torch_fails(_torch_message(str(exc)))
        else:
            read_as_pickle_by_torch(scan, src, ctx)
        return scan
    if not named:
        scan.observe(
            Seen.FORM_REFUSED,
            f"a safetensors file named {ctx.path.rsplit('/', 1)[-1] or 'without a name'!r}: "
            "torch.load only reads safetensors from paths ending in .safetensors; rename it, "
            "or load it with safetensors.torch.load_file",
        )
        read_as_pickle_by_torch(scan, src, ctx)
        return scan
    problem = torch_problem(header)
    if problem is not None:
        scan.observe(Seen.FORM_REFUSED, f"safetensors cannot hand it to torch: {problem}")
        scan.torch_fails(f"SafetensorError: {problem}")
    return scan


def check_safetensors_suffix(scan: ContainerScan, src: ByteSource, ctx: ScanContext) -> None:
    """A non-safetensors file whose path ends in .safetensors: torch.load gives it to
    safetensors, which refuses it; torch never reads it as a checkpoint."""
    if not ctx.path.endswith(SUFFIX):
        return
    try:
        read_header(src)
        reason = "safetensors accepts its header"  # only when sniffing disagreed
    except SafetensorsError as exc:
        reason = str(exc)
    scan.torch_fails(_torch_message(reason), replaces=True)
    scan.observe(
        Seen.FORM_REFUSED,
        f"a {scan.format} file named *.safetensors: torch.load hands such paths to "
        f"safetensors, which refuses it ({reason}); rename it to load it with torch.load",
    )


def _torch_message(reason: str) -> str:
    return f"SafetensorError: Error while deserializing header: {reason}"


def torch_problem(header: Header) -> str | None:
    """Why safetensors.torch fails on a header safetensors itself accepts."""
    for t in header.tensors:
        if t.dtype in NOT_IN_TORCH:
            return f"Dtype not understood: {t.dtype} (tensor {t.name!r})"
        if t.dtype == "F4" and (not t.shape or t.shape[-1] % 2):
            return (
                f"f4_x2 dtype requires that the last dim be divisible by 2 in torch: got "
                f"{list(t.shape)} (tensor {t.name!r})"
            )
        if any(d > (1 << 63) - 1 for d in t.shape):
            return f"tensor {t.name!r} has a dimension beyond int64"
    return None


# -- reading ---------------------------------------------------------------------------
def read_header(src: ByteSource) -> Header:
    """Parse and validate the header; raise SafetensorsError as safetensors would."""
    size = src.size
    if size < 8:
        raise SafetensorsError("header too small")
    (n,) = struct.unpack("<Q", src.read_at(0, 8))
    if n > MAX_HEADER:
        raise SafetensorsError("header too large")
    if 8 + n > size:
        raise SafetensorsError("invalid header length")
    try:
        text = src.read_at(8, n).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SafetensorsError(f"invalid UTF-8 in header: {exc.reason}") from None
    top = _parse_json(text)
    metadata, tensors = _interpret(top)
    tensors.sort(key=lambda t: (t.begin, t.end))
    end = _validate(tensors)
    if end + 8 + n != size:
        raise SafetensorsError("incomplete metadata, file not fully covered")
    return Header(n, tensors, metadata)


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object kept as its (key, value) pairs, duplicates included."""


class _Bad:
    """A JSON value serde_json refuses anywhere (out-of-range number)."""

    def __init__(self, why: str) -> None:
        self.why = why


def _parse_int(s: str) -> object:
    if s == "-0":
        return -0.0  # serde_json reads -0 as a float
    value = int(s)
    if -(1 << 63) <= value <= _U64_MAX:
        return value
    as_float = float(s)
    return _Bad("number out of range") if as_float in (float("inf"), float("-inf")) else as_float


def _parse_float(s: str) -> object:
    value = float(s)
    return _Bad("number out of range") if value in (float("inf"), float("-inf")) else value


def _no_constant(name: str) -> object:
    raise ValueError(f"expected value ({name} is not JSON)")


def _parse_json(text: str) -> object:
    try:
        value = json.loads(
            text,
            object_pairs_hook=_Pairs,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_no_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise SafetensorsError(f"invalid JSON in header: {exc}") from None
    _check_values(value)
    return value


def _check_values(value: object) -> None:
    """serde_json refuses lone surrogates, out-of-range numbers and nesting deeper than
    its recursion limit, wherever they are (even in fields safetensors ignores)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            if any(0xD800 <= ord(c) <= 0xDFFF for c in v):
                raise SafetensorsError("invalid JSON in header: lone surrogate in a string")
        elif isinstance(v, _Bad):
            raise SafetensorsError(f"invalid JSON in header: {v.why}")
        elif isinstance(v, list):
            if depth > _MAX_NESTING:
                raise SafetensorsError("invalid JSON in header: recursion limit exceeded")
            if isinstance(v, _Pairs):
                stack.extend((x, depth + 1) for pair in v for x in pair)
            else:
                stack.extend((x, depth + 1) for x in v)


def _interpret(top: object) -> tuple[dict[str, str] | None, list[HeaderTensor]]:
    if not isinstance(top, _Pairs):
        raise SafetensorsError(
            f"invalid JSON in header: {_kind(top)}, expected struct HashMetadata"
        )
    metadata: dict[str, str] | None = None
    seen_metadata = False
    tensors: dict[str, HeaderTensor] = {}
    for key, value in top:
        if key == "__metadata__":
            if seen_metadata:
                raise SafetensorsError("invalid JSON in header: duplicate field `__metadata__`")
            seen_metadata = True
            metadata = _metadata(value)
        else:
            tensors[key] = _tensor(key, value)  # a repeated name: the last one wins
    return metadata, list(tensors.values())


def _metadata(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, _Pairs):
        raise SafetensorsError(f"invalid JSON in header: {_kind(value)}, expected a map")
    out: dict[str, str] = {}
    for k, v in value:
        if not isinstance(v, str):
            raise SafetensorsError(f"invalid JSON in header: {_kind(v)}, expected a string")
        out[k] = v
    return out


def _tensor(name: str, value: object) -> HeaderTensor:
    fields: dict[str, object] = {}
    if isinstance(value, _Pairs):
        for k, v in value:
            if k in _TENSOR_FIELDS:
                if k in fields:
                    raise SafetensorsError(f"invalid JSON in header: duplicate field `{k}`")
                fields[k] = v
    elif isinstance(value, list):  # serde also builds a struct from a sequence
        if len(value) != 3:
            raise SafetensorsError(
                f"invalid JSON in header: invalid length {len(value)}, expected struct "
                "HeaderTensor with 3 elements"
            )
        fields = dict(zip(_TENSOR_FIELDS, value, strict=True))
    else:
        raise SafetensorsError(
            f"invalid JSON in header: {_kind(value)}, expected struct HeaderTensor"
        )
    for k in _TENSOR_FIELDS:
        if k not in fields:
            raise SafetensorsError(f"invalid JSON in header: missing field `{k}`")
    dtype = _dtype(fields["dtype"])
    shape = fields["shape"]
    if not isinstance(shape, list):
        raise SafetensorsError(f"invalid JSON in header: {_kind(shape)}, expected a sequence")
    dims = tuple(_usize(d) for d in shape)
    offsets = fields["data_offsets"]
    if not isinstance(offsets, list):
        raise SafetensorsError(
            f"invalid JSON in header: {_kind(offsets)}, expected a tuple of size 2"
        )
    if len(offsets) != 2:
        raise SafetensorsError(
            f"invalid JSON in header: invalid length {len(offsets)}, expected 2 elements "
            "in sequence"
        )
    begin, end = (_usize(o) for o in offsets)
    return HeaderTensor(name, dtype, dims, begin, end)


def _dtype(value: object) -> str:
    if isinstance(value, _Pairs) and len(value) == 1 and value[0][1] is None:
        value = value[0][0]  # the map form of a unit variant: {"F32": null}
    if not isinstance(value, str):
        raise SafetensorsError(f"invalid JSON in header: {_kind(value)}, expected string or map")
    if value not in DTYPE_BITS:
        raise SafetensorsError(f"invalid JSON in header: unknown variant `{value}`")
    return value


def _usize(value: object) -> int:
    if type(value) is not int or not 0 <= value <= _U64_MAX:
        raise SafetensorsError(f"invalid JSON in header: {_kind(value)}, expected usize")
    return value


def _kind(value: object) -> str:
    if isinstance(value, _Pairs):
        return "invalid type: map"
    if isinstance(value, list):
        return "invalid type: sequence"
    if value is None:
        return "invalid type: null"
    if isinstance(value, bool):
        return f"invalid type: boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"invalid value: integer `{value}`"
    if isinstance(value, float):
        return f"invalid type: floating point `{value}`"
    return f"invalid type: string {value!r}"


def _validate(tensors: list[HeaderTensor]) -> int:
    """Offsets must tile the buffer exactly; each range must hold shape x dtype."""
    start = 0
    for t in tensors:
        if t.begin != start or t.end < t.begin:
            raise SafetensorsError(f"invalid offset for tensor `{t.name}`")
        start = t.end
        nelements = 1
        for d in t.shape:
            nelements *= d
            if nelements > _U64_MAX:
                raise SafetensorsError(
                    "overflow computing buffer size from shape and/or element type"
                )
        nbits = nelements * DTYPE_BITS[t.dtype]
        if nbits > _U64_MAX:
            raise SafetensorsError("overflow computing buffer size from shape and/or element type")
        if nbits % 8:
            raise SafetensorsError(
                "The slice is slicing for subbytes dtypes, and the slice does not end up at a "
                "byte boundary, this is invalid."
            )
        if t.end - t.begin != nbits // 8:
            raise SafetensorsError(f"invalid shape, data type, or offset for tensor `{t.name}`")
    return start
