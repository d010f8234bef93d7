"""The scanner against real torch 2.13 on the generated corpus.

safe <=> torch.load(weights_only=True) loads it; every payload that fires under a plain
load is dangerous/unknown/malformed; a needs-allowlist file loads once its printed
allowlist is applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus import Corpus, weights_only_batch
from tests.corpus.containers import write_torch_zip
from tests.corpus.pickle_asm import Asm
from torchvet.results import Verdict
from torchvet.scan import scan_file

# Verdicts that do not stop a user from loading the file (malformed promises that no
# loader can run anything from it, so a payload that fires must not be rated so).
NOT_DEFENDED = {Verdict.SAFE, Verdict.NEEDS_ALLOWLIST, Verdict.UNSUPPORTED, Verdict.MALFORMED}


@pytest.fixture(scope="module")
def verdicts(corpus: Corpus) -> dict[str, object]:
    return {r.id: scan_file(r.path) for r in corpus.files}


def test_corpus_is_big_enough(corpus: Corpus) -> None:
    assert len(corpus.benign) >= 50
    assert len(corpus.malicious) >= 50


def test_safe_iff_torch_loads(corpus: Corpus, verdicts: dict) -> None:
    disagreements = []
    for r in corpus.files:
        torch_ok = corpus.weights_only[r.id].ok
        res = verdicts[r.id]
        if (res.verdict is Verdict.SAFE) != torch_ok:
            disagreements.append(
                f"{r.id} ({r.container}): torch {'loads' if torch_ok else 'refuses'} it, "
                f"torchvet says {res.verdict.value}: "
                + "; ".join(f.message for f in res.findings[:2])
            )
    assert not disagreements, "\n".join(disagreements)


def test_firing_payloads_are_never_defended(corpus: Corpus, verdicts: dict) -> None:
    missed = [
        f"{r.id} ({r.container}) -> {verdicts[r.id].verdict.value}"
        for r in corpus.malicious
        if corpus.fires[r.id].fired and verdicts[r.id].verdict in NOT_DEFENDED
    ]
    assert not missed, "\n".join(missed)


def test_firing_gadgets_are_called_dangerous(corpus: Corpus, verdicts: dict) -> None:
    # Payloads that fire are gadgets, not merely unknown names (torchscript payloads
    # and reference-only techniques do not fire and are not counted).
    weak = [
        f"{r.id} -> {verdicts[r.id].verdict.value}"
        for r in corpus.malicious
        if corpus.fires[r.id].fired and verdicts[r.id].verdict is not Verdict.DANGEROUS
    ]
    assert len(weak) <= len(corpus.malicious) // 20, "\n".join(weak)


def test_torch_error_matches_torch_for_refused_globals(corpus: Corpus, verdicts: dict) -> None:
    # "Also print what torch itself would say first": same offending name as torch.
    checked = 0
    for r in corpus.files:
        oracle = corpus.weights_only[r.id]
        res = verdicts[r.id]
        detail = oracle.detail or ""
        if oracle.ok or "Unsupported global: GLOBAL" not in detail:
            continue
        checked += 1
        name = detail.split("GLOBAL ", 1)[1].split(" ", 1)[0]
        assert res.torch_error and f"GLOBAL {name} " in res.torch_error, (r.id, res.torch_error)
    assert checked >= 20


def test_printed_allowlist_makes_torch_load(corpus: Corpus, verdicts: dict) -> None:
    needs = [r for r in corpus.files if verdicts[r.id].verdict is Verdict.NEEDS_ALLOWLIST]
    assert len(needs) >= 8
    results = weights_only_batch([(r.path, r.preimport, verdicts[r.id].allowlist) for r in needs])
    failed = [
        f"{r.id}: allow {verdicts[r.id].allowlist} -> {res.detail or res.message}"
        for r, res in zip(needs, results, strict=True)
        if not res.ok
    ]
    assert not failed, "\n".join(failed)


CODEC_CASES = [
    ("latin-1", "héllo"),
    ("utf-16", "weights"),
    ("utf-32-le", "x"),
    ("cp1252", "€uro"),
    ("rot13", "abc"),
    ("unicode_escape", "tab\t"),
    ("idna", "bücher.example"),
    ("ascii", "é"),  # UnicodeEncodeError in torch too
    ("hex", "abc"),  # a bytes codec given str: TypeError in torch too
    ("no-such-codec", "abc"),
]


def test_codecs_encode_is_safe_exactly_when_torch_loads_it(tmp_path: Path) -> None:
    """torch's unpickler calls the allowlisted _codecs.encode with whatever the pickle
    passes; the scan must agree for every codec, not only the text ones it used to know."""
    paths = []
    for encoding, text in CODEC_CASES:
        asm = Asm(2).empty_dict().string("v").global_("_codecs", "encode")
        data = asm.string(text).string(encoding).tuple2().reduce().setitem().stop().bytes()
        path = tmp_path / f"codec-{encoding}.pt"
        write_torch_zip(path, [("data.pkl", data)])
        paths.append(path)
    loads = weights_only_batch([(p, (), ()) for p in paths])
    assert sum(r.ok for r in loads) >= 6  # most codecs load: the test sees both sides
    for path, loaded in zip(paths, loads, strict=True):
        verdict = scan_file(path).verdict
        assert (verdict is Verdict.SAFE) == loaded.ok, (path.name, verdict, loaded)
