"""Build the whole corpus into a directory and ask the oracle about every file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.corpus.benign import generate_benign
from tests.corpus.malicious import generate_malicious
from tests.corpus.oracle import (
    FireResult,
    OracleResult,
    payload_fires_batch,
    weights_only_batch,
)
from tests.corpus.record import CorpusFile


@dataclass
class Corpus:
    """Generated files plus what real torch said about them (by record id).

    `weights_only`: plain `torch.load(weights_only=True)` in a fresh process.
    `weights_only_allowed`: the same with the record's `allowlist` and `preimport`
        (only records that have either).
    `markers_after_weights_only`: marker files present right after every malicious
        file went through weights_only=True (must be empty).
    `fires`: unsafe load with the record's trigger.
    """

    root: Path
    benign: list[CorpusFile]
    malicious: list[CorpusFile]
    weights_only: dict[str, OracleResult] = field(default_factory=dict)
    weights_only_allowed: dict[str, OracleResult] = field(default_factory=dict)
    markers_after_weights_only: list[Path] = field(default_factory=list)
    fires: dict[str, FireResult] = field(default_factory=dict)

    @property
    def files(self) -> list[CorpusFile]:
        return self.benign + self.malicious

    def by_id(self, id: str) -> CorpusFile:
        return next(r for r in self.files if r.id == id)


def generate(root: Path) -> Corpus:
    """Write benign files to root/benign, malicious ones to root/malicious."""
    root = Path(root)
    return Corpus(
        root=root,
        benign=generate_benign(root / "benign"),
        malicious=generate_malicious(root / "malicious", root / "markers"),
    )


def build_corpus(root: Path, *, oracle: bool = True) -> Corpus:
    """Generate everything, then run the oracle in two subprocesses.

    The weights_only batch runs first and covers every file, with and without each
    record's allowlist; only then are payloads fired, so a marker seen after the first
    batch can only come from weights_only loading.
    """
    corpus = generate(root)
    if not oracle:
        return corpus
    files = corpus.files
    allowed = [r for r in files if r.allowlist or r.preimport]
    requests = [(r.path, (), ()) for r in files]
    requests += [(r.path, r.preimport, r.allowlist) for r in allowed]
    results = weights_only_batch(requests)
    corpus.weights_only = {r.id: res for r, res in zip(files, results, strict=False)}
    corpus.weights_only_allowed = {
        r.id: res for r, res in zip(allowed, results[len(files) :], strict=True)
    }
    corpus.markers_after_weights_only = [
        r.marker for r in corpus.malicious if r.marker and r.marker.exists()
    ]
    corpus.fires = payload_fires_batch(corpus.malicious, Path(root) / "fire-workdirs")
    return corpus
