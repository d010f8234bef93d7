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

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from torchvet.source import ByteSource

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


@dataclass
class ZipArchive:
    source: ByteSource
    entries: list[ZipEntry]
    notes: list[str]  # things tolerated, as torch tolerates them
    _by_lower: dict[str, list[ZipEntry]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for e in self.entries:
            self._by_lower.setdefault(e.name.lower(), []).append(e)

    def lookup(self, name: str) -> list[ZipEntry]:
        """Entries miniz could return for ``name`` (case-insensitive). More than one means
        torch's choice depends on its sort order: the archive is ambiguous."""
        return self._by_lower.get(name.lower(), [])

    def data_offset(self, entry: ZipEntry) -> int:
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
        if entry.flags & _REFUSED_FLAGS:
            raise ZipError(f"{entry.name!r} is encrypted or patched, which torch cannot read")
        if entry.method not in (0, 8):
            raise ZipError(
                f"{entry.name!r} uses compression method {entry.method}; torch reads "
                "only STORED and DEFLATE"
            )

    def read(self, entry: ZipEntry, limit: int | None = None) -> bytes:
        """The whole uncompressed record (``limit`` caps what is accepted)."""
        if limit is not None and entry.size > limit:
            raise ZipError(f"{entry.name!r} is {entry.size} bytes, more than the {limit} allowed")
        return b"".join(self.iter_chunks(entry))

    def iter_chunks(self, entry: ZipEntry, chunk: int = _INFLATE_CHUNK) -> Iterator[bytes]:
        """Uncompressed bytes in bounded chunks; raises ZipError where miniz would fail."""
        self.check_extractable(entry)
        start = self.data_offset(entry)
        if entry.method == 0:
            pos, end = start, start + entry.comp_size
            while pos < end:
                n = min(chunk, end - pos)
                data = self.source.read_at(pos, n)
                if len(data) != n:
                    raise ZipError(f"{entry.name!r} is truncated")
                yield data
                pos += n
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


def _find_eocd(src: ByteSource) -> int:
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


def _zip64_extra(extra: bytes, need: list[str], values: dict[str, int]) -> None:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 0x0001:
            off = 0
            for key in need:
                if off + 8 > len(body):
                    raise ZipError("zip64 extra field is too short")
                values[key] = struct.unpack_from("<Q", body, off)[0]
                off += 8
            return
        pos += 4 + length
    raise ZipError("a 32-bit size is 0xFFFFFFFF but there is no zip64 extra field")


def read_archive(src: ByteSource, max_entries: int = 1_000_000) -> ZipArchive:
    """Parse the central directory the way miniz does; raise ZipError where it fails."""
    eocd_ofs = _find_eocd(src)
    (_, disk, cdir_disk, n_this_disk, n_total, cdir_size, cdir_ofs, _comment_len) = _EOCD.unpack(
        src.read_at(eocd_ofs, _EOCD.size)
    )
    notes: list[str] = []
    # miniz accepts disk numbers (0, 0) and (1, 1) only, and one disk's worth of entries.
    if n_this_disk != n_total or (disk, cdir_disk) not in ((0, 0), (1, 1)):
        raise ZipError("multi-disk zip archives are not supported")
    if 0xFFFF in (n_total, n_this_disk) or _U32_MAX in (cdir_size, cdir_ofs):
        locator_ofs = eocd_ofs - 20
        locator = src.read_at(locator_ofs, 20) if locator_ofs >= 0 else b""
        if len(locator) != 20 or locator[:4] != ZIP64_LOCATOR_SIG:
            raise ZipError("zip64 end-of-central-directory locator missing")
        z64_ofs = struct.unpack_from("<Q", locator, 8)[0]
        z64 = src.read_at(z64_ofs, 56)
        if len(z64) != 56 or z64[:4] != ZIP64_EOCD_SIG:
            raise ZipError("zip64 end-of-central-directory record missing")
        n_this_disk, n_total, cdir_size, cdir_ofs = struct.unpack_from("<QQQQ", z64, 24)
        if n_this_disk != n_total:
            raise ZipError("multi-disk zip archives are not supported")
        notes.append("zip64 archive")
    if n_total > max_entries:
        raise ZipError(f"{n_total} entries, more than torchvet's bound of {max_entries}")
    if cdir_size < n_total * _CENTRAL.size:
        raise ZipError("central directory is smaller than its entry count requires")
    if cdir_ofs + cdir_size > src.size:
        raise ZipError("central directory extends past the end of the file")
    cdir = src.read_at(cdir_ofs, cdir_size)
    entries: list[ZipEntry] = []
    pos = 0
    for index in range(n_total):
        if pos + _CENTRAL.size > len(cdir):
            raise ZipError("central directory is truncated")
        f = _CENTRAL.unpack_from(cdir, pos)
        if f[0] != CENTRAL_SIG:
            raise ZipError(f"central directory entry {index} has a bad signature")
        flags, method, crc, comp, size = f[3], f[4], f[7], f[8], f[9]
        name_len, extra_len, comment_len, disk_start, lho = f[10], f[11], f[12], f[13], f[16]
        total = _CENTRAL.size + name_len + extra_len + comment_len
        if pos + total > len(cdir):
            raise ZipError(f"central directory entry {index} is truncated")
        raw_name = cdir[pos + _CENTRAL.size : pos + _CENTRAL.size + name_len]
        extra = cdir[pos + _CENTRAL.size + name_len : pos + _CENTRAL.size + name_len + extra_len]
        values = {"size": size, "comp": comp, "lho": lho}
        need = [k for k, v in (("size", size), ("comp", comp), ("lho", lho)) if v == _U32_MAX]
        if need:
            _zip64_extra(extra, need, values)
        size, comp, lho = values["size"], values["comp"], values["lho"]
        if method == 0 and size != comp:
            raise ZipError(f"entry {index} is STORED but its sizes differ ({comp} vs {size})")
        if size and not comp:
            raise ZipError(f"entry {index} has data but a zero compressed size")
        if disk_start == 0xFFFF or disk_start not in (0, 1):
            raise ZipError(f"entry {index} starts on another disk")
        if lho + _LOCAL.size + comp > src.size:
            raise ZipError(f"entry {index} extends past the end of the file")
        if flags & _MASKED_LOCAL_DIR:
            raise ZipError(f"entry {index} has a masked local directory")
        name = raw_name.decode("utf-8", "surrogateescape")
        entries.append(ZipEntry(index, name, raw_name, method, flags, crc, comp, size, lho))
        pos += total
    if not entries:
        raise ZipError("archive does not contain any files")
    return ZipArchive(src, entries, notes)
