"""Every `torchvet convert` command the tool prints works when run.

The whole generated corpus (tests/corpus) and the real-library files of real_files.py are
scanned; every convert command in the scan report, the JSON report and torchvet.load's
refusal is run as printed and must write a readable safetensors file. Files of the
verdicts convert is meant for that get no command must really be refused by convert.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.converter.real_files import Made
from torchvet.cli import main
from torchvet.report.scan_text import CONVERTIBLE_VERDICTS
from torchvet.results import ScanResult
from torchvet.scan import scan_paths

torch = pytest.importorskip("torch")
safetensors = pytest.importorskip("safetensors")
COMMAND = re.compile(r"(?:extract the tensors[^:]*:)\s*(torchvet convert .+)$", re.I | re.M)


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue() + err.getvalue()


def _scan_text(paths: list[Path]) -> dict[str, list[str]]:
    """Each file's convert commands as `torchvet scan` prints them."""
    code, text = _run(["scan", *map(str, paths)])
    assert code in (0, 1), text
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            current = line.split("  ")[0]
            found.setdefault(current, [])
        elif current is not None:
            found[current] += COMMAND.findall(line)
    return found


def _load_refusal(path: str) -> list[str]:
    import torchvet

    try:
        torchvet.load(path)
    except torchvet.UnsafeCheckpointError as exc:
        return COMMAND.findall(str(exc))
    return []


def _without_output(command: str) -> list[str]:
    argv = shlex.split(command)
    return argv[:3] + argv[4:]


def _check_commands(results: list[ScanResult], printed: dict[str, list[str]]) -> list[str]:
    """Run every printed command (once: the files of a DCP folder share one) and
    refuse-check the convertible files that got none. Returns the files converted."""
    ran, done = [], set()
    for r in results:
        commands = printed.get(r.path, [])
        assert len(commands) <= 1, (r.path, commands)
        if r.verdict in CONVERTIBLE_VERDICTS:  # torchvet.load's refusal gives the same advice
            refused = [_without_output(c) for c in _load_refusal(r.path)]
            assert refused == [_without_output(c) for c in commands], r.path
        for command in commands:
            ran.append(r.path)
            if tuple(_without_output(command)) in done:
                continue
            done.add(tuple(_without_output(command)))
            argv = shlex.split(command)
            code, text = _run(argv[1:])
            assert code == 0, (command, text)
            with safetensors.safe_open(argv[3], "np") as f:  # a readable safetensors file
                assert list(f.keys()), command
        if not commands and r.verdict in CONVERTIBLE_VERDICTS and Path(r.path).exists():
            code, text = _run(["convert", "-q", r.path, r.path + ".probe.safetensors"])
            assert code == 1, (r.path, "convert accepts it, but no command was printed")
    return ran


def test_every_convert_command_printed_for_the_corpus_works(corpus, tmp_path: Path):
    root = tmp_path / "corpus"
    for part in ("benign", "malicious"):  # a copy: converting writes beside each input
        shutil.copytree(corpus.root / part, root / part)
    results = list(scan_paths([root]))
    printed = _scan_text([root])
    ran = _check_commands(results, printed)
    names = {Path(p).name for p in ran}
    for expected in (".npy", ".npz", ".joblib"):  # formats convert refused before
        assert any(n.endswith(expected) for n in names), expected
    assert len(ran) >= 25


def test_every_convert_command_printed_for_real_library_files_works(real: list[Made]):
    paths = [m.path for m in real]
    results = list(scan_paths(paths))
    printed = _scan_text(paths)
    _, text = _run(["scan", "--format", "json", *map(str, paths)])
    for entry in json.loads(text)["files"]:  # the JSON report carries the same command
        assert entry["convert"] in (
            [None] if not printed[entry["path"]] else printed[entry["path"]]
        )
    ran = {_name(Path(p)) for p in _check_commands(results, printed)}
    expected = {"tied.pt2", "model.joblib", "model.joblib.z", "legacy_module.pt", "traced.pt"}
    expected |= {"scripted.pt", "last.pt", "ckpt-dcp", "f32.npy", "deflated.npz"}
    assert expected <= ran


def _name(path: Path) -> str:
    return path.parent.name if path.parent.name == "ckpt-dcp" else path.name
