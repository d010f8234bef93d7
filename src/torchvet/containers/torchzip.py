"""torch.save's zip format and TorchScript archives, read the way torch.load reads them.

Order of torch's checks (2.13), each reproduced here: the reader finds the archive
prefix from the first central-directory entry and the ``version`` record (1..10,
``.data/version`` first when present); ``torch.load`` lists all records (every name
must be under the prefix) and refuses a TorchScript archive (a ``constants.pkl``
record); ``_load`` checks ``byteorder`` and ``.storage_alignment``, then unpickles
``data.pkl`` with persistent ids resolved to ``data/<key>`` records whose size must
equal ``numel * element_size``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from torchvet.containers.allocation import Allocations
from torchvet.containers.base import (
    ContainerScan,
    ScanContext,
    note_devices,
    storage_location,
)
from torchvet.containers.rawpickle import warn_dormant
from torchvet.containers.tensordata import settle_deferred
from torchvet.containers.views import absorb
from torchvet.containers.zipreader import ZipArchive, ZipEntry, ZipError, read_archive
from torchvet.pickle.values import Const, GlobalName, Opaque, Storage, TupleValue, Value
from torchvet.results import Category
from torchvet.source import ByteSource

MIN_VERSION, MAX_VERSION = 1, 10
_LEADING_INT = re.compile(rb"^\s*([+-]?\d+)")
_SMALL_RECORD = 1 << 16  # version/byteorder/alignment records are tiny
_METADATA_LIMIT = 64 << 20  # largest storage read to check nested-tensor metadata


class _Refused(Exception):
    """torch.load stops here; the message is torch's."""


def _record(archive: ZipArchive, prefix: str, name: str, scan: ContainerScan) -> ZipEntry | None:
    found = archive.lookup(f"{prefix}/{name}")
    picked = archive.torch_pick(f"{prefix}/{name}")
    if len(found) > 1 and picked is not None:
        scan.add(
            Category.WARNING,
            f"{len(found)} entries named {prefix}/{name} (ignoring case): torch reads copy "
            f"{found.index(picked) + 1} (miniz's sort order), other zip tools may read another; "
            "every copy of a pickle is scanned",
            f"{prefix}/{name}",
        )
    return picked


def _small(archive: ZipArchive, entry: ZipEntry, scan: ContainerScan) -> bytes:
    """A small record torch reads whole (version, byteorder, ...): torch allocates its
    declared size, so a huge one is an allocation to report; its start is what torch parses."""
    if entry.size <= _SMALL_RECORD:
        return archive.read(entry)
    allocation = Allocations()
    allocation.add(entry.size, entry.name)
    allocation.report(scan, entry.name)
    return b"".join(archive.iter_chunks(entry, stop_after=_SMALL_RECORD))


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parse_version(data: bytes) -> int | None:
    m = _LEADING_INT.match(data)
    return int(m.group(1)) if m else None


def scan_zip(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    scan = ContainerScan("torch-zip")
    try:
        archive = read_archive(src)
    except ZipError as exc:
        scan.add(Category.MALFORMED, f"zip archive unreadable: {exc}")
        scan.torch_fails(f"PytorchStreamReader failed reading zip archive: {exc}")
        return scan
    scan.extra["archive"] = archive
    for note in archive.notes:
        scan.add(Category.NOTE, note)
    first = archive.entries[0].name
    if "/" not in first:
        scan.add(Category.MALFORMED, f"first entry {first!r} is not in a folder; torch needs one")
        scan.torch_fails(f"file in archive is not in a subdirectory: {first}")
        _scan_foreign_pickles(archive, "", scan, ctx)
        return scan
    prefix = first.split("/", 1)[0]
    scan.extra["prefix"] = prefix
    names = [e.name for e in archive.entries]
    is_torchscript = f"{prefix}/constants.pkl" in names
    if is_torchscript:
        scan.format = "torchscript"
    try:
        _check_layout(archive, prefix, names, scan)
        if is_torchscript:
            # torch.jit.load honours the same byteorder record (the converter needs it).
            found = archive.torch_pick(f"{prefix}/byteorder")
            if found and archive.read(found, limit=_SMALL_RECORD) == b"big":
                scan.extra["byteorder"] = "big"
            _scan_torchscript(archive, prefix, scan, ctx)
            return scan
        byteorder = _check_records(archive, prefix, scan)
        scan.extra["byteorder"] = byteorder
        data_pkl = _record(archive, prefix, "data.pkl", scan)
        if data_pkl is None:
            raise _Refused("PytorchStreamReader failed locating file data.pkl: file not found")
        _scan_data_pkl(archive, prefix, data_pkl, scan, ctx)
        _scan_other_copies(archive, data_pkl, scan, ctx)
        # torch.load logs the serialization id last, decoding it as UTF-8.
        serialization_id = _record(archive, prefix, ".data/serialization_id", scan)
        if serialization_id is not None and not _utf8(_small(archive, serialization_id, scan)):
            scan.add(Category.MALFORMED, ".data/serialization_id is not UTF-8 text")
            raise _Refused("UnicodeDecodeError: 'utf-8' codec can't decode the serialization id")
    except _Refused as exc:
        scan.torch_fails(str(exc))
        if not any(f.category is not Category.NOTE for f in scan.findings):
            scan.add(Category.MALFORMED, str(exc))
    except ZipError as exc:
        scan.add(Category.MALFORMED, f"zip record unreadable: {exc}")
        scan.torch_fails(f"PytorchStreamReader failed reading file: {exc}")
    _report_tolerated(archive, scan)
    return scan


def _check_layout(archive: ZipArchive, prefix: str, names: list[str], scan: ContainerScan) -> None:
    version = _record(archive, prefix, ".data/version", scan) or _record(
        archive, prefix, "version", scan
    )
    if version is None:
        scan.add(Category.MALFORMED, f"no {prefix}/version record (torch requires one)")
        raise _Refused('Expected hasRecord("version") to be true, but got false.')
    value = _parse_version(_small(archive, version, scan))
    if value is None:
        scan.add(Category.MALFORMED, "version record is not a number")
        raise _Refused("stoull: no conversion of the version record")
    if not MIN_VERSION <= value <= MAX_VERSION:
        scan.add(Category.MALFORMED, f"file format version {value} is outside 1..10")
        raise _Refused(
            f"Attempted to read a PyTorch file with version {value}, but the "
            f"{'minimum' if value < MIN_VERSION else 'maximum'} supported version for reading is "
            f"{MIN_VERSION if value < MIN_VERSION else MAX_VERSION}."
        )
    undecodable = [e for e in archive.entries if not _utf8(e.raw_name)]
    if undecodable:
        scan.add(
            Category.MALFORMED,
            f"entry name {undecodable[0].raw_name[:60]!r} is not UTF-8 "
            "(torch fails listing the archive)",
        )
        raise _Refused("UnicodeDecodeError: 'utf-8' codec can't decode an archive entry name")
    odd = [e for e in archive.entries if b"\0" in e.raw_name or len(e.raw_name) > 511]
    if odd:
        scan.add(
            Category.MALFORMED,
            f"entry name {odd[0].raw_name[:60]!r} holds a NUL byte or "
            "exceeds 511 bytes; torch's reader truncates such names",
        )
        raise _Refused("archive entry name truncated by torch's reader")
    outside = [n for n in names if not n.startswith(prefix + "/")]
    if outside:
        scan.add(
            Category.MALFORMED,
            f"entry {outside[0]!r} is outside the archive folder {prefix}/ (torch refuses it)",
            outside[0],
        )
        raise _Refused(f"file in archive is not in a subdirectory {prefix}/: {outside[0]}")


def _check_records(archive: ZipArchive, prefix: str, scan: ContainerScan) -> str:
    fmt = _record(archive, prefix, ".format_version", scan)
    if fmt is not None:
        _small(archive, fmt, scan)  # torch reads it first; only readability matters
    byteorder = "little"
    entry = _record(archive, prefix, "byteorder", scan)
    if entry is not None:
        data = _small(archive, entry, scan)
        if data not in (b"little", b"big"):
            scan.add(Category.MALFORMED, f"byteorder record is {data[:20]!r}, not little or big")
            raise _Refused("Unknown endianness type: " + data.decode("utf-8", "replace"))
        byteorder = data.decode()
        if byteorder == "big":
            scan.add(Category.NOTE, "storages are big-endian; torch byte-swaps them on load")
    entry = _record(archive, prefix, ".storage_alignment", scan)
    if entry is not None:
        data = _small(archive, entry, scan)
        try:
            int(data)
        except ValueError:
            scan.add(Category.MALFORMED, f".storage_alignment record {data[:20]!r} is not a number")
            raise _Refused(f"invalid literal for int() with base 10: {data[:20]!r}") from None
    return byteorder


class ZipStorages:
    """torch's ``persistent_load`` for zip checkpoints, emulated over the archive."""

    def __init__(
        self,
        archive: ZipArchive,
        prefix: str,
        scan: ContainerScan,
        ctx: ScanContext,
        folder: str = "data",
        strict: bool = True,
    ) -> None:
        self.archive = archive
        self.prefix = prefix
        self.scan = scan
        self.ctx = ctx
        self.folder = folder  # a pickle's storages live in <prefix>/<its name>/<key>
        # strict: torch.load reads these storages and fails on a bad one. TorchScript's
        # other pickles (traced_inputs.pkl) are read lazily, if at all: only notes there.
        self.strict = strict
        self.loaded: dict[object, Storage] = {}
        self.locations: set[str] = set()
        self.entry = f"{prefix}/{folder}.pkl"
        # torch reads each record it needs into a buffer of the record's declared size.
        self.allocations = Allocations()

    def _invalid(self, pos: int, message: str, torch_message: str) -> Value:
        if self.strict:
            self.scan.add(Category.MALFORMED, message, self.entry, pos)
            self.scan.torch_fails(torch_message)
        else:
            self.scan.add(Category.NOTE, message, self.entry, pos)
        return Opaque(pos, "bad persistent id")

    def _storage_id(self, pid: Value, pos: int) -> tuple[str, Value, Value, Value] | Value:
        """(dtype, key, location, numel) of a ``('storage', type, key, location, numel)``
        persistent id, or the value torch's refusal leaves."""
        if isinstance(pid, Const) and type(pid.value) is int:
            return self._invalid(
                pos,
                f"persistent id at offset {pos} is an int, not a storage tuple",
                "AssertionError: saved_id must be a tuple, got int",
            )
        if not isinstance(pid, TupleValue):
            return self._invalid(
                pos,
                f"persistent id at offset {pos} is {pid.describe()}, not a tuple",
                f"persistent_load id must be tuple or int, but got <class '{pid.pytype}'>",
            )
        items = pid.items
        typename = items[0] if items else None
        if not (isinstance(typename, Const) and typename.value in ("storage", b"storage")):
            return self._invalid(
                pos,
                f"persistent id at offset {pos} is not a ('storage', ...) tuple",
                "Only persistent_load of storage is allowed",
            )
        if len(items) != 5:
            return self._invalid(
                pos,
                f"storage persistent id at offset {pos} has {len(items)} items, not 5",
                "ValueError: wrong number of values to unpack in persistent_load",
            )
        stype, key_v, loc_v, numel_v = items[1:]
        facts = self.ctx.policy.facts
        if isinstance(stype, GlobalName) and stype.qualname == "torch.storage.UntypedStorage":
            dtype_name = "torch.uint8"
        elif isinstance(stype, GlobalName) and stype.qualname in facts.storage_types:
            dtype_name = facts.storage_types[stype.qualname]
        else:
            return self._invalid(
                pos,
                f"storage type {stype.describe()} at offset {pos} is not a storage class",
                "AttributeError: storage type has no dtype",
            )
        return dtype_name, key_v, loc_v, numel_v

    def __call__(self, pid: Value, pos: int) -> Value:
        parsed = self._storage_id(pid, pos)
        if isinstance(parsed, Value):
            return parsed
        dtype_name, key_v, loc_v, numel_v = parsed
        if not (isinstance(key_v, Const) and type(key_v.value) in (str, int)):
            self.scan.add(
                Category.UNVERIFIED,
                f"storage key at offset {pos} is {key_v.describe()}",
                self.entry,
                pos,
            )
            return Opaque(pos, "unusual storage key")
        key = key_v.value
        if key in self.loaded:
            return self.loaded[key]
        try:
            location = storage_location(loc_v)
        except UnicodeDecodeError:
            return self._invalid(pos, "storage location is not ASCII", "UnicodeDecodeError")
        if location is not None:
            self.locations.add(location)
        numel = numel_v.value if isinstance(numel_v, Const) and type(numel_v.value) is int else None
        if numel is None:
            self.scan.add(
                Category.UNVERIFIED,
                f"storage size at offset {pos} is {numel_v.describe()}",
                self.entry,
                pos,
            )
            return Opaque(pos, "unusual storage size")
        return self._storage(pos, key, dtype_name, numel, location)

    def _storage(
        self, pos: int, key: str | int, dtype_name: str, numel: int, location: str | None
    ) -> Value:
        """The storage torch reads from record ``<folder>/<key>``, checked as torch does."""
        itemsize = self.ctx.policy.facts.dtypes[dtype_name].itemsize
        nbytes = numel * itemsize
        name = f"{self.folder}/{key}"
        record = _record(self.archive, self.prefix, name, self.scan)
        if record is None:
            return self._invalid(
                pos,
                f"storage {key!r} (offset {pos}) has no record {self.prefix}/{name}",
                f"PytorchStreamReader failed locating file {name}: file not found",
            )
        try:  # torch reads the record: its header, flags and (if DEFLATE) stream must be valid
            self.archive.verify(record)
        except ZipError as exc:
            return self._invalid(
                pos,
                f"storage record unreadable: {exc}",
                f"PytorchStreamReader failed reading file {name}: {exc}",
            )
        if record.size != nbytes:
            return self._invalid(
                pos,
                f"record {self.prefix}/{name} holds {record.size} bytes but the pickle declares "
                f"{nbytes} ({numel} x {itemsize})",
                f"record size ({record.size} bytes) does not match expected size ({nbytes} bytes = "
                f"{numel} elements * {itemsize} bytes/element)",
            )
        storage = Storage(pos, str(key), dtype_name, nbytes, str(location), record)
        self.allocations.add(nbytes, f"record {name[:40]}", pos)
        if nbytes > 0:  # torch caches only storages with a data pointer
            self.loaded[key] = storage
        return storage


def _scan_data_pkl(
    archive: ZipArchive, prefix: str, entry: ZipEntry, scan: ContainerScan, ctx: ScanContext
) -> None:
    buf = archive.read(entry, limit=ctx.max_pickle_bytes)
    storages = ZipStorages(archive, prefix, scan, ctx)
    storages.allocations.add(entry.size, entry.name)
    trace = scan.run_pickle(ctx, buf, entry.name, storages)
    scan.root = trace.root
    scan.extra["storages"] = storages
    storages.allocations.report(scan, entry.name)
    if trace.deferred:
        itemsizes = {name: d.itemsize for name, d in ctx.policy.facts.dtypes.items()}
        settle_deferred(trace, scan, _record_reader(archive), itemsizes)
    if trace.stopped and trace.end < len(buf):
        scan.add(
            Category.NOTE,
            f"{len(buf) - trace.end} bytes after STOP in data.pkl (ignored by torch)",
            entry.name,
            trace.end,
        )
        warn_dormant(scan, buf, trace.end, ctx, entry.name, "after STOP in data.pkl")
    note_devices(scan, storages.locations, entry.name)


def _scan_other_copies(
    archive: ZipArchive, picked: ZipEntry, scan: ContainerScan, ctx: ScanContext
) -> None:
    """Copies of data.pkl torch does not read: a tool that picks another copy runs it."""
    for entry in archive.lookup(picked.name):
        if entry is picked:
            continue
        other = ContainerScan("torch-zip")
        try:
            buf = archive.read(entry, limit=ctx.max_pickle_bytes)
        except ZipError:
            continue  # no reader gets a pickle out of it
        other.run_pickle(ctx, buf, entry.name, None, torch_reads=False)
        absorb(scan, other, f"copy {archive.lookup(picked.name).index(entry) + 1} of {entry.name}")


def _record_reader(archive: ZipArchive) -> Callable[[Storage], bytes | None]:
    def read(storage: Storage) -> bytes | None:
        if not isinstance(storage.record, ZipEntry):
            return None
        try:
            data = archive.read(storage.record, limit=_METADATA_LIMIT)
        except ZipError:
            return None
        # Cut short by the file's budget: unreadable here (a LIMIT note says so).
        return data if len(data) == storage.record.size else None

    return read


def _scan_torchscript(
    archive: ZipArchive, prefix: str, scan: ContainerScan, ctx: ScanContext
) -> None:
    scan.torch_fails(
        "Cannot use ``weights_only=True`` with TorchScript archives passed to ``torch.load``."
    )
    code = [
        e.name
        for e in archive.entries
        if e.name.startswith(f"{prefix}/code/") and e.name.endswith(".py")
    ]
    scan.add(
        Category.CODE,
        f"TorchScript archive: torch.jit.load runs its code ({len(code)} source files under "
        f"{prefix}/code/); torch.load(weights_only=True) refuses it",
        f"{prefix}/constants.pkl",
    )
    storages = ZipStorages(archive, prefix, scan, ctx)
    for entry in archive.entries:
        if not entry.name.endswith((".pkl", ".debug_pkl")):
            continue
        try:
            buf = archive.read(entry, limit=ctx.max_pickle_bytes)
        except ZipError as exc:
            scan.add(Category.MALFORMED, f"record unreadable: {exc}", entry.name)
            continue
        # torch.jit.load reads <prefix>/<name>.pkl (data, constants, traced_inputs, ...)
        # with its tensors in <prefix>/<name>/; debug pickles hold no tensors.
        folder = entry.name[len(prefix) + 1 : -len(".pkl")]
        loader: ZipStorages | None = None
        if entry.name == f"{prefix}/data.pkl":
            loader = storages
        elif entry.name.endswith(".pkl") and "/" not in folder:
            loader = ZipStorages(archive, prefix, scan, ctx, folder, strict=False)
        trace = scan.run_pickle(ctx, buf, entry.name, loader, torch_reads=False)
        if entry.name == f"{prefix}/data.pkl":
            scan.root = trace.root
    scan.extra["storages"] = storages


def _scan_foreign_pickles(
    archive: ZipArchive, prefix: str, scan: ContainerScan, ctx: ScanContext
) -> None:
    """A zip torch cannot read: still look inside every pickle for gadgets."""
    for entry in archive.entries:
        if entry.name.endswith((".pkl", ".pickle", ".debug_pkl")) or entry.name.endswith(
            "data.pkl"
        ):
            try:
                buf = archive.read(entry, limit=ctx.max_pickle_bytes)
            except ZipError as exc:
                scan.add(Category.MALFORMED, f"record unreadable: {exc}", entry.name)
                continue
            scan.run_pickle(ctx, buf, entry.name, None, torch_reads=False)


def _report_tolerated(archive: ZipArchive, scan: ContainerScan) -> None:
    tolerated: list[str] = []
    if any(e.method == 8 for e in archive.entries):
        tolerated.append("DEFLATE-compressed records (torch inflates them; mmap=True would not)")
    for e in archive.entries:
        for note in e.notes:
            tolerated.append(f"{e.name}: {note}")
    for note in tolerated[:20]:
        scan.add(Category.NOTE, f"tolerated: {note}")
