"""From named tensor leaves to write plans: dtype, shape, bytes, transforms, aliases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torchvet.containers.base import ScanContext
from torchvet.containers.zipreader import ZipArchive, ZipEntry
from torchvet.converter.blobs import Blob, BlobError, RangeBlob, SourceRange, zip_blob
from torchvet.converter.dtypes import TARGETS, Target, header_shape, unstorable_reason
from torchvet.converter.gather import is_contiguous
from torchvet.converter.legacy_input import LegacyError, read_legacy
from torchvet.converter.walk import Leaf
from torchvet.pickle.tensorinfo import TensorInfo, check_view, set_strides, tensor_info
from torchvet.pickle.values import Const, DictValue, Instance, Storage, Value, int_of, ints_of
from torchvet.source import ByteSource, BytesSource

EXPAND_LIMIT = 64 << 20  # largest stride-0 (expanded) view materialised
LOAD_FROM_BYTES = "torch.storage._load_from_bytes"
_KIND_REASONS = {
    "quantized": "quantized tensor: safetensors has no quantized dtypes",
    "sparse": "sparse tensor: safetensors stores dense tensors only",
    "nested": "nested tensor: safetensors stores dense tensors only",
    "jagged": "nested (jagged) tensor: safetensors stores dense tensors only",
    "meta": "meta tensor: it has no data",
    "from-cpu": "device tensor rebuilt from a CPU copy: not supported",
}


@dataclass
class TensorPlan:
    name: str
    target: Target
    info: TensorInfo
    blob: Blob
    swap: int = 0  # byte-swap word size (big-endian storages), 0 = none
    # (source path, entry) of the tensor, for messages
    key: tuple = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return self.info.shape

    @property
    def numel(self) -> int:
        return self.info.numel

    @property
    def nbytes(self) -> int:
        return self.numel * self.target.itemsize

    @property
    def contiguous(self) -> bool:
        assert self.info.stride is not None
        return is_contiguous(self.shape, self.info.stride)

    @property
    def header_shape(self) -> list[int]:
        return header_shape(self.target, self.shape)

    @property
    def transformed(self) -> bool:
        return bool(self.swap or self.info.conj or self.info.neg)


@dataclass
class Plans:
    tensors: list[TensorPlan] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> kept name
    unsupported: list[tuple[str, str]] = field(default_factory=list)


class StorageResolver:
    """Finds the bytes behind each storage (zip record, legacy blob, nested payload,
    numpy data, a record bound by a format reader)."""

    def __init__(
        self,
        ctx: ScanContext,
        source: ByteSource,
        archive: ZipArchive | None = None,
        byteorder: str = "little",
    ) -> None:
        self.ctx = ctx
        self.source = source
        self.archive = archive
        self.byteorder = byteorder
        self._blobs: dict[int, Blob] = {}
        self._sources: dict[int, ByteSource] = {}  # storage id -> nested payload source
        self._nested: dict[int, Storage | None] = {}
        self._archives: dict[int, ZipArchive] = {}  # zip entry id -> its (nested) archive
        self._big: set[int] = set()  # storages stored big-endian (numpy '>' arrays)
        self._keep: list[object] = []  # keeps ids above from being reused

    def adopt(self, archive: ZipArchive) -> None:
        """Storages whose records are entries of this (nested) archive read from it."""
        self._keep.append(archive)
        for entry in archive.entries:
            self._archives[id(entry)] = archive

    def bind(self, storage: Storage, blob: Blob, big_endian: bool = False) -> None:
        """A storage whose bytes a format reader located itself."""
        self._keep.append(storage)
        self._blobs[id(storage)] = blob
        if big_endian:
            self._big.add(id(storage))

    def blob(self, storage: Storage) -> Blob:
        found = self._blobs.get(id(storage))
        if found is not None:
            return found
        rec = storage.record
        archive = self._archives.get(id(rec), self.archive)
        if isinstance(rec, ZipEntry) and archive is not None:
            blob = zip_blob(archive, rec)
        elif isinstance(rec, SourceRange):
            blob = RangeBlob(rec.source, rec.offset, rec.size)
        elif isinstance(rec, tuple) and len(rec) == 2:
            blob = RangeBlob(self._sources.get(id(storage), self.source), rec[0], rec[1])
        else:
            raise BlobError(f"storage {storage.key!r} has no readable record")
        if blob.size != storage.nbytes:
            raise BlobError(
                f"storage {storage.key!r} holds {blob.size} bytes, the pickle declares "
                f"{storage.nbytes}"
            )
        self._blobs[id(storage)] = blob
        return blob

    def swap_width(self, storage: Storage, target: Target) -> int:
        rec = storage.record
        if isinstance(rec, SourceRange):
            big = rec.big_endian
        else:
            big = id(storage) in self._big or (
                self.byteorder == "big" and id(storage) not in self._sources
            )
        if not big or target.itemsize == 1:
            return 0
        return target.itemsize // 2 if target.kind == "complex" else target.itemsize

    # -- pickle.dumps(tensor): storages are nested legacy files
    def nested_storage(self, v: Value) -> Storage | None:
        if not (
            isinstance(v, Instance) and v.call is not None and v.call.target == LOAD_FROM_BYTES
        ):
            return None
        if id(v.call) in self._nested:  # keyed by call: one parse per payload
            return self._nested[id(v.call)]
        storage = None
        args = v.call.args
        if len(args) == 1 and isinstance(args[0], Const) and isinstance(args[0].value, bytes):
            payload = BytesSource(args[0].value, "<_load_from_bytes payload>")
            try:
                nested = read_legacy(payload, self.ctx)
            except LegacyError:
                nested = None
            if isinstance(nested, Storage):
                storage = nested
                self._sources[id(storage)] = payload
        self._nested[id(v.call)] = storage
        return storage

    def reinterpret(self, v: Value) -> TensorInfo | None:
        """A tensor the scanner could not model because its storage is a
        ``_load_from_bytes`` payload: rebuild its view from the call arguments."""
        if not isinstance(v, Instance) or v.call is None:
            return None
        target, args = v.call.target, v.call.args
        if target in (
            "torch._utils._rebuild_parameter",
            "torch._utils._rebuild_parameter_with_state",
        ):
            return tensor_info(args[0]) or self.reinterpret(args[0]) if args else None
        if target != "torch._utils._rebuild_tensor_v2" or len(args) not in (6, 7):
            return None
        storage = self.nested_storage(args[0])
        offset, size, stride = int_of(args[1]), ints_of(args[2]), ints_of(args[3])
        if storage is None or offset is None or size is None or stride is None:
            return None
        dtype = self.ctx.policy.facts.dtypes.get(storage.dtype)
        if dtype is None:
            return None
        if check_view(offset, size, stride, dtype.itemsize, storage.nbytes) is not None:
            return None  # torch's set_ refuses this view
        stride = set_strides(size, stride)
        info = TensorInfo("dense", storage.dtype, size, stride, offset, storage)
        if len(args) == 7 and isinstance(args[6], DictValue):
            for k, x in args[6].items:
                if isinstance(k, Const) and isinstance(x, Const):
                    if k.value == "conj":
                        info.conj = bool(x.value)
                    elif k.value == "neg":
                        info.neg = True
        return info


def plan(leaves: list[Leaf], resolver: StorageResolver, rename: Callable[[str], str]) -> Plans:
    out = Plans()
    by_view: dict[tuple, str] = {}
    for leaf in leaves:
        name = rename(leaf.path)
        info = leaf.info or resolver.reinterpret(leaf.value)
        why = _unsupported(info)
        if why is not None:
            out.unsupported.append((name, why))
            continue
        assert info is not None and info.storage is not None and info.stride is not None
        target = TARGETS[info.dtype]
        try:
            blob = resolver.blob(info.storage)
        except BlobError as exc:
            out.unsupported.append((name, f"unreadable: {exc}"))
            continue
        view = (
            id(info.storage),
            info.dtype,
            info.offset,
            info.shape,
            info.stride,
            info.conj,
            info.neg,
        )
        kept = by_view.get(view)
        if kept is not None:  # the same tensor under another name (tied weights)
            out.aliases[name] = kept
            continue
        by_view[view] = name
        swap = resolver.swap_width(info.storage, target)
        out.tensors.append(TensorPlan(name, target, info, blob, swap))
    _prefer_sorted_names(out)
    return out


def _prefer_sorted_names(out: Plans) -> None:
    """Keep the alphabetically first name of each tied group, like safetensors' save_model."""
    groups: dict[str, list[str]] = {}
    for alias, kept in out.aliases.items():
        groups.setdefault(kept, []).append(alias)
    for kept, aliases in groups.items():
        first = min([kept, *aliases])
        if first == kept:
            continue
        t = next(p for p in out.tensors if p.name == kept)
        t.name = first
        for a in aliases:
            out.aliases[a] = first
        del out.aliases[first]
        out.aliases[kept] = first


def _unsupported(info: TensorInfo | None) -> str | None:
    if info is None:
        return "a tensor in a form torchvet cannot read statically"
    if info.kind != "dense":
        return _KIND_REASONS.get(info.kind, f"{info.kind} tensor: not supported")
    if info.dtype not in TARGETS:
        return unstorable_reason(info.dtype)
    target = TARGETS[info.dtype]
    if info.neg and target.neg is None:
        return f"negative view of a {info.dtype} tensor, which torch itself cannot resolve"
    if info.storage is None or info.stride is None:
        return "a tensor without storage"
    expanded = any(s == 0 and n > 1 for n, s in zip(info.shape, info.stride, strict=True))
    nbytes = info.numel * target.itemsize
    if expanded and nbytes > EXPAND_LIMIT:
        return (
            f"an expanded (stride-0) view over {info.storage.nbytes} bytes that would take "
            f"{nbytes} bytes once written out"
        )
    return None
