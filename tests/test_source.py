"""Byte-range sources, the only way the scanner reads input: every source returns what
slicing the bytes returns, and the file object over them is what zipfile and tarfile
read (with a bound on any one read)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torchvet.source import (
    BytesSource,
    FileSource,
    ReadTooLarge,
    SliceSource,
    SourceFile,
    iter_range,
    readable,
)

DATA = bytes(range(256)) * 4
SMALL = bytes(range(200))


@pytest.fixture(scope="module")
def file_source(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("source") / "data.bin"
    path.write_bytes(DATA)
    with FileSource(path) as src:
        yield src


@settings(max_examples=200, deadline=None)
@given(
    offset=st.integers(0, 1200),
    length=st.integers(0, 1200),
    window=st.tuples(st.integers(0, 512), st.integers(0, 512)),
)
def test_every_source_reads_what_slicing_reads(file_source, offset, length, window) -> None:
    assert file_source.size == BytesSource(DATA).size == len(DATA)
    for src in (file_source, BytesSource(DATA)):
        assert src.read_at(offset, length) == DATA[offset : offset + length]
        start, size = window
        part = SliceSource(src, start, size)
        assert part.read_at(offset, length) == DATA[start : start + size][offset : offset + length]


def test_reads_that_cannot_be_are_refused(file_source) -> None:  # type: ignore[no-untyped-def]
    for src in (file_source, BytesSource(DATA), SliceSource(BytesSource(DATA), 1, 10)):
        with pytest.raises(ValueError):
            src.read_at(-1, 4)
    with pytest.raises(ValueError, match="outside its source"):
        SliceSource(BytesSource(DATA), 1000, 100)
    assert b"".join(iter_range(BytesSource(DATA), 10, 100, 7)) == DATA[10:110]
    with pytest.raises(EOFError, match="ends at byte 1024, before 1030"):
        list(iter_range(BytesSource(DATA), 1000, 30, 8))


def test_zipfile_and_tarfile_read_through_a_source_file(tmp_path: Path) -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a/data.pkl", DATA)
    source_zip = zipfile.ZipFile(SourceFile(BytesSource(zipped.getvalue())))
    assert source_zip.read("a/data.pkl") == DATA
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as archive:
        info = tarfile.TarInfo("storages")
        info.size = len(DATA)
        archive.addfile(info, io.BytesIO(DATA))
    with tarfile.open(fileobj=SourceFile(BytesSource(tarred.getvalue())), mode="r:") as archive:
        member = archive.extractfile("storages")
        assert member is not None and member.read() == DATA


def test_one_read_larger_than_the_bound_is_refused() -> None:
    reader = SourceFile(BytesSource(DATA), max_read=100)
    assert reader.read(100) == DATA[:100]
    with pytest.raises(ReadTooLarge):
        reader.read(101)


@pytest.mark.parametrize(
    ("offset", "length", "expected"), [(0, 10, 10), (195, 10, 5), (200, 4, 0), (500, 4, 0)]
)
def test_readable_counts_what_is_left(offset: int, length: int, expected: int) -> None:
    assert readable(offset, length, len(SMALL)) == expected


def test_every_source_reads_the_same_ranges(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"head" + SMALL + b"tail")
    with FileSource(path) as whole:
        for src in (BytesSource(SMALL), SliceSource(whole, 4, len(SMALL))):
            assert src.size == len(SMALL)
            for offset, length in [(0, 0), (0, 7), (190, 50), (200, 1), (999, 3)]:
                assert src.read_at(offset, length) == SMALL[offset : offset + length]
            with pytest.raises(ValueError):
                src.read_at(-1, 3)
            with pytest.raises(ValueError):
                src.read_at(3, -1)


def test_a_file_source_reads_to_its_end(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(SMALL)
    with FileSource(path) as src:
        assert src.size == len(SMALL) and src.read_at(190, 50) == SMALL[190:]


def test_a_slice_must_lie_inside_its_source() -> None:
    with pytest.raises(ValueError):
        SliceSource(BytesSource(SMALL), 150, 51)
