"""Writing a planned conversion: the header, then each tensor's bytes, atomically.

Contiguous tensors whose bytes lie verbatim in a local file are copied by positioned
reads into one small buffer; others stream through memory in bounded chunks; strided
views are gathered block by block (converter/gather.py); byte-order and conj/neg fixes
are applied on the way (converter/elementwise.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from torchvet.containers.zipreader import ZipError
from torchvet.converter.blobs import Blob, BlobError
from torchvet.converter.elementwise import byteswap, negate_twos, sign_pattern, xor_pattern
from torchvet.converter.gather import Reader, Scratch, contiguous_chunks, gather_blocks
from torchvet.converter.parallel import delegate
from torchvet.converter.plan import Plans, TensorPlan
from torchvet.converter.writer import AtomicFile, HeaderError, build_header, order_key

Progress = Callable[[int, int], None]  # (bytes written so far, total tensor bytes)


class WriteError(Exception):
    """Writing failed; the message says why."""


def ordered(plans: Plans) -> list[TensorPlan]:
    """Tensors in file order (the safetensors library's order)."""
    return sorted(plans.tensors, key=lambda p: order_key(p.name, p.target.code))


def header_for(plans: Plans, metadata: dict[str, str]) -> bytes:
    try:
        return build_header(
            ((p.name, p.target.code, p.header_shape, p.nbytes) for p in ordered(plans)), metadata
        )
    except HeaderError as exc:
        raise WriteError(str(exc)) from None


def write(
    out_path: str,
    plans: Plans,
    metadata: dict[str, str],
    overwrite: bool,
    progress: Progress | None,
) -> int:
    """Write the file; returns its size."""
    tensors = ordered(plans)
    header = header_for(plans, metadata)
    total = sum(p.nbytes for p in tensors)
    try:
        out = AtomicFile(out_path, overwrite=overwrite)
    except OSError as exc:
        raise WriteError(f"cannot write beside {out_path}: {exc.strerror or exc}") from None
    copier = _Copier(out)
    worker = None
    try:
        out.write(header)
        worker, delegated = delegate(_with_offsets(tensors, len(header)), out.tmp)
        for p in tensors:
            if id(p) in delegated:  # the worker writes these bytes
                out.skip(p.nbytes)
                copier.done += p.nbytes
            else:
                copier.tensor(p)
            if progress is not None:
                progress(copier.done, total)
        if worker is not None:
            problem, worker = worker.wait(), None
            if problem is not None:
                raise BlobError(f"the worker gathering strided tensors failed: {problem}")
        if os.fstat(out.fd).st_size != len(header) + total:
            raise BlobError("the output is not the planned size")
        out.commit()
    except FileExistsError:
        raise WriteError(f"{out_path} appeared while converting; not replaced") from None
    except (BlobError, ZipError) as exc:
        out.abort()
        raise WriteError(f"reading tensor data failed: {exc}") from None
    except OSError as exc:
        out.abort()
        raise WriteError(f"writing {out_path} failed: {exc.strerror or exc}") from None
    except BaseException:
        out.abort()
        raise
    finally:
        if worker is not None:  # stopped: this conversion failed
            worker.stop()
        copier.close()
    return len(header) + total


def _with_offsets(tensors: list[TensorPlan], start: int) -> list[tuple[TensorPlan, int]]:
    out = []
    for p in tensors:
        out.append((p, start))
        start += p.nbytes
    return out


# Bytes moved per positioned read + write. Measured (benchmarks/RESULTS.md): a buffer that
# stays in cache (<= 1 MiB here) copies in the kernel time of cp; 2 MiB already doubles
# it, and copy_file_range into offsets unlike the source's costs 1.5x (ext4, Linux 6.18).
COPY_BUFFER = 512 << 10


class _Copier:
    """Copies tensor bytes: positioned reads of the input file into one small reused
    buffer for plain ranges, through memory (bounded) for everything else."""

    def __init__(self, out: AtomicFile) -> None:
        self.out = out
        self.done = 0
        self._fds: dict[str, int] = {}
        self._buffer = memoryview(bytearray(COPY_BUFFER))
        self._scratch = Scratch()

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def tensor(self, p: TensorPlan) -> None:
        info = p.info
        itemsize = p.target.itemsize
        if p.nbytes == 0:
            return
        if not p.contiguous:
            assert info.stride is not None
            read = self._reader(p.blob)
            pieces = gather_blocks(
                read, itemsize, info.offset, info.shape, info.stride, self._scratch
            )
            for piece in pieces:
                self.out.write(_transform(p, piece) if p.transformed else piece)
                self.done += len(piece)
            return
        if not p.transformed and self._copy_range(p):
            return
        for chunk in contiguous_chunks(p.blob, itemsize, info.offset, p.numel):
            self.out.write(_transform(p, chunk) if p.transformed else chunk)
            self.done += len(chunk)

    def _fd(self, path: str) -> int:
        fd = self._fds.get(path)
        if fd is None:
            fd = self._fds[path] = os.open(path, os.O_RDONLY)
        return fd

    def _reader(self, blob: Blob) -> Reader:
        """Random access to a storage's bytes: positioned reads of the file when it lies
        in one, else (a DEFLATE record, a composed tensor) the storage read once."""
        where = blob.file_range()
        if where is None:
            data = memoryview(blob.read(0, blob.size))
            return lambda start, into: into.__setitem__(
                slice(None), data[start : start + len(into)]
            )
        fd, base = self._fd(where[0]), where[1]

        def read(start: int, into: memoryview) -> None:
            if os.preadv(fd, [into], base + start) != len(into):
                raise BlobError(f"{where[0]} ended early")

        return read

    def _copy_range(self, p: TensorPlan) -> bool:
        where = p.blob.file_range()
        if where is None:
            return False
        fd = self._fd(where[0])
        pos = where[1] + p.info.offset * p.target.itemsize
        left = p.nbytes
        buf = self._buffer
        while left:
            n = os.preadv(fd, [buf[: min(left, len(buf))]], pos)
            if n <= 0:
                raise BlobError(f"{where[0]} ended early")
            self.out.write(buf[:n])
            pos += n
            left -= n
            self.done += n
        return True


def _transform(
    p: TensorPlan, data: bytes | bytearray | memoryview
) -> bytes | bytearray | memoryview:
    info, target = p.info, p.target
    if p.swap:
        data = byteswap(data, p.swap)
    if info.conj:  # complex64: negate the imaginary (second) float32 of each element
        data = xor_pattern(data, sign_pattern(4, every=2, phase=1))
    if info.neg:
        if target.neg == "sign":
            width = 4 if target.kind == "complex" else target.itemsize
            data = xor_pattern(data, sign_pattern(width))
        else:
            data = negate_twos(data, target.itemsize)
    return data
