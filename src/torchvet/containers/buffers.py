"""Buffers for readers whose pickle streams interleave with raw data, and torch's view
of files it reads as a legacy pickle.

Legacy torch files and joblib files put pickles and tensor/array bytes in one stream.
The machine reads a buffer by offset, so for a local file the buffer is a read-only
``mmap``: skipping a gigabyte of array data then costs no memory, and only the pages
the pickles touch are read. Other sources are read into memory up to a bound.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.observations import TorchProbe
from torchvet.pickle.machine import Limits, run_stream
from torchvet.source import ByteSource, FileSource

Buffer = bytes | mmap.mmap
_VIEW_LIMITS = Limits(max_ops=10_000)


class TooLarge(Exception):
    """The source is larger than the bound and cannot be mapped."""


@contextmanager
def whole(src: ByteSource, limit: int) -> Iterator[Buffer]:
    """The source's bytes: mapped when it is a local file, else read (at most ``limit``)."""
    mapped = _map(src)
    if mapped is not None:
        try:
            yield mapped
        finally:
            mapped.close()
        return
    if src.size > limit:
        raise TooLarge(f"{src.size} bytes, more than torchvet's bound of {limit}")
    yield src.read_at(0, src.size)


def _map(src: ByteSource) -> mmap.mmap | None:
    if not isinstance(src, FileSource) or src.size == 0:
        return None
    try:
        fd = os.open(src.name, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size != src.size:  # replaced since it was opened
            return None
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def read_as_pickle_by_torch(scan: ContainerScan, src: ByteSource, ctx: ScanContext) -> None:
    """torch.load's error for a non-zip file it reads as a legacy pickle (npy, safetensors
    without its suffix, compressed files): the first pickle's first failure."""
    head = src.read_at(0, 1 << 16)
    scan.record(TorchProbe(run_stream(head, "", ctx.naming, None, 0, _VIEW_LIMITS, ctx.knowledge)))
    scan.torch_fails("Invalid magic number; corrupt file?")  # when the pickle reads
