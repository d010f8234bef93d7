"""Generate torchvet's policy table for the installed torch (run with that torch).

    python scripts/gen_torch_policy.py            # writes src/torchvet/policy/data/torch-<ver>.json
    python scripts/gen_torch_policy.py --check    # exit 1 if the shipped table drifted

Everything is read from torch itself, never retyped: the weights-only allowlist
(_get_allowed_globals), what `import torch` adds to the user allowlist, the Python 2
name mapping, the blocked modules, dtype facts and the attribute names a Parameter's
Python state must not shadow. What torch's weights-only unpickler does by hand is read
from its source (``torch/_weights_only_unpickler.py``, parsed, never run): the opcodes
it implements, the types its BUILD handles itself, the exact types SETITEM(S) and
APPEND(S) accept, the names it refuses until a module is imported, and the templates
of the messages torchvet reproduces.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import inspect
import json
import pickletools
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_file import write_or_check

DATA = Path(__file__).resolve().parents[1] / "src" / "torchvet" / "policy" / "data"
# Device type names torch.device may accept; the table keeps those this torch does.
DEVICE_CANDIDATES = (
    "cpu",
    "cuda",
    "xpu",
    "mkldnn",
    "opengl",
    "opencl",
    "ideep",
    "hip",
    "ve",
    "fpga",
    "maia",
    "xla",
    "lazy",
    "vulkan",
    "mps",
    "meta",
    "hpu",
    "mtia",
    "privateuseone",
    "ipu",
)


def build() -> dict:
    import torch
    import torch._weights_only_unpickler as wo
    from torch._utils import IMPORT_MAPPING, NAME_MAPPING

    allowed = wo._get_allowed_globals()
    entries = {}
    for name, obj in sorted(allowed.items()):
        if isinstance(obj, torch.dtype):
            kind = "dtype"
        elif isinstance(obj, torch.serialization.StorageType):
            kind = "storage-type"
        elif isinstance(obj, torch.qscheme):
            kind = "qscheme"
        elif isinstance(obj, type):
            kind = "class"
        else:
            kind = "function"
        entries[name] = kind

    dtypes = {}
    for name, kind in entries.items():
        if kind != "dtype":
            continue
        dt = allowed[name]
        dtypes[name] = {
            "itemsize": dt.itemsize,
            "floating": dt.is_floating_point,
            "complex": dt.is_complex,
            "quantized": name
            in ("torch.qint8", "torch.qint32", "torch.quint8", "torch.quint4x2", "torch.quint2x4"),
        }
    storage_types = {
        name: str(allowed[name].dtype) for name, kind in entries.items() if kind == "storage-type"
    }
    layouts = sorted(str(v) for v in torch.__dict__.values() if isinstance(v, torch.layout))
    device_types = []
    for cand in DEVICE_CANDIDATES:
        try:
            torch.device(cand)
            device_types.append(cand)
        except RuntimeError:
            pass
    user_after_import = sorted(
        k
        for k in wo._get_user_allowed_globals()  # what `import torch` itself adds
    )
    return {
        "torch_version": torch.__version__.split("+")[0],
        "allowed": entries,
        "user_allowed_after_import": user_after_import,
        "blocked_modules": list(wo._blocklisted_modules),
        **unpickler_facts(wo),
        "name_mapping": [[list(k), list(v)] for k, v in sorted(NAME_MAPPING.items())],
        "import_mapping": dict(sorted(IMPORT_MAPPING.items())),
        "dtypes": dtypes,
        "storage_types": storage_types,
        "layouts": layouts,
        "device_types": device_types,
        "parameter_attributes": sorted(set(dir(torch.nn.Parameter))),
    }


# The expressions torch formats into its messages, and the field each becomes in a
# template (``{type}`` is filled with ``<class 'module.Name'>``, as torch prints a type).
_FIELDS = {
    "key[0]": "code",
    "full_path": "name",
    "module": "module",
    "cls": "value",
    "func": "value",
    "opcode": "opcode",
    "type(inst)": "type",
    "type(list_obj)": "type",
    "type(self.stack[-1])": "type",
}


def unpickler_facts(wo: Any) -> dict[str, Any]:
    """What torch's weights-only ``Unpickler`` does by hand, read from its source."""
    tree = ast.parse(inspect.getsource(wo.Unpickler))
    methods = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    branches, otherwise = _opcode_branches(methods["load"])
    opcode_names = {op.code.encode("latin-1"): op.name for op in pickletools.opcodes}
    by_opcode = {}
    for names, body in branches:
        for name in names:
            by_opcode[opcode_names[getattr(wo, name)]] = body
    messages = {"unsupported_operand": _only_message(otherwise)}
    for opname in ("NEWOBJ", "REDUCE", "BUILD", "APPEND", "APPENDS"):
        messages[opname] = _only_message(by_opcode[opname])
    messages["SETITEM"] = _only_message(methods["_check_set_item_target"].body)
    messages["persistent_load"] = _only_message(methods["persistent_load"].body)
    must_import, global_messages = _global_refusals(by_opcode["GLOBAL"])
    messages.update(global_messages)
    append = _exact_types(wo, by_opcode["APPEND"], ast.IsNot)
    if append != _exact_types(wo, by_opcode["APPENDS"], ast.IsNot):
        raise SystemExit("torch's APPEND and APPENDS accept different types: review machine.py")
    return {
        "weights_only_opcodes": sorted(by_opcode),
        "build_types": _exact_types(wo, by_opcode["BUILD"], ast.Is),
        "setitem_types": _exact_types(wo, methods["_check_set_item_target"].body, ast.NotIn),
        "append_types": append,
        "must_import": must_import,
        "messages": dict(sorted(messages.items())),
    }


def _opcode_branches(load: ast.FunctionDef) -> tuple[list[tuple[list[str], list]], list]:
    """The ``if key[0] == X[0]: ... elif key[0] in [Y[0], Z[0]]: ...`` chain of ``load``:
    (opcode constant names, body) per branch, and the final ``else`` body."""
    loop = next(n for n in ast.walk(load) if isinstance(n, ast.While))
    node = next(n for n in loop.body if isinstance(n, ast.If) and _opcode_names(n.test))
    branches = []
    while True:
        branches.append((_opcode_names(node.test), node.body))
        if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
            node = node.orelse[0]
            continue
        return branches, node.orelse


def _opcode_names(test: ast.expr) -> list[str]:
    """``key[0] == X[0]`` -> [X]; ``key[0] in [X[0], Y[0]]`` -> [X, Y]; else []."""
    if not (isinstance(test, ast.Compare) and ast.unparse(test.left) == "key[0]"):
        return []
    right = test.comparators[0]
    items = right.elts if isinstance(right, ast.List | ast.Tuple) else [right]
    return [ast.unparse(item)[: -len("[0]")] for item in items]


def _raises(body: list[ast.stmt]) -> list[ast.Raise]:
    return [n for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Raise)]


def _only_message(body: list[ast.stmt]) -> str:
    raises = _raises(body)
    if len(raises) != 1:
        raise SystemExit(f"expected one raise in torch's branch, found {len(raises)}")
    return _template(raises[0], body)


def _template(node: ast.Raise, body: list[ast.stmt]) -> str:
    """The message of ``raise UnpicklingError(...)`` as a ``str.format`` template."""
    call = node.exc
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "UnpicklingError"
    message = call.args[0]
    if isinstance(message, ast.Name):  # error_msg = (...); ...; raise UnpicklingError(error_msg)
        assigned = (
            n
            for stmt in body
            for n in ast.walk(stmt)
            if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == message.id
        )
        message = next(assigned).value
    if isinstance(message, ast.Constant):
        return message.value.replace("{", "{{").replace("}", "}}")
    assert isinstance(message, ast.JoinedStr), ast.unparse(message)
    parts = []
    for value in message.values:
        if isinstance(value, ast.Constant):
            parts.append(value.value.replace("{", "{{").replace("}", "}}"))
            continue
        assert isinstance(value, ast.FormattedValue) and value.format_spec is None
        expr = ast.unparse(value.value)
        if expr not in _FIELDS or value.conversion != -1:
            raise SystemExit(f"torch's message formats {expr!r}: name its field in _FIELDS")
        parts.append("{" + _FIELDS[expr] + "}")
    return "".join(parts)


def _global_refusals(body: list[ast.stmt]) -> tuple[dict[str, str], dict[str, str]]:
    """GLOBAL's refusals: the names torch refuses until a module is imported (with their
    message), and the messages for a blocked module and for any other name."""
    must_import: dict[str, str] = {}
    messages = {}
    for node in (n for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.If)):
        test = node.test
        raises = [r for stmt in node.body for r in _raises([stmt])]
        if not (isinstance(test, ast.Compare) and isinstance(test.ops[0], ast.In) and raises):
            continue
        listed = test.comparators[0]
        if isinstance(listed, ast.List):
            message = _template(raises[0], node.body)
            must_import.update({ast.literal_eval(item): message for item in listed.elts})
        elif ast.unparse(listed) == "_blocklisted_modules":
            messages["blocked_module"] = _template(raises[0], node.body)
    last = [stmt for stmt in body if isinstance(stmt, ast.If)][-1]
    while len(last.orelse) == 1 and isinstance(last.orelse[0], ast.If):
        last = last.orelse[0]
    messages["unsupported_global"] = _only_message(last.orelse)
    return dict(sorted(must_import.items())), messages


def _exact_types(wo: Any, body: list[ast.stmt], op: type[ast.cmpop]) -> list[str]:
    """The types in ``type(x) is T`` / ``type(x) is not T`` / ``type(x) not in [T, U]``
    tests of ``body``, as ``module.QualName``."""
    found = []
    for node in (n for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Compare)):
        left = node.left
        if not (isinstance(left, ast.Call) and ast.unparse(left.func) == "type"):
            continue
        if not isinstance(node.ops[0], op):
            continue
        right = node.comparators[0]
        for item in right.elts if isinstance(right, ast.List | ast.Tuple) else [right]:
            obj = _lookup(wo, item)
            found.append(f"{obj.__module__}.{obj.__qualname__}")
    if not found:
        raise SystemExit("no exact-type test found in torch's branch: review the generator")
    return sorted(set(found))


def _lookup(wo: Any, node: ast.expr) -> Any:
    """The object a dotted name in torch's module means (``torch.nn.Parameter``, ``dict``)."""
    if isinstance(node, ast.Attribute):
        return getattr(_lookup(wo, node.value), node.attr)
    assert isinstance(node, ast.Name), ast.unparse(node)
    return getattr(wo, node.id) if hasattr(wo, node.id) else getattr(builtins, node.id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped table")
    args = parser.parse_args()
    table = build()
    path = DATA / f"torch-{table['torch_version']}.json"
    text = json.dumps(table, indent=1, sort_keys=True) + "\n"
    source = f"torch {table['torch_version']}"
    summary = f"{len(table['allowed'])} allowed globals"
    return write_or_check(path, text, args.check, source, summary)


if __name__ == "__main__":
    raise SystemExit(main())
