"""Tasks on this machine: remote reads wait on the network, so threads overlap them."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from torchvet.many.tasks import ScanSetup, ScanTask, run_task
from torchvet.results import ScanResult

Done = Callable[[], None]


def run_here(
    tasks: Sequence[ScanTask], setup: ScanSetup, threads: int, on_done: Done
) -> Iterator[ScanResult | None]:
    """Results in task order; at most a few tasks per thread in flight."""
    if threads <= 1:
        for task in tasks:
            result = run_task(task, setup)
            on_done()
            yield result
        return
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="torchvet-scan")
    window: deque[Future[ScanResult | None]] = deque()
    queued = iter(tasks)
    try:
        for task in queued:
            window.append(pool.submit(run_task, task, setup))
            if len(window) >= 4 * threads:
                break
        while window:
            result = window.popleft().result()
            on_done()
            nxt = next(queued, None)
            if nxt is not None:
                window.append(pool.submit(run_task, nxt, setup))
            yield result
    finally:  # Ctrl-C or a consumer that stopped: drop what has not started
        pool.shutdown(wait=False, cancel_futures=True)
