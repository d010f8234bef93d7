"""Remote scan benchmark: what a remote scan costs in transfer, and how fast many go.

1. Transfer per file vs file size: a ~1.5 GB transformer-shaped state_dict served over
   HTTP with Range, and a sharded Hub repo (the same weights as 4 .bin shards and 4
   .safetensors shards, index, config, README) behind a loopback Hub endpoint, against
   downloading whole files first (what the peer scanners do).
2. Throughput: 2,000 small remote checkpoints scanned here (threads) vs on a Dask
   LocalCluster with 1 and 2 worker processes, with and without simulated store latency;
   and how the time grows with the file count.

Servers are the test suite's loopback servers (tests/support/servers.py); the throughput
server runs in its own process so that it does not share the scanner's GIL. Nothing
leaves the machine. These are measurements, not tests: nothing here asserts a time.

Usage: python benchmarks/remote.py [--dir DIR] [--size-mb 1536] [--files 2000]
       [--latency-ms 20] [--append benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from benchmarks.results_file import replace_section  # noqa: E402
from tests.support.servers import LoopbackServer  # noqa: E402

SHARDS = 4
COUNTS = (250, 500, 1000)  # the time-vs-count curve, up to --files


# ---------------------------------------------------------------------------- files
def transformer(size_mb: int) -> dict:
    """A decoder-only transformer state_dict of about ``size_mb`` (float32)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    hidden, inner, vocab = 1024, 4096, 32000
    sd = {"embed_tokens.weight": torch.rand(vocab, hidden, generator=gen)}
    layer = 0
    while sum(t.numel() * 4 for t in sd.values()) < size_mb << 20:
        p = f"layers.{layer}."
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            sd[p + f"self_attn.{name}.weight"] = torch.rand(hidden, hidden, generator=gen)
            sd[p + f"self_attn.{name}.bias"] = torch.rand(hidden, generator=gen)
        sd[p + "mlp.gate_proj.weight"] = torch.rand(inner, hidden, generator=gen)
        sd[p + "mlp.up_proj.weight"] = torch.rand(inner, hidden, generator=gen)
        sd[p + "mlp.down_proj.weight"] = torch.rand(hidden, inner, generator=gen)
        sd[p + "input_layernorm.weight"] = torch.ones(hidden)
        sd[p + "post_attention_layernorm.weight"] = torch.ones(hidden)
        layer += 1
    sd["norm.weight"] = torch.ones(hidden)
    return sd


def build_big(root: Path, size_mb: int) -> tuple[Path, Path]:
    """The single checkpoint and a folder with the same weights as a sharded repo."""
    big, repo = root / f"remote_{size_mb}MB.pt", root / f"sharded_{size_mb}MB"
    if big.exists() and (repo / "config.json").exists():
        return big, repo
    import torch
    from safetensors.torch import save_file

    sd = transformer(size_mb)
    torch.save(sd, big.with_suffix(".tmp"))
    big.with_suffix(".tmp").replace(big)
    repo.mkdir(parents=True, exist_ok=True)
    names = list(sd)
    index: dict[str, str] = {}
    for i in range(SHARDS):
        part = {n: sd[n] for n in names[i::SHARDS]}
        stem = f"-{i + 1:05}-of-{SHARDS:05}"
        torch.save(part, repo / f"pytorch_model{stem}.bin")
        save_file(part, str(repo / f"model{stem}.safetensors"))
        index.update(dict.fromkeys(part, f"pytorch_model{stem}.bin"))
    (repo / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": index}))
    (repo / "config.json").write_text(json.dumps({"hidden_size": 1024, "model_type": "bench"}))
    (repo / "README.md").write_text("# bench model\n" + "text\n" * 200)
    return big, repo


def build_small(root: Path, count: int) -> list[Path]:
    """``count`` small checkpoints (20 shapes of state_dicts and pickles, a few KB each)."""
    import pickle

    import torch

    folder = root / "small"
    folder.mkdir(parents=True, exist_ok=True)
    templates = []
    for i in range(20):
        path = folder / f"template{i:02}.pt"
        if not path.exists():
            obj = {f"l{j}.weight": torch.rand(8 + i, 8) for j in range(2 + i)}
            if i % 4 == 3:
                path.write_bytes(pickle.dumps({"step": i, "lr": 0.1}, protocol=2))
            else:
                torch.save(obj, path, _use_new_zipfile_serialization=i % 5 != 4)
        templates.append(path)
    files = []
    for n in range(count):
        link = folder / f"m{n:05}.pt"
        if not link.exists():
            os.link(templates[n % len(templates)], link)
        files.append(link)
    return files


# ---------------------------------------------------------------------------- servers
def _serve(files: dict[str, str], latency: float, ready: multiprocessing.Queue) -> None:
    with LoopbackServer(latency=latency) as server:
        for url_path, path in files.items():
            server.add(url_path, Path(path))
        ready.put(server.base)
        time.sleep(10**6)


class ServerProcess:
    """The loopback file server in a process of its own."""

    def __init__(self, files: list[Path], latency: float) -> None:
        ctx = multiprocessing.get_context("fork")
        ready: multiprocessing.Queue = ctx.Queue()
        mapping = {f"f/{p.name}": str(p) for p in files}
        self.process = ctx.Process(target=_serve, args=(mapping, latency, ready), daemon=True)
        self.process.start()
        base = ready.get(timeout=60)
        self.urls = [f"{base}/f/{p.name}" for p in files]

    def close(self) -> None:
        self.process.terminate()
        self.process.join()


# ---------------------------------------------------------------------------- transfer
def download_whole(url: str) -> tuple[int, float]:
    import urllib3

    start = time.perf_counter()
    total = 0
    with urllib3.PoolManager().request("GET", url, preload_content=False) as resp:
        for chunk in resp.stream(1 << 20):
            total += len(chunk)
    return total, time.perf_counter() - start


def transfer_section(big: Path, repo: Path) -> list[str]:
    from torchvet.many import scan_many
    from torchvet.remote.scanning import scan_url

    lines = []
    with LoopbackServer() as server:
        url = server.add("big.pt", big)
        start = time.perf_counter()
        result = scan_url(url)
        scan_s = time.perf_counter() - start
        requests = server.served.requests["/big.pt"]
        size, download_s = download_whole(url)
        ratio = size / (result.bytes_read or 1)
        lines += [
            "| file | size | torchvet transfer | requests | whole-file download | ratio |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {big.name} ({_tensors(big)} tensors), verdict {result.verdict} | "
            f"{_mib(size)} | {_kib(result.bytes_read or 0)} in {scan_s:.2f} s | {requests} | "
            f"{_mib(size)} in {download_s:.2f} s | {ratio:,.0f}x |",
        ]
        files = {p.name: p for p in sorted(repo.iterdir())}
        sha = server.hub.add_repo("bench/sharded", files)
        os.environ["HF_ENDPOINT"] = server.hub.endpoint
        server.reset_counts()
        start = time.perf_counter()
        results = list(scan_many(["hf://bench/sharded"]))
        repo_s = time.perf_counter() - start
        sent = sum(server.served.sent.values())
        calls = sum(server.served.requests.values())
        repo_size = sum(p.stat().st_size for p in files.values())
        verdicts = sorted({r.verdict.value for r in results})
        lines.append(
            f"| hf://bench/sharded@{sha[:8]} ({len(files)} files, {len(results)} model files "
            f"scanned, verdicts {', '.join(verdicts)}) | {_mib(repo_size)} | "
            f"{_kib(sent)} in {repo_s:.2f} s (API + files) | {calls} | {_mib(repo_size)} | "
            f"{repo_size / sent:,.0f}x |"
        )
        lines.append("")
        lines.append("Per file of the sharded repo (bytes_read as torchvet reports it):")
        lines.append("")
        lines.append("| file | size | bytes_read |")
        lines.append("| --- | --- | --- |")
        for r in results:
            lines.append(f"| {r.path.rsplit('/', 1)[1]} | {_mib(r.size)} | {_kib(r.bytes_read)} |")
    return lines


def _tensors(path: Path) -> int:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return sum(1 for n in z.namelist() if "/data/" in n)


# ---------------------------------------------------------------------------- throughput
def scan_urls(urls: list[str], client: object | None) -> list[dict]:
    from torchvet.many import scan_many

    # Paths name the server's port, which changes from one server to the next.
    return [{**r.to_json(), "path": ""} for r in scan_many(urls, client)]


def timed(urls: list[str], client: object | None) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    out = scan_urls(urls, client)
    return time.perf_counter() - start, out


def runners(stack: ExitStack) -> tuple[dict[str, object | None], str]:
    """Where to scan: here, and LocalClusters of 1 and 2 workers (as --dask local:N)."""
    from torchvet.many import REMOTE_THREADS
    from torchvet.many.cluster import THREADS_PER_WORKER, dask_client

    out: dict[str, object | None] = {f"here, {REMOTE_THREADS} threads": None}
    startup = []
    for workers in (1, 2):
        start = time.perf_counter()
        client = stack.enter_context(dask_client(f"local:{workers}"))
        startup.append(f"{workers} worker(s): {time.perf_counter() - start:.1f} s")
        name = f"Dask, {workers} worker{'s' * (workers > 1)} x {THREADS_PER_WORKER} threads"
        out[name] = client
    return out, ", ".join(startup)


def throughput_section(files: list[Path], latencies: list[float], repeats: int) -> list[str]:
    rows, curve, reference = [], [], None
    counts = [n for n in COUNTS if n < len(files)] + [len(files)]
    with ExitStack() as stack:
        where, startup = runners(stack)
        for latency in latencies:
            server = ServerProcess(files, latency)
            try:
                for name, client in where.items():
                    scan_urls(server.urls[:20], client)  # workers import torchvet once
                    walls = []
                    for _ in range(repeats):
                        wall, out = timed(server.urls, client)
                        reference = reference or out
                        assert out == reference, f"{name}: results differ from the first run"
                        walls.append(wall)
                    wall = statistics.median(walls)
                    rows.append(
                        f"| {latency * 1000:.0f} ms | {name} | {len(files)} | {wall:.2f} | "
                        f"{len(files) / wall:.0f} |"
                    )
                    if latency == latencies[-1]:
                        curve.append((name, [timed(server.urls[:n], client)[0] for n in counts]))
            finally:
                server.close()
    return [
        "| store latency | where | files | wall s (median) | files/s |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Cluster start-up (not in the times above): {startup}.",
        "",
        f"Time vs file count (store latency {latencies[-1] * 1000:.0f} ms, one run each):",
        "",
        "| where | " + " | ".join(f"{n} files" for n in counts) + " |",
        "| --- |" + " --- |" * len(counts),
        *(f"| {name} | " + " | ".join(f"{w:.2f} s" for w in walls) + " |" for name, walls in curve),
    ]


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _kib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:,.1f} KiB"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=Path("/tmp/torchvet-bench"))
    p.add_argument("--size-mb", type=int, default=1536)
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--append", type=Path, help="write (or replace) the ## remote section")
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    big, repo = build_big(args.dir, args.size_mb)
    files = build_small(args.dir, args.files)
    command = (
        f"python benchmarks/remote.py --size-mb {args.size_mb} --files {args.files} "
        f"--latency-ms {args.latency_ms:g} --repeats {args.repeats}"
    )
    lines = [
        "## remote",
        "",
        f"`{command}` (loopback HTTP servers from tests/support/servers.py; 2 shared cores)",
        "",
        "### Transfer per file vs size (range reads vs whole-file download)",
        "",
        *transfer_section(big, repo),
        "",
        f"### Throughput: {args.files} remote checkpoints, here vs on Dask",
        "",
        *throughput_section(files, [0.0, args.latency_ms / 1000], args.repeats),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        replace_section(args.append, "remote", text)


if __name__ == "__main__":
    main()
