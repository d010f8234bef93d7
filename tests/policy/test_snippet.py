"""The printed safe_globals code: exact importable names, and it loads the file with torch."""

from __future__ import annotations

import argparse
import collections
import datetime
import decimal
import fractions
import pathlib
import types
import uuid

import pytest

from torchvet.policy.snippet import allowlist_code
from torchvet.safeload import resolve_name
from torchvet.scan import scan_file

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
omegaconf = pytest.importorskip("omegaconf")


def test_snippet_is_valid_python_and_handles_numpy_spellings() -> None:
    code = allowlist_code(
        ["numpy.core.multiarray.scalar", "numpy.dtype", "argparse.Namespace", "builtins.int"],
        "ckpt.pt",
    )
    compile(code, "<snippet>", "exec")
    assert '(numpy._core.multiarray.scalar, "numpy.core.multiarray.scalar")' in code
    assert "import numpy._core.multiarray" in code and "\nimport numpy\n" not in code
    assert "    int,\n" in code
    assert "torch.load('ckpt.pt', weights_only=True)" in code


def test_snippet_names_the_file_spelling_of_moved_objects() -> None:
    # Python 3.13 pickles paths as pathlib._local.*; older Pythons import them from pathlib.
    code = allowlist_code(["pathlib._local.PosixPath"])
    compile(code, "<snippet>", "exec")
    assert "pathlib._local.PosixPath" in code


INERT_VALUES = {
    "numpy-scalar": lambda: np.float64(1.5),
    "numpy-array": lambda: np.arange(3.0),
    "numpy-str-array": lambda: np.array(["ab", "c"]),
    "numpy-randomstate": lambda: np.random.RandomState(0),
    "namespace": lambda: argparse.Namespace(lr=0.1, arch="tiny"),
    "simple-namespace": lambda: types.SimpleNamespace(a=1),
    "path": lambda: pathlib.PosixPath("/data/run"),
    "datetime": lambda: datetime.datetime(2024, 1, 2, 3, 4, 5),
    "date": lambda: datetime.date(2024, 1, 2),
    "timedelta": lambda: datetime.timedelta(days=3),
    "timezone": lambda: datetime.timezone.utc,
    "uuid": lambda: uuid.UUID(int=5),
    "decimal": lambda: decimal.Decimal("1.5"),
    "fraction": lambda: fractions.Fraction(1, 3),
    "empty-defaultdict": lambda: collections.defaultdict(list),
    "torch-version": lambda: torch.__version__,
    "omegaconf": lambda: omegaconf.OmegaConf.create({"lr": 0.1, "layers": [1, 2]}),
}


@pytest.mark.parametrize("kind", sorted(INERT_VALUES))
def test_printed_allowlist_imports_and_loads_with_torch(kind: str, tmp_path) -> None:
    value = INERT_VALUES[kind]()
    path = tmp_path / f"{kind}.pt"
    torch.save({"w": torch.ones(2), "x": value}, path)
    result = scan_file(path)
    assert result.verdict.value == "needs-allowlist", [f.message for f in result.findings]
    for name in result.allowlist:
        resolve_name(name)  # every printed name is an exact, importable object
    scope: dict = {}
    exec(allowlist_code(result.allowlist, str(path)), scope)  # the printed advice works
    loaded = scope["obj"]["x"]
    if isinstance(value, np.random.RandomState):
        assert loaded.randint(1000) == value.randint(1000)
    elif isinstance(value, np.ndarray):
        assert (loaded == value).all()
    else:
        assert loaded == value or repr(loaded) == repr(value)
