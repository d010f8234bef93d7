"""The record every corpus generator returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# How a malicious file is meant to be opened for its payload to run.
TRIGGERS = (
    "pickle.load",  # pickle.load(f) once
    "pickle.load_all",  # pickle.load(f) until EOF (streams of concatenated pickles)
    "torch.load",  # torch.load(f, weights_only=False, map_location="cpu")
    "torch.jit.load",  # torch.jit.load(f, map_location="cpu")
    "joblib.load",  # joblib.load(f)
    "numpy.load",  # numpy.load(f, allow_pickle=True), then every member of an .npz
)


@dataclass(frozen=True)
class CorpusFile:
    """One generated file and what the corpus author expects of it.

    `expect_weights_only` and `expected_verdict` are expectations written by hand; the
    oracle (real torch) is the authority, and tests/corpus/test_corpus.py checks the two agree.
    """

    path: Path
    id: str
    description: str
    container: str  # how the bytes are laid out: "torch-zip", "torch-legacy", "pickle", ...
    kind: str  # "benign" or "malicious"
    notes: str = ""
    # What torch.load(weights_only=True) should do with it (None: not asserted).
    expect_weights_only: bool | None = None
    # Globals ("module.name") that, once allowlisted, make weights_only accept the file.
    allowlist: tuple[str, ...] = ()
    # Modules to import before loading for weights_only to accept it (NJT: torch._dynamo).
    preimport: tuple[str, ...] = ()
    # Hint for the scanner author: safe | needs-allowlist | unknown | dangerous | malformed.
    expected_verdict: str = ""
    # Malicious files only.
    technique: str = ""
    trigger: str = ""
    fires: bool = False
    fires_reason: str = ""  # why fires is False, when it is
    marker: Path | None = None
    # Same bytes when regenerated with the same arguments (False: torch writes pointers...).
    deterministic: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.path.name
