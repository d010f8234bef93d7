"""Storage persistent ids, decoded once for the zip and legacy readers: each malformed id,
in a zip checkpoint and in a legacy file, against what real torch.load(weights_only=True)
says about the same file."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.corpus import Asm, OracleResult, weights_only_batch
from torchvet.containers.legacy import MAGIC_NUMBER, PROTOCOL_VERSION
from torchvet.scan import scan_file

Pid = Callable[[Asm, int], Asm]  # pushes a persistent id; the int: items a storage id has


def _storage(a: Asm, n: int, *, module: str = "torch", stype: str = "FloatStorage",
             location: object = "cpu") -> Asm:  # fmt: skip
    """('storage', type, key, location, numel, None...) cut or padded to ``n`` items."""
    a.mark().string("storage").global_(module, stype)
    for item in ("0", location, 2, *[None] * (n - 5))[: n - 2]:
        a.value(item)  # past numel: the legacy view metadata (none)
    return a.tuple()


PIDS: dict[str, Pid] = {
    "int": lambda a, n: a.int_(3),
    "list": lambda a, n: a.empty_list(),
    "empty-tuple": lambda a, n: a.empty_tuple(),
    "not-storage": lambda a, n: a.tuple_of("module", 1),
    "one-item-short": lambda a, n: _storage(a, n - 1),
    "one-item-long": lambda a, n: _storage(a, n + 1),
    "location-not-ascii": lambda a, n: _storage(a, n, location="cpü".encode()),
    "untyped-storage": lambda a, n: _storage(a, n, module="torch.storage", stype="UntypedStorage"),
    "well-formed": lambda a, n: _storage(a, n),
}
# torch's own error says something else first (a refused name, its dtype attribute).
OTHER_MESSAGE = {"well-formed", "untyped-storage"}


def _data_pickle(pid: Pid, items: int) -> bytes:
    a = Asm(2).global_("torch._utils", "_rebuild_tensor_v2").mark()
    pid(a, items).binpersid()
    a.int_(0).tuple_of(2).tuple_of(1).bool_(False)
    a.global_("collections", "OrderedDict").empty_tuple().reduce().tuple().reduce()
    return a.stop().bytes()


def zip_checkpoint(pid: Pid) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("archive/data.pkl", _data_pickle(pid, 5))
        z.writestr("archive/byteorder", b"little")
        z.writestr("archive/data/0", bytes(8))
        z.writestr("archive/version", b"3\n")
    return out.getvalue()


def legacy_checkpoint(pid: Pid) -> bytes:
    head = b"".join(Asm(2).value(v).stop().bytes() for v in (MAGIC_NUMBER, PROTOCOL_VERSION, {}))
    keys = Asm(2).value(["0"]).stop().bytes()
    return head + _data_pickle(pid, 6) + keys + (2).to_bytes(8, "little") + bytes(8)


FILES = {f"{form}-{name}": (form, name) for form in ("zip", "legacy") for name in PIDS}


@pytest.fixture(scope="module")
def torch_says(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, OracleResult]]:
    root = tmp_path_factory.mktemp("storage-ids")
    paths = {}
    for key, (form, name) in FILES.items():
        make = zip_checkpoint if form == "zip" else legacy_checkpoint
        paths[key] = root / f"{key}.pt"
        paths[key].write_bytes(make(PIDS[name]))
    results = weights_only_batch([(p, (), ()) for p in paths.values()])
    return {key: (paths[key], res) for key, res in zip(paths, results, strict=True)}


@pytest.mark.parametrize("key", sorted(FILES))
def test_agrees_with_torch(torch_says: dict, key: str) -> None:
    path, res = torch_says[key]
    result = scan_file(path)
    assert result.format == f"torch-{key.split('-')[0]}", result.format
    assert (result.verdict.value == "safe") == res.ok, (result.findings, res)
    if not res.ok and FILES[key][1] not in OTHER_MESSAGE:
        theirs = f"{res.error_type}: {res.message} {res.detail}"
        assert result.torch_error is not None
        assert result.torch_error.split(": ", 1)[-1] in theirs, (result.torch_error, theirs)
