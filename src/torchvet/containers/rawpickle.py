"""Plain pickle files: one pickle, or several concatenated, at any protocol.

torch.load reads a non-zip file as the legacy format: it unpickles the first pickle
with its weights-only unpickler (so a refused global is reported first) and then
fails with "Invalid magic number" unless that pickle is torch's magic number. A
loader that calls ``pickle.load`` repeatedly reads every concatenated pickle, so all
of them are scanned.
"""

from __future__ import annotations

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.observations import Dormant, Seen
from torchvet.pickle.opcodes import BY_CODE
from torchvet.pickle.trace import StreamTrace

MAX_STREAMS = 4096


def scan_pickle_streams(
    buf: bytes,
    ctx: ScanContext,
    scan: ContainerScan,
    entry: str,
    start: int = 0,
    torch_reads_first: bool = True,
) -> int:
    """Scan concatenated pickles from ``start``; return where reading ended.

    A loader calling pickle.load again starts right after STOP or, when STOP is inside a
    FRAME it buffered (pickle's pure-Python unpickler; the C one over BytesIO), at the
    frame's end; and where the C unpickler read the stream differently (frames.py), its
    own ends count too. Every such start is scanned."""
    pending, seen, end = [start], {start}, start
    for scanned in range(MAX_STREAMS + 1):
        if not pending:
            break
        pos = pending.pop(0)
        if scanned == MAX_STREAMS:
            scan.observe(
                Seen.LIMIT,
                f"more than {MAX_STREAMS} concatenated pickles; the ones from offset {pos} on "
                "were not read",
                entry,
                pos,
            )
            break
        first = scanned == 0
        readings = len(scan.alternates)
        trace = scan.run_pickle(ctx, buf, entry, None, pos, torch_reads=torch_reads_first and first)
        if first:
            scan.root = trace.root
        end = max(end, trace.end)
        for nxt in _next_pickles(buf, [trace, *scan.alternates[readings:]], scan, entry):
            if nxt not in seen:
                seen.add(nxt)
                pending.append(nxt)
    return end


def _next_pickles(
    buf: bytes, traces: list[StreamTrace], scan: ContainerScan, entry: str
) -> list[int]:
    resumes = set()
    for t in traces:
        if t.stopped:
            resumes |= {t.end, max(t.end, t.frame_end or 0)}
    found = []
    for pos in sorted(resumes):
        if pos >= len(buf):
            continue
        if BY_CODE[buf[pos]] is None:
            scan.observe(
                Seen.NOTE, f"{len(buf) - pos} trailing bytes after the last pickle", entry, pos
            )
            continue
        scan.observe(
            Seen.NOTE,
            f"another pickle starts at offset {pos}: a loader that calls pickle.load again "
            "runs it, so it is scanned too",
            entry,
            pos,
        )
        found.append(pos)
    return found


def warn_dormant(
    scan: ContainerScan, buf: bytes, pos: int, ctx: ScanContext, entry: str, where: str
) -> None:
    """A pickle hidden in bytes no loader reads (after a final STOP): what it names is
    worth a warning (``observations.Dormant``)."""
    if pos >= len(buf) or BY_CODE[buf[pos]] is None:
        return
    scratch = ContainerScan("scratch")
    scan_pickle_streams(buf, ctx, scratch, "", pos, torch_reads_first=False)
    scan.record(Dormant(scratch.observations, entry, pos, where))
