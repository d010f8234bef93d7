"""torch's persistent ids for storages, decoded in one place for every reader.

``torch.save`` pickles each storage as a persistent id ``('storage', storage_type, key,
location, numel)`` in zip checkpoints and torch.package archives, with a sixth item
``view_metadata`` in the legacy format, which also pickles each ``nn.Module`` class as
``('module', cls, source_file, source)``. torch (2.13) checks them in this order: the
weights-only unpickler (a tuple or an int; ``'storage'`` first), then the loader's own
``persistent_load`` (item count, storage type, key, location, size). Where the zip and
legacy loaders word an error differently, both wordings are kept here.
"""

from __future__ import annotations

from torchvet.containers.allocation import Allocations
from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.observations import Seen
from torchvet.pickle.torchfacts import TorchFacts, class_repr
from torchvet.pickle.values import Const, GlobalName, Opaque, Storage, TupleValue, Value

ZIP_ITEMS = 5  # zip checkpoints, TorchScript and torch.package archives
LEGACY_ITEMS = 6  # the legacy format adds the view metadata
UNTYPED_STORAGE = "torch.storage.UntypedStorage"
# What the legacy loader cannot read back: storages saved without a typed class.
_LEGACY_UNTYPED = (UNTYPED_STORAGE, "torch.storage.TypedStorage", "torch.UntypedStorage")


class Refused(Exception):
    """torch.load fails on this persistent id: ``message`` says why, ``torch_message`` is
    torch's own error."""

    def __init__(self, message: str, torch_message: str) -> None:
        super().__init__(message)
        self.message = message
        self.torch_message = torch_message


def storage_items(pid: Value, pos: int, count: int) -> tuple[Value, ...]:
    """The items after ``'storage'`` (``count`` in all); raises Refused as torch does."""
    if isinstance(pid, Const) and type(pid.value) is int:
        raise Refused(
            f"persistent id at offset {pos} is an int, not a storage tuple",
            "AssertionError: saved_id must be a tuple, got int",
        )
    if not isinstance(pid, TupleValue):
        raise Refused(
            f"persistent id at offset {pos} is {pid.describe()}, not a tuple",
            f"persistent_load id must be tuple or int, but got {class_repr(pid.pytype)}",
        )
    items = pid.items
    if not items:  # the loaders read saved_id[0]
        raise Refused(
            f"persistent id at offset {pos} is an empty tuple",
            "IndexError: tuple index out of range",
        )
    typename = items[0]
    if not (isinstance(typename, Const) and typename.value in ("storage", b"storage")):
        raise Refused(
            f"persistent id at offset {pos} is not a ('storage', ...) tuple",
            "Only persistent_load of storage is allowed",
        )
    if len(items) != count:
        # The loaders unpack the items after the first (CPython 3.11-3.13's wording).
        got, expected = len(items) - 1, count - 1
        raise Refused(
            f"storage persistent id at offset {pos} has {len(items)} items, not {count}",
            f"ValueError: not enough values to unpack (expected {expected}, got {got})"
            if got < expected
            else f"ValueError: too many values to unpack (expected {expected})",
        )
    return items[1:]


def zip_dtype(stype: Value, pos: int, facts: TorchFacts) -> str:
    """The dtype of a zip checkpoint's storage type (UntypedStorage holds bytes)."""
    name = stype.qualname if isinstance(stype, GlobalName) else None
    if name == UNTYPED_STORAGE:
        return "torch.uint8"
    if name in facts.storage_types:
        return facts.storage_types[name]  # type: ignore[index]
    raise Refused(
        f"storage type {stype.describe()} at offset {pos} is not a storage class",
        "AttributeError: storage type has no dtype",
    )


def legacy_dtype(stype: Value, pos: int, facts: TorchFacts) -> str:
    """The dtype of a legacy storage type: the legacy loader reads ``storage_type.dtype``,
    which untyped storages (new dtypes such as uint16 or float8) do not have."""
    name = stype.qualname if isinstance(stype, GlobalName) else None
    if name in facts.storage_types:
        return facts.storage_types[name]  # type: ignore[index]
    if isinstance(stype, GlobalName) and name in _LEGACY_UNTYPED:
        raise Refused(
            f"storage at offset {pos} is a {stype.name}: torch's legacy loader cannot read "
            "it back (dtypes newer than the legacy format, e.g. uint16 or float8)",
            f"AttributeError: type object '{name}' has no attribute 'dtype'",
        )
    raise Refused(
        f"storage type {stype.describe()} at offset {pos} is not a storage class",
        f"AttributeError: '{stype.describe()}' has no attribute 'dtype'",
    )


class StorageIds:
    """What a storage ``persistent_load`` keeps while a pickle is read: the storages by
    key (torch's ``loaded_storages`` / ``deserialized_objects``), the devices they were
    saved on, and what torch allocates for them."""

    def __init__(self, scan: ContainerScan, ctx: ScanContext) -> None:
        self.scan = scan
        self.ctx = ctx
        self.loaded: dict[object, Storage] = {}
        self.locations: set[str] = set()
        self.allocations = Allocations()

    def location(self, v: Value) -> str | None:
        """A persistent id's location as torch reads it (``_maybe_decode_ascii``): bytes
        must be ASCII; non-strings are ignored."""
        location = v.value if isinstance(v, Const) else None
        if isinstance(location, bytes):
            try:
                location = location.decode("ascii")
            except UnicodeDecodeError:
                raise Refused("storage location is not ASCII", "UnicodeDecodeError") from None
        if not isinstance(location, str):
            return None
        self.locations.add(location)
        return location

    def note_devices(self, entry: str) -> None:
        """Storages saved on another device load only with a map_location there."""
        remote = sorted(loc for loc in self.locations if loc != "cpu")
        if remote:
            self.scan.observe(
                Seen.NOTE,
                f"storages were saved on {', '.join(remote)}; pass map_location "
                "when loading on a machine without that device",
                entry,
            )


def const_int(v: Value) -> int | None:
    """An exact int constant (a storage size torch can allocate), else None."""
    return v.value if isinstance(v, Const) and type(v.value) is int else None


def package_storage(items: tuple[Value, ...], pos: int, facts: TorchFacts) -> Storage | None:
    """A torch.package storage id (the items after ``'storage'``), read as its importer
    reads it: the bytes of ``.data/<key>.storage``, a storage type it does not know as
    bytes; None when the key or size is computed."""
    stype, key, _location, numel_v = items
    name = stype.qualname if isinstance(stype, GlobalName) else ""
    dtype = facts.storage_types.get(name, "torch.uint8")
    numel = const_int(numel_v)
    if not isinstance(key, Const) or numel is None:
        return None
    nbytes = numel * facts.dtypes[dtype].itemsize
    return Storage(pos, str(key.value), dtype, nbytes, "cpu", f".data/{key.value}.storage")


def module_class(pid: Value) -> Value | None:
    """The legacy format pickles each nn.Module class as a persistent id
    ``('module', cls, source_file, source)``; an unrestricted load returns ``cls`` (after
    comparing the source), so the module is built from that class, not from an unknown."""
    if not (isinstance(pid, TupleValue) and len(pid.items) == 4):
        return None
    kind = pid.items[0]
    return pid.items[1] if isinstance(kind, Const) and kind.value in ("module", b"module") else None


def tar_persistent_load(pid: Value, pos: int) -> Value:
    """The tar format's persistent_load: a module class or a storage or tensor by key;
    nothing to check beyond the globals the pickle names."""
    if isinstance(pid, TupleValue) and pid.items:
        return pid.items[0]
    return Opaque(pos, "storage or tensor by key")
