"""The legacy (non-zip) torch format, read for conversion.

Five protocol-2 pickles (magic number, protocol version, sys_info, the object,
the sorted storage keys) then, per key, an int64 element count and the raw bytes.
The scanner's plain-pickle reader stops at the magic number; until a dedicated
legacy reader fills ``Storage.record`` with ``(offset, nbytes)``, this module runs
the scanner's symbolic machine over the five pickles itself (nothing is executed)
and locates every storage's bytes.

It also reads the payload of ``torch.storage._load_from_bytes(b"...")``, which is
how ``pickle.dumps(tensor)`` stores a storage: a whole legacy file inside the pickle.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from torchvet.containers.base import ScanContext
from torchvet.pickle.machine import run_stream
from torchvet.pickle.trace import StreamTrace
from torchvet.pickle.values import Const, Glob, Lst, Opaque, Storage, Tup, Value
from torchvet.source import ByteSource

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_FIRST_READ = 1 << 20


class LegacyError(Exception):
    """Not a readable legacy torch file."""


@dataclass
class LegacyFile:
    root: Value | None
    storages: dict[str, Storage] = field(default_factory=dict)
    traces: list[StreamTrace] = field(default_factory=list)


def is_legacy_root(root: Value | None) -> bool:
    """What the plain-pickle reader returns for a legacy file: the magic number."""
    return isinstance(root, Const) and root.value == MAGIC


class _Loader:
    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        self.storages: dict[str, Storage] = {}

    def __call__(self, pid: Value, pos: int) -> Value:
        facts = self.ctx.policy.facts
        if not (isinstance(pid, Tup) and len(pid.items) == 6):
            return Opaque(pos, "persistent id is not a 6-tuple")
        tag, stype, key, location, numel, view = pid.items
        if not (isinstance(tag, Const) and tag.value == "storage"):
            return Opaque(pos, "not a storage persistent id")
        if not (isinstance(key, Const) and isinstance(numel, Const) and type(numel.value) is int):
            return Opaque(pos, "unusual storage key or size")
        if not (isinstance(view, Const) and view.value is None):
            return Opaque(pos, "storage views of pre-1.0 files are not supported")
        if isinstance(stype, Glob) and stype.qualname == "torch.storage.UntypedStorage":
            dtype = "torch.uint8"
        elif isinstance(stype, Glob) and stype.qualname in facts.storage_types:
            dtype = facts.storage_types[stype.qualname]
        else:
            return Opaque(pos, "unknown storage type")
        name = str(key.value)
        found = self.storages.get(name)
        if found is None:
            itemsize = facts.dtypes[dtype].itemsize
            loc = location.value if isinstance(location, Const) else "cpu"
            found = Storage(pos, name, dtype, numel.value * itemsize, str(loc))
            self.storages[name] = found
        return found


def read_legacy(src: ByteSource, ctx: ScanContext) -> LegacyFile:
    """Read the five pickles and locate each storage's bytes in ``src``."""
    length = min(src.size, _FIRST_READ)
    while True:
        buf = src.read_at(0, length)
        try:
            return _read(src, buf, ctx)
        except _NeedMore:
            if length >= src.size or length >= ctx.max_pickle_bytes:
                raise LegacyError("the pickles of this legacy file are truncated") from None
            length = min(src.size, length * 4, ctx.max_pickle_bytes)


class _NeedMore(Exception):
    pass


def _stream(buf: bytes, ctx: ScanContext, start: int, loader=None) -> StreamTrace:
    trace = run_stream(buf, "legacy", ctx.naming, loader, start, ctx.limits, ctx.knowledge)
    if not trace.stopped:
        raise _NeedMore
    return trace


def _read(src: ByteSource, buf: bytes, ctx: ScanContext) -> LegacyFile:
    magic = _stream(buf, ctx, 0)
    if not is_legacy_root(magic.root):
        raise LegacyError("not a legacy torch file (no magic number)")
    proto = _stream(buf, ctx, magic.end)
    if not (isinstance(proto.root, Const) and proto.root.value == PROTOCOL_VERSION):
        raise LegacyError("unsupported legacy protocol version")
    info = _stream(buf, ctx, proto.end)
    loader = _Loader(ctx)
    obj = _stream(buf, ctx, info.end, loader)
    keys_trace = _stream(buf, ctx, obj.end)
    keys = keys_trace.root
    if not (isinstance(keys, Lst) and all(isinstance(k, Const) for k in keys.items)):
        raise LegacyError("the storage key list is not a list of keys")
    pos = keys_trace.end
    for k in keys.items:
        assert isinstance(k, Const)
        storage = loader.storages.get(str(k.value))
        head = src.read_at(pos, 8)
        if len(head) != 8:
            raise LegacyError("legacy file is truncated in its storage data")
        (count,) = struct.unpack("<q", head)
        if storage is None:
            raise LegacyError(f"storage {k.value!r} is listed but never used")
        itemsize = ctx.policy.facts.dtypes[storage.dtype].itemsize
        if count * itemsize != storage.nbytes:
            raise LegacyError(
                f"storage {k.value!r} holds {count * itemsize} bytes but the pickle "
                f"declares {storage.nbytes}"
            )
        if pos + 8 + storage.nbytes > src.size:
            raise LegacyError("legacy file is truncated in its storage data")
        storage.record = (pos + 8, storage.nbytes)
        pos += 8 + storage.nbytes
    return LegacyFile(obj.root, loader.storages, [magic, proto, info, obj, keys_trace])
