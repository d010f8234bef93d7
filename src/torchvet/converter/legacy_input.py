"""Legacy (non-zip) torch files for conversion, read by the scanner's legacy reader.

``pickle.dumps(tensor)`` stores each storage as ``torch.storage._load_from_bytes(b"...")``,
a whole legacy file inside the pickle: the converter reads that payload the same way.
"""

from __future__ import annotations

from torchvet.containers.base import ScanContext
from torchvet.containers.legacy import scan_pickle_or_legacy
from torchvet.pickle.values import Value
from torchvet.source import ByteSource


class LegacyError(Exception):
    """Not a readable legacy torch file."""


def read_legacy(src: ByteSource, ctx: ScanContext) -> Value | None:
    """The object a legacy file holds (storages carry ``(offset, nbytes)`` records)."""
    scan = scan_pickle_or_legacy(src, ctx)
    if scan.format != "torch-legacy":
        raise LegacyError(f"not a legacy torch file ({scan.format})")
    return scan.root
