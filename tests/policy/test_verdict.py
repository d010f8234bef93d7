"""From what readers observed to findings: each kind of observation, torch's first error,
merged readings, vouched placeholders, and a judgement that breaks on one item."""

from __future__ import annotations

import pytest

from tests.corpus import Asm
from torchvet.containers.base import ScanContext
from torchvet.observations import (
    Dormant,
    Included,
    Observation,
    Seen,
    Stream,
    TorchFails,
    Vouched,
)
from torchvet.pickle.machine import run_stream
from torchvet.policy.judge import Policy
from torchvet.policy.verdict import conclude, finding, judge_observations
from torchvet.results import Category, Verdict

POLICY = Policy.for_torch("2.13.0")
CTX = ScanContext(POLICY)


def stream(global_name: str, entry: str = "data.pkl", torch_reads: bool = True) -> Stream:
    """A stream that calls ``module.name()``, run by the symbolic machine."""
    module, name = global_name.rsplit(".", 1)
    data = Asm(2).global_(module, name).empty_tuple().reduce().stop().bytes()
    trace = run_stream(data, entry, CTX.naming, None, 0, CTX.limits, CTX.knowledge)
    return Stream(trace, torch_reads)


@pytest.mark.parametrize("kind", list(Seen))
def test_every_kind_has_a_category(kind: Seen) -> None:
    made = finding(Observation(kind, "seen", "entry", 7, "mymodule.thing"))
    assert (made.message, made.entry, made.offset, made.global_name) == (
        "seen",
        "entry",
        7,
        "mymodule.thing",
    )
    assert made.category.verdict is not Verdict.SAFE or kind in (Seen.NOTE, Seen.WARNING)


def test_a_named_call_is_a_gadget_when_the_catalog_knows_the_name() -> None:
    called = finding(Observation(Seen.NAMED_CALL, "the loader calls os.system", "", 0, "os.system"))
    assert called.category is Category.GADGET
    assert called.message.startswith("the loader calls os.system: ")
    unknown = finding(Observation(Seen.NAMED_CALL, "calls m.f", "", 0, "mymodule.f"))
    assert unknown.category is Category.UNKNOWN_GLOBAL and unknown.message == "calls m.f"


def test_torch_error_is_the_first_unless_replaced() -> None:
    first = judge_observations([TorchFails("one"), TorchFails("two")], POLICY)
    assert first.torch_error == "one"
    replaced = judge_observations([TorchFails("one"), TorchFails("two", replaces=True)], POLICY)
    assert replaced.torch_error == "two"


def test_a_stream_torch_reads_gives_torch_error_and_allowlist() -> None:
    read = judge_observations([stream("argparse.Namespace")], POLICY)
    assert [f.category for f in read.findings] == [Category.INERT_GLOBAL]
    assert read.allowlist == ["argparse.Namespace"]
    assert read.torch_error is not None and "argparse.Namespace" in read.torch_error
    others = judge_observations([stream("argparse.Namespace", torch_reads=False)], POLICY)
    assert others.torch_error is None and others.allowlist == ["argparse.Namespace"]


def test_an_included_file_is_placed_under_its_prefix() -> None:
    inner = [
        Observation(Seen.NOT_A_MODEL, "not a model file: text"),
        stream("argparse.Namespace", entry="inner.pkl"),
    ]
    kept = judge_observations([Included(inner, prefix="member.pt")], POLICY)
    assert [(f.category, f.entry) for f in kept.findings] == [
        (Category.NOT_A_MODEL, "member.pt"),
        (Category.INERT_GLOBAL, "member.pt:inner.pkl"),
    ]
    assert kept.allowlist == [] and kept.torch_error is None
    how = Included(inner, allowlist=True, torch_error=True, not_a_model_is_broken=True)
    merged = judge_observations([how], POLICY)
    assert merged.findings[0].category is Category.MALFORMED
    assert merged.allowlist == ["argparse.Namespace"] and merged.torch_error is not None


def test_what_follows_from_torch_failing_on_an_included_reading() -> None:
    fails = Observation(Seen.BROKEN, "torch fails on it: {error}", "record")
    loads = Observation(Seen.NOTE, "torch loads it")
    damaged = [Observation(Seen.BROKEN, "zip view's damage"), TorchFails("bad zip")]
    how = {"if_torch_fails": fails, "if_torch_loads": loads, "failure_hides_damage": True}
    failed = judge_observations([Included(damaged, **how)], POLICY)
    assert [f.message for f in failed.findings] == ["torch fails on it: bad zip"]
    loaded = judge_observations([Included([Observation(Seen.NOTE, "fine")], **how)], POLICY)
    assert [f.message for f in loaded.findings] == ["fine", "torch loads it"]


def test_vouched_names_become_notes_where_they_were_found_before() -> None:
    unknown = stream("mymodule.Placeholder")
    items = [unknown, Vouched(frozenset({"mymodule.Placeholder"}), "the format's own"), unknown]
    judged = judge_observations(items, POLICY)
    assert [f.category for f in judged.findings] == [Category.NOTE, Category.UNKNOWN_GLOBAL]
    assert judged.findings[0].message == "mymodule.Placeholder: the format's own"


def test_a_dormant_pickle_is_a_warning_naming_its_gadgets() -> None:
    judged = judge_observations(
        [Dormant([stream("os.system")], "data.pkl", 40, "after STOP")], POLICY
    )
    assert [(f.category, f.offset) for f in judged.findings] == [(Category.WARNING, 40)]
    assert "after STOP names os.system" in judged.findings[0].message
    benign = judge_observations([Dormant([stream("collections.OrderedDict")], "", 0, "")], POLICY)
    assert benign.findings == []


def test_an_item_that_cannot_be_judged_keeps_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [Observation(Seen.NOTE, "before"), "not an item", stream("os.system")]
    with pytest.raises(KeyError):  # the test suite sets TORCHVET_DEBUG: bugs surface
        judge_observations(items, POLICY)  # type: ignore[arg-type]
    monkeypatch.delenv("TORCHVET_DEBUG")
    judged = judge_observations(items, POLICY)  # type: ignore[arg-type]
    assert [f.category for f in judged.findings] == [Category.NOTE, Category.LIMIT, Category.GADGET]


def test_safe_needs_torch_to_load_the_file() -> None:
    result = conclude("x.pt", "pickle", [TorchFails("Invalid magic number")], 10, POLICY)
    assert result.verdict is Verdict.MALFORMED
    assert result.findings[-1].message == "torch.load would fail: Invalid magic number"
    inert = conclude("x.pt", "pickle", [stream("argparse.Namespace")], 10, POLICY)
    assert inert.verdict is Verdict.NEEDS_ALLOWLIST and inert.allowlist == ["argparse.Namespace"]
    worse = conclude(
        "x.pt", "pickle", [stream("argparse.Namespace"), stream("os.system")], 1, POLICY
    )
    assert worse.verdict is Verdict.DANGEROUS and worse.allowlist == []
