"""torch.save's legacy non-zip format, and the routing of every other pickle file.

A legacy file (``_use_new_zipfile_serialization=False``) is five pickles and then the
storage blobs. torch.load (2.13, ``_legacy_load``) reads them in order with the same
weights-only unpickler: the magic number, the protocol version (1001), ``sys_info``
(read and ignored), the object pickle (storages come from 6-tuple persistent ids
``('storage', StorageType, key, location, numel, view_metadata)``), the list of
storage keys, and then, for each key in that list, an int64 element count followed by
the storage's bytes. Blobs are skipped by length here, never read.

A file whose first pickle is not the magic number (and whose second is not the
protocol version) is a plain pickle or a joblib file; ``joblib_files`` tells them apart.
"""

from __future__ import annotations

from torchvet.containers import joblib_files, rawpickle
from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.buffers import Buffer, TooLarge, whole
from torchvet.containers.legacy_storages import LegacyStorages, read_blobs
from torchvet.containers.safetensors_files import check_safetensors_suffix
from torchvet.containers.sniff import describe_not_model
from torchvet.observations import Seen
from torchvet.pickle.machine import Limits, run_stream
from torchvet.pickle.trace import CallEvent, GlobalRef, StreamTrace
from torchvet.pickle.values import Const, DictValue, ListValue, SetValue, TupleValue, Value
from torchvet.policy.readings import could_exist
from torchvet.source import ByteSource, BytesSource

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
# The magic-number and protocol pickles are a handful of opcodes; a probe this small
# never costs a real scan.
_PROBE = Limits(max_ops=256)
_ENTRIES = ("magic number", "protocol version", "sys_info", "data", "storage keys")


def scan_pickle_or_legacy(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    try:
        with whole(src, ctx.max_pickle_bytes) as buf:
            scan = _scan(buf, ctx)
    except TooLarge as exc:
        scan = ContainerScan("pickle")
        scan.observe(Seen.LIMIT, f"pickle file of {exc}; not read")
        scan.torch_fails("file too large for torchvet to read")
    check_safetensors_suffix(scan, src, ctx)
    return scan


def _scan(buf: Buffer, ctx: ScanContext) -> ContainerScan:
    if is_legacy(buf, ctx):
        return _scan_legacy(buf, ctx)
    scan = joblib_files.scan_joblib_or_pickle(buf, ctx)
    if _never_a_pickle(scan, buf):
        scan = _not_a_model(buf)
    scan.read_as_plain_pickles = scan.format != "joblib"  # joblib follows inline arrays
    return scan


def _never_a_pickle(scan: ContainerScan, buf: Buffer) -> bool:
    """Text and other files whose first byte merely happens to be an opcode: the first
    stream breaks before STOP without naming a well-formed global or calling anything,
    and nothing marks it as a pickle (a protocol 2+ header)."""
    if not scan.streams or buf[:1] == b"\x80":
        return False
    first = scan.streams[0]
    if first.stopped:
        return False
    return not any(
        isinstance(e, CallEvent) or (isinstance(e, GlobalRef) and _plausible(e.raw))
        for e in first.events
    )


def _plausible(raw: tuple[str, str]) -> bool:
    """A global a loader could actually import ("cat\ndog\n" names at.dog: no)."""
    if not all(part.isidentifier() for name in raw for part in name.split(".")):
        return False
    return could_exist(f"{raw[0]}.{raw[1]}", frozenset())


def _not_a_model(buf: Buffer) -> ContainerScan:
    scan = ContainerScan("not-a-model")
    what = describe_not_model(BytesSource(bytes(buf[:64])))
    scan.observe(Seen.NOT_A_MODEL, f"not a model file: {what}")
    scan.torch_fails("UnpicklingError: invalid load key")
    return scan


def is_legacy(buf: Buffer, ctx: ScanContext) -> bool:
    """Starts with torch's magic number, or its second pickle is the legacy protocol
    version (the magic-number pickle was replaced, e.g. by a payload)."""
    first = run_stream(buf, "", ctx.naming, None, 0, _PROBE, ctx.knowledge)
    if not first.stopped:
        return False
    if _equals(first.root, MAGIC_NUMBER):
        return True
    if first.end >= len(buf):
        return False
    second = run_stream(buf, "", ctx.naming, None, first.end, _PROBE, ctx.knowledge)
    return second.stopped and _equals(second.root, PROTOCOL_VERSION)


def _equals(v: Value | None, number: int) -> bool:
    return isinstance(v, Const) and type(v.value) in (int, float, bool) and v.value == number


def _scan_legacy(buf: Buffer, ctx: ScanContext) -> ContainerScan:
    scan = ContainerScan("torch-legacy")
    reads = True  # torch.load is still reading (it stops at a bad magic or protocol)
    pos = 0
    for index, entry in enumerate(_ENTRIES[:3]):
        trace = scan.run_pickle(ctx, buf, entry, None, pos, torch_reads=reads)
        if not trace.stopped:
            return scan
        pos = trace.end
        problem = _header_problem(index, trace) if reads else None
        if problem is not None:
            message, torch_message = problem
            scan.observe(Seen.BROKEN, message, entry, trace.start)
            scan.torch_fails(torch_message)
            reads = False  # a loader reading pickles in a loop goes on: so do we
        if index == 2:
            _note_sys_info(scan, trace)
    storages = LegacyStorages(scan, ctx)
    trace = scan.run_pickle(ctx, buf, "data", storages, pos, torch_reads=reads)
    scan.root = trace.root
    storages.report(reads)
    if not trace.stopped:
        return scan
    keys_trace = scan.run_pickle(ctx, buf, "storage keys", None, trace.end, torch_reads=reads)
    if not keys_trace.stopped or not reads or storages.failed:
        return scan  # torch never reaches the blobs, or it failed on the storages already
    keys = _storage_keys(scan, keys_trace)
    if keys is not None:
        end = read_blobs(scan, buf, storages, keys, keys_trace.end)
        if end is not None and end < len(buf):
            scan.observe(
                Seen.NOTE,
                f"{len(buf) - end} bytes after the last storage (ignored by torch)",
                "",
                end,
            )
            rawpickle.warn_dormant(scan, buf, end, ctx, "", "after the last storage")  # type: ignore[arg-type]
    return scan


def _header_problem(index: int, trace: StreamTrace) -> tuple[str, str] | None:
    root = trace.root
    if index == 0 and not _equals(root, MAGIC_NUMBER):
        what = root.describe() if root is not None else "nothing"
        return (
            f"the first pickle is {what}, not torch's magic number: torch.load raises "
            "'Invalid magic number' after running it",
            "Invalid magic number; corrupt file?",
        )
    if index == 1 and not _equals(root, PROTOCOL_VERSION):
        shown = repr(root.value) if isinstance(root, Const) else (root.describe() if root else "")
        return (
            f"legacy protocol version is {shown}, not {PROTOCOL_VERSION}",
            f"Invalid protocol version: {shown}",
        )
    return None


def _note_sys_info(scan: ContainerScan, trace: StreamTrace) -> None:
    info = trace.root
    if isinstance(info, DictValue):
        little = info.lookup("little_endian")
        if isinstance(little, Const) and little.value is False:
            scan.observe(
                Seen.NOTE,
                "saved on a big-endian machine: torch ignores sys_info "
                "and reads the storages as little-endian",
                "sys_info",
                trace.start,
            )


def _storage_keys(scan: ContainerScan, trace: StreamTrace) -> list[object] | None:
    """The keys torch iterates over, in order (None when torch fails or it is unknowable)."""
    root = trace.root
    entry, pos = "storage keys", trace.start
    items: list[Value]
    if isinstance(root, (ListValue, TupleValue)):
        items = list(root.items)
    elif isinstance(root, DictValue):
        items = [k for k, _ in root.items]
    elif isinstance(root, Const) and isinstance(root.value, (str, bytes)):
        return list(root.value)
    elif isinstance(root, Const):
        kind = type(root.value).__name__
        scan.observe(Seen.BROKEN, f"the storage key list is {root.describe()}", entry, pos)
        scan.torch_fails(f"TypeError: '{kind}' object is not iterable")
        return None
    else:
        what = (
            "a set (its order is unknown)"
            if isinstance(root, SetValue)
            else (root.describe() if root is not None else "nothing")
        )
        scan.observe(Seen.UNMODELLED, f"the storage key list is {what}", entry, pos)
        return None
    keys = []
    for item in items:
        if not isinstance(item, Const):
            scan.observe(
                Seen.UNMODELLED,
                f"storage key {item.describe()} is not a constant",
                entry,
                item.pos,
            )
            return None
        keys.append(item.value)
    return keys
