"""torch.distributed.checkpoint (DCP) directories: a pickled ``.metadata`` and shards.

Layout written by ``torch.distributed.checkpoint.save`` with the default
``FileSystemWriter`` (torch 2.13, ``SerializationFormat.TORCH_SAVE``; docs/formats.md):

* ``.metadata``: a pickle (protocol 4) of ``Metadata``: ``state_dict_metadata`` maps
  each flattened name to a ``TensorStorageMetadata`` (dtype, size, chunks: offsets and
  sizes of the pieces ranks saved) or a ``BytesStorageMetadata``; ``storage_data`` maps
  ``MetadataIndex(fqn, offset)`` to ``_StorageInfo(relative_path, offset, length)``;
  ``planner_data`` maps each name to its path of keys in the original state dict.
* ``__<rank>_<n>.distcp``: records back to back, each the output of ``torch.save``:
  a torch zip of one tensor chunk, or a torch zip of one pickled object.

``torch.distributed.checkpoint.load`` unpickles ``.metadata`` with ``pickle.load``,
loads each tensor record with ``torch.load(weights_only=True)`` and each object record
with ``torch.load(weights_only=False)``. ``torch.load`` on a whole shard reads the last
record's zip directory as if it began the file. Everything here reads bytes; the
metadata pickle is run by the symbolic machine, never unpickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.joblib_files import PLAIN_MESSAGE
from torchvet.observations import Included, Observation, Seen
from torchvet.pickle.values import (
    Const,
    DictValue,
    GlobalName,
    Instance,
    ListValue,
    TupleValue,
    Value,
)
from torchvet.source import ByteSource, FileSource, SliceSource

METADATA_FILE = ".metadata"
_MODULE = "torch.distributed.checkpoint.metadata"
METADATA = f"{_MODULE}.Metadata"
TENSOR_META = f"{_MODULE}.TensorStorageMetadata"
BYTES_META = f"{_MODULE}.BytesStorageMetadata"
STORAGE_INFO = "torch.distributed.checkpoint.filesystem._StorageInfo"
# The classes DCP itself pickles into .metadata: dataclasses and an enum whose
# construction and __setstate__ only store fields. pickle.load builds them; nothing else.
DCP_CLASSES = frozenset(
    {
        METADATA,
        TENSOR_META,
        BYTES_META,
        STORAGE_INFO,
        f"{_MODULE}.TensorProperties",
        f"{_MODULE}.ChunkStorageMetadata",
        f"{_MODULE}.MetadataIndex",
        f"{_MODULE}.StorageMeta",
        f"{_MODULE}._MEM_FORMAT_ENCODING",
    }
)
_SIGNATURE = _MODULE.encode()
METADATA_MESSAGE = (
    "torch.distributed.checkpoint metadata: torch.load(weights_only=True) refuses it; "
    "torch.distributed.checkpoint.load unpickles it with pickle.load (it names only DCP's "
    "own metadata classes here)"
)


@dataclass(frozen=True)
class Record:
    """Where one saved item's bytes are: ``length`` bytes at ``offset`` of ``file``."""

    file: str
    offset: int
    length: int
    transforms: tuple[str, ...] = ()


@dataclass
class Chunk:
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    record: Record | None


@dataclass
class TensorEntry:
    fqn: str
    dtype: str  # torch dtype name
    shape: tuple[int, ...]
    chunks: list[Chunk]
    layout: str = "torch.strided"


@dataclass
class DcpMetadata:
    tensors: dict[str, TensorEntry] = field(default_factory=dict)
    objects: dict[str, Record | None] = field(default_factory=dict)
    paths: dict[str, tuple[str | int, ...]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def records(self) -> list[tuple[str, Record, bool]]:
        """(fqn, record, is a tensor chunk) for every saved item, in file order."""
        out = [(f, c.record, True) for f, t in self.tensors.items() for c in t.chunks if c.record]
        out += [(f, r, False) for f, r in self.objects.items() if r is not None]
        return sorted(out, key=lambda x: (x[1].file, x[1].offset))

    def files(self) -> list[str]:
        return sorted({r.file for _, r, _ in self.records()})


# ----------------------------------------------------------------------------- the hook
def scan_dcp(src: ByteSource, ctx: ScanContext) -> ContainerScan | None:
    """The scan of a DCP metadata file (known by content) or shard (known by the
    metadata beside it), or None when ``src`` is neither."""
    if looks_like_metadata(src):
        return scan_metadata(src, ctx)[0]
    folder = os.path.dirname(ctx.path) if ctx.path else ""
    meta_path = os.path.join(folder, METADATA_FILE)
    if not ctx.path or os.path.basename(ctx.path) == METADATA_FILE:
        return None
    meta = cached_metadata(meta_path, ctx)
    if meta is None or os.path.basename(ctx.path) not in meta.files():
        return None
    return scan_shard(src, ctx, meta, os.path.basename(ctx.path))


def looks_like_metadata(src: ByteSource) -> bool:
    head = src.read_at(0, 256)
    return head[:1] == b"\x80" and _SIGNATURE in head and b"Metadata" in head


_CACHE: dict[tuple[str, int, int], DcpMetadata | None] = {}
_CACHE_SIZE = 8


def cached_metadata(path: str, ctx: ScanContext) -> DcpMetadata | None:
    """A folder's parsed .metadata: parsed once per version of the file, so scanning a
    folder of shards does not re-read it for each."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = read_metadata(path, ctx)
    return _CACHE[key]


def dcp_folder(path: str, ctx: ScanContext | None = None) -> str | None:
    """The checkpoint folder ``path`` belongs to, when it is the ``.metadata`` of a DCP
    checkpoint or a shard that metadata names (as written: relative stays relative)."""
    from torchvet.policy.judge import Policy

    folder = os.path.dirname(path)
    meta = cached_metadata(
        os.path.join(folder, METADATA_FILE), ctx or ScanContext(Policy.for_torch())
    )
    name = os.path.basename(path)
    if meta is None or not (name == METADATA_FILE or name in meta.files()):
        return None
    return folder or "."


def read_metadata(path: str, ctx: ScanContext) -> DcpMetadata | None:
    try:
        with FileSource(path) as src:
            if not looks_like_metadata(src):
                return None
            return scan_metadata(src, ctx.for_path(path))[1]
    except OSError:
        return None


# ----------------------------------------------------------------------------- metadata
def scan_metadata(src: ByteSource, ctx: ScanContext) -> tuple[ContainerScan, DcpMetadata | None]:
    """The pickle read as every pickle is; if its root is DCP's Metadata, DCP's own
    classes are vouched for and the checkpoint's layout is read from it."""
    from torchvet.containers.dispatch import scan_container  # the dispatcher

    scan = scan_container(src, ctx)
    root = scan.root
    if not (isinstance(root, Instance) and root.pytype == METADATA):
        return scan, None
    scan.format = "dcp-metadata"
    scan.observations = [  # what a plain pickle is, said of DCP's metadata below
        o
        for o in scan.observations
        if not (isinstance(o, Observation) and o.message == PLAIN_MESSAGE)
    ]
    # Like joblib's array wrapper: DCP's metadata classes run no code of their own.
    scan.vouch(
        DCP_CLASSES,
        "a torch.distributed.checkpoint metadata class (a dataclass: pickle.load only stores "
        "its fields)",
        as_keys=True,
    )
    meta = parse_metadata(root, frozenset(ctx.policy.facts.dtypes))
    scan.observe(Seen.FORM_REFUSED, METADATA_MESSAGE)
    files = meta.files()
    scan.observe(
        Seen.NOTE,
        f"{len(meta.tensors)} tensors and {len(meta.objects)} objects in "
        f"{len(files)} shard file{'s' if len(files) != 1 else ''}: {', '.join(files[:5])}"
        + (", ..." if len(files) > 5 else ""),
    )
    for problem in meta.problems[:10]:
        scan.observe(Seen.NOTE, f"not understood: {problem}")
    return scan, meta


def parse_metadata(root: Instance, dtypes: frozenset[str]) -> DcpMetadata:
    meta = DcpMetadata()
    fields = _fields(root)
    if fields is None:
        meta.problems.append("Metadata has no field dict")
        return meta
    records = _storage_data(fields.get("storage_data"), meta)
    described = fields.get("state_dict_metadata")
    for fqn, v in _str_items(described):
        if isinstance(v, Instance) and v.pytype == TENSOR_META:
            entry = _tensor_entry(fqn, v, dtypes, records, meta)
            if entry is not None:
                meta.tensors[fqn] = entry
        elif isinstance(v, Instance) and v.pytype == BYTES_META:
            meta.objects[fqn] = records.get((fqn, None))
        else:
            meta.problems.append(f"{fqn!r} is described by {v.describe()}")
    for fqn, v in _str_items(fields.get("planner_data")):
        path = _key_path(v)
        if path is not None:
            meta.paths[fqn] = path
    return meta


def _storage_data(v: Value | None, meta: DcpMetadata) -> dict[tuple, Record]:
    out: dict[tuple, Record] = {}
    if not isinstance(v, DictValue):
        meta.problems.append("storage_data is not a dict")
        return out
    for k, info in v.items:
        key_fields, info_fields = _fields(k), _fields(info)
        if key_fields is None or info_fields is None:
            meta.problems.append(f"storage_data entry {k.describe()}")
            continue
        fqn = _str(key_fields.get("fqn"))
        offset = key_fields.get("offset")
        where = None if offset is None or _is_none(offset) else _ints(offset)
        path = _str(info_fields.get("relative_path"))
        start, length = _int(info_fields.get("offset")), _int(info_fields.get("length"))
        transforms = info_fields.get("transform_descriptors")
        names = () if transforms is None or _is_none(transforms) else _strs(transforms)
        if fqn is None or path is None or start is None or length is None or names is None:
            meta.problems.append(f"storage_data entry for {fqn!r}")
            continue
        if os.path.basename(path) != path or path in ("", ".", ".."):
            meta.problems.append(f"storage_data names a file outside the folder: {path!r}")
            continue
        out[(fqn, where)] = Record(path, start, length, names)
    return out


def _tensor_entry(
    fqn: str, v: Instance, dtypes: frozenset[str], records: dict[tuple, Record], meta: DcpMetadata
) -> TensorEntry | None:
    fields = _fields(v) or {}
    dtype, layout = _properties(fields.get("properties"))
    shape = _ints(fields.get("size"))
    chunks_v = fields.get("chunks")
    if dtype not in dtypes or shape is None or not isinstance(chunks_v, ListValue):
        meta.problems.append(f"tensor {fqn!r}: dtype, size or chunks not readable")
        return None
    chunks = []
    for c in chunks_v.items:
        cf = _fields(c) or {}
        offsets, sizes = _ints(cf.get("offsets")), _ints(cf.get("sizes"))
        if offsets is None or sizes is None:
            meta.problems.append(f"tensor {fqn!r}: a chunk without offsets or sizes")
            return None
        chunks.append(Chunk(offsets, sizes, records.get((fqn, offsets))))
    return TensorEntry(fqn, dtype, shape, chunks, layout)  # type: ignore[arg-type]


def _properties(v: Value | None) -> tuple[str | None, str]:
    """TensorProperties' state: (dtype, layout, requires_grad, memory_format, pin_memory)
    from its __getstate__, or a field dict (older torch)."""
    dtype_v = layout_v = None
    if isinstance(v, Instance) and v.state:
        state = v.state[-1]
        if isinstance(state, TupleValue) and len(state.items) == 5:
            dtype_v, layout_v = state.items[0], state.items[1]
        elif isinstance(state, DictValue):
            dtype_v, layout_v = state.lookup("dtype"), state.lookup("layout")
    dtype = dtype_v.qualname if isinstance(dtype_v, GlobalName) else None
    layout = "torch.strided"
    if isinstance(layout_v, Instance) and layout_v.call is not None and layout_v.call.args:
        arg = layout_v.call.args[0]
        layout = arg.value if isinstance(arg, Const) and isinstance(arg.value, str) else "?"
    elif isinstance(layout_v, GlobalName):
        layout = layout_v.qualname
    return dtype, layout


# ----------------------------------------------------------------------------- shards
def scan_shard(src: ByteSource, ctx: ScanContext, meta: DcpMetadata, name: str) -> ContainerScan:
    """Each record read as torch.distributed.checkpoint.load reads it, and the whole file
    as torch.load reads it; the worst wins."""
    scan = item_scans(src, ctx, meta, name)[0]
    return scan


def item_scans(
    src: ByteSource, ctx: ScanContext, meta: DcpMetadata, name: str
) -> tuple[ContainerScan, dict[tuple[str, int], ContainerScan]]:
    """The shard's scan, and each record's own scan by (fqn, offset in the file)."""
    from torchvet.containers.dispatch import scan_container

    scan = ContainerScan("dcp-shard")
    whole = scan_container(src, ctx)
    records = [(f, r, t) for f, r, t in meta.records() if r.file == name]
    _whole_file_view(scan, whole, len(records))
    items: dict[tuple[str, int], ContainerScan] = {}
    end = 0
    for fqn, rec, is_tensor in records:
        where = f"{fqn}@{rec.offset}"
        if rec.offset < end:
            scan.observe(Seen.BROKEN, f"record overlaps the one before it at {end}", where)
        end = max(end, rec.offset + rec.length)
        if rec.offset < 0 or rec.length < 0 or rec.offset + rec.length > src.size:
            scan.observe(Seen.BROKEN, f"record lies outside the {src.size}-byte file", where)
            continue
        if rec.transforms:
            scan.observe(
                Seen.UNMODELLED,
                f"record stored through DCP extensions {list(rec.transforms)}, which torchvet "
                "does not read",
                where,
            )
            continue
        item = scan_container(SliceSource(src, rec.offset, rec.length, where), ctx.for_path(where))
        items[(fqn, rec.offset)] = item
        _merge_item(scan, item, where, is_tensor)
    return scan, items


def _whole_file_view(scan: ContainerScan, whole: ContainerScan, count: int) -> None:
    """What torch.load does with the shard file itself: when it fails, the damage its
    zip view reports is only that failure."""
    intro = (
        f"a torch.distributed.checkpoint shard of {count} records (each a torch.save "
        "output, read by torch.distributed.checkpoint.load on the folder)"
    )
    scan.record(
        Included(
            whole.observations,
            torch_error=True,
            failure_hides_damage=True,
            if_torch_loads=Observation(
                Seen.NOTE, f"{intro}: torch.load reads only one record of it"
            ),
            if_torch_fails=Observation(
                Seen.FORM_REFUSED, f"{intro}: torch.load refuses the file as a whole"
            ),
        )
    )


def _merge_item(scan: ContainerScan, item: ContainerScan, where: str, is_tensor: bool) -> None:
    loader = "weights_only=True" if is_tensor else "weights_only=False"
    fails = Observation(Seen.BROKEN, f"torch.load({loader}) fails on this record: {{error}}", where)
    scan.record(
        Included(item.observations, prefix=where, if_torch_fails=fails if is_tensor else None)
    )


# ----------------------------------------------------------------------------- values
def _fields(v: Value | None) -> dict[str, Value] | None:
    """A dataclass instance's fields: its last BUILD state when that is a str-keyed dict."""
    if not isinstance(v, Instance) or not v.state or not isinstance(v.state[-1], DictValue):
        return None
    return dict(_str_items(v.state[-1]))


def _str_items(d: Value | None) -> list[tuple[str, Value]]:
    if not isinstance(d, DictValue):
        return []
    return [(k.value, x) for k, x in d.items if isinstance(k, Const) and isinstance(k.value, str)]


def _is_none(v: Value) -> bool:
    return isinstance(v, Const) and v.value is None


def _str(v: Value | None) -> str | None:
    return v.value if isinstance(v, Const) and isinstance(v.value, str) else None


def _int(v: Value | None) -> int | None:
    return v.value if isinstance(v, Const) and type(v.value) is int else None


def _ints(v: Value | None) -> tuple[int, ...] | None:
    if isinstance(v, Instance) and v.pytype == "torch.Size" and isinstance(v.info, tuple):
        return v.info
    if isinstance(v, (TupleValue, ListValue)):
        out = [_int(x) for x in v.items]
        if all(x is not None for x in out):
            return tuple(out)  # type: ignore[arg-type]
    return None


def _strs(v: Value) -> tuple[str, ...] | None:
    if isinstance(v, (TupleValue, ListValue)):
        out = [_str(x) for x in v.items]
        if all(x is not None for x in out):
            return tuple(out)  # type: ignore[arg-type]
    return None


def _key_path(v: Value) -> tuple[str | int, ...] | None:
    if not isinstance(v, (TupleValue, ListValue)) or not v.items:
        return None
    out: list[str | int] = []
    for x in v.items:
        if not (isinstance(x, Const) and type(x.value) in (str, int)):
            return None
        out.append(x.value)
    return tuple(out)
