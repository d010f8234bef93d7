"""Zip archives, told apart by what they hold, not by their name.

* torch.save / TorchScript (a ``data.pkl`` or ``constants.pkl`` under the first entry's
  folder) and any zip not recognised below: ``torchzip.scan_zip``, torch's own reading;
* ``.npz`` (``*.npy`` members, no torch layout): each member read as numpy reads it
  (members that start with the npy magic; others are returned as raw bytes);
* ``torch.package`` (``.data/extern_modules``): importing it runs packaged code;
* ``torch.export`` ``.pt2`` (an ``archive_format`` record): nested torch files and
  pickled weights are scanned recursively.

torch.load reads none of the last three (npz: "file in archive is not in a
subdirectory"; package and pt2: no ``data.pkl``): the error comes from ``scan_zip``.
"""

from __future__ import annotations

import json
import posixpath

from torchvet.containers import numpy_files, torchzip
from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.safetensors_files import check_safetensors_suffix
from torchvet.containers.sniff import sniff
from torchvet.containers.storage_ids import ZIP_ITEMS, package_storage
from torchvet.containers.zipreader import ZipArchive, ZipEntry, ZipError, read_archive
from torchvet.observations import Included, Seen
from torchvet.pickle.values import Const, GlobalName, Opaque, TupleValue, Value
from torchvet.source import ByteSource, BytesSource, SliceSource

MAX_DEPTH = 3  # zips inside zips (a .pt2's sample inputs are a torch.save zip)
_HEAD = 1 << 20  # enough of a deflated member to parse an npy header
_CONFIG_LIMIT = 16 << 20
_PICKLE_SUFFIXES = (".pkl", ".pickle")
_NESTED_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")


def scan_any_zip(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    scan = _scan(src, ctx, 0)
    check_safetensors_suffix(scan, src, ctx)
    return scan


def _scan(src: ByteSource, ctx: ScanContext, depth: int) -> ContainerScan:
    try:
        archive = read_archive(src)
    except ZipError:
        return torchzip.scan_zip(src, ctx)
    kind = classify(archive)
    if kind == "package":
        return _scan_package(src, archive, ctx)
    if kind == "pt2":
        return _scan_pt2(src, archive, ctx, depth)
    if kind == "npz":
        return _scan_npz(src, archive, ctx)
    scan = torchzip.scan_zip(src, ctx)
    if kind == "other" and not scan.streams:
        # torch stopped before any pickle; other loaders may still open them.
        for entry in archive.entries:
            if entry.name.lower().endswith(_PICKLE_SUFFIXES):
                _scan_pickle_member(scan, archive, entry, ctx)
    return scan


def classify(archive: ZipArchive) -> str:
    """torch, package, pt2, npz or other."""
    names = [e.name for e in archive.entries]
    first = names[0]
    if "/" in first:
        prefix = first.split("/", 1)[0]
        if archive.lookup(f"{prefix}/data.pkl") or archive.lookup(f"{prefix}/constants.pkl"):
            return "torch"
    if any(n == ".data/extern_modules" or n.endswith("/.data/extern_modules") for n in names):
        return "package"
    if any(n == "archive_format" or n.endswith("/archive_format") for n in names):
        return "pt2"
    if any(n.lower().endswith(".npy") for n in names):
        return "npz"
    return "other"


def _torch_view(scan: ContainerScan, src: ByteSource, ctx: ScanContext) -> None:
    """torch.load's error for a zip it does not read as a checkpoint."""
    scan.record(
        Included(torchzip.scan_zip(src, ctx).observations, findings=False, torch_error=True)
    )
    scan.torch_fails("not a torch checkpoint")  # when torch's reading found no error


def _member(archive: ZipArchive, entry: ZipEntry, limit: int) -> ByteSource:
    """A member's bytes: a window of the file when STORED, else inflated (bounded)."""
    if entry.method == 0:
        archive.check_extractable(entry)
        return SliceSource(archive.source, archive.data_offset(entry), entry.size, entry.name)
    return BytesSource(archive.read(entry, limit=limit), entry.name)


def _head(archive: ZipArchive, entry: ZipEntry) -> bytes:
    if entry.method == 0:
        return _member(archive, entry, _HEAD).read_at(0, _HEAD)
    out = bytearray()
    for chunk in archive.iter_chunks(entry):
        out += chunk
        if len(out) >= _HEAD:
            break
    return bytes(out)


# -- npz -------------------------------------------------------------------------------
def _scan_npz(src: ByteSource, archive: ZipArchive, ctx: ScanContext) -> ContainerScan:
    scan = ContainerScan("npz")
    _torch_view(scan, src, ctx)
    kinds: list[str] = []
    for entry in archive.entries:
        try:
            kinds.append(_npz_member(scan, archive, entry, ctx))
        except ZipError as exc:
            scan.observe(Seen.BROKEN, f"member unreadable: {exc}", entry.name)
    if "object" in kinds:
        scan.observe(
            Seen.FORM_REFUSED,
            "an .npz archive with object arrays: their data is "
            "a pickle that numpy.load(allow_pickle=True) runs; torch.load refuses the file",
        )
    else:
        scan.observe(
            Seen.FORM_REFUSED,
            "an .npz archive of numpy arrays: torch.load refuses "
            "it; load it with numpy.load(f, allow_pickle=False)",
        )
    return scan


def _npz_member(scan: ContainerScan, archive: ZipArchive, entry: ZipEntry, ctx: ScanContext) -> str:
    head = _head(archive, entry)
    if not head.startswith(numpy_files.MAGIC):
        if entry.name.lower().endswith(_PICKLE_SUFFIXES):
            _scan_pickle_member(scan, archive, entry, ctx)
        return "raw"  # numpy returns such members as bytes, never unpickled
    try:
        header = numpy_files.parse_header(head)
    except numpy_files.NpyError:
        header = None
    if header is not None and header.has_object is False:
        member: ByteSource = BytesSource(head, entry.name)
        if entry.method == 0:
            member = _member(archive, entry, ctx.max_pickle_bytes)
        else:  # the declared size is what inflating it must produce
            member = _SizedHead(head, entry.size, entry.name)
        return numpy_files.scan_npy_into(scan, member, ctx, entry.name)
    member = _member(archive, entry, ctx.max_pickle_bytes)
    return numpy_files.scan_npy_into(scan, member, ctx, entry.name)


class _SizedHead:
    """The first bytes of a deflated member, reporting the member's full size."""

    def __init__(self, head: bytes, size: int, name: str) -> None:
        self._head = head
        self.size = size
        self.name = name

    def read_at(self, offset: int, length: int) -> bytes:
        return self._head[offset : offset + length]


def _scan_pickle_member(
    scan: ContainerScan,
    archive: ZipArchive,
    entry: ZipEntry,
    ctx: ScanContext,
    loader: object = None,
) -> None:
    try:
        buf = archive.read(entry, limit=ctx.max_pickle_bytes)
    except ZipError as exc:
        scan.observe(Seen.BROKEN, f"record unreadable: {exc}", entry.name)
        return
    scan.run_pickle(ctx, buf, entry.name, loader, torch_reads=False)  # type: ignore[arg-type]


# -- torch.package ---------------------------------------------------------------------
def _scan_package(src: ByteSource, archive: ZipArchive, ctx: ScanContext) -> ContainerScan:
    scan = ContainerScan("torch-package")
    _torch_view(scan, src, ctx)
    code = [e.name for e in archive.entries if e.name.endswith(".py")]
    scan.observe(
        Seen.CODE_ARCHIVE,
        f"a torch.package archive: torch.package.PackageImporter imports and runs its code "
        f"({len(code)} Python files) when it unpickles; torch.load refuses it",
        next((e.name for e in archive.entries if e.name.endswith("extern_modules")), ""),
    )
    for entry in archive.entries:
        if entry.name.endswith(_PICKLE_SUFFIXES):
            _scan_pickle_member(scan, archive, entry, ctx, _PackageIds(scan, ctx, entry.name))
    return scan


class _PackageIds:
    """torch.package's persistent ids: storages, and ``reduce_package`` calls, which call
    a function named in the pickle."""

    def __init__(self, scan: ContainerScan, ctx: ScanContext, entry: str) -> None:
        self.scan = scan
        self.facts = ctx.policy.facts
        self.entry = entry

    def __call__(self, pid: Value, pos: int) -> Value:
        items = pid.items if isinstance(pid, TupleValue) else ()
        kind = items[0].value if items and isinstance(items[0], Const) else None
        if kind == "storage" and len(items) == ZIP_ITEMS:
            storage = package_storage(items[1:], pos, self.facts)
            if storage is not None:
                return storage
        if kind == "reduce_package" and len(items) in (3, 4):
            func = items[-2]
            if isinstance(func, GlobalName):
                seen, name = Seen.NAMED_CALL, func.qualname
            else:
                seen, name = Seen.UNKNOWN_NAME, func.describe()
            message = f"torch.package's persistent_load calls {name}"
            self.scan.observe(seen, message, self.entry, pos, name)
            return Opaque(pos, "reduce_package result")
        self.scan.observe(
            Seen.UNMODELLED,
            f"persistent id at offset {pos} is {pid.describe()}",
            self.entry,
            pos,
        )
        return Opaque(pos, "persistent id")


# -- torch.export ----------------------------------------------------------------------
def _scan_pt2(src: ByteSource, archive: ZipArchive, ctx: ScanContext, depth: int) -> ContainerScan:
    scan = ContainerScan("torch-export")
    _torch_view(scan, src, ctx)
    scan.observe(
        Seen.FORM_REFUSED,
        "a torch.export archive (.pt2): torch.load refuses it; load it with torch.export.load",
    )
    pickled = _pickled_weights(archive)
    for entry in archive.entries:
        name = entry.name
        if name.endswith(".json") or posixpath.basename(name) in ("archive_format", "version"):
            continue
        try:
            head = _head(archive, entry)[:64]
        except ZipError as exc:
            scan.observe(Seen.BROKEN, f"record unreadable: {exc}", name)
            continue
        if head.startswith(b"PK\x03\x04") or name in pickled or name.endswith(_NESTED_SUFFIXES):
            _scan_nested(scan, archive, entry, ctx, depth)
    return scan


def _pickled_weights(archive: ZipArchive) -> set[str]:
    """Records the weights/constants configs mark ``use_pickle`` (torch.save'd tensors)."""
    out: set[str] = set()
    for entry in archive.entries:
        if not entry.name.endswith("_config.json"):
            continue
        try:
            config = json.loads(archive.read(entry, limit=_CONFIG_LIMIT))
        except (ZipError, ValueError, RecursionError):
            continue
        items = config.get("config", {}) if isinstance(config, dict) else {}
        folder = posixpath.dirname(entry.name)
        for info in items.values() if isinstance(items, dict) else ():
            if (
                isinstance(info, dict)
                and info.get("use_pickle")
                and isinstance(info.get("path_name"), str)
            ):
                out.add(posixpath.join(folder, info["path_name"]))
    return out


def _scan_nested(
    scan: ContainerScan, archive: ZipArchive, entry: ZipEntry, ctx: ScanContext, depth: int
) -> None:
    """A torch file inside the archive: scanned like a file of its own, findings merged."""
    from torchvet.containers.dispatch import scan_container  # nested files: every reading

    if depth >= MAX_DEPTH:
        scan.observe(Seen.LIMIT, f"archives nested more than {MAX_DEPTH} deep", entry.name)
        return
    try:
        member = _member(archive, entry, ctx.max_pickle_bytes)
    except ZipError as exc:
        scan.observe(Seen.BROKEN, f"record unreadable: {exc}", entry.name)
        return
    if sniff(member) == "zip":
        inner = _scan(member, ctx.for_path(entry.name), depth + 1)
    else:
        inner = scan_container(member, ctx.for_path(entry.name))
    # A record that should hold a model and does not: the archive is damaged.
    scan.record(Included(inner.observations, prefix=entry.name, not_a_model_is_broken=True))
