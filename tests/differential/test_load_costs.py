"""Loading itself as the attack: what torch.load allocates or computes from what a file
declares. Each modelled behaviour is checked against real torch in a child process whose
address space (RLIMIT_AS) and CPU time (RLIMIT_CPU) are capped, so the machine is never
hurt, and the scanner must rate every such file at least unknown with a RESOURCE finding
while small, honest declarations stay safe.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bomb_families as bombs
from benchmarks.bomb_families import PROTO2, _global, _long1, _p, _stored, _torch_zip, _unicode
from tests.pickle.helpers import CTX
from tests.support.markers import needs_torch
from torchvet.pickle.machine import Machine
from torchvet.scan import scan_file

MiB = 1 << 20
_LOADER = r"""
import json, resource, sys
import torch

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

room = int(sys.argv[1])
limit = status("VmSize") + room
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

class Counted:
    # Re-inserts a loaded key with the same hash, counting the equality tests CPython
    # makes: exactly the comparisons the dict insertions of the load made.
    calls = 0
    __slots__ = ("v",)
    def __init__(self, v): self.v = v
    def __hash__(self): return hash(self.v)
    def __eq__(self, other):
        Counted.calls += 1
        return self.v == other.v

out = {}
for path in sys.argv[2:]:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = status("VmRSS")
    row = {"error": None}
    try:
        obj = torch.load(path, weights_only=True)
    except Exception as exc:
        obj = None
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    row["grew"] = status("VmHWM") - before
    if isinstance(obj, dict) and path.endswith("keys.pt"):
        Counted.calls = 0
        copy = {Counted(k): None for k in obj}
        row["comparisons"] = Counted.calls
    if isinstance(obj, dict) and path.endswith("dag.pt"):
        key, depth = next(iter(obj)), 0
        while isinstance(key, tuple) and len(key) == 2 and key[0] is key[1]:
            key, depth = key[0], depth + 1
        row["shared_depth"] = depth
    out[path] = row
    del obj
print(json.dumps(out))
"""

pytestmark = [
    needs_torch,
    pytest.mark.skipif(
        not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc to measure memory"
    ),
]


def _zip_of(pickle_bytes: bytes, **records: bytes) -> bytes:
    extra = [_stored(f"archive/data/{k}", v) for k, v in records.items()]
    return _torch_zip(_stored("archive/data.pkl", pickle_bytes), extra)


def _pid(key: str, stype: str, numel: int) -> bytes:
    return _p(
        b"(",
        _unicode("storage"),
        _global("torch", stype),
        _unicode(key),
        _unicode("cpu"),
        _long1(numel),
        b"tQ",
    )


def _shared_records(n: int, size: int) -> bytes:
    """n storages whose records are n central-directory names of one stored record."""
    items = b"".join(_pid(str(i), "ByteStorage", size) for i in range(n))
    pkl = _p(PROTO2, b"](", items, b"e.")
    names = [f"archive/data/{i}" for i in range(1, n)]
    return _torch_zip(
        _stored("archive/data.pkl", pkl),
        [_stored("archive/data/0", b"\1" * size)],
        aliases={1: names},
    )


def _deflated_pickle(padding: int) -> bytes:
    """data.pkl is `{}` then `padding` zero bytes after STOP (ignored by torch), DEFLATEd."""
    raw, crc, size = bombs._raw_deflate_of_repeats(b"\0" * MiB, padding // MiB, PROTO2 + b"}.")
    return _torch_zip(bombs._Member("archive/data.pkl", raw, crc, size, 8))


def _deflated_version(padding: int) -> bytes:
    """The version record is "3" and `padding` spaces, DEFLATEd: torch reads it whole."""
    raw, crc, size = bombs._raw_deflate_of_repeats(b" " * MiB, padding // MiB, b"3")
    version = bombs._Member("archive/version", raw, crc, size, 8)
    return bombs._zip([_stored("archive/data.pkl", PROTO2 + b"}."), version])


def _keys(n: int) -> bytes:
    """A dict of n int keys that all hash to 7 in every CPython process."""
    modulus = (1 << 61) - 1
    items = b"".join(_long1(modulus * (i + 1) + 7) + b"N" for i in range(n))
    return _p(PROTO2, b"}(", items, b"u.")


def _qtensor(numel: int) -> bytes:
    """A quantized tensor of ``numel`` int8 elements over a one-byte storage."""
    args = _p(
        b"(",
        _pid("0", "QInt8Storage", 1),
        b"K\x00",
        _long1(numel),
        b"\x85K\x01\x85",
        _global("torch", "per_tensor_affine"),
        b"G" + struct.pack(">d", 1.0),
        b"K\x00\x87\x89",
        _global("collections", "OrderedDict"),
        b")Rt",
    )
    pkl = _p(PROTO2, _global("torch._utils", "_rebuild_qtensor"), args, b"R.")
    return _zip_of(pkl, **{"0": b"\0"})


def _dag(depth: int) -> bytes:
    """{t_depth: None} where t_0 = 0 and t_{i+1} = (t_i, t_i), through the memo."""
    levels = b"q\x01h\x01\x86" * depth  # BINPUT 1, BINGET 1, TUPLE2
    return _p(PROTO2, b"}K\x00", levels, b"Ns.")


FILES = {
    "legacy-1tib.pt": (bombs.legacy_file(1 << 38), "fails"),
    "legacy-2gib.pt": (bombs.legacy_file(1 << 29), "fails"),  # beyond the child's room
    "legacy-small.pt": (bombs.legacy_file(16), "safe"),
    # torch allocates the quantized tensor's size before checking it against the storage.
    "qtensor-1tib.pt": (_qtensor(1 << 40), "fails"),
    "qtensor-small.pt": (_qtensor(1), "safe"),
    "shared-records.pt": (_shared_records(100, MiB), "grows"),
    "deflated-pickle.pt": (_deflated_pickle(128 * MiB), "grows"),
    "deflated-version.pt": (_deflated_version(128 * MiB), "grows"),
    "bytearray.pt": (
        _zip_of(
            _p(
                PROTO2,
                _global("builtins", "bytearray"),
                b"J",
                struct.pack("<i", 200 * MiB),
                b"\x85R.",
            )
        ),
        "grows",
    ),
    "colliding-keys.pt": (_zip_of(_keys(2000)), "safe"),
    "dag.pt": (_zip_of(_dag(20)), "safe"),
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("costs")
    paths = []
    for name, (data, _) in FILES.items():
        (folder / name).write_bytes(data)
        paths.append(str(folder / name))
    room = str(1280 * MiB)
    proc = subprocess.run(
        [sys.executable, "-c", _LOADER, room, *paths], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {Path(k).name: {**v, "path": k} for k, v in json.loads(proc.stdout).items()}


@pytest.mark.parametrize("name", [n for n, (_, how) in FILES.items() if how == "fails"])
def test_torch_fails_allocating_and_the_scan_says_why(loaded: dict, name: str) -> None:
    row = loaded[name]
    assert row["error"] and "can't allocate memory" in row["error"], row
    result = scan_file(row["path"])
    assert result.verdict.value == "unknown", result.findings
    assert any(f.category.value == "resource" for f in result.findings)


@pytest.mark.parametrize("name", [n for n, (_, how) in FILES.items() if how == "grows"])
def test_torch_allocates_what_the_file_declares(loaded: dict, name: str) -> None:
    row = loaded[name]
    assert row["error"] is None, row
    assert row["grew"] >= 90 * MiB, row  # from a file of about 1 MB or less
    assert Path(row["path"]).stat().st_size <= 1.1 * MiB
    result = scan_file(row["path"])
    assert result.verdict.value == "unknown", result.findings
    assert any(f.category.value == "resource" for f in result.findings)


def test_small_declarations_stay_safe(loaded: dict) -> None:
    for name in ("legacy-small.pt", "qtensor-small.pt", "colliding-keys.pt", "dag.pt"):
        assert loaded[name]["error"] is None, loaded[name]
        assert scan_file(loaded[name]["path"]).verdict.value == "safe", name


def test_colliding_keys_cost_what_the_model_counts(loaded: dict) -> None:
    machine = Machine(_keys(2000), "", CTX.naming, knowledge=CTX.knowledge)
    machine.run()
    # CPython compared every key with every earlier one: 2000 * 1999 / 2.
    assert loaded["colliding-keys.pt"]["comparisons"] == machine.hashes.comparisons == 1_999_000


def test_many_colliding_keys_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "keys.pt"
    path.write_bytes(_zip_of(_keys(20_000)))  # 2e8 comparisons for a 200 KB file
    result = scan_file(path)
    assert result.verdict.value == "unknown"
    assert any(f.category.value == "resource" for f in result.findings)


def test_a_self_sharing_tuple_key(loaded: dict, tmp_path: Path) -> None:
    # torch builds it: each level's two items are one object, so a hash visits 2**depth.
    assert loaded["dag.pt"]["shared_depth"] == 20
    machine = Machine(_dag(20), "", CTX.naming, knowledge=CTX.knowledge)
    root = machine.run().root
    assert machine.hashes.measure(next(iter(root.items))[0])[1] == 2**21 - 1  # type: ignore[union-attr]
    # At depth 64 torch.load never ends: the child is killed by its CPU limit.
    deep = tmp_path / "deep.pt"
    deep.write_bytes(_zip_of(_dag(64)))
    code = (
        "import resource, sys, torch\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (2, 2))\n"
        "torch.load(sys.argv[1], weights_only=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(deep)], capture_output=True, timeout=120)
    assert proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL), proc.stderr[-500:]
    result = scan_file(deep)
    assert result.verdict.value == "unknown"
    assert any("never ends" in f.message for f in result.findings)


def test_a_huge_memo_index_is_a_denial_of_service_on_the_c_unpickler(tmp_path: Path) -> None:
    """LONG_BINPUT 2**32-1: torch's weights-only unpickler (a dict memo) loads the file,
    CPython's C unpickler grows its memo array to twice the index and fails (or zeroes
    64 GiB where it can). Checked in a child capped at 1 GiB of address space."""
    from tests.corpus.containers import write_torch_zip
    from tests.corpus.pickle_asm import Asm

    data = Asm(2).empty_dict().op("LONG_BINPUT", struct.pack("<I", 2**32 - 1)).stop().bytes()
    child = (
        "import pickle, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "try:\n    pickle.loads(sys.stdin.buffer.read())\n"
        "except MemoryError:\n    print('MemoryError')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", child], input=data, capture_output=True, timeout=60, check=False
    )
    assert proc.stdout.strip() == b"MemoryError", proc.stderr[-500:]
    path = tmp_path / "memo.pt"
    write_torch_zip(path, [("data.pkl", data)])
    result = scan_file(path)
    assert result.verdict.value == "unknown"
    assert any(f.category.value == "resource" and "memo" in f.message for f in result.findings)
    # A small index is what pickle itself writes: no finding.
    small = Asm(2).empty_dict().op("LONG_BINPUT", struct.pack("<I", 1000)).stop().bytes()
    write_torch_zip(path, [("data.pkl", small)])
    assert scan_file(path).verdict.value == "safe"
