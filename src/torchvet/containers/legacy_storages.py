"""The storages of torch's legacy format: its persistent ids and the blobs after the pickles.

The object pickle names each storage by a persistent id ``('storage', StorageType, key,
location, numel, view_metadata)`` (``storage_ids`` decodes it); torch allocates each new
storage there, and makes views of existing ones. After the storage-key list come, for
each key in it, an int64 element count and the storage's bytes (``_set_from_file``):
skipped by length here, never read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.buffers import Buffer
from torchvet.containers.storage_ids import (
    LEGACY_ITEMS,
    Refused,
    StorageIds,
    legacy_dtype,
    module_class,
    storage_items,
)
from torchvet.observations import Seen
from torchvet.pickle.values import Const, Opaque, Storage, TupleValue, Value

_INT64 = struct.Struct("<q")


@dataclass
class _View:
    storage: Storage
    root: Storage
    offset_bytes: int


class LegacyStorages(StorageIds):
    """torch's legacy ``persistent_load`` emulated: storages by key, views of them."""

    def __init__(self, scan: ContainerScan, ctx: ScanContext) -> None:
        super().__init__(scan, ctx)  # loaded: torch's deserialized_objects
        self.views: list[_View] = []
        self._errors: list[tuple[int, str, str, Seen]] = []
        self.failed = False  # some persistent id was refused or could not be followed

    def _invalid(self, pos: int, message: str, torch_message: str) -> Value:
        self._errors.append((pos, message, torch_message, Seen.BROKEN))
        self.failed = True
        return Opaque(pos, "bad persistent id")

    def _unverified(self, pos: int, message: str) -> Value:
        self.scan.observe(Seen.UNMODELLED, message, "data", pos)
        self.failed = True
        return Opaque(pos, "unverified persistent id")

    def report(self, torch_reads: bool = True) -> None:
        """Add the persistent-id errors (after the stream, so a refused global found by
        the policy earlier in the stream stays torch's first error)."""
        self.allocations.report(self.scan, "data")
        for pos, message, torch_message, kind in self._errors:
            self.scan.observe(kind, message, "data", pos)
            if torch_reads:
                self.scan.torch_fails(torch_message)

    def __call__(self, pid: Value, pos: int) -> Value:
        cls = module_class(pid)
        if cls is not None:  # weights_only refuses it; an unrestricted load goes on
            self._errors.append(
                (
                    pos,
                    f"persistent id at offset {pos} names the module class {cls.describe()} "
                    "(a whole nn.Module saved in the legacy format)",
                    "Only persistent_load of storage is allowed",
                    Seen.STRUCTURE_REFUSED,
                )
            )
            return cls
        try:
            stype, key_v, loc_v, numel_v, view_v = storage_items(pid, pos, LEGACY_ITEMS)
            dtype = legacy_dtype(stype, pos, self.ctx.policy.facts)
            location = self.location(loc_v)
        except Refused as refused:
            return self._invalid(pos, refused.message, refused.torch_message)
        if not isinstance(key_v, Const):
            return self._unverified(pos, f"storage key at offset {pos} is {key_v.describe()}")
        numel = numel_v.value if isinstance(numel_v, Const) else None
        if type(numel) not in (int, bool):
            return self._unverified(pos, f"storage size at offset {pos} is {numel_v.describe()}")
        root = self._root(pos, key_v.value, dtype, int(numel), str(location))  # type: ignore[call-overload]
        if root is None:
            return Opaque(pos, "bad persistent id")
        if isinstance(view_v, Const) and view_v.value is None:
            return root
        return self._view(pos, root, view_v)

    def _root(self, pos: int, key: object, dtype: str, numel: int, location: str) -> Storage | None:
        """The storage of ``key``: created (and allocated) at its first persistent id."""
        nbytes = numel * self.ctx.policy.facts.dtypes[dtype].itemsize
        if nbytes < 0:
            self._invalid(
                pos,
                f"storage at offset {pos} has a negative size {numel}",
                "alloc_cpu() seems to have been called with negative number",
            )
            return None
        root = self.loaded.get(key)
        if root is None:
            root = Storage(pos, str(key), dtype, nbytes, location)
            self.loaded[key] = root
            self.allocations.add(nbytes, f"storage {str(key)[:40]!r}", pos)
        elif root.nbytes == 0:
            # torch re-creates an empty storage (no data pointer) instead of sharing it.
            root = Storage(pos, str(key), dtype, 0, location)
        return root

    def _view(self, pos: int, root: Storage, view_v: Value) -> Value:
        if not (isinstance(view_v, TupleValue) and len(view_v.items) == 3):
            return self._invalid(
                pos,
                f"view metadata at offset {pos} is {view_v.describe()}, not (key, offset, size)",
                "ValueError: wrong number of values to unpack",
            )
        vkey, off_v, size_v = view_v.items
        off = off_v.value if isinstance(off_v, Const) else None
        size = size_v.value if isinstance(size_v, Const) else None
        if not isinstance(vkey, Const) or type(off) is not int or type(size) is not int:
            return self._unverified(pos, f"view metadata at offset {pos} is not constant")
        if off < 0 or size < 0:
            return self._unverified(pos, f"view at offset {pos} has a negative offset or size")
        existing = self.loaded.get(vkey.value)
        if existing is not None:
            return existing
        itemsize = self.ctx.policy.facts.dtypes[root.dtype].itemsize
        start = min(off * itemsize, root.nbytes)
        stop = min(start + size * itemsize, root.nbytes)
        view = Storage(pos, str(vkey.value), root.dtype, stop - start, root.location)
        self.loaded[vkey.value] = view
        self.views.append(_View(view, root, start))
        return view


def read_blobs(
    scan: ContainerScan, buf: Buffer, storages: LegacyStorages, keys: list[object], pos: int
) -> int | None:
    """Check each blob's element count and length the way ``_set_from_file`` does."""
    size = len(buf)
    for key in keys:
        storage = storages.loaded.get(key)
        if storage is None:
            scan.observe(
                Seen.BROKEN,
                f"storage key {key!r} is listed but no persistent id declares it",
                "storage keys",
            )
            scan.torch_fails(f"storage key {key!r} not found in deserialized_objects")
            return None
        if size - pos < 8:
            return _eof(scan, key, pos, 8 - max(0, size - pos))
        (count,) = _INT64.unpack_from(buf, pos)
        itemsize = storages.ctx.policy.facts.dtypes[storage.dtype].itemsize
        file_nbytes = _int64(count * itemsize)
        if file_nbytes != storage.nbytes:
            scan.observe(
                Seen.BROKEN,
                f"blob of storage {key!r} holds {count} elements ({file_nbytes} bytes) but the "
                f"pickle declares {storage.nbytes} bytes",
                "",
                pos,
            )
            # torch's message really prints the format string, then both numbers.
            scan.torch_fails(
                f"storage has wrong byte size: expected %ld got %ld{file_nbytes}{storage.nbytes}"
            )
            return None
        data = pos + 8
        if size - data < storage.nbytes:
            return _eof(scan, key, pos, storage.nbytes - (size - data))
        storage.record = (data, storage.nbytes)
        pos = data + storage.nbytes
    for view in storages.views:
        if view.storage.record is None and view.root.record is not None:
            view.storage.record = (view.root.record[0] + view.offset_bytes, view.storage.nbytes)
    listed = set(keys)
    views = {id(v.storage) for v in storages.views}
    unread = [
        s.key
        for k, s in storages.loaded.items()
        if s.nbytes and k not in listed and id(s) not in views
    ]
    if unread:
        scan.observe(
            Seen.NOTE,
            f"storages {', '.join(unread[:5])} have no data blob: torch leaves their memory "
            "uninitialised",
            "storage keys",
        )
    storages.note_devices("data")
    return pos


def _eof(scan: ContainerScan, key: object, pos: int, missing: int) -> None:
    scan.observe(
        Seen.BROKEN,
        f"file ends inside the blob of storage {key!r} ({missing} bytes missing)",
        "",
        pos,
    )
    scan.torch_fails(f"unexpected EOF, expected {missing} more bytes. The file might be corrupted.")
    return None


def _int64(value: int) -> int:
    """C++ int64 arithmetic: the element count times the item size wraps around."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value
