"""Render the rules' own documentation: ``docs/rules.md`` and ``torchvet rule [CODE]``."""

from __future__ import annotations

import json
import re

from torchvet.lint.rules import RULES

FIX_WORDS = {
    ("always", "safe"): "safe fix",
    ("always", "unsafe"): "unsafe fix",
    ("sometimes", "safe"): "safe fix (sometimes)",
    ("sometimes", "unsafe"): "unsafe fix (sometimes)",
}


def fix_label(rule) -> str:
    return FIX_WORDS.get((rule.fix_availability, rule.fix_safety or ""), "–")


def rule_record(rule) -> dict:
    return {
        "code": rule.code,
        "name": rule.name,
        "summary": rule.summary,
        "fix": fix_label(rule),
        "explanation": rule.documentation(),
    }


def rule_index(fmt: str = "text") -> str:
    """Every rule: one line each (text), or their records (json)."""
    if fmt == "json":
        return json.dumps([rule_record(rule) for rule in RULES], indent=2) + "\n"
    width = max(len(rule.name) for rule in RULES)
    return "".join(f"{rule.code}  {rule.name:<{width}}  {rule.summary}\n" for rule in RULES)


def rule_page(rule, fmt: str = "text") -> str:
    """One rule's documentation (text), or its record (json)."""
    if fmt == "json":
        return json.dumps(rule_record(rule), indent=2) + "\n"
    label = fix_label(rule)
    fix = "none" if label == "–" else label
    return f"# {rule.code} {rule.name}\n\n{rule.summary}. Fix: {fix}.\n\n{rule.documentation()}\n"


def render_rules_markdown() -> str:
    out = [
        "# torchvet lint rules",
        "",
        "<!-- Generated from src/torchvet/lint/rules/ by scripts/gen_rules_doc.py. -->",
        "",
        "`torchvet lint --fix` applies safe fixes; add `--unsafe-fixes` for the others.",
        "Suppress a finding with `# noqa: CODE` or `# torchvet: ignore[CODE]` on its line.",
        "",
        "| code | name | finds | fix |",
        "| --- | --- | --- | --- |",
    ]
    for rule in RULES:
        anchor = f"{rule.code.lower()}-{rule.name}"
        out.append(
            f"| [{rule.code}](#{anchor}) | {rule.name} | {rule.summary} | {fix_label(rule)} |"
        )
    for rule in RULES:
        body = re.sub(r"^## ", "### ", rule.documentation(), flags=re.MULTILINE)
        out += ["", f"## {rule.code} {rule.name}", "", body]
    return "\n".join(out) + "\n"
