"""The exact ``torch.serialization.safe_globals([...])`` code for a needs-allowlist file.

Every name printed is an exact inert name, imported in the spelling this environment
has; when that differs from the name in the file (numpy 1 vs 2, pathlib on Python 3.13),
the ``(object, "pickled.name")`` form makes torch resolve the file's name.
"""

from __future__ import annotations

from torchvet.policy.catalog import importable_name


def _expression(name: str) -> str:
    """Python expression for the object ``name`` (a pickled name) in the allowlist."""
    target = importable_name(name)
    expr = target.split(".", 1)[1] if target.startswith("builtins.") else target
    return expr if target == name else f'({expr}, "{name}")'


def _imports(names: list[str]) -> list[str]:
    modules = []
    for name in names:
        module = importable_name(name).rsplit(".", 1)[0]
        if module != "builtins" and module not in modules:
            modules.append(module)
    # `import a.b.c` also binds `a`, which the expressions use: drop imports implied by others.
    kept = [m for m in modules if not any(o.startswith(m + ".") for o in modules)]
    return [f"import {m}" for m in kept]


def allowlist_code(names: list[str], path: str = "checkpoint.pt") -> str:
    """Python code that loads ``path`` with exactly these names allowlisted."""
    lines = ["import torch", *_imports(names)]
    items = ",\n    ".join(_expression(n) for n in names)
    lines.append(f"with torch.serialization.safe_globals([\n    {items},\n]):")
    lines.append(f"    obj = torch.load({path!r}, weights_only=True)")
    return "\n".join(lines)
