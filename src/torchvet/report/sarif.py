"""A small, generic SARIF 2.1.0 writer: rule metadata and results in, a log object out.

Kept free of lint specifics so that other commands (e.g. ``scan``) can use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Where torchvet's documentation lives (for helpUri and informationUri).
PROJECT_URI = "https://github.com/torchvet/torchvet"
SARIF_VERSION = "2.1.0"


@dataclass(frozen=True)
class SarifRule:
    id: str
    name: str
    short_description: str
    full_description: str = ""
    help_uri: str | None = None
    level: str | None = None  # default level of the rule's results


@dataclass(frozen=True)
class SarifResult:
    rule_id: str
    message: str
    uri: str
    start_line: int | None = None
    start_column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    level: str = "warning"  # "none", "note", "warning" or "error"
    properties: dict = field(default_factory=dict)


def _region(result: SarifResult) -> dict:
    region = {}
    for key, value in (
        ("startLine", result.start_line),
        ("startColumn", result.start_column),
        ("endLine", result.end_line),
        ("endColumn", result.end_column),
    ):
        if value is not None:
            region[key] = value
    return region


def build_log(
    tool_name: str,
    tool_version: str,
    rules: Sequence[SarifRule],
    results: Iterable[SarifResult],
    information_uri: str | None = None,
) -> dict:
    index = {rule.id: i for i, rule in enumerate(rules)}
    driver: dict = {
        "name": tool_name,
        "version": tool_version,
        "rules": [
            {
                "id": rule.id,
                "name": rule.name,
                "shortDescription": {"text": rule.short_description},
                **(
                    {"fullDescription": {"text": rule.full_description}}
                    if rule.full_description
                    else {}
                ),
                **({"helpUri": rule.help_uri} if rule.help_uri else {}),
                **({"defaultConfiguration": {"level": rule.level}} if rule.level else {}),
            }
            for rule in rules
        ],
    }
    if information_uri:
        driver["informationUri"] = information_uri
    sarif_results = []
    for result in results:
        location: dict = {"artifactLocation": {"uri": result.uri}}
        region = _region(result)
        if region:
            location["region"] = region
        entry: dict = {
            "ruleId": result.rule_id,
            "level": result.level,
            "message": {"text": result.message},
            "locations": [{"physicalLocation": location}],
        }
        if result.rule_id in index:
            entry["ruleIndex"] = index[result.rule_id]
        if result.properties:
            entry["properties"] = dict(result.properties)
        sarif_results.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{"tool": {"driver": driver}, "results": sarif_results}],
    }


def torchvet_log(rules: Sequence[SarifRule], results: Iterable[SarifResult]) -> dict:
    """A log from torchvet (this version, with the project's address)."""
    from torchvet import __version__

    return build_log("torchvet", __version__, rules, results, information_uri=PROJECT_URI)
