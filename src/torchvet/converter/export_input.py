"""``torch.export`` archives (``.pt2``): the weights and constants ``torch.export.load``
attaches to the program, named by their fully qualified names.

Layout (torch 2.13, ``torch/export/pt2_archive/_package.py``): for each program
``<name>`` (``model`` by default), ``data/weights/<name>_weights_config.json`` and
``data/constants/<name>_constants_config.json`` map each name to a payload: a record
``path_name`` beside the config holding a whole untyped storage's raw bytes, viewed
through ``tensor_meta`` (dtype enum, sizes, strides, storage offset, layout), or, with
``use_pickle``, a ``torch.save`` output (tensor subclasses) or a pickled script object.
Tensors that share a storage point at one record. Archives from torch <= 2.5 kept a
``torch.save``'d state dict in ``serialized_state_dict.pt`` instead.
"""

from __future__ import annotations

import json
import posixpath

from torchvet.containers.base import ScanContext
from torchvet.containers.zipreader import ZipArchive, ZipEntry, ZipError
from torchvet.converter.inputs import InputError, read_input_archive
from torchvet.converter.plan import StorageResolver
from torchvet.pickle.tensorinfo import TensorInfo
from torchvet.pickle.values import Const, DictValue, Instance, Storage, Value
from torchvet.source import ByteSource, SliceSource

_CONFIG_LIMIT = 64 << 20
# torch._export.serde.schema.ScalarType -> torch dtype
SCALAR_TYPES = {
    1: "torch.uint8",
    2: "torch.int8",
    3: "torch.int16",
    4: "torch.int32",
    5: "torch.int64",
    6: "torch.float16",
    7: "torch.float32",
    8: "torch.float64",
    9: "torch.complex32",
    10: "torch.complex64",
    11: "torch.complex128",
    12: "torch.bool",
    13: "torch.bfloat16",
    28: "torch.uint16",
    29: "torch.float8_e4m3fn",
    30: "torch.float8_e5m2",
    31: "torch.float8_e4m3fnuz",
    32: "torch.float8_e5m2fnuz",
    33: "torch.float8_e8m0fnu",
    34: "torch.uint32",
    35: "torch.uint64",
}
STRIDED = 7  # schema.Layout.Strided
_KINDS = {1: "sparse", 2: "sparse", 3: "sparse", 4: "sparse", 5: "sparse", 6: "mkldnn"}
_LEGACY_MEMBERS = ("serialized_state_dict.pt", "serialized_constants.pt")


def pt2_root(src: ByteSource, ctx: ScanContext) -> tuple[Value, StorageResolver]:
    archive = read_input_archive(src)
    resolver = StorageResolver(ctx, src, archive)
    programs: dict[str, DictValue] = {}
    for entry in archive.entries:
        name = posixpath.basename(entry.name)
        for suffix in ("_weights_config.json", "_constants_config.json"):
            if name.endswith(suffix):
                program = programs.setdefault(name[: -len(suffix)], DictValue(0))
                _payloads(archive, entry, ctx, program, resolver)
        if name in _LEGACY_MEMBERS:
            program = programs.setdefault("model", DictValue(0))
            _nested_dict(archive, entry, ctx, program, resolver)
    if len(programs) == 1:
        return next(iter(programs.values())), resolver
    root = DictValue(0)
    root.items = [(Const(0, k), v) for k, v in sorted(programs.items())]
    return root, resolver


def _payloads(
    archive: ZipArchive,
    config: ZipEntry,
    ctx: ScanContext,
    out: DictValue,
    resolver: StorageResolver,
) -> None:
    try:
        doc = json.loads(archive.read(config, limit=_CONFIG_LIMIT))
    except (ZipError, ValueError, RecursionError) as exc:
        raise InputError(f"{config.name} is unreadable: {exc}") from None
    items = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(items, dict):
        raise InputError(f"{config.name} has no config mapping")
    folder = posixpath.dirname(config.name)
    storages: dict[str, Storage] = {}
    for fqn, meta in items.items():
        value = _payload(archive, folder, str(fqn), meta, ctx, storages, resolver)
        out.items.append((Const(0, str(fqn)), value))


def _payload(
    archive: ZipArchive,
    folder: str,
    fqn: str,
    meta: object,
    ctx: ScanContext,
    storages: dict[str, Storage],
    resolver: StorageResolver,
) -> Value:
    if not isinstance(meta, dict) or not isinstance(meta.get("path_name"), str):
        return Instance(0, "unreadable payload description")
    path = posixpath.join(folder, meta["path_name"])
    found = archive.lookup(path)
    if not found:
        return Instance(0, f"payload whose record {path} is missing")
    tensor_meta = meta.get("tensor_meta")
    if meta.get("use_pickle"):
        if tensor_meta is None:
            return Instance(0, "pickled script object")  # torchbind / opaque constants
        return _nested(archive, found[0], ctx, resolver)
    info = _tensor(tensor_meta)
    if isinstance(info, str):
        return Instance(0, info)
    storage = storages.get(path)
    if storage is None:  # tensors sharing a storage share one record
        nbytes = found[0].size
        storage = storages[path] = Storage(0, path, info.dtype, nbytes, "cpu", found[0])
    info.storage = storage
    return Instance(0, "torch.Tensor", info=info)


def _tensor(meta: object) -> TensorInfo | str:
    """A TensorInfo from ``tensor_meta`` (no storage yet), or why there is none."""
    if not isinstance(meta, dict):
        return "payload without tensor metadata"
    dtype = SCALAR_TYPES.get(meta.get("dtype"))  # type: ignore[arg-type]
    sizes, strides = _ints(meta.get("sizes")), _ints(meta.get("strides"))
    offset = _ints([meta.get("storage_offset")])
    if dtype is None:
        return f"tensor of export dtype {meta.get('dtype')!r}"
    if sizes is None or strides is None or offset is None or len(sizes) != len(strides):
        return "tensor with symbolic sizes or strides"
    layout = meta.get("layout", STRIDED)
    kind = "dense" if layout == STRIDED else _KINDS.get(layout, f"layout-{layout}")  # type: ignore[arg-type]
    return TensorInfo(kind, dtype, sizes, strides, offset[0])


def _ints(items: object) -> tuple[int, ...] | None:
    if not isinstance(items, list):
        return None
    out = []
    for x in items:
        if not (isinstance(x, dict) and type(x.get("as_int")) is int):
            return None
        out.append(x["as_int"])
    return tuple(out)


def _nested(
    archive: ZipArchive, entry: ZipEntry, ctx: ScanContext, resolver: StorageResolver
) -> Value:
    """A ``torch.save`` output inside the archive: its object, storages read from it."""
    from torchvet.containers.dispatch import scan_container

    if entry.method != 0:
        return Instance(0, "compressed torch.save record")
    try:
        archive.check_extractable(entry)
        member = SliceSource(archive.source, archive.data_offset(entry), entry.size, entry.name)
    except ZipError as exc:
        return Instance(0, f"unreadable record ({exc})")
    scan = scan_container(member, ctx.for_path(entry.name))
    if scan.root is None or scan.archive is None:
        return Instance(0, f"unreadable {scan.format} record")
    resolver.adopt(scan.archive)
    return scan.root


def _nested_dict(
    archive: ZipArchive,
    entry: ZipEntry,
    ctx: ScanContext,
    out: DictValue,
    resolver: StorageResolver,
) -> None:
    value = _nested(archive, entry, ctx, resolver)
    if isinstance(value, DictValue):
        out.items.extend(value.items)
