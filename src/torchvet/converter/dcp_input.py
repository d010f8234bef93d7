"""A torch.distributed.checkpoint folder as one state dict (containers/dcp.py reads it).

The object rebuilt is the state dict ``torch.distributed.checkpoint.load`` fills: each
saved name at its path of keys (``planner_data``), tensors assembled from their chunks,
objects as their own records hold them. The verdict is the worst over the metadata and
every shard, so a dangerous object record refuses the folder like a dangerous file.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.dcp import (
    METADATA_FILE,
    DcpMetadata,
    TensorEntry,
    item_scans,
    scan_metadata,
)
from torchvet.converter.blobs import BlobError
from torchvet.converter.chunks import ComposedBlob, Piece
from torchvet.converter.dtypes import TARGETS
from torchvet.converter.gather import gather, is_contiguous
from torchvet.converter.inputs import InputError, Opened
from torchvet.converter.plan import StorageResolver
from torchvet.observations import Included
from torchvet.pickle.tensorinfo import TensorInfo, tensor_info
from torchvet.pickle.values import Const, DictValue, Instance, Storage, Value
from torchvet.policy.verdict import conclude
from torchvet.source import BytesSource, FileSource

Items = dict[tuple[str, int], ContainerScan]  # (file, offset) -> that record's scan


def open_dcp(folder: str, ctx: ScanContext, stack: ExitStack) -> Opened:
    meta_path = os.path.join(folder, METADATA_FILE)
    if not os.path.isfile(meta_path):
        raise InputError(
            f"{folder} is a folder without a {METADATA_FILE} file: convert takes a checkpoint "
            "file or a torch.distributed.checkpoint folder"
        )
    with FileSource(meta_path) as src:
        mscan, meta = scan_metadata(src, ctx.for_path(meta_path))
    if meta is None:
        raise InputError(f"{meta_path} is not torch.distributed.checkpoint metadata")
    combined = ContainerScan("dcp")
    combined.record(_included(mscan, METADATA_FILE))
    items: Items = {}
    size = 0
    for name in meta.files():
        path = os.path.join(folder, name)
        try:
            shard = stack.enter_context(FileSource(path))
        except OSError as exc:
            raise InputError(f"shard {name} named by {METADATA_FILE}: {exc.strerror}") from None
        size += shard.size
        sscan, found = item_scans(shard, ctx.for_path(path), meta, name)
        combined.record(_included(sscan, name))
        items.update({(name, offset): scan for (_, offset), scan in found.items()})
    result = conclude(folder, combined.format, combined.observations, size, ctx.policy)
    resolver = StorageResolver(ctx, BytesSource(b"", "<dcp>"))
    root = _tree(meta, _leaves(meta, items, resolver, ctx))
    return Opened("torch-distributed-checkpoint", combined, result, root, resolver)


def _included(scan: ContainerScan, where: str) -> Included:
    """One file of the folder: what was found in it counts for the folder."""
    return Included(scan.observations, prefix=where, keep_view=False, allowlist=True)


def _leaves(meta: DcpMetadata, items: Items, resolver: StorageResolver, ctx: ScanContext) -> dict:
    out: dict[str, Value] = {}
    for fqn, entry in meta.tensors.items():
        out[fqn] = _tensor(entry, items, resolver, ctx)
    for fqn, rec in meta.objects.items():
        item = items.get((rec.file, rec.offset)) if rec is not None else None
        if item is None or item.root is None:
            out[fqn] = Instance(0, "object whose record is unreadable")
            continue
        _adopt(item, resolver)
        out[fqn] = item.root
    return out


def _tensor(entry: TensorEntry, items: Items, resolver: StorageResolver, ctx: ScanContext) -> Value:
    if entry.layout != "torch.strided":
        return Instance(0, f"{entry.layout} tensor")
    pieces: list[tuple[tuple[int, ...], TensorInfo, ContainerScan]] = []
    for chunk in entry.chunks:
        rec = chunk.record
        item = items.get((rec.file, rec.offset)) if rec is not None else None
        info = tensor_info(item.root) if item is not None and item.root is not None else None
        if item is None or info is None or info.storage is None or info.stride is None:
            return Instance(0, f"tensor whose chunk at {chunk.offsets} is unreadable")
        if info.kind != "dense" or info.dtype != entry.dtype or info.shape != chunk.sizes:
            return Instance(0, f"tensor whose chunk at {chunk.offsets} does not match its metadata")
        if item.byteorder != "little":
            return Instance(0, "tensor saved big-endian in a DCP shard")
        _adopt(item, resolver)
        pieces.append((chunk.offsets, info, item))
    if len(pieces) == 1 and pieces[0][1].shape == entry.shape:
        return pieces[0][2].root  # type: ignore[return-value]  # the usual one-rank case
    return _composed(entry, pieces, resolver)


def _composed(
    entry: TensorEntry,
    pieces: list[tuple[tuple[int, ...], TensorInfo, ContainerScan]],
    resolver: StorageResolver,
) -> Value:
    target = TARGETS.get(entry.dtype)
    if target is None:  # planning reports the dtype in the words every format uses
        return Instance(0, "torch.Tensor", info=TensorInfo("dense", entry.dtype, entry.shape))
    try:
        parts = [
            Piece(offsets, info.shape, _reader(info, resolver, target.itemsize))
            for offsets, info, _ in pieces
        ]
        blob = ComposedBlob(entry.shape, target.itemsize, parts)
    except BlobError as exc:
        return Instance(0, f"tensor whose chunks cannot be assembled ({exc})")
    strides, acc = [0] * len(entry.shape), 1
    for d in range(len(entry.shape) - 1, -1, -1):
        strides[d] = acc
        acc *= entry.shape[d]
    storage = Storage(0, entry.fqn, entry.dtype, blob.size, "cpu")
    resolver.bind(storage, blob)
    info = TensorInfo("dense", entry.dtype, entry.shape, tuple(strides), 0, storage)
    return Instance(0, "torch.Tensor", info=info)


def _reader(info: TensorInfo, resolver: StorageResolver, itemsize: int):  # type: ignore[no-untyped-def]
    assert info.storage is not None and info.stride is not None
    blob = resolver.blob(info.storage)
    if is_contiguous(info.shape, info.stride):

        def read(start: int, count: int) -> bytes:
            return blob.read((info.offset + start) * itemsize, count * itemsize)

        return read
    cache: list[bytes] = []

    def read_gathered(start: int, count: int) -> bytes:
        if not cache:  # a strided chunk: gathered once (rare: DCP clones most views)
            cache.append(bytes(gather(blob, itemsize, info.offset, info.shape, info.stride)))
        return cache[0][start * itemsize : (start + count) * itemsize]

    return read_gathered


def _adopt(item: ContainerScan, resolver: StorageResolver) -> None:
    if item.archive is not None:
        resolver.adopt(item.archive)


def _tree(meta: DcpMetadata, leaves: dict[str, Value]) -> DictValue:
    """The state dict's nesting back from each name's key path; names whose path does not
    fit (a key both a value and a container) stay flat at the top."""
    root = DictValue(0)
    nodes: dict[tuple, DictValue] = {(): root}
    for fqn, value in leaves.items():
        path = meta.paths.get(fqn, (fqn,))
        parent = _parent(nodes, path[:-1])
        if parent is None or any(_key(k) == path[-1] for k, _ in parent.items):
            root.items.append((Const(0, fqn), value))
            continue
        parent.items.append((Const(0, path[-1]), value))
    return root


def _parent(nodes: dict[tuple, DictValue], path: tuple) -> DictValue | None:
    for i in range(1, len(path) + 1):
        prefix = path[:i]
        if prefix in nodes:
            continue
        above = nodes[prefix[:-1]]
        if any(_key(k) == prefix[-1] for k, _ in above.items):
            return None  # already a value
        node = DictValue(0)
        above.items.append((Const(0, prefix[-1]), node))
        nodes[prefix] = node
    return nodes[path]


def _key(k: Value) -> object:
    return k.value if isinstance(k, Const) else None
