"""Byte sources: every kind reads the same bytes for the same ranges, and refuses the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchvet.source import BytesSource, FileSource, SliceSource, readable

DATA = bytes(range(200))


@pytest.mark.parametrize(
    ("offset", "length", "expected"), [(0, 10, 10), (195, 10, 5), (200, 4, 0), (500, 4, 0)]
)
def test_readable_counts_what_is_left(offset: int, length: int, expected: int) -> None:
    assert readable(offset, length, len(DATA)) == expected


def test_every_source_reads_the_same_ranges(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"head" + DATA + b"tail")
    with FileSource(path) as whole:
        for src in (BytesSource(DATA), SliceSource(whole, 4, len(DATA))):
            assert src.size == len(DATA)
            for offset, length in [(0, 0), (0, 7), (190, 50), (200, 1), (999, 3)]:
                assert src.read_at(offset, length) == DATA[offset : offset + length]
            with pytest.raises(ValueError):
                src.read_at(-1, 3)
            with pytest.raises(ValueError):
                src.read_at(3, -1)


def test_a_file_source_reads_to_its_end(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    with FileSource(path) as src:
        assert src.size == len(DATA) and src.read_at(190, 50) == DATA[190:]


def test_a_slice_must_lie_inside_its_source() -> None:
    with pytest.raises(ValueError):
        SliceSource(BytesSource(DATA), 150, 51)
