"""TV002's unsafe fix: withheld below torch 1.13 and for whole pickled objects, with advice
that works when followed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.project import torch_floor_in
from torchvet.lint.rules import RULES_BY_CODE

CODE = "import torch\nstate = torch.load('a.pt')\n"


def tv002(path: Path, code: str = CODE):
    outcome = lint_file_text(str(path), code, [RULES_BY_CODE["TV002"]], Options())
    (diagnostic,) = outcome.diagnostics
    return diagnostic


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pyproject.toml", '[project]\nname = "p"\ndependencies = ["torch>=1.8,<3", "numpy"]\n'),
        (
            "pyproject.toml",
            '[project]\nname = "p"\n[project.optional-dependencies]\nx = ["torch>=1.8"]\n',
        ),
        ("pyproject.toml", '[tool.poetry.dependencies]\ntorch = "^1.8"\n'),
        ("setup.cfg", "[options]\ninstall_requires =\n    numpy\n    torch >= 1.8\n"),
        ("setup.py", 'from setuptools import setup\nsetup(install_requires=["torch>=1.8.0"])\n'),
        ("requirements-dev.txt", "numpy\ntorch==1.12.1  # pinned\n"),
    ],
)
def test_no_fix_below_torch_1_13(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    (tmp_path / "src").mkdir()
    torch_floor_in.cache_clear()
    diagnostic = tv002(tmp_path / "src" / "a.py")
    assert diagnostic.fix is None
    assert f"{name} allows torch 1." in diagnostic.message
    assert "require torch>=1.13" in diagnostic.message
    # Following the advice brings the fix back.
    (tmp_path / name).write_text(text.replace("1.8", "1.13").replace("1.12.1", "1.13"))
    torch_floor_in.cache_clear()
    assert tv002(tmp_path / "src" / "a.py").fix is not None


def test_fix_offered_without_a_declared_floor(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("torch\ntorchvision>=0.2\n")
    torch_floor_in.cache_clear()
    assert tv002(tmp_path / "a.py").fix is not None


WHOLE = """\
import torch
model = torch.load("whole.pt")
model.eval()
"""


def test_whole_object_gets_advice_not_a_fix(tmp_path: Path) -> None:
    diagnostic = tv002(tmp_path / "a.py", WHOLE)
    assert diagnostic.fix is None
    assert "re-save it as a state dict" in diagnostic.message
    assert "safe_globals" in diagnostic.message


def test_whole_object_advice_works_with_real_torch(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    script = textwrap.dedent(
        """
        import pickle, torch
        model = torch.nn.Sequential(torch.nn.Linear(2, 2))
        torch.save(model, "whole.pt")
        try:
            torch.load("whole.pt", weights_only=True)
            raise SystemExit("weights_only=True accepted a whole module")
        except pickle.UnpicklingError:
            pass
        # Advice 1: re-save as a state dict, load that with weights_only=True.
        torch.save(model.state_dict(), "state.pt")
        model.load_state_dict(torch.load("state.pt", weights_only=True))
        # Advice 2: allowlist its classes.
        with torch.serialization.safe_globals([torch.nn.Sequential, torch.nn.Linear]):
            torch.load("whole.pt", weights_only=True).eval()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr
