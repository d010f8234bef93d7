"""Per-file scans as tasks on a ``dask.distributed`` cluster (``torchvet[dask]``).

Each task names one file and the worker reads it from the store. Results are handed
back in task order, so a cluster run prints exactly what a local run prints. A worker
that dies has its tasks rescheduled by the scheduler; a task whose workers keep dying
(``distributed.scheduler.allowed-failures``) or that fails is reported as an ``error``
result for its file, never dropped. Ctrl-C (or a consumer that stops early) cancels
every future still pending.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

from torchvet.many.tasks import ScanSetup, ScanTask, run_task
from torchvet.remote.errors import DASK_EXTRA, MissingExtra
from torchvet.results import ScanResult

LOCAL = re.compile(r"local(?::(\d+))?")
THREADS_PER_WORKER = 4  # remote reads wait on the network; scans are short
IN_FLIGHT = 4096  # futures submitted ahead of the results handed back
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
    workers = int(local.group(1)) if local.group(1) else None
    if workers is not None and workers < 1:
        raise ValueError("--dask local:N needs N >= 1")
    with (
        dd.LocalCluster(
            n_workers=workers,
            threads_per_worker=THREADS_PER_WORKER,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        dd.Client(cluster) as client,
    ):
        yield client


def run_on_dask(
    tasks: Sequence[ScanTask], setup: ScanSetup, client: Any, on_done: Callable[[], None]
) -> Iterator[ScanResult | None]:
    """Results in task order, whatever order the cluster finishes them in."""
    dd = distributed()
    queued = iter(enumerate(tasks))
    position: dict[str, int] = {}
    live: dict[str, Any] = {}  # submitted, not handed back yet
    finished = dd.as_completed()
    ready: dict[int, ScanResult | None] = {}
    next_out = 0

    def submit(count: int) -> None:
        for index, task in islice(queued, count):
            future = client.submit(run_task, task, setup, pure=False, retries=TASK_RETRIES)
            position[future.key] = index
            live[future.key] = future
            finished.add(future)

    try:
        submit(IN_FLIGHT)
        for future in finished:
            index = position.pop(future.key)
            del live[future.key]
            ready[index] = _outcome(future, tasks[index], dd)
            future.release()
            on_done()
            submit(1)
            while next_out in ready:
                yield ready.pop(next_out)
                next_out += 1
    except BaseException:  # Ctrl-C, or the consumer stopped: nothing keeps running
        finished.clear()
        client.cancel(list(live.values()), force=True)
        raise


def _outcome(future: Any, task: ScanTask, dd: Any) -> ScanResult | None:
    from torchvet.remote.scanning import incomplete

    if future.status == "finished":
        return future.result()
    if future.status == "error":
        exc = future.exception()
        if isinstance(exc, dd.KilledWorker):
            why = f"the Dask workers scanning it kept dying ({exc})"
        else:
            why = f"the Dask task failed: {type(exc).__name__}: {exc}"
        return incomplete(task.target, why)
    return incomplete(task.target, f"the Dask task was {future.status}")
