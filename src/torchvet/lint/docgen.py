"""Render ``docs/rules.md`` from the rule classes' own documentation."""

from __future__ import annotations

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
