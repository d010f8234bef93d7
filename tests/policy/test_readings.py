"""What another loader's reading of the same bytes adds to torch.load's reading."""

from __future__ import annotations

from torchvet.policy.judge import Judgement
from torchvet.policy.readings import absorb, could_exist
from torchvet.results import Category, Finding


def judged(*findings: Finding) -> Judgement:
    return Judgement(findings=list(findings))


def test_only_what_can_run_code_or_stopped_torchvet_counts() -> None:
    primary = judged()
    other = judged(
        Finding(Category.MALFORMED, "truncated", "", 9),
        Finding(Category.UNSUPPORTED_FORM, "a plain pickle"),
        Finding(Category.GADGET, "os.system: runs commands", "", 3, "os.system"),
        Finding(Category.LIMIT, "too many pickles"),
    )
    absorb(primary, [], other, "pickle.load")
    assert [(f.category, f.view) for f in primary.findings] == [
        (Category.GADGET, "pickle.load"),
        (Category.LIMIT, "pickle.load"),
    ]


def test_inert_names_of_another_reading_are_warnings() -> None:
    primary = judged()
    other = judged(Finding(Category.INERT_GLOBAL, "argparse.Namespace: plain data", "", 0, "x"))
    absorb(primary, [], other, "zipfile")
    (warning,) = primary.findings
    assert warning.category is Category.WARNING
    assert warning.message == "argparse.Namespace: plain data (resolved by zipfile; no code runs)"


def test_names_the_primary_reading_reports_are_not_repeated() -> None:
    gadget = Finding(Category.GADGET, "os.system: runs commands", "data.pkl", 3, "os.system")
    primary = judged(gadget)
    elsewhere = Finding(Category.GADGET, "os.system: runs commands", "", 80, "os.system")
    absorb(primary, [], judged(gadget, elsewhere), "pickle.load")
    assert primary.findings == [gadget]


def test_unknown_names_no_loader_can_import_or_that_are_loader_data_are_left_out() -> None:
    primary = judged()
    other = judged(
        Finding(Category.UNKNOWN_GLOBAL, "x", "", 0, "not a module.name"),
        Finding(Category.UNKNOWN_GLOBAL, "y", "", 1, "joblib.numpy_pickle.NumpyArrayWrapper"),
    )
    absorb(primary, [], other, "pickle.load")
    assert primary.findings == []


def test_an_unknown_module_nobody_names_is_said_so() -> None:
    primary = judged(Finding(Category.UNKNOWN_GLOBAL, "m.K: a user class", "", 0, "mylib.K"))
    other = judged(
        Finding(Category.UNKNOWN_GLOBAL, "zq.w: unknown", "", 5, "zq.w"),
        Finding(Category.UNKNOWN_GLOBAL, "mylib.L: unknown", "", 6, "mylib.L"),
    )
    absorb(primary, [], other, "pickle.load")
    strange, expected = primary.findings[1:]
    assert strange.message.startswith("pickle.load would import and call zq.w, from a module")
    assert expected.message == "mylib.L: unknown"  # mylib is named by the file itself


def test_modules_that_could_exist_where_models_load() -> None:
    assert could_exist("os.system", frozenset())
    assert could_exist("numpy.core.multiarray._reconstruct", frozenset())
    assert could_exist("mylib.K", frozenset({"mylib"}))
    assert not could_exist("zq.w", frozenset())
