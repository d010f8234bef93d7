"""Shared helpers for the command tests: a small project, `python -m torchvet` on it."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
MODELS = EXAMPLES / "models"
FIXTURES_LINT = REPO / "tests" / "fixtures" / "lint"
BUG = "model.load_state_dict(torch.load(PATH), weights_only=True)\n"
LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 438007\n"
)


def make_project(root: Path) -> Path:
    """A small project: code and docs with findings, models where projects keep them."""
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (root / ".gitignore").write_text("checkpoints/\ngenerated/\n")
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text("import torch\n" + BUG)
    (root / "src" / "ok.py").write_text("import torch\nx = torch.load(p, weights_only=True)\n")
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text("```python\nimport torch\nx = torch.load(p)\n```\n")
    (root / "generated").mkdir()  # gitignored code is not linted
    (root / "generated" / "bad.py").write_text("import torch\n" + BUG)
    (root / "checkpoints").mkdir()  # gitignored checkpoints are scanned
    shutil.copy(MODELS / "safe_state_dict.pt", root / "checkpoints" / "best.pt")
    shutil.copy(MODELS / "poc_attack.pt", root / "checkpoints" / "epoch_3.pth")
    (root / "data").mkdir()
    shutil.copy(MODELS / "needs_allowlist.pt", root / "data" / "weights.txt")  # by content
    (root / "data" / "notes.txt").write_text("class Foo:\n    pass\n")  # text: not a model
    (root / "data" / "lfs.bin").write_text(LFS_POINTER)  # by extension
    venv = root / ".venv-tools"  # any folder with a pyvenv.cfg is a virtualenv
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    shutil.copy(MODELS / "poc_attack.pt", venv / "cached.pt")
    return root
