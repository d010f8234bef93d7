"""``.npy`` and ``.npz`` inputs: the arrays ``numpy.load(allow_pickle=False)`` returns.

An ``.npy`` file is one array (named ``tensor``, as a ``torch.save``'d lone tensor is);
an ``.npz`` archive is a dict of arrays keyed as ``numpy.load`` keys them (the member
name without ``.npy``). Object arrays hold no tensors: they are reported, never read.
"""

from __future__ import annotations

from torchvet.containers.base import ScanContext
from torchvet.containers.numpy_files import MAGIC, MAX_HEADER, NpyError, NpyHeader, parse_header
from torchvet.containers.zipreader import ZipArchive, ZipEntry, ZipError
from torchvet.converter.arrays import array_tensor, numpy_dtype
from torchvet.converter.blobs import BlobError, SubBlob, zip_blob
from torchvet.converter.inputs import InputError, read_input_archive
from torchvet.converter.plan import StorageResolver
from torchvet.pickle.tensorinfo import TensorInfo
from torchvet.pickle.values import Const, DictValue, Instance, Value
from torchvet.source import ByteSource, BytesSource

_HEAD = 12 + MAX_HEADER


def npy_root(src: ByteSource, ctx: ScanContext) -> tuple[Value, StorageResolver]:
    header = _header(src.read_at(0, _HEAD))
    return _array(header, src, 0, "tensor"), StorageResolver(ctx, src)


def npz_root(src: ByteSource, ctx: ScanContext) -> tuple[Value, StorageResolver]:
    archive = read_input_archive(src)
    resolver = StorageResolver(ctx, src, archive)
    root = DictValue(0)
    for entry in archive.entries:
        key = entry.name[:-4] if entry.name.endswith(".npy") else entry.name
        root.items.append((Const(0, key), _member(archive, entry, resolver)))
    return root, resolver


def _member(archive: ZipArchive, entry: ZipEntry, resolver: StorageResolver) -> Value:
    try:
        head = _head(archive, entry)
    except ZipError as exc:
        return Instance(0, f"unreadable member ({exc})")
    if not head.startswith(MAGIC):
        return Instance(0, "raw (non-.npy) member")  # numpy.load returns such members as raw bytes
    header = _header(head)
    value = _array(header, BytesSource(b""), 0, entry.name)
    info = value.info if isinstance(value, Instance) else None
    if isinstance(info, TensorInfo) and info.storage is not None:
        try:  # the array's bytes inside the (possibly deflated) member
            record = zip_blob(archive, entry)
            blob = SubBlob(record, header.data_offset, info.storage.nbytes)
        except BlobError as exc:
            return Instance(0, f"unreadable member ({exc})")
        resolver.bind(info.storage, blob, numpy_dtype(header.descr).big_endian)
    return value


def _head(archive: ZipArchive, entry: ZipEntry) -> bytes:
    out = bytearray()
    for chunk in archive.iter_chunks(entry):
        out += chunk
        if len(out) >= _HEAD:
            break
    return bytes(out[:_HEAD])


def _header(head: bytes) -> NpyHeader:
    try:
        return parse_header(head)
    except NpyError as exc:
        raise InputError(f"invalid .npy data: {exc}") from None


def _array(header: NpyHeader, src: ByteSource, base: int, key: str) -> Value:
    if header.has_object is not False:
        # numpy.load(allow_pickle=True) would unpickle Python objects: not tensor data.
        return Instance(0, "numpy.ndarray")
    dtype = numpy_dtype(header.descr)
    info = array_tensor(
        dtype, header.shape, header.fortran_order, src, base + header.data_offset, key
    )
    return Instance(0, "torch.Tensor", info=info)
