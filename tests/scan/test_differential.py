"""The scanner against real torch 2.13 on the generated corpus.

safe <=> torch.load(weights_only=True) loads it; every payload that fires under a plain
load is dangerous/unknown/malformed; a needs-allowlist file loads once its printed
allowlist is applied.
"""

from __future__ import annotations

import pytest

from tests.corpus import Corpus, weights_only_batch
from torchvet.results import Verdict
from torchvet.scan import scan_file

NOT_DEFENDED = {Verdict.SAFE, Verdict.NEEDS_ALLOWLIST, Verdict.UNSUPPORTED}


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
