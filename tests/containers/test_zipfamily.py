"""Zip archives told apart by content: torch, npz, torch.package, torch.export, other."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.corpus import Asm, weights_only_batch
from tests.corpus.containers import rewrite_zip
from torchvet.containers.zipfamily import classify
from torchvet.containers.zipreader import read_archive
from torchvet.scan import scan_bytes, scan_file
from torchvet.source import BytesSource

PAYLOAD = Asm(2).global_("os", "system").tuple_of("true").reduce().stop().bytes()


def make_zip(records: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for name, data in records.items():
            zf.writestr(name, data)
    return out.getvalue()


def pt2(nested: bytes, weights: bytes = b"\x00" * 8, pickled: bool = False) -> bytes:
    config = {"config": {"w": {"path_name": "weight_0", "use_pickle": pickled}}}
    return make_zip(
        {
            "m/archive_format": b"pt2",
            "m/archive_version": b"0",
            "m/models/model.json": b"{}",
            "m/data/weights/weight_0": weights,
            "m/data/weights/model_weights_config.json": json.dumps(config).encode(),
            "m/data/sample_inputs/model.pt": nested,
            "m/.data/version": b"6\n",
            "m/byteorder": b"little",
        }
    )


def test_classify(torch_file: bytes) -> None:
    def kind(data: bytes) -> str:
        return classify(read_archive(BytesSource(data)))

    assert kind(torch_file) == "torch"
    assert kind(make_zip({"a.npy": b"x"})) == "npz"
    assert kind(make_zip({"p/.data/extern_modules": b""})) == "package"
    assert kind(pt2(torch_file)) == "pt2"
    assert kind(make_zip({"readme.txt": b"hi"})) == "other"


def test_torch_export_archive(torch_file: bytes) -> None:
    result = scan_bytes(pt2(torch_file), name="m.pt2")
    assert result.format == "torch-export"
    assert result.verdict.value == "unsupported"
    assert "data.pkl" in (result.torch_error or "")
    evil_zip = rewrite_zip(torch_file, replace={"data.pkl": PAYLOAD})
    for nested in (evil_zip, PAYLOAD):
        result = scan_bytes(pt2(nested), name="m.pt2")
        assert result.verdict.value == "dangerous", result.findings
        assert any(f.entry.startswith("m/data/sample_inputs/model.pt") for f in result.findings)


def test_torch_export_pickled_weights(torch_file: bytes) -> None:
    evil = pt2(torch_file, PAYLOAD, pickled=True)
    assert scan_bytes(evil, name="m.pt2").verdict.value == "dangerous"
    # Raw weights are bytes, never unpickled, whatever they look like.
    assert scan_bytes(pt2(torch_file, PAYLOAD), name="m.pt2").verdict.value == "unsupported"
    assert scan_bytes(pt2(b""), name="m.pt2").verdict.value == "malformed"  # empty model.pt


def test_nesting_is_bounded(torch_file: bytes) -> None:
    data = torch_file
    for _ in range(6):
        data = pt2(data)
    result = scan_bytes(data, name="deep.pt2")
    assert result.verdict.value == "unknown"  # a bound: the innermost archive was not read
    assert any("nested" in f.message and f.category.value == "limit" for f in result.findings)


def test_torch_package(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch.package import PackageExporter

    path = tmp_path / "pkg.pt"
    with PackageExporter(str(path)) as pe:
        pe.extern("**")
        pe.save_pickle("model", "model.pkl", {"w": torch.ones(2)})
    result = scan_file(path)
    assert result.format == "torch-package"
    assert result.verdict.value == "unknown"
    assert any(f.category.value == "code" for f in result.findings)
    assert not any(f.category.value == "malformed" for f in result.findings)
    evil = rewrite_zip(path.read_bytes(), replace={"model.pkl": PAYLOAD})
    assert scan_bytes(evil, name="pkg.pt").verdict.value == "dangerous"


def test_torch_package_reduce_package_id() -> None:
    a = Asm(2).mark().string("reduce_package").global_("os", "system").tuple_of("true").tuple()
    pickle_data = a.binpersid().stop().bytes()
    data = make_zip({"p/.data/extern_modules": b"", "p/m/x.pkl": pickle_data})
    result = scan_bytes(data, name="p.pt")
    assert result.verdict.value == "dangerous"
    assert any("persistent_load calls os.system" in f.message for f in result.findings)


def test_npz_torch_error_matches_torch(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "a.npz"
    np.savez(path, x=np.arange(3), y=np.ones(2))
    (res,) = weights_only_batch([(path, (), ())])
    result = scan_file(path)
    assert result.verdict.value == "unsupported" and not res.ok
    assert result.torch_error is not None and result.torch_error in (res.message or "")


def test_other_zip_is_torchs_problem() -> None:
    result = scan_bytes(make_zip({"x/readme.txt": b"hi"}), name="x.zip")
    assert result.verdict.value == "malformed"
    result = scan_bytes(make_zip({"x/evil.pkl": PAYLOAD, "readme": b""}), name="x.zip")
    assert result.verdict.value == "dangerous"
