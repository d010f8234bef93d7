"""The zip reader against zipfile's own archives, and where it must read as miniz (torch's
reader) does instead: names looked up without case, CRCs not checked, local headers
that disagree noted but not followed, and what miniz refuses refused."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from torchvet.containers.zipreader import ZipError, read_archive
from torchvet.source import BytesSource

MEMBERS = [("archive/data.pkl", b"\x80\x02}q\x00." * 50), ("archive/Version", b"3\n")]


def make_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED, **kw) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members:
            with archive.open(name, "w", force_zip64=kw.get("zip64", False)) as member:
                member.write(data)
        archive.comment = kw.get("comment", b"")
    return out.getvalue()


def central_field(data: bytes, offset: int, value: bytes) -> bytes:
    """``data`` with ``value`` written into the first central-directory record."""
    at = data.find(b"PK\x01\x02") + offset
    return data[:at] + value + data[at + len(value) :]


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("zip64", [False, True])
def test_reads_what_zipfile_writes(method: int, zip64: bool) -> None:
    data = make_zip(MEMBERS, method, zip64=zip64, comment=b"a comment")
    ours = read_archive(BytesSource(data))
    theirs = zipfile.ZipFile(io.BytesIO(data))
    assert [(e.name, e.size, e.crc) for e in ours.entries] == [
        (i.filename, i.file_size, i.CRC) for i in theirs.infolist()
    ]
    for entry in ours.entries:
        assert ours.read(entry) == theirs.read(entry.name)
    assert ours.notes == []


def test_names_are_found_without_regard_to_case() -> None:
    archive = read_archive(BytesSource(make_zip(MEMBERS)))
    assert [e.name for e in archive.lookup("ARCHIVE/version")] == ["archive/Version"]
    assert archive.torch_pick("Archive/Data.PKL") is archive.entries[0]
    both = read_archive(BytesSource(make_zip([("w.pt", b"1"), ("W.PT", b"2")])))
    assert len(both.lookup("w.pt")) == 2  # ambiguous: torch's pick depends on its sort


def test_a_wrong_crc_is_not_checked() -> None:
    data = central_field(make_zip(MEMBERS), 16, b"\0\0\0\0")
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(data)).read(MEMBERS[0][0])
    archive = read_archive(BytesSource(data))
    assert archive.read(archive.entries[0]) == MEMBERS[0][1]


def test_a_local_header_that_names_another_file_is_noted() -> None:
    data = make_zip([("data.pkl", b"abc")]).replace(b"data.pkl", b"evil.pkl", 1)
    archive = read_archive(BytesSource(data))
    (entry,) = archive.entries
    assert (entry.name, archive.read(entry)) == ("data.pkl", b"abc")
    assert entry.notes == [
        "local header names it b'evil.pkl'; torch uses the central directory's name"
    ]


def test_what_miniz_cannot_extract_is_refused() -> None:
    lzma = read_archive(BytesSource(make_zip([("x", b"abc")], zipfile.ZIP_LZMA)))
    with pytest.raises(ZipError, match="compression method 14"):
        lzma.check_extractable(lzma.entries[0])
    encrypted_data = central_field(make_zip([("x", b"abc")]), 8, struct.pack("<H", 1))
    encrypted = read_archive(BytesSource(encrypted_data))
    with pytest.raises(ZipError, match="encrypted"):
        encrypted.check_extractable(encrypted.entries[0])


def test_damaged_archives_are_zip_errors() -> None:
    data = make_zip(MEMBERS)
    with pytest.raises(ZipError, match="no end-of-central-directory record"):
        read_archive(BytesSource(data[:-30]))
    with pytest.raises(ZipError, match="more than torchvet's bound of 1"):
        read_archive(BytesSource(data), max_entries=1)
    forged = struct.pack("<II", 0xFFFFFFF0, 0xFFFFFFF0)  # sizes no file this small holds
    with pytest.raises(ZipError, match="extends past the end of the file"):
        read_archive(BytesSource(central_field(data, 20, forged)))
