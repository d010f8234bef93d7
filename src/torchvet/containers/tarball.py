"""tar files: torch's pre-1.0 checkpoint format, which weights_only refuses outright.

torch.load first tries ``tarfile.open(mode="r:")`` on any non-zip file; if that works
and ``weights_only`` is set it raises "Cannot use ``weights_only=True`` with files saved
in the legacy .tar format" before reading a byte of content. With ``weights_only=False``
it unpickles the members ``storages`` (a count, then for each storage a pickled
``(key, location, storage_type)`` and the raw storage: int64 element count and data,
then a pickled list of views), ``tensors`` (a count, then for each a pickled
``(key, storage_id, type)`` and binary shape/stride/offset) and ``pickle`` (the object,
with persistent ids). Those pickles are scanned for what they would run; the tar is
only listed (headers), never extracted.
"""

from __future__ import annotations

import struct
import tarfile
from collections.abc import Callable

from torchvet.containers import rawpickle
from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.buffers import Buffer, TooLarge, whole
from torchvet.containers.safetensors_files import check_safetensors_suffix
from torchvet.containers.storage_ids import tar_persistent_load
from torchvet.observations import Seen
from torchvet.pickle.machine import PersistentLoader
from torchvet.pickle.opcodes import BY_CODE
from torchvet.pickle.trace import StreamTrace
from torchvet.pickle.values import Const, GlobalName, TupleValue
from torchvet.source import ByteSource, ReadTooLarge, SourceFile

MAX_MEMBERS = 10_000
_MAX_READ = 16 << 20  # largest single read tarfile may make (PAX/GNU long headers)
_MAX_ITEMS = 1_000_000  # storages or tensors declared in one member
TORCH_ERROR = (
    "Cannot use ``weights_only=True`` with files saved in the legacy .tar format. "
    "In PyTorch 2.6, we changed the default value of the `weights_only` argument in "
    "`torch.load` from `False` to `True`."
)
_MAX_LINK_HOPS = 64  # chains of links, as tarfile follows them


def scan_tar(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    scan = ContainerScan("tar")
    scan.torch_fails(TORCH_ERROR)
    scan.observe(
        Seen.FORM_REFUSED,
        "a tar archive (torch's pre-1.0 checkpoint format): torch.load(weights_only=True) "
        "refuses it, and torch.load(weights_only=False) runs its pickles; load it only if you "
        "trust it",
    )
    members = _list(scan, src)
    if members:
        try:
            with whole(src, ctx.max_pickle_bytes) as buf:
                _scan_members(scan, buf, members, ctx)
        except TooLarge as exc:
            scan.observe(Seen.LIMIT, f"tar archive of {exc}; members not read")
    check_safetensors_suffix(scan, src, ctx)
    return scan


def _list(scan: ContainerScan, src: ByteSource) -> dict[str, tuple[int, int]]:
    """Members as ``tarfile.extractfile`` reads them: name -> (data offset, size).

    The last member of a name wins (``getmember``); hard links and symlinks read their
    target's bytes (``_find_link_target``, followed through chains); members of types
    tarfile does not know are read as regular files."""
    members: dict[str, tuple[int, int]] = {}
    try:
        with tarfile.open(fileobj=SourceFile(src, _MAX_READ), mode="r:") as tar:  # type: ignore[call-overload]
            infos = []
            for count, info in enumerate(tar):
                if count >= MAX_MEMBERS:
                    scan.observe(
                        Seen.LIMIT, f"more than {MAX_MEMBERS} tar members; the rest unread"
                    )
                    break
                infos.append(info)
            for info in infos:
                target = _resolve(tar, info)
                if target is not None:
                    members[info.name] = (target.offset_data, target.size)
    except (tarfile.TarError, ReadTooLarge, EOFError, OSError, ValueError) as exc:
        scan.observe(Seen.BROKEN, f"tar archive unreadable: {exc}")
    for name, (offset, size) in members.items():
        if offset + size > src.size:
            scan.observe(Seen.BROKEN, f"tar member {name!r} extends past the end of the file", name)
    return members


def _resolve(tar: tarfile.TarFile, info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """The member whose bytes ``tar.extractfile(info)`` returns, or None (a directory,
    a device, a link to nothing)."""
    for _ in range(_MAX_LINK_HOPS):
        if info.isreg() or info.type not in tarfile.SUPPORTED_TYPES:
            return info
        if not (info.islnk() or info.issym()):
            return None
        try:
            # The stdlib's own link resolution: the code every tar loader runs.
            info = tar._find_link_target(info)  # type: ignore[attr-defined]
        except KeyError:
            return None
    return None


def _scan_members(
    scan: ContainerScan, buf: Buffer, members: dict[str, tuple[int, int]], ctx: ScanContext
) -> None:
    for name, (offset, size) in members.items():
        end = min(offset + size, len(buf))
        if name == "storages":
            _storages(scan, buf, offset, end, ctx)
        elif name == "tensors":
            _tensors(scan, buf, offset, end, ctx)
        elif name == "pickle":
            trace = _run(scan, buf, offset, name, ctx, tar_persistent_load)
            scan.root = trace.root
        elif offset < end and BY_CODE[buf[offset]] is not None:
            # Any other member may be a pickle for someone (pandas.read_pickle reads the
            # only member of a .tar; tools unpickle *.pkl members): every one is scanned.
            rawpickle.scan_pickle_streams(
                buf[offset:end],
                ctx,
                scan,
                entry=name,
                torch_reads_first=False,
            )


def _run(
    scan: ContainerScan,
    buf: Buffer,
    start: int,
    entry: str,
    ctx: ScanContext,
    loader: PersistentLoader | None = None,
) -> StreamTrace:
    return scan.run_pickle(ctx, buf, entry, loader, start, torch_reads=False)  # type: ignore[arg-type]


# Where the next record starts, or (what is wrong, where), or None to stop quietly.
_Step = Callable[[StreamTrace], "int | tuple[str, int] | None"]


def _records(
    scan: ContainerScan, buf: Buffer, pos: int, entry: str, ctx: ScanContext, step: _Step
) -> int | None:
    """A member that holds a pickled count, then that many records: a pickle each, and
    raw bytes that ``step`` skips. Returns where the records end (None: they do not)."""
    trace = _run(scan, buf, pos, entry, ctx)
    count = trace.root.value if isinstance(trace.root, Const) else None
    if not (trace.stopped and type(count) is int and 0 <= count <= _MAX_ITEMS):
        if trace.stopped:
            scan.observe(Seen.BROKEN, f"{entry} does not start with a count", entry, trace.start)
        return None
    pos = trace.end
    for _ in range(count):
        trace = _run(scan, buf, pos, entry, ctx)
        after = step(trace) if trace.stopped else None
        if not isinstance(after, int):
            if after is not None:
                scan.observe(Seen.BROKEN, after[0], entry, after[1])
            return None
        pos = after
    return pos


def _storages(scan: ContainerScan, buf: Buffer, pos: int, end: int, ctx: ScanContext) -> None:
    """(key, location, storage type), then an int64 element count and the data."""
    facts = ctx.policy.facts

    def step(trace: StreamTrace) -> int | tuple[str, int]:
        root = trace.root
        stype = root.items[2] if isinstance(root, TupleValue) and len(root.items) == 3 else None
        dtype = facts.storage_types.get(stype.qualname) if isinstance(stype, GlobalName) else None
        if dtype is None or trace.end + 8 > end:
            return (
                "a storage record is not (key, location, storage type) followed by its data",
                trace.start,
            )
        (numel,) = struct.unpack_from("<q", buf, trace.end)
        after = trace.end + 8 + max(0, numel) * facts.dtypes[dtype].itemsize
        return (
            after if after <= end else ("storage data runs past the end of the member", trace.end)
        )

    views = _records(scan, buf, pos, "storages", ctx, step)
    if views is not None:
        _run(scan, buf, views, "storages", ctx)  # the storage views


def _tensors(scan: ContainerScan, buf: Buffer, pos: int, end: int, ctx: ScanContext) -> None:
    """(key, storage id, type), then int32 ndim, padding, shape, stride and offset."""

    def step(trace: StreamTrace) -> int | tuple[str, int] | None:
        if trace.end + 8 > end:
            return None
        (ndim,) = struct.unpack_from("<i", buf, trace.end)
        after = trace.end + 8 + 16 * max(0, ndim) + 8
        if ndim < 0 or after > end:
            return "tensor record runs past the end of the member", trace.end
        return after

    _records(scan, buf, pos, "tensors", ctx, step)
