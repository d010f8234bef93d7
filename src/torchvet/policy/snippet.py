"""The exact ``torch.serialization.safe_globals([...])`` code for a needs-allowlist file."""

from __future__ import annotations

# numpy 2 moved numpy.core to numpy._core; a numpy-1 file names the old path, whose objects
# report the new __module__, so torch needs the (object, "pickled.name") tuple form.
_NUMPY_CORE_OLD = "numpy.core."
_NUMPY_CORE_NEW = "numpy._core."


def _expression(name: str) -> tuple[str, str]:
    """(python expression for the object, top-level module to import)."""
    if name.startswith(_NUMPY_CORE_OLD):
        new = _NUMPY_CORE_NEW + name[len(_NUMPY_CORE_OLD) :]
        return f'({new}, "{name}")', "numpy"
    if name.startswith("builtins."):
        return name.split(".", 1)[1], ""
    module = name.split(".", 1)[0]
    return name, module


def _imports(names: list[str]) -> list[str]:
    modules = []
    for name in names:
        module = name.rsplit(".", 1)[0]
        if name.startswith(_NUMPY_CORE_OLD):
            module = (_NUMPY_CORE_NEW + name[len(_NUMPY_CORE_OLD) :]).rsplit(".", 1)[0]
        if name.startswith("builtins."):
            continue
        if module not in modules:
            modules.append(module)
    # `import a.b.c` also binds `a`, which the expressions use: drop imports implied by others.
    kept = [m for m in modules if not any(o.startswith(m + ".") for o in modules)]
    return [f"import {m}" for m in kept]


def allowlist_code(names: list[str], path: str = "checkpoint.pt") -> str:
    """Python code that loads ``path`` with exactly these names allowlisted."""
    exprs = [_expression(n)[0] for n in names]
    lines = ["import torch", *_imports(names)]
    items = ",\n    ".join(exprs)
    lines.append(f"with torch.serialization.safe_globals([\n    {items},\n]):")
    lines.append(f"    obj = torch.load({path!r}, weights_only=True)")
    return "\n".join(lines)
