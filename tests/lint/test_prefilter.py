"""The speed shortcuts (text prefilter, hot-line walking) change no finding."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from torchvet.lint import checker, engine
from torchvet.lint.checker import Context
from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.model import Snippet
from torchvet.lint.rules import RULES

from .helpers import FIXTURES, REPO


def _corpus() -> list[Path]:
    files = [p for p in FIXTURES.rglob("*") if p.suffix in (".py", ".md", ".rst", ".ipynb")]
    files += sorted((REPO / "benchmarks" / "lint_labelled").iterdir())
    spec = importlib.util.find_spec("torch")
    if spec and spec.submodule_search_locations:
        torch_dir = Path(next(iter(spec.submodule_search_locations)))
        files += sorted(torch_dir.glob("*.py")) + sorted(
            (torch_dir / "hub.py").parent.glob("utils/*.py")
        )
    return files


def _findings(files: list[Path]) -> list[tuple]:
    found = []
    for path in files:
        outcome = lint_file_text(
            str(path), path.read_text(encoding="utf-8"), list(RULES), Options()
        )
        found += [
            (d.path, d.cell, d.line, d.column, d.code, d.message) for d in outcome.diagnostics
        ]
    return found


@pytest.fixture(scope="module")
def corpus() -> list[Path]:
    return _corpus()


def test_prefilter_and_hot_lines_lose_nothing(corpus, monkeypatch) -> None:
    fast = _findings(corpus)
    assert len(fast) > 100
    monkeypatch.setattr(engine, "might_have_findings", lambda text: True)
    monkeypatch.setattr(checker, "hot_lines", lambda code, words: None)
    assert _findings(corpus) == fast


@pytest.mark.parametrize(
    "code",
    [
        "torch.load(p)\n",
        "torch.load(p, map_locaton='cpu', weights_only=True)\n",  # TV004
        "x = torch.load(p, weights_only=True),\n",  # TV009
        "torch.load(p, **options)\n",
        "np.load(p, allow_pickle=True)\n",
        "pickle.loads(blob)\n",
        "model.load_state_dict(sd, **kw)\n",
        "model.load_state_dict(\n    torch.load(p),\n    weights_only=True,\n)\n",
        "f(trust_remote_code=TRUST)\n",
        "kw = {'weights_only': False}\n",
        "torch.save(x, f, pickle, 4)\n",
        "torch.save(x, f, pickle_protocol=HIGHEST)\n",
        "from torch import load as tl\n",
    ],
)
def test_prefilter_keeps_every_shape_that_can_be_a_finding(code: str) -> None:
    assert engine.might_have_findings(code)


@pytest.mark.parametrize(
    "code",
    [
        "x = pickle.loads(pickle.dumps(obj))\n",
        "state = torch.load(path, map_location='cpu', weights_only=True)\n",
        "arr = np.load(path)\n",
        "f(trust_remote_code=trust_remote_code, weights_only=args.weights_only)\n",
        "def f(trust_remote_code: bool = False): ...\n",
        "torch.save(model.state_dict(), path)  # pickle\n",
        "model.load_state_dict(state_dict, strict=False)  # weights_only elsewhere\n",
        "data = loader.load(x)\n",
    ],
)
def test_prefilter_skips_text_that_cannot_be_a_finding(code: str) -> None:
    assert not engine.might_have_findings(code)
    # ... and indeed is none: the full run (no prefilter) agrees.
    ctx = Context("x.py", [rule() for rule in RULES])
    ctx.run([Snippet(code, None, "python")])
    assert ctx.diagnostics == []
