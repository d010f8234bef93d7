"""URLs on the command line: scan lists, check, convert, missing extras, start-up cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import imported_by, run_cli
from tests.support.remote import ROOT
from tests.support.servers import LoopbackServer

torch = pytest.importorskip("torch")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DANGEROUS = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."


@pytest.fixture(scope="module")
def served(server: LoopbackServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli")
    torch.save({"model": {"w": torch.arange(6.0).reshape(2, 3)}, "epoch": 3}, root / "ckpt.pt")
    (root / "evil.pkl").write_bytes(DANGEROUS)
    return {
        "ckpt": server.add("cli/ckpt.pt", root / "ckpt.pt"),
        "evil": server.add("cli/evil.pkl", root / "evil.pkl"),
        "ckpt_path": str(root / "ckpt.pt"),
    }


def test_urls_from_a_file_or_stdin(served: dict[str, str], tmp_path: Path) -> None:
    listing = f"# models to vet\n{served['ckpt']}\n\n{served['evil']}\n{served['ckpt_path']}\n"
    (tmp_path / "urls.txt").write_text(listing)
    from_file = run_cli("scan", "--format", "json", "--from-file", str(tmp_path / "urls.txt"))
    from_stdin = run_cli("scan", "--format", "json", "--from-file", "-", stdin=listing)
    assert from_file.returncode == from_stdin.returncode == 1, from_file.stderr
    assert from_file.stdout == from_stdin.stdout
    docs = json.loads(from_file.stdout)["files"]
    assert [(d["path"], d["verdict"]) for d in docs] == [
        (served["ckpt"], "safe"),
        (served["evil"], "dangerous"),
        (served["ckpt_path"], "safe"),
    ]
    assert docs[0]["size"] == Path(served["ckpt_path"]).stat().st_size
    assert 0 < docs[0]["bytes_read"] <= docs[0]["size"]
    assert docs[2]["bytes_read"] is None  # local reads are not counted


def test_check_scans_urls(served: dict[str, str], tmp_path: Path) -> None:
    proc = run_cli("check", "--format", "json", served["ckpt"], served["evil"], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(m["path"], m["verdict"]) for m in doc["models"]] == [
        (served["ckpt"], "safe"),
        (served["evil"], "dangerous"),
    ]
    assert doc["summary"]["model_files"] == 2


def test_convert_reads_a_url(served: dict[str, str], tmp_path: Path) -> None:
    remote = run_cli("convert", served["ckpt"], str(tmp_path / "remote.safetensors"))
    local = run_cli("convert", served["ckpt_path"], str(tmp_path / "local.safetensors"))
    assert remote.returncode == local.returncode == 0, remote.stderr
    assert (tmp_path / "remote.safetensors").read_bytes() == (
        tmp_path / "local.safetensors"
    ).read_bytes()
    missing = run_cli("convert", served["ckpt"] + ".nope", str(tmp_path / "x.safetensors"))
    assert missing.returncode == 1
    assert "HTTP 404" in missing.stderr


def _extras() -> dict[str, list[str]]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return doc["project"]["optional-dependencies"]


@pytest.mark.parametrize(
    ("module", "args", "extra"),
    [
        ("urllib3", ["scan", "https://example.invalid/model.pt"], "remote"),
        ("huggingface_hub", ["scan", "hf://org/name"], "remote"),
        ("s3fs", ["scan", "s3://bucket/model.pt"], "remote"),
        ("distributed", ["scan", "--dask", "local:1", "model.pt"], "dask"),
        ("urllib3", ["check", "https://example.invalid/model.pt"], "remote"),
    ],
)
def test_a_missing_extra_is_named(module: str, args: list[str], extra: str, tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(DANGEROUS)
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"  # as if it were not installed
        "from torchvet.cli import main\n"
        f"sys.exit(main({args!r}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"pip install 'torchvet[{extra}]'" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The advice works: that extra brings the missing package.
    assert any(dep.split("[")[0].split(">")[0].split("=")[0] == module for dep in _extras()[extra])


def test_local_paths_import_no_remote_backend(served: dict[str, str], tmp_path: Path) -> None:
    code = (
        "from torchvet.cli import main\n"
        f"main(['scan', {served['ckpt_path']!r}])\n"
        f"main(['convert', {served['ckpt_path']!r}, {str(tmp_path / 'out.safetensors')!r}])\n"
    )
    heavy = ("fsspec", "urllib3", "huggingface_hub", "s3fs", "dask", "distributed")
    assert imported_by(code, heavy) == []


def test_printed_allowlist_code_loads_the_remote_file(server: LoopbackServer) -> None:
    url = server.add("cli/needs_allowlist.pt", ROOT / "examples" / "models" / "needs_allowlist.pt")
    proc = run_cli("scan", url)
    assert "NEEDS-ALLOWLIST" in proc.stdout
    lines = proc.stdout.splitlines()
    start = lines.index("  If you trust the file, this loads it with weights_only=True:") + 1
    code = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        code.append(line[4:])
    program = "\n".join(code) + "\nprint(sorted(obj))\n"
    ran = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr  # the advice, followed, loads the file
    assert ran.stdout.startswith("[")
