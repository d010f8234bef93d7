"""Plain pickle files: one pickle, or several concatenated, at any protocol.

torch.load reads a non-zip file as the legacy format: it unpickles the first pickle
with its weights-only unpickler (so a refused global is reported first) and then
fails with "Invalid magic number" unless that pickle is torch's magic number. A
loader that calls ``pickle.load`` repeatedly reads every concatenated pickle, so all
of them are scanned.
"""

from __future__ import annotations

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.pickle.opcodes import BY_CODE
from torchvet.results import Category
from torchvet.source import ByteSource

MAX_STREAMS = 64


def scan_pickle(src: ByteSource, ctx: ScanContext, buf: bytes | None = None) -> ContainerScan:
    scan = ContainerScan("pickle")
    if buf is None:
        if src.size > ctx.max_pickle_bytes:
            scan.add(Category.MALFORMED, f"pickle of {src.size} bytes exceeds torchvet's bound")
            return scan
        buf = src.read_at(0, src.size)
    scan_pickle_streams(buf, ctx, scan, entry="")
    if scan.torch_error is None:
        scan.torch_fails("Invalid magic number; corrupt file?")
    scan.add(
        Category.UNSUPPORTED_FORM,
        "a plain pickle, not a torch checkpoint: torch.load(weights_only=True) refuses it "
        "(load it with the library that wrote it, if you trust it)",
    )
    return scan


def scan_pickle_streams(
    buf: bytes,
    ctx: ScanContext,
    scan: ContainerScan,
    entry: str,
    start: int = 0,
    torch_reads_first: bool = True,
) -> int:
    """Scan concatenated pickles from ``start``; return where reading ended."""
    pos = start
    for index in range(MAX_STREAMS):
        trace = scan.run_pickle(
            ctx, buf, entry, None, pos, torch_reads=torch_reads_first and index == 0
        )
        if index == 0:
            scan.root = trace.root
        if not trace.stopped:
            return trace.end
        pos = trace.end
        if pos >= len(buf):
            return pos
        if BY_CODE[buf[pos]] is None:
            scan.add(
                Category.NOTE, f"{len(buf) - pos} trailing bytes after the last pickle", entry, pos
            )
            return pos
        scan.add(
            Category.NOTE,
            f"another pickle starts at offset {pos}: a loader that calls pickle.load again "
            "runs it, so it is scanned too",
            entry,
            pos,
        )
    scan.add(Category.MALFORMED, f"more than {MAX_STREAMS} concatenated pickles", entry, pos)
    return pos


def dormant_gadgets(buf: bytes, pos: int, ctx: ScanContext) -> list[str]:
    """Gadgets named by a pickle hidden in bytes no loader reads (after a final STOP)."""
    if pos >= len(buf) or BY_CODE[buf[pos]] is None:
        return []
    scratch = ContainerScan("scratch")
    scan_pickle_streams(buf, ctx, scratch, "", pos, torch_reads_first=False)
    return sorted(
        {f.global_name for f in scratch.findings if f.category is Category.GADGET and f.global_name}
    )


def warn_dormant(
    scan: ContainerScan, buf: bytes, pos: int, ctx: ScanContext, entry: str, where: str
) -> None:
    names = dormant_gadgets(buf, pos, ctx)
    if names:
        scan.add(
            Category.WARNING,
            f"dormant payload {where} names {', '.join(names[:5])}: no loader reads it, "
            "but the file was crafted to carry it",
            entry,
            pos,
        )
