"""Regenerate docs/rules.md from the rule modules: ``python scripts/gen_rules_doc.py``."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from torchvet.lint.docgen import render_rules_markdown  # noqa: E402


def main() -> int:
    target = ROOT / "docs" / "rules.md"
    target.parent.mkdir(exist_ok=True)
    target.write_text(render_rules_markdown(), encoding="utf-8")
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
