"""A second process for strided views, on machines with two cores or more.

Gathering a strided view is CPU-bound: with the standard library the floor is a strided
``array`` slice, about 2-3 ns per element (benchmarks/RESULTS.md), so a checkpoint of
transposed weights costs seconds of one core. The writer hands about half of the large
strided tensors to a worker process (``python -m torchvet.converter.parallel TMP``, tasks as
JSON on stdin), which gathers them from the input file and writes them at their offsets
in the temporary output while this process writes everything else, skipping those
ranges. The rename waits for the worker; its failure fails the conversion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

from torchvet.converter.gather import Scratch, gather_blocks
from torchvet.converter.plan import TensorPlan

PARALLEL_MIN = 128 << 20  # strided bytes below which one process is quicker than two
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Task:
    path: str  # input file
    base: int  # file offset of the storage's byte 0
    itemsize: int
    offset: int  # storage offset of the view, in elements
    shape: list[int]
    stride: list[int]
    out_offset: int  # where the tensor's bytes go in the output


class Worker:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def wait(self) -> str | None:
        """None when every task was written, else why not."""
        err = self.proc.stderr.read() if self.proc.stderr is not None else b""
        if self.proc.wait() == 0:
            return None
        lines = err.decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {self.proc.returncode}"

    def stop(self) -> None:
        self.proc.kill()
        self.wait()


def delegate(plans: list[tuple[TensorPlan, int]], tmp_path: str) -> tuple[Worker | None, set[int]]:
    """Start a worker for about half of the large strided tensors ((plan, output offset)
    pairs); returns it and the ids of the plans it writes (none when not worth it)."""
    candidates = [(p, off) for p, off in plans if _delegable(p)]
    if (os.cpu_count() or 1) < 2 or sum(p.nbytes for p, _ in candidates) < PARALLEL_MIN:
        return None, set()
    mine = theirs = 0
    tasks, ids = [], set()
    for p, off in sorted(candidates, key=lambda x: -x[0].nbytes):
        if theirs <= mine:
            tasks.append(_task(p, off))
            ids.add(id(p))
            theirs += p.nbytes
        else:
            mine += p.nbytes
    path = os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "torchvet.converter.parallel", tmp_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps([asdict(t) for t in tasks]).encode())
        proc.stdin.close()
    except OSError:
        return None, set()  # no second process here: do it all in this one
    return Worker(proc), ids


def _delegable(p: TensorPlan) -> bool:
    return not p.contiguous and not p.transformed and p.blob.file_range() is not None


def _task(p: TensorPlan, out_offset: int) -> Task:
    where = p.blob.file_range()
    assert where is not None and p.info.stride is not None
    info = p.info
    return Task(
        where[0], where[1], p.target.itemsize, info.offset, list(info.shape),
        list(info.stride), out_offset,
    )  # fmt: skip


def run_tasks(tmp_path: str, tasks: list[Task]) -> None:
    out = os.open(tmp_path, os.O_WRONLY)
    scratch = Scratch()
    fds: dict[str, int] = {}
    try:
        for t in tasks:
            fd = fds.get(t.path)
            if fd is None:
                fd = fds[t.path] = os.open(t.path, os.O_RDONLY)

            def read(start: int, into: memoryview, fd: int = fd, base: int = t.base) -> None:
                if os.preadv(fd, [into], base + start) != len(into):
                    raise EOFError("the input file ended early")

            pos = t.out_offset
            for piece in gather_blocks(
                read, t.itemsize, t.offset, tuple(t.shape), tuple(t.stride), scratch
            ):
                view = piece
                while view:
                    n = os.pwrite(out, view, pos)
                    view, pos = view[n:], pos + n
    finally:
        for fd in fds.values():
            os.close(fd)
        os.close(out)


def main() -> int:
    tasks = [Task(**t) for t in json.loads(sys.stdin.buffer.read())]
    try:
        run_tasks(sys.argv[1], tasks)
    except (OSError, EOFError, ValueError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
