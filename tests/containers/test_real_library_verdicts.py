"""Files real libraries write get the verdict a user expects (issue 9's "Verdicts").

Each is made by torch itself; the verdict is checked against what the real loaders do
(torch.load(weights_only=True) refuses a whole module; torch.jit.load reads every
TorchScript pickle), and a payload in a pickle only torch.jit.load reads is still found.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import pytest

from torchvet.results import Category, Verdict
from torchvet.scan import scan_file

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def module() -> object:
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())


def _kinds(path: Path) -> set[str]:
    return {f.category.value for f in scan_file(path).findings}


def test_a_whole_module_in_the_legacy_format_is_unknown(module, tmp_path: Path) -> None:
    path = tmp_path / "module.pt"
    torch.save(module, path, _use_new_zipfile_serialization=False)
    with pytest.raises(Exception, match="Unsupported global"):
        torch.load(path, weights_only=True)
    result = scan_file(path)
    assert result.verdict is Verdict.UNKNOWN, result.findings
    assert "gadget" not in _kinds(path) and "malformed" not in _kinds(path)
    names = {f.global_name for f in result.findings if f.category is Category.UNKNOWN_GLOBAL}
    assert "torch.nn.modules.linear.Linear" in names


@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_archives_are_unknown_and_every_pickle_is_read(
    module, how: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{how}.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = (
            torch.jit.script(module)
            if how == "script"
            else torch.jit.trace(module, torch.randn(1, 3))
        )
        archive.save(str(path))
        torch.jit.load(str(path))  # torch reads it, traced_inputs.pkl included
    result = scan_file(path)
    assert result.verdict is Verdict.UNKNOWN, result.findings
    assert not ({"malformed", "gadget"} & _kinds(path)), result.findings
    assert "code" in _kinds(path)
    names = zipfile.ZipFile(path).namelist()
    scanned = {f.entry for f in result.findings}
    if how == "trace":  # read with its own storage folder (traced_inputs/), as torch does
        assert any(n.endswith("traced_inputs.pkl") for n in names)
        assert any(e.endswith("traced_inputs.pkl") for e in scanned)
    # A payload put in the last pickle of the archive is found wherever it sits.
    last = [n for n in names if n.endswith(".pkl")][-1]
    evil = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == last:
                data = b"cos\nsystem\n(S'true'\ntR."
            dst.writestr(info, data)
    bad = tmp_path / f"{how}-evil.pt"
    bad.write_bytes(evil.getvalue())
    result = scan_file(bad)
    assert result.verdict is Verdict.DANGEROUS
    assert any(f.entry == last for f in result.findings if f.category is Category.GADGET)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("data.csv", "name,value\nalpha,1\nbeta,2\n"),
        ("notes.txt", "hello world\nthis is text\n"),
        ("config.json", '{"hidden_size": 2}\n'),
    ],
)
def test_text_files_are_not_a_model(name: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = scan_file(path)
    assert result.verdict is Verdict.NOT_A_MODEL, result.findings
    assert "stack underflow" not in " ".join(f.message for f in result.findings)
