"""A file's format from its bytes, never its name: files written by the real libraries,
compressed by the real codecs, and files that are not models, said as such."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import struct
import tarfile
import zlib

import lz4.frame
import numpy as np
import pytest
import zstandard
from safetensors.numpy import load as safetensors_load
from safetensors.numpy import save as safetensors_save

from torchvet.containers.sniff import codec_of, describe_not_model, sniff
from torchvet.source import BytesSource

NAMES = ("model.pt", "model.safetensors", "notes.txt", "x")


def formats(data: bytes) -> set[str]:
    """What sniff says under every name (one answer, if names do not matter)."""
    return {sniff(BytesSource(data, name)) for name in NAMES}


def _npy() -> bytes:
    out = io.BytesIO()
    np.save(out, np.arange(6.0).reshape(2, 3))
    return out.getvalue()


def _zip() -> bytes:
    out = io.BytesIO()
    np.savez(out, w=np.ones(2))
    return out.getvalue()


def _tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("pickle")
        data = pickle.dumps({"w": 1}, protocol=2)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


WRITTEN = {
    "npy": _npy(),
    "zip": _zip(),
    "tar": _tar(),
    "safetensors": safetensors_save({"w": np.ones((2, 2), dtype=np.float32)}),
}


@pytest.mark.parametrize("fmt", sorted(WRITTEN))
def test_files_written_by_the_libraries(fmt: str) -> None:
    assert formats(WRITTEN[fmt]) == {fmt}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickles_of_every_protocol(protocol: int) -> None:
    assert formats(pickle.dumps({"lr": 0.1, "w": [1.0, 2.0]}, protocol=protocol)) == {"pickle"}


def test_safetensors_header_after_json_whitespace() -> None:
    # safetensors itself accepts whitespace before the header's "{".
    data = WRITTEN["safetensors"]
    (n,) = struct.unpack_from("<Q", data)
    spaced = struct.pack("<Q", n + 3) + b" \n\t" + data[8:]
    assert safetensors_load(spaced).keys() == {"w"}
    assert formats(spaced) == {"safetensors"}


CODECS = {
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "zlib": zlib.compress,
    "zstd": lambda d: zstandard.ZstdCompressor().compress(d),
    "lz4": lz4.frame.compress,
    # joblib < 0.10: "ZF", the length in hex, then zlib.
    "joblib-zfile": lambda d: b"ZF" + hex(len(d)).encode().ljust(19) + zlib.compress(d),
}


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_compressed_files_by_codec(codec: str) -> None:
    data = CODECS[codec](pickle.dumps(list(range(100)), protocol=2))
    assert formats(data) == {"compressed"}
    assert codec_of(data[:64]) == codec


def test_zstd_after_a_skippable_frame() -> None:
    frame = zstandard.ZstdCompressor().compress(b"payload")
    data = struct.pack("<II", 0x184D2A5E, 4) + b"skip" + frame
    reader = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
    assert reader.decompress(data) == b"payload"  # as pandas reads .zst files
    assert codec_of(data[:64]) == "zstd"


NOT_MODELS = {
    b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n": "git lfs pull",
    b"\x89PNG\r\n\x1a\n" + bytes(20): "a PNG image",
    b"  <!DOCTYPE html><html><body>Not Found</body></html>": "an HTML/XML/JSON page",
    b'{"error": "Repository not found"}': "an HTML/XML/JSON page",
}


@pytest.mark.parametrize("data", sorted(NOT_MODELS))
def test_files_that_are_not_models_say_what_they_are(data: bytes) -> None:
    assert formats(data) == {"not-a-model"}
    assert NOT_MODELS[data] in describe_not_model(BytesSource(data))


def test_empty_and_unknown() -> None:
    assert formats(b"") == {"empty"}
    assert formats(b"\xff\xfe binary") == {"unknown"}  # 0xff is no pickle opcode
    text = describe_not_model(BytesSource(b"hello world\nsecond line\n"))
    assert text == "text, not a model file ('hello world'...)"
