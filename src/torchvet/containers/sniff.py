"""Decide a file's format from its bytes, never from its name."""

from __future__ import annotations

import io
import struct
import tarfile

from torchvet.pickle.opcodes import BY_CODE
from torchvet.source import ByteSource

# Magic numbers of files that are not models, for a clear diagnosis.
NOT_MODEL_MAGICS: list[tuple[bytes, str]] = [
    (b"version https://git-lfs", "a Git LFS pointer, not the model: run `git lfs pull`"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O or Java class file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras/h5py), which torchvet does not read"),
    (b"\x08\x01\x12", "probably an ONNX/protobuf file, which torchvet does not read"),
]
_HTML_STARTS = (b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body", b'{"error')
COMPRESSED_MAGICS: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"(\xb5/\xfd", "zstd"),
    (b"]\x00\x00", "lzma"),  # joblib's .lzma (FORMAT_ALONE); no pickle starts "]\x00"
    # joblib < 0.10 zlib file: "ZF" then a length int(x, 16) reads ("0x" optional).
    (b"ZF", "joblib-zfile"),
]
# zstd skippable frames (magic 0x184D2A50-5F, little-endian): zstd readers skip them
# and decode the frames that follow, so a file may start with one.
_ZSTD_SKIPPABLE = b"\x2a\x4d\x18"


def _is_tar(src: ByteSource) -> bool:
    """What torch does before reading a legacy file: can tarfile open it (mode "r:")?"""
    if src.size < 512:
        return False
    head = src.read_at(0, 512)
    try:
        # Only the first header block is parsed: tarfile validates its checksum.
        tarfile.TarInfo.frombuf(head, tarfile.ENCODING, "surrogateescape")
    except (tarfile.HeaderError, ValueError):
        return False
    return True


def _is_zlib(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0


def codec_of(head: bytes) -> str | None:
    """The compression a file starts with (name from COMPRESSED_MAGICS, or "zlib")."""
    for magic, name in COMPRESSED_MAGICS:
        if head.startswith(magic):
            return name
    if len(head) >= 4 and head[0] & 0xF0 == 0x50 and head[1:4] == _ZSTD_SKIPPABLE:
        return "zstd"
    return "zlib" if _is_zlib(head) else None


def _is_safetensors(src: ByteSource, head: bytes) -> bool:
    if len(head) < 9:
        return False
    (n,) = struct.unpack_from("<Q", head)
    if not 2 <= n <= min(src.size - 8, 100_000_000):
        return False
    # The JSON may start with any amount of JSON whitespace (safetensors accepts it).
    pos, end = 8, 8 + n
    while pos < end:
        text = src.read_at(pos, min(end - pos, 1 << 16)).lstrip(b" \t\r\n")
        if text:
            return text[:1] == b"{"
        pos += 1 << 16
    return False


def sniff(src: ByteSource) -> str:
    """One of: empty, torch-zip (any zip), pickle, tar, npy, safetensors, compressed,
    not-a-model, unknown."""
    if src.size == 0:
        return "empty"
    head = src.read_at(0, 64)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if _is_tar(src):
        return "tar"
    if _is_safetensors(src, head):
        return "safetensors"
    if codec_of(head) is not None:
        return "compressed"
    for magic, _ in NOT_MODEL_MAGICS:
        if head.startswith(magic):
            return "not-a-model"
    if head.lstrip()[:16].lower().startswith(_HTML_STARTS):
        return "not-a-model"
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "pickle"
    if BY_CODE[head[0]] is not None:
        return "pickle"
    return "unknown"


def describe_not_model(src: ByteSource) -> str:
    head = src.read_at(0, 64)
    for magic, what in NOT_MODEL_MAGICS:
        if head.startswith(magic):
            return what
    if head.lstrip()[:16].lower().startswith(_HTML_STARTS):
        return "an HTML/XML/JSON page (a download that returned an error page?)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "an unrecognised binary file"
    return f"text, not a model file ({io.StringIO(text).readline().strip()[:40]!r}...)"
