"""Tests of the corpus itself: counts, expectations against real torch, payloads fire."""

from __future__ import annotations

import collections
import pickle
from pathlib import Path

import pytest

from tests.corpus.benign import generate_benign
from tests.corpus.build import Corpus
from tests.corpus.malicious import TECHNIQUES, generate_malicious
from tests.corpus.oracle import payload_fires, weights_only_accepts
from tests.corpus.pickle_asm import Asm, disassemble, embeddable


# -- shape of the corpus ---------------------------------------------------------------
def test_counts(corpus: Corpus) -> None:
    accepted = [r for r in corpus.benign if corpus.weights_only[r.id].ok]
    assert len(corpus.benign) >= 50
    assert len(accepted) >= 30
    assert len(corpus.malicious) >= 50
    assert len(TECHNIQUES) >= 50


def test_ids_unique_and_files_exist(corpus: Corpus) -> None:
    ids = [r.id for r in corpus.files]
    assert len(ids) == len(set(ids))
    assert len({r.path for r in corpus.files}) == len(ids)
    assert all(r.path.is_file() for r in corpus.files)


def test_files_are_small(corpus: Corpus) -> None:
    assert max(r.path.stat().st_size for r in corpus.files) < 64 * 1024


def test_every_technique_in_several_containers(corpus: Corpus) -> None:
    containers = collections.defaultdict(set)
    for r in corpus.malicious:
        containers[r.technique].add(r.tags[0])
    assert set(containers) == set(TECHNIQUES)
    assert all(len(c) >= 3 for c in containers.values()), containers
    per_container = collections.Counter(r.tags[0] for r in corpus.malicious)
    assert min(per_container.values()) >= 5, per_container


def test_records_are_complete(corpus: Corpus) -> None:
    for r in corpus.malicious:
        assert r.technique and r.trigger and r.marker is not None, r.id
        assert r.fires or r.fires_reason, f"{r.id}: fires=False needs a reason"
    for r in corpus.benign:
        assert r.marker is None and not r.technique, r.id


# -- agreement with torch --------------------------------------------------------------
def test_weights_only_expectations(corpus: Corpus) -> None:
    wrong = {
        r.id: corpus.weights_only[r.id]
        for r in corpus.files
        if r.expect_weights_only is not None
        and corpus.weights_only[r.id].ok != r.expect_weights_only
    }
    assert not wrong


def test_allowlists_make_files_load(corpus: Corpus) -> None:
    assert corpus.weights_only_allowed
    for rid, result in corpus.weights_only_allowed.items():
        record = corpus.by_id(rid)
        assert not corpus.weights_only[rid].ok, f"{rid} loads without its allowlist"
        if "allowlist-insufficient" in record.tags:
            assert not result.ok, f"{rid} was expected to fail even when allowlisted"
        else:
            assert result.ok, (rid, result)


def test_weights_only_never_fires(corpus: Corpus) -> None:
    assert corpus.markers_after_weights_only == []


def test_malicious_refused_by_weights_only(corpus: Corpus) -> None:
    accepted = {r.id for r in corpus.malicious if corpus.weights_only[r.id].ok}
    # Only payloads torch never reads (bytes after data.pkl's STOP) may load.
    assert accepted == {r.id for r in corpus.malicious if r.expect_weights_only}
    assert all(r.tags[0] == "torch-zip-trailing" for r in corpus.malicious if r.id in accepted)


def test_payloads_fire_as_declared(corpus: Corpus) -> None:
    mismatched = {
        r.id: corpus.fires[r.id] for r in corpus.malicious if corpus.fires[r.id].fired != r.fires
    }
    assert not mismatched
    firing = [r for r in corpus.malicious if r.fires]
    assert len(firing) >= 50
    assert not any(res.timed_out for res in corpus.fires.values())


def test_error_details_name_the_cause(corpus: Corpus) -> None:
    result = corpus.weights_only["builtins-exec--torch-zip"]
    assert result.error_type == "UnpicklingError"
    assert "exec" in (result.detail or "")
    blocked = corpus.weights_only["os-system--torch-zip"]
    assert "blocked" in (blocked.detail or "")


# -- single-file oracle API ------------------------------------------------------------
def test_single_file_oracle(corpus: Corpus, tmp_path: Path) -> None:
    njt = corpus.by_id("nested-jagged")
    assert not weights_only_accepts(njt.path).ok
    assert weights_only_accepts(njt.path, preimport=("torch._dynamo",)).ok
    ns = corpus.by_id("argparse-namespace")
    assert weights_only_accepts(ns.path, allow=("argparse.Namespace",)).ok
    record = corpus.by_id("builtins-exec--pickle")
    assert payload_fires(record, tmp_path)  # cached from the session batch: cheap


def test_generation_is_deterministic(corpus: Corpus, tmp_path: Path) -> None:
    again = generate_benign(tmp_path / "benign") + generate_malicious(
        tmp_path / "malicious", corpus.root / "markers"
    )
    first = {r.id: r for r in corpus.files}
    differ = [
        r.id
        for r in again
        if r.deterministic and r.path.read_bytes() != first[r.id].path.read_bytes()
    ]
    assert not differ
    assert sum(r.deterministic for r in again) > 0.9 * len(again)


# -- the assembler -----------------------------------------------------------------------
@pytest.mark.parametrize("protocol", range(6))
def test_asm_values_round_trip(protocol: int) -> None:
    value = {"a": [1, -2, 300, 70000, 2**40, -(2**70)], "b": (1.5, None, True), "c": "é\n\\"}
    if protocol >= 3:
        value["d"] = b"\x00\xff"
    data = Asm(protocol).value(value).stop().bytes()
    assert pickle.loads(data) == value
    assert "STOP" in disassemble(data)


def test_asm_globals_and_memo() -> None:
    a = Asm(4).string("collections").put(300).pop().get(300).string("OrderedDict")
    data = a.stack_global().empty_tuple().reduce().stop().bytes()
    assert pickle.loads(data) == collections.OrderedDict()
    data0 = Asm(0).mark().int_(7).inst("builtins", "list").stop().bytes()
    with pytest.raises(TypeError):  # INST calls list(7)
        pickle.loads(data0)


def test_embeddable_relocates_memo() -> None:
    inner = pickle.dumps([["x"], ["x"]], protocol=4)  # MEMOIZE + BINGET
    host = Asm(2).empty_list().put(0).mark().raw(embeddable(inner, 1000))
    data = host.get(0).appends().stop().bytes()
    loaded = pickle.loads(data)
    assert loaded[0] == [["x"], ["x"]]
    assert loaded[1] is loaded
