"""scan_many on a Dask LocalCluster with process workers, including workers that die."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.remote import ROOT
from tests.support.servers import LoopbackServer, Rule
from torchvet.many import scan_many

torch = pytest.importorskip("torch")

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

DANGEROUS = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
WAIT = 120  # seconds; a hung run fails the test instead of the suite


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    # One task per worker at a time, so that a killed worker takes only the task it ran,
    # and give up on a task after its second worker death.
    settings = {
        "distributed.scheduler.allowed-failures": 1,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with (
        dask.config.set(settings),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("dask")
    out = []
    for i in range(12):
        path = root / f"m{i:02}.pt"
        if i % 5 == 3:
            path.write_bytes(DANGEROUS)
        else:
            torch.save({"w": torch.arange(float(i + 1))}, path)
        out.append(path)
    return out


def serve(server: LoopbackServer, models: list[Path], folder: str, **rules: dict) -> list[str]:
    return [server.add(f"{folder}/{p.name}", p, **rules.get(p.name, {})) for p in models]


def within(seconds: float, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result(timeout=seconds)


def as_json(results) -> list[dict]:  # type: ignore[no-untyped-def]
    return [r.to_json() for r in results]


def test_cluster_results_equal_a_local_run(
    client: object, server: LoopbackServer, models: list[Path]
) -> None:
    sources = [*serve(server, models, "dask-same"), str(models[0].parent)]
    local = as_json(scan_many(sources))
    assert within(WAIT, lambda: as_json(scan_many(sources, client))) == local
    assert len(local) == 2 * len(models)


def test_a_killed_worker_has_its_task_retried(
    client: object, server: LoopbackServer, models: list[Path]
) -> None:
    urls = serve(server, models, "dask-kill", **{"m04.pt": {"kill": 1}})
    results = within(WAIT, lambda: as_json(scan_many(urls, client)))
    assert len(server.served.killed) >= 1
    assert results == as_json(scan_many(urls))  # the kill rule is spent: a plain local run


def test_a_file_that_keeps_killing_workers_is_reported(
    client: object, server: LoopbackServer, models: list[Path]
) -> None:
    # 36 files: several per task, so the poisoned file's batch fails first, is split,
    # and only the file itself ends as an error.
    urls = [u for part in "abc" for u in serve(server, models, f"dask-poison-{part}")]
    server.served.rules["/dask-poison-b/m07.pt"] = Rule(kill=100)
    killed = len(server.served.killed)
    results = within(WAIT, lambda: list(scan_many(urls, client)))
    assert [r.path for r in results] == urls
    poisoned = results[19]
    assert poisoned.path.endswith("/dask-poison-b/m07.pt")
    assert (poisoned.format, poisoned.verdict.value) == ("error", "unknown")
    assert "the Dask workers scanning it kept dying" in poisoned.findings[0].message
    assert len(server.served.killed) - killed == 4  # (allowed-failures + 1) x (batch, file)
    others = as_json(r for i, r in enumerate(results) if i != 19)
    assert others == as_json(r for i, r in enumerate(scan_many(urls)) if i != 19)


def test_stopping_early_cancels_the_futures(
    client: object, server: LoopbackServer, models: list[Path]
) -> None:
    hold = threading.Event()
    urls = serve(server, models, "dask-cancel", **{p.name: {"hold": hold} for p in models[1:]})
    results = scan_many(urls, client)
    try:
        first = within(WAIT, next, results)
        assert first.path == urls[0]
        results.close()  # what Ctrl-C does to the generator
    finally:
        hold.set()

    def tasks_left() -> int:
        return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))

    deadline = time.monotonic() + WAIT
    while tasks_left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tasks_left() == 0


def test_cli_on_a_scheduler(client: object, server: LoopbackServer, models: list[Path]) -> None:
    urls = serve(server, models[:4], "dask-cli")
    local = run_cli("scan", *urls)
    on_dask = run_cli("scan", "--dask", client.scheduler.address, *urls)  # type: ignore[attr-defined]
    assert (on_dask.returncode, on_dask.stdout) == (local.returncode, local.stdout)
    assert local.returncode == 1 and "DANGEROUS" in local.stdout


def test_ctrl_c_stops_a_cluster_run(server: LoopbackServer, models: list[Path]) -> None:
    hold = threading.Event()
    urls = serve(server, models, "dask-sigint", **{p.name: {"hold": hold} for p in models})
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchvet", "scan", "--dask", "local:1", *urls],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT
        while not any(server.served.requests[f"/dask-sigint/{p.name}"] for p in models):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        hold.set()  # let the worker's request end, so that the cluster closes quickly
        _, err = proc.communicate(timeout=WAIT)
    finally:
        hold.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "torchvet: interrupted" in err
    assert "Traceback" not in err
