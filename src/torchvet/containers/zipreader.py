"""A zip central-directory reader that accepts what torch's reader (miniz) accepts.

Python's ``zipfile`` is not used because it disagrees with miniz on exactly the
points an attacker can exploit: miniz looks names up case-insensitively and by binary
search (zipfile: exact, last duplicate wins), ignores local-header names and flags,
does not check CRCs in torch's build, and has its own rules for sizes and offsets.
This module follows miniz's rules, reads only the central directory and the local
headers it needs, and reports everything it tolerated. Record contents are read
lazily by byte range; DEFLATE entries are inflated incrementally with bounded memory.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from torchvet import budget as budgets
from torchvet.source import ByteSource, iter_range

EOCD_SIG = b"PK\x05\x06"
ZIP64_EOCD_SIG = b"PK\x06\x06"
ZIP64_LOCATOR_SIG = b"PK\x06\x07"
CENTRAL_SIG = b"PK\x01\x02"
LOCAL_SIG = b"PK\x03\x04"
_EOCD = struct.Struct("<4sHHHHIIH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_U32_MAX = 0xFFFFFFFF
_MAX_COMMENT = 0xFFFF
# General-purpose flags miniz refuses to extract: encrypted, strong encryption, patched data.
_REFUSED_FLAGS = 0x0001 | 0x0040 | 0x0020
_MASKED_LOCAL_DIR = 0x2000
_INFLATE_CHUNK = 1 << 20


class ZipError(Exception):
    """The archive is not readable the way torch's reader reads it."""


@dataclass
class ZipEntry:
    index: int  # position in the central directory
    name: str
    raw_name: bytes
    method: int
    flags: int
    crc: int
    comp_size: int
    size: int  # uncompressed size, as the central directory says
    local_header_offset: int
    data_offset: int = -1  # resolved from the local header on first read
    notes: list[str] = field(default_factory=list)
    extra: bytes = b""
    is_directory: bool = False
    resolved: bool = False  # zip64 values applied (miniz does it when the entry is used)

    def stat(self) -> None:
        """What miniz's file_stat does when torch first uses the entry."""
        if not self.resolved:
            self.size, self.comp_size, self.local_header_offset = _zip64_values(
                self.extra, self.size, self.comp_size, self.local_header_offset
            )
            self.resolved = True


@dataclass
class ZipArchive:
    source: ByteSource
    entries: list[ZipEntry]
    notes: list[str]  # things tolerated, as torch tolerates them
    _by_lower: dict[bytes, list[ZipEntry]] = field(default_factory=dict)
    _miniz_order: list[int] | None = None

    def __post_init__(self) -> None:
        for e in self.entries:
            self._by_lower.setdefault(e.raw_name.lower(), []).append(e)

    def lookup(self, name: str) -> list[ZipEntry]:
        """Entries miniz could return for ``name`` (ASCII case-insensitive). More than one
        means torch's choice depends on its sort order: the archive is ambiguous."""
        return self._by_lower.get(name.encode("utf-8", "surrogateescape").lower(), [])

    def torch_pick(self, name: str) -> ZipEntry | None:
        """The entry torch's reader returns for ``name``: miniz sorts the central directory
        by name (ASCII case-insensitive, with an unstable heap sort) and binary-searches
        it, so among duplicates the copy it finds is neither the first nor the last."""
        found = self.lookup(name)
        if len(found) <= 1:
            return found[0] if found else None
        if self._miniz_order is None:
            self._miniz_order = miniz_sorted([e.raw_name.lower() for e in self.entries])
        key = name.encode("utf-8", "surrogateescape").lower()
        low, high = 0, len(self._miniz_order) - 1
        while low <= high:
            mid = low + ((high - low) >> 1)
            entry = self.entries[self._miniz_order[mid]]
            here = entry.raw_name.lower()
            if here == key:
                return entry
            if here < key:
                low = mid + 1
            else:
                high = mid - 1
        return found[0]  # unreachable: the sorted order holds every copy

    def data_offset(self, entry: ZipEntry) -> int:
        entry.stat()
        if entry.data_offset < 0:
            header = self.source.read_at(entry.local_header_offset, _LOCAL.size)
            if len(header) < _LOCAL.size:
                raise ZipError(f"local header of {entry.name!r} is truncated")
            fields = _LOCAL.unpack(header)
            if fields[0] != LOCAL_SIG:
                raise ZipError(f"local header of {entry.name!r} has a bad signature")
            name_len, extra_len = fields[9], fields[10]
            start = entry.local_header_offset + _LOCAL.size + name_len + extra_len
            if start + entry.comp_size > self.source.size:
                raise ZipError(f"data of {entry.name!r} extends past the end of the file")
            local_name = self.source.read_at(entry.local_header_offset + _LOCAL.size, name_len)
            if local_name != entry.raw_name:
                entry.notes.append(
                    f"local header names it {local_name[:80]!r}; torch uses the central "
                    "directory's name"
                )
            if fields[2] != entry.flags:
                entry.notes.append(
                    f"local header flags 0x{fields[2]:04x} differ from the central directory's "
                    f"0x{entry.flags:04x} (torch ignores local flags)"
                )
            entry.data_offset = start
        return entry.data_offset

    def check_extractable(self, entry: ZipEntry) -> None:
        entry.stat()
        if (entry.is_directory or entry.comp_size == 0) and entry.size:
            # miniz "extracts" such an entry without reading it: its bytes are undefined.
            raise ZipError(f"{entry.name!r} is marked as a directory or empty but has a size")
        if entry.flags & _REFUSED_FLAGS:
            raise ZipError(f"{entry.name!r} is encrypted or patched, which torch cannot read")
        if entry.method not in (0, 8):
            raise ZipError(
                f"{entry.name!r} uses compression method {entry.method}; torch reads "
                "only STORED and DEFLATE"
            )

    def read(self, entry: ZipEntry, limit: int | None = None) -> bytes:
        """The whole uncompressed record (``limit`` caps what is accepted).

        During a scan, a record larger than the file's buffer bound, or than what is
        left of its data budget, is read only up to that point (a LIMIT note of the
        budget says so) and the prefix is returned, so its start is still scanned."""
        entry.stat()
        if limit is not None and entry.size > limit:
            raise ZipError(f"{entry.name!r} is {entry.size} bytes, more than the {limit} allowed")
        keep = budgets.buffer_cap(entry.size)
        if keep < entry.size:
            budgets.note_cut(entry.name, keep, entry.size, "the largest record kept in memory")
        out = io.BytesIO()  # getvalue() hands its buffer over: no second copy
        for chunk in self.iter_chunks(entry, stop_after=keep):
            out.write(chunk)
        return out.getvalue()

    def verify(self, entry: ZipEntry) -> None:
        """Fail where torch's getRecord would, without keeping the bytes: header and bounds
        for STORED records, a full bounded-memory inflate for DEFLATE ones."""
        self.check_extractable(entry)
        if entry.is_directory or entry.comp_size == 0:
            return
        self.data_offset(entry)
        if entry.method != 0:
            for _ in self.iter_chunks(entry):
                pass

    def iter_chunks(
        self, entry: ZipEntry, chunk: int = _INFLATE_CHUNK, stop_after: int | None = None
    ) -> Iterator[bytes]:
        """Uncompressed bytes in bounded chunks; raises ZipError where miniz would fail.

        ``stop_after``: yield no more than that many bytes (the size checks that need the
        whole record are then skipped). During a scan, the bytes come out of the file's
        data budget: when it is spent, iteration stops early with a LIMIT note."""
        self.check_extractable(entry)
        if entry.is_directory or entry.comp_size == 0:
            return
        start = self.data_offset(entry)
        wanted = entry.size if stop_after is None else min(stop_after, entry.size)
        budget = budgets.current()
        allowed = wanted if budget is None else budget.take_data(wanted)
        cut = allowed < entry.size  # else read to the end, where miniz's checks apply
        produced = 0
        if allowed == 0:
            budgets.note_cut(entry.name, 0, entry.size, "the file's data budget")
            return
        try:
            for out in self._raw_chunks(entry, start, chunk):
                if cut:
                    out = out[: allowed - produced]
                produced += len(out)
                if out:
                    yield out
                if cut and produced >= allowed:
                    break
        finally:
            if budget is not None:
                budget.data += allowed - produced  # give back what was not produced
        if allowed < wanted:
            budgets.note_cut(entry.name, produced, entry.size, "the file's data budget")

    def _raw_chunks(self, entry: ZipEntry, start: int, chunk: int) -> Iterator[bytes]:
        if entry.method == 0:
            try:
                yield from iter_range(self.source, start, entry.comp_size, chunk)
            except EOFError:
                raise ZipError(f"{entry.name!r} is truncated") from None
            return
        inflater = zlib.decompressobj(-15)
        produced = 0
        pos, end = start, start + entry.comp_size
        while pos < end or inflater.unconsumed_tail:
            if inflater.unconsumed_tail:
                data = inflater.unconsumed_tail
            else:
                n = min(chunk, end - pos)
                data = self.source.read_at(pos, n)
                pos += n
            try:
                out = inflater.decompress(data, chunk)
            except zlib.error as exc:
                raise ZipError(f"{entry.name!r} does not inflate: {exc}") from None
            produced += len(out)
            if produced > entry.size:
                raise ZipError(
                    f"{entry.name!r} inflates to more than its declared {entry.size} bytes"
                )
            if out:
                yield out
            if inflater.eof:
                break
        if produced != entry.size:
            raise ZipError(
                f"{entry.name!r} inflates to {produced} bytes, not its declared {entry.size}"
            )


def miniz_sorted(names: list[bytes]) -> list[int]:
    """Entry indexes in the order miniz's heap sort leaves them (``names`` lowercased).

    A port of ``mz_zip_reader_sort_central_dir_offsets_by_filename``: the order of equal
    names depends on the algorithm, and it decides which duplicate torch reads. Bytes
    compare as miniz compares lowercased names (unsigned, shorter prefix first)."""
    order = list(range(len(names)))
    size = len(order)
    if size <= 1:
        return order

    def sift(root: int, end: int) -> None:
        while True:
            child = 2 * root + 1
            if child >= end:
                return
            if child + 1 < end and names[order[child]] < names[order[child + 1]]:
                child += 1
            if not names[order[root]] < names[order[child]]:
                return
            order[root], order[child] = order[child], order[root]
            root = child

    for start in range((size - 2) >> 1, -1, -1):
        sift(start, size)
    for end in range(size - 1, 0, -1):
        order[end], order[0] = order[0], order[end]
        sift(0, end)
    return order


def _find_eocd(src: ByteSource) -> int:
    """The last end-of-central-directory signature with room for the record (miniz's scan)."""
    size = src.size
    if size < _EOCD.size:
        raise ZipError("file too small to be a zip archive")
    window = min(size, _EOCD.size + _MAX_COMMENT)
    tail = src.read_at(size - window, window)
    idx = tail.rfind(EOCD_SIG)
    while idx >= 0 and idx + _EOCD.size > len(tail):
        idx = tail.rfind(EOCD_SIG, 0, idx)
    if idx < 0:
        raise ZipError("no end-of-central-directory record (not a zip archive, or truncated)")
    return size - window + idx


def _walk_extra(extra: bytes) -> dict[int, bytes]:
    """Extra fields by id, validated the way miniz walks them (first of each id kept)."""
    fields: dict[int, bytes] = {}
    pos = 0
    while pos < len(extra):
        if len(extra) - pos < 4:
            raise ZipError("extra field is truncated")
        tag, length = struct.unpack_from("<HH", extra, pos)
        if 4 + length > len(extra) - pos:
            raise ZipError("extra field overruns its entry")
        fields.setdefault(tag, extra[pos + 4 : pos + 4 + length])
        pos += 4 + length
    return fields


def _zip64_values(extra: bytes, size: int, comp: int, lho: int) -> tuple[int, int, int]:
    """Resolve 0xFFFFFFFF sizes/offsets from the zip64 extra field (miniz's file_stat)."""
    body = _walk_extra(extra).get(0x0001)
    if body is None:
        return size, comp, lho
    values = [size, comp, lho]
    off = 0
    for i, v in enumerate(values):
        if v == _U32_MAX:
            if len(body) - off < 8:
                raise ZipError("zip64 extra field is too short")
            values[i] = struct.unpack_from("<Q", body, off)[0]
            off += 8
    return values[0], values[1], values[2]


def _end_records(src: ByteSource, eocd_ofs: int) -> tuple[int, int, int, int, int, int, bool]:
    """(total, on_this_disk, this_disk, cdir_disk, cdir_size, cdir_ofs, zip64) as miniz reads them."""
    (_, this_disk, cdir_disk, on_disk, total, cdir_size, cdir_ofs, _) = _EOCD.unpack(
        src.read_at(eocd_ofs, _EOCD.size)
    )
    if eocd_ofs < 20 + 56:
        return total, on_disk, this_disk, cdir_disk, cdir_size, cdir_ofs, False
    locator = src.read_at(eocd_ofs - 20, 20)
    if locator[:4] != ZIP64_LOCATOR_SIG:
        return total, on_disk, this_disk, cdir_disk, cdir_size, cdir_ofs, False
    z64_ofs = struct.unpack_from("<Q", locator, 8)[0]
    if z64_ofs > src.size - 56:
        raise ZipError("zip64 end-of-central-directory locator points outside the file")
    z64 = src.read_at(z64_ofs, 56)
    if z64[:4] != ZIP64_EOCD_SIG:
        return total, on_disk, this_disk, cdir_disk, cdir_size, cdir_ofs, False
    record_size = struct.unpack_from("<Q", z64, 4)[0]
    this_disk, cdir_disk = struct.unpack_from("<II", z64, 16)
    on_disk, total, cdir_size, cdir_ofs = struct.unpack_from("<QQQQ", z64, 24)
    if record_size < 56 - 12:
        raise ZipError("zip64 end-of-central-directory record is too small")
    if struct.unpack_from("<I", locator, 16)[0] != 1:
        raise ZipError("unsupported multidisk archive")
    if total > _U32_MAX or on_disk > _U32_MAX:
        raise ZipError("too many files")
    if cdir_size > _U32_MAX:
        raise ZipError("unsupported central directory size")
    return total, on_disk, this_disk, cdir_disk, cdir_size, cdir_ofs, True


def read_archive(src: ByteSource, max_entries: int = 1_000_000) -> ZipArchive:
    """Parse the central directory the way miniz does; raise ZipError where it fails."""
    eocd_ofs = _find_eocd(src)
    total, on_disk, this_disk, cdir_disk, cdir_size, cdir_ofs, zip64 = _end_records(src, eocd_ofs)
    notes = ["zip64 archive"] if zip64 else []
    if total != on_disk:
        raise ZipError("unsupported multidisk archive")
    # miniz accepts disk numbers (0, 0) and (1, 1) only.
    if (this_disk, cdir_disk) not in ((0, 0), (1, 1)):
        raise ZipError("unsupported multidisk archive")
    if cdir_size < total * _CENTRAL.size:
        raise ZipError("central directory is smaller than its entry count requires")
    if cdir_ofs + cdir_size > src.size:
        raise ZipError("central directory extends past the end of the file")
    if total > max_entries:
        raise ZipError(f"{total} entries, more than torchvet's bound of {max_entries}")
    cdir = src.read_at(cdir_ofs, cdir_size)
    entries: list[ZipEntry] = []
    pos = 0
    seen_zip64_extra = False
    for index in range(total):
        remaining = len(cdir) - pos
        if remaining < _CENTRAL.size or cdir[pos : pos + 4] != CENTRAL_SIG:
            raise ZipError(f"central directory entry {index} is corrupt")
        f = _CENTRAL.unpack_from(cdir, pos)
        flags, method, crc, comp, size = f[3], f[4], f[7], f[8], f[9]
        name_len, extra_len, comment_len, disk_start, ext_attr, lho = (
            f[10],
            f[11],
            f[12],
            f[13],
            f[15],
            f[16],
        )
        name_start = pos + _CENTRAL.size
        raw_name = cdir[name_start : name_start + name_len]
        extra = cdir[name_start + name_len : name_start + name_len + extra_len]
        if not seen_zip64_extra and extra_len and _U32_MAX in (comp, size, lho):
            seen_zip64_extra = 0x0001 in _walk_extra(extra)
        if (
            comp != _U32_MAX
            and size != _U32_MAX
            and ((method == 0 and size != comp) or (size and not comp))
        ):
            raise ZipError(f"entry {index} has inconsistent sizes ({comp} vs {size})")
        if disk_start == 0xFFFF or (disk_start != this_disk and disk_start != 1):
            raise ZipError("unsupported multidisk archive")
        if comp != _U32_MAX and lho + _LOCAL.size + comp > src.size:
            raise ZipError(f"entry {index} extends past the end of the file")
        if flags & _MASKED_LOCAL_DIR:
            raise ZipError(f"entry {index} has a masked local directory")
        total_size = _CENTRAL.size + name_len + extra_len + comment_len
        if total_size > remaining:
            raise ZipError(f"central directory entry {index} is truncated")
        entry = ZipEntry(
            index,
            raw_name.decode("utf-8", "surrogateescape"),
            raw_name,
            method,
            flags,
            crc,
            comp,
            size,
            lho,
        )
        entry.extra = extra
        entry.is_directory = raw_name.endswith(b"/") or bool(ext_attr & 0x10)
        entries.append(entry)
        pos += total_size
    if not entries:
        raise ZipError("archive does not contain any files")
    return ZipArchive(src, entries, notes)
