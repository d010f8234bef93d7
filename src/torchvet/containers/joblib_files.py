"""joblib files: a pickle with numpy arrays written inline, after their wrappers.

``joblib.dump`` pickles each array as a ``joblib.numpy_pickle.NumpyArrayWrapper``
(subclass, shape, order, dtype, allow_mmap, numpy_array_alignment_bytes). When
``joblib.load``'s unpickler executes BUILD on such a wrapper it reads the array from
the file right there (joblib 1.6, ``NumpyArrayWrapper.read_array``), then goes on
unpickling after it:

* object dtype: a nested pickle (read by a fresh plain unpickler, no wrapper handling);
* other dtypes: one byte giving a padding length, that many padding bytes (only when
  ``numpy_array_alignment_bytes`` is not None; joblib <= 1.1 wrote none), then
  ``prod(shape) * itemsize`` bytes.

The unpickler is pickle's pure-Python one: after a FRAME it reads the whole frame into
memory, so array bytes always come from the file position *after* the current frame.
joblib's writer ends the frame right after the wrapper; a file that does not is not
followed here (reported, never guessed). Old joblib (< 0.10) ``NDArrayWrapper``s name a
companion file that joblib.load opens with ``numpy.load(allow_pickle=True)``.

A pickle without any wrapper is a plain pickle and is reported as ``rawpickle`` does.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from torchvet.containers import rawpickle
from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.buffers import Buffer
from torchvet.numpy_dtypes import NUMERIC, OBJECT_CODES, OBJECT_ITEMSIZE
from torchvet.observations import Seen
from torchvet.pickle.genops import iter_ops
from torchvet.pickle.machine import Machine
from torchvet.pickle.trace import IssueKind, StreamTrace
from torchvet.pickle.values import Call, Const, DictValue, Instance, TupleValue, Value, is_falsy

WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
# joblib's unpickler checks isinstance(..., (NDArrayWrapper, NumpyArrayWrapper)).
COMPAT_WRAPPERS = frozenset(
    {
        "joblib.numpy_pickle_compat.NDArrayWrapper",
        "joblib.numpy_pickle_compat.ZNDArrayWrapper",
        "joblib.numpy_pickle.NDArrayWrapper",
        "joblib.numpy_pickle.ZNDArrayWrapper",
    }
)
WRAPPER_ARGS = ("subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes")
_DEFAULT_ALIGNMENT = 16
MAX_NESTED_ARRAYS = 32  # object arrays inside object arrays (each one a nested pickle)
JOBLIB_MESSAGE = (
    "a joblib file: torch.load(weights_only=True) refuses it, and joblib.load runs its "
    "pickle: load it only if you trust it"
)
PLAIN_MESSAGE = (
    "a plain pickle, not a torch checkpoint: torch.load(weights_only=True) refuses it "
    "(load it with the library that wrote it, if you trust it)"
)


@dataclass(frozen=True)
class InlineArray:
    """Where joblib.load reads a numeric array (the converter reads it from there)."""

    dtype: Value  # the pickled numpy.dtype
    shape: tuple[int, ...]
    fortran: bool
    offset: int  # of the data in the scanned buffer
    nbytes: int


def scan_joblib_or_pickle(buf: Buffer, ctx: ScanContext, entry: str = "") -> ContainerScan:
    """Scan a non-legacy pickle file, following joblib's inline arrays when it has any."""
    scan = ContainerScan("pickle")
    reader = ArrayReader(scan, ctx, entry)
    scan.after_build = reader
    rawpickle.scan_pickle_streams(buf, ctx, scan, entry=entry)  # type: ignore[arg-type]
    scan.torch_fails("Invalid magic number; corrupt file?")  # unless the pickle failed first
    scan.after_build = None
    if reader.arrays or reader.companions:
        scan.format = "joblib"
        if reader.arrays:
            # joblib's own placeholder: it runs no code, and what joblib.load does with it
            # (read the array after it) is followed here.
            scan.vouch(
                frozenset({WRAPPER}),
                "joblib's array placeholder; joblib.load reads the array stored after it",
            )
        scan.observe(Seen.FORM_REFUSED, JOBLIB_MESSAGE, entry)
    else:
        scan.observe(Seen.FORM_REFUSED, PLAIN_MESSAGE, entry)
    return scan


class _Frames:
    """Where pickle's unframer is: the end of the frame holding a given opcode."""

    def __init__(self, start: int) -> None:
        self.cursor = start
        self.frame_end: int | None = None

    def advance(self, buf: Buffer, pos: int) -> bool:
        """Walk opcodes from the cursor to ``pos``; False if they do not line up."""
        p = self.cursor
        for op, arg, at, p in iter_ops(buf, self.cursor, pos, past_stop=True):
            if self.frame_end is not None and at >= self.frame_end:
                self.frame_end = None
            if op.name == "FRAME":
                self.frame_end = p + arg  # type: ignore[operator]
        if p < pos:  # a byte that is no opcode
            return False
        if self.frame_end is not None and p >= self.frame_end:
            self.frame_end = None
        self.cursor = p
        return p == pos


def stream_end(buf: Buffer, trace: StreamTrace) -> int:
    """Where the file position is after a plain unpickler read ``trace``'s stream: after
    STOP, or at the end of the frame holding STOP (the rest of the frame is dropped)."""
    frames = _Frames(trace.start)
    if frames.advance(buf, trace.end - 1) and frames.frame_end is not None:
        return max(trace.end, frames.frame_end)
    return trace.end


class ArrayReader:
    """The ``after_build`` hook: joblib's ``NumpyUnpickler.load_build``."""

    def __init__(self, scan: ContainerScan, ctx: ScanContext, entry: str) -> None:
        self.scan = scan
        self.ctx = ctx
        self.entry = entry
        self.arrays = 0
        self.companions = 0
        self._frames: dict[int, _Frames] = {}  # per stream start
        self._depth = 0  # object arrays being read inside object arrays

    def __call__(self, m: Machine, inst: Value, state: Value) -> int:
        if not isinstance(inst, Instance) or inst.pytype is None:
            return 0
        if inst.pytype in COMPAT_WRAPPERS:
            self._companion(m, inst)
            return 0
        if inst.pytype != WRAPPER:
            return 0
        self.arrays += 1
        frames = self._frames.setdefault(m.trace.start, _Frames(m.trace.start))
        if not frames.advance(m.buf, m.pos + 1):
            return self._cannot(m, "the opcodes before it could not be re-read")
        layout = self._layout(m, inst)
        if layout is None:
            return -1
        has_object, itemsize, count, padded = layout
        array = Instance(m.pos, "numpy.ndarray", inst.call, hashable=False)
        m.stack[-1] = array
        start = m.next_pos
        if frames.frame_end is not None and frames.frame_end > start:
            if has_object:  # still look at the pickle joblib would read
                self._nested(m, frames.frame_end)
            return self._cannot(
                m,
                f"its data is read from offset {frames.frame_end}, after the pickle frame "
                "that holds the wrapper, while unpickling continues inside the frame",
            )
        if has_object:
            end = self._nested(m, start)
            if end is None:
                return -1
        else:
            end = self._numeric(m, start, itemsize, count, padded)
            if end is None:
                return -1
            array.info = _inline(inst, end - count * itemsize, count * itemsize)
        frames.cursor = end
        frames.frame_end = None
        return end - start

    # -- reading -----------------------------------------------------------------------
    def _nested(self, m: Machine, start: int) -> int | None:
        if self._depth >= MAX_NESTED_ARRAYS:
            m.issue(
                IssueKind.LIMIT,
                f"object arrays nested more than {MAX_NESTED_ARRAYS} deep at offset {start}: "
                "the rest was not read",
            )
            return None
        self._depth += 1
        try:
            trace = self.scan.run_pickle(
                self.ctx, m.buf, self.entry, None, start, torch_reads=False
            )
        finally:
            self._depth -= 1
        if not trace.stopped:
            m.issue(
                IssueKind.DECODE,
                f"the object array pickled at offset {start} (read by joblib.load) is unreadable",
            )
            return None
        return stream_end(m.buf, trace)

    def _numeric(
        self, m: Machine, start: int, itemsize: int, count: int, padded: bool
    ) -> int | None:
        buf = m.buf
        pos = start
        if padded:
            if pos >= len(buf):
                return self._truncated(m, start, 1)
            pos += 1 + buf[pos]
        end = pos + count * itemsize
        if end > len(buf):
            return self._truncated(m, start, end - len(buf))
        return end

    def _truncated(self, m: Machine, start: int, missing: int) -> None:
        m.issue(
            IssueKind.DECODE,
            f"the array data after the joblib wrapper at offset {m.pos} "
            f"is truncated ({missing} bytes missing): joblib.load fails",
            pos=start,
        )
        return None

    def _cannot(self, m: Machine, why: str) -> int:
        m.issue(
            IssueKind.UNVERIFIED,
            f"joblib array wrapper at offset {m.pos}: {why}; "
            "torchvet stops reading this pickle here",
        )
        return -1

    # -- the wrapper's attributes ------------------------------------------------------
    def _layout(self, m: Machine, inst: Instance) -> tuple[bool, int, int, bool] | None:
        # Every wrapper may share one memoised state dict: walking it is work.
        m.charge(sum(len(s.items) for s in inst.state if isinstance(s, DictValue)) >> 3)
        attrs = _attributes(inst)
        if attrs is None:
            self._cannot(m, "its attributes are not constant")
            return None
        dtype = _dtype_layout(attrs.get("dtype"))
        if dtype is None:
            self._cannot(m, f"dtype {_describe(attrs.get('dtype'))} is not one torchvet models")
            return None
        has_object, itemsize = dtype
        count = 0
        if not has_object:
            count_or_error = _element_count(attrs.get("shape"))
            if isinstance(count_or_error, str):
                self._cannot(m, count_or_error)
                return None
            count = count_or_error
        align = attrs.get("numpy_array_alignment_bytes")
        padded = align is not None and not (isinstance(align, Const) and align.value is None)
        return has_object, itemsize, count, padded

    def _companion(self, m: Machine, inst: Instance) -> None:
        self.companions += 1
        attrs = _attributes(inst) or {}
        name = attrs.get("filename")
        filename = name.value if isinstance(name, Const) and type(name.value) is str else None
        if filename is None:
            self.scan.observe(
                Seen.UNMODELLED,
                f"joblib < 0.10 array wrapper at offset {m.pos}: "
                "joblib.load opens a companion file named at load time",
                self.entry,
                m.pos,
            )
            return
        norm = posixpath.normpath(filename.replace("\\", "/"))
        if norm.startswith(("/", "../")) or norm == ".." or ":" in norm:
            self.scan.observe(
                Seen.FOREIGN_LOAD,
                f"joblib array wrapper at offset {m.pos} makes "
                f"joblib.load run numpy.load(allow_pickle=True) on {filename!r}, "
                "outside the file's folder",
                self.entry,
                m.pos,
            )
            return
        self.scan.observe(
            Seen.UNMODELLED,
            f"joblib < 0.10 array wrapper at offset {m.pos}: "
            f"joblib.load runs numpy.load(allow_pickle=True) on the companion file "
            f"{filename!r}; scan that file too",
            self.entry,
            m.pos,
        )


def _inline(inst: Instance, offset: int, nbytes: int) -> InlineArray | None:
    attrs = _attributes(inst) or {}
    shape, order = attrs.get("shape"), attrs.get("order")
    if not isinstance(shape, TupleValue) or not all(isinstance(d, Const) for d in shape.items):
        return None
    fortran = isinstance(order, Const) and order.value == "F"
    dims = tuple(d.value for d in shape.items)  # type: ignore[attr-defined]
    return InlineArray(attrs["dtype"], dims, fortran, offset, nbytes)


def _attributes(inst: Instance) -> dict[str, Value] | None:
    """The instance __dict__ joblib sees: constructor arguments, then BUILD states."""
    attrs: dict[str, Value] = {}
    call = inst.call
    if call is not None and call.opcode == "REDUCE" and call.target == inst.pytype:
        if not 4 <= len(call.args) <= len(WRAPPER_ARGS):
            return None
        attrs.update(zip(WRAPPER_ARGS, call.args, strict=False))
        attrs.setdefault("allow_mmap", Const(call.pos, False))
        attrs.setdefault("numpy_array_alignment_bytes", Const(call.pos, _DEFAULT_ALIGNMENT))
    elif call is not None and call.opcode not in ("NEWOBJ", "REDUCE"):
        return None
    for state in inst.state:
        if not _apply_state(attrs, state):
            return None
    return attrs


def _apply_state(attrs: dict[str, Value], state: Value) -> bool:
    parts: list[Value] = [state]
    if isinstance(state, TupleValue) and len(state.items) == 2:
        parts = list(state.items)  # (instance dict, slot state)
    for part in parts:
        if isinstance(part, DictValue):
            for k, v in part.items:
                if not (isinstance(k, Const) and type(k.value) is str):
                    return False
                attrs[k.value] = v
        elif is_falsy(part) is not True:
            return False
    return True


def _dtype_layout(v: Value | None) -> tuple[bool, int] | None:
    """(has Python objects, item size) of a pickled numpy dtype, as numpy 2 rebuilds it."""
    if not (
        isinstance(v, Instance) and isinstance(v.call, Call) and v.call.target == "numpy.dtype"
    ):
        return None
    if not isinstance(v.info, str):
        return None
    code = v.info.lstrip("<>|=")
    if code in NUMERIC:  # numpy makes these as fixed singletons: their state is ignored
        return False, NUMERIC[code].itemsize
    if code in OBJECT_CODES:
        return True, OBJECT_ITEMSIZE
    kind, digits = code[:1], code[1:]
    if kind not in "MmUSV" or not (digits == "" or digits.isdigit()):
        return None
    size = int(digits or 0) * (4 if kind == "U" else 1)
    state = v.state[-1] if v.state else None
    flags = 0
    if state is not None:
        fields = state.items if isinstance(state, TupleValue) else ()
        if len(fields) < 8 or not all(isinstance(x, Const) for x in (fields[5], fields[7])):
            return None
        elsize, flags = fields[5].value, fields[7].value  # type: ignore[attr-defined]
        if type(elsize) is not int or type(flags) is not int:
            return None
        if kind in "USV" and elsize != -1:
            size = elsize
    if kind in "Mm":
        size = 8
    if size <= 0:
        return None
    return bool(flags & 1), size  # numpy's NPY_ITEM_REFCOUNT: the data holds objects


def _element_count(shape: Value | None) -> int | str:
    if not isinstance(shape, TupleValue):
        return f"shape {_describe(shape)} is not a tuple"
    count = 1
    for dim in shape.items:
        if not (isinstance(dim, Const) and type(dim.value) is int):
            return f"shape {_describe(shape)} is not made of integers"
        if not 0 <= dim.value < 1 << 63:
            return f"shape has dimension {dim.value}"
        count *= dim.value
    return count


def _describe(v: Value | None) -> str:
    return v.describe() if v is not None else "(missing)"
