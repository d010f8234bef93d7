"""Generated test corpus of model files and the real-torch oracle that judges them.

See README.md beside this file. The names below are the public API for other tests.
"""

from tests.corpus.build import Corpus, build_corpus
from tests.corpus.oracle import (
    FireResult,
    OracleResult,
    payload_fires,
    payload_fires_batch,
    weights_only_accepts,
    weights_only_batch,
    weights_only_files,
)
from tests.corpus.pickle_asm import Asm, disassemble, embeddable
from tests.corpus.record import TRIGGERS, CorpusFile

__all__ = [
    "TRIGGERS",
    "Asm",
    "Corpus",
    "CorpusFile",
    "FireResult",
    "OracleResult",
    "build_corpus",
    "disassemble",
    "embeddable",
    "payload_fires",
    "payload_fires_batch",
    "weights_only_accepts",
    "weights_only_batch",
    "weights_only_files",
]
