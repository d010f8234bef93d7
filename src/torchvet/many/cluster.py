"""Per-file scans as tasks on a ``dask.distributed`` cluster (``torchvet[dask]``).

Each task names one file and the worker reads it from the store. Results are handed
back in task order, so a cluster run prints exactly what a local run prints. A worker
that dies has its tasks rescheduled by the scheduler; a task whose workers keep dying
(``distributed.scheduler.allowed-failures``) or that fails is reported as an ``error``
result for its file, never dropped. Ctrl-C (or a consumer that stops early) cancels
every future still pending.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

from torchvet.many.tasks import ScanSetup, ScanTask, run_batch, run_task
from torchvet.remote.errors import DASK_EXTRA, MissingExtra
from torchvet.results import ScanResult

LOCAL = re.compile(r"local(?::(\d+))?")
THREADS_PER_WORKER = 8  # remote reads wait on the network; scans are short
IN_FLIGHT = 1024  # tasks submitted ahead of the results handed back
MAX_BATCH = 16  # files per task
TASK_RETRIES = 1  # for a task that raised (run_task does not, unless torchvet is broken)
CONNECT_TIMEOUT = "20s"


def distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingExtra("--dask", "distributed", extra=DASK_EXTRA) from None
    return distributed


@contextmanager
def dask_client(spec: str) -> Iterator[Any]:
    """A client for ``spec``: a scheduler address, or ``local[:N]`` for a LocalCluster of
    N worker processes (default: one per core) that lives as long as the client."""
    dd = distributed()
    local = LOCAL.fullmatch(spec)
    if local is None:
        try:
            client = dd.Client(spec, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {spec}: {exc}") from None
        with client:
            yield client
        return
    workers = int(local.group(1)) if local.group(1) else (os.cpu_count() or 1)
    if workers < 1:
        raise ValueError("--dask local:N needs N >= 1")
    # The scheduler runs in this process: keep its INFO chatter out of torchvet's output.
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    with (
        dd.LocalCluster(
            n_workers=workers,
            threads_per_worker=THREADS_PER_WORKER,
            processes=True,
            dashboard_address=":0",  # no fixed port to collide with
            silence_logs=logging.CRITICAL,  # failures come back as results
        ) as cluster,
        dd.Client(cluster) as client,
    ):
        yield client


def batch_size(files: int, threads: int) -> int:
    """Files per task: enough tasks to keep every thread busy, at most MAX_BATCH."""
    return max(1, min(MAX_BATCH, files // (4 * max(1, threads))))


def run_on_dask(
    tasks: Sequence[ScanTask], setup: ScanSetup, client: Any, on_done: Callable[[], None]
) -> Iterator[ScanResult | None]:
    """Results in task order, whatever order the cluster finishes them in.

    Files go in batches; a batch that fails (a worker died under it, too often) is
    split into one task per file, so only a file that fails on its own is reported."""
    dd = distributed()
    size = batch_size(len(tasks), sum(client.nthreads().values()))
    starts = iter(range(0, len(tasks), size))
    live: dict[str, tuple[Any, int, int]] = {}  # key -> (future, first index, file count)
    finished = dd.as_completed()
    ready: dict[int, ScanResult | None] = {}
    next_out = 0

    def submit(first: int, count: int) -> None:
        if count == 1:
            future = client.submit(run_task, tasks[first], setup, pure=False, retries=TASK_RETRIES)
        else:
            batch = list(tasks[first : first + count])
            future = client.submit(run_batch, batch, setup, pure=False, retries=TASK_RETRIES)
        live[future.key] = (future, first, count)
        finished.add(future)

    def submit_batches(limit: int) -> None:
        for first in islice(starts, limit):
            submit(first, min(size, len(tasks) - first))

    try:
        submit_batches(IN_FLIGHT)
        for future in finished:
            _, first, count = live.pop(future.key)
            results = _outcome(future, tasks[first : first + count], dd)
            future.release()
            if results is None:  # a batch failed: try its files one by one
                for index in range(first, first + count):
                    submit(index, 1)
                continue
            for offset, result in enumerate(results):
                ready[first + offset] = result
                on_done()
            submit_batches(1)
            while next_out in ready:
                yield ready.pop(next_out)
                next_out += 1
    except BaseException:  # Ctrl-C, or the consumer stopped: nothing keeps running
        finished.clear()
        client.cancel([f for f, _, _ in live.values()], force=True)
        raise


def _outcome(future: Any, tasks: Sequence[ScanTask], dd: Any) -> list[ScanResult | None] | None:
    """The results of a finished task; None for a failed batch (to be split).

    ``result()`` rather than ``status``: a result lost with its worker after the task
    finished is computed again, and this waits for it."""
    from torchvet.remote.scanning import incomplete

    try:
        result = future.result()
    except dd.KilledWorker as exc:
        why = f"the Dask workers scanning it kept dying ({exc})"
    except (Exception, asyncio.CancelledError) as exc:
        why = f"the Dask task failed: {type(exc).__name__}: {exc}"
    else:
        return result if len(tasks) > 1 else [result]
    return None if len(tasks) > 1 else [incomplete(tasks[0].target, why)]
