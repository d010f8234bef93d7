"""docs/rules.md is generated from the rules, and every rule is documented and registered."""

from __future__ import annotations

import pkgutil

import pytest

import torchvet.lint.rules as rules_package
from torchvet.lint.docgen import render_rules_markdown
from torchvet.lint.rules import RULES

from .helpers import REPO

SECTIONS = (
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Use instead",
    "## Fix availability and safety",
)


def test_rules_doc_is_up_to_date() -> None:
    current = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == render_rules_markdown(), "run: python scripts/gen_rules_doc.py"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_documentation_has_every_section(rule) -> None:
    doc = rule.documentation()
    positions = [doc.find(section) for section in SECTIONS]
    assert -1 not in positions and positions == sorted(positions)
    assert rule.fix_availability in ("always", "sometimes", "never")
    assert (rule.fix_safety is None) == (rule.fix_availability == "never")


def test_every_rule_module_is_registered() -> None:
    modules = {
        m.name for m in pkgutil.iter_modules(rules_package.__path__) if m.name.startswith("tv")
    }
    registered = {rule.__module__.rsplit(".", 1)[1] for rule in RULES}
    assert modules == registered
    assert len({rule.code for rule in RULES}) == len(RULES)
