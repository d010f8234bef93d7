"""`torchvet convert` end to end: exit codes and messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus import Corpus
from tests.support.cli import run_cli

torch = pytest.importorskip("torch")


def _save(obj, path, **kw):
    torch.save(obj, path, **kw)
    return path


def test_cli_exit_codes_and_messages(tmp_path):
    src = _save({"w": torch.ones(2)}, tmp_path / "a.pt")

    def cli(*args):
        return run_cli("convert", *args)

    ok = cli(str(src), str(tmp_path / "o.safetensors"))
    assert ok.returncode == 0 and "wrote" in ok.stdout and ok.stderr == ""
    again = cli(str(src), str(tmp_path / "o.safetensors"))
    assert again.returncode == 1 and "--force" in again.stderr and "Traceback" not in again.stderr
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    res = cli(str(bad), str(tmp_path / "b.safetensors"))
    assert res.returncode == 1 and "git lfs" in res.stderr and "Traceback" not in res.stderr
    assert cli().returncode == 2


def test_convert_cli_polish(tmp_path: Path, corpus: Corpus) -> None:
    """A missing input is a usage error (exit 2, as for scan and check); an output not
    named *.safetensors is written, with a warning that it is safetensors all the same."""
    missing = run_cli("convert", str(tmp_path / "missing.pt"), str(tmp_path / "o.safetensors"))
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr
    source = corpus.by_id("mlp-state-dict").path
    odd = run_cli("convert", str(source), str(tmp_path / "out.txt"))
    assert odd.returncode == 0, odd.stderr
    assert "will be a safetensors file whatever its name" in odd.stderr
    assert (tmp_path / "out.txt").read_bytes()[8:9] == b"{"  # a safetensors header
