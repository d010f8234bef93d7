"""Which parts of a checkpoint become the safetensors file, and under which names.

Rule (documented in docs/convert.md): when the file's root is a dict holding a
*weights entry* (``state_dict``, ``model_state_dict``, ``model``, ``module``,
``net``, ``network``, ``weights``; first match in that order) that holds tensors, the
output is that entry's tensors named relative to it: the names
``model.load_state_dict`` expects. When a weights entry is present but empty
(ultralytics' training checkpoints store ``"model": None`` beside ``"ema": <model>``),
the ``ema`` entry is the weights. Tensors elsewhere in the file (optimizer state,
EMA copies, callbacks) are left out unless ``include`` asks for them; they keep
their full dotted path. Any other root (a state_dict, a pickled module, a list)
is exported whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torchvet.converter.walk import Walk, Walker, key_text, module_state
from torchvet.pickle.values import DictValue, Value

WEIGHT_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "weights")
# Weights kept beside an emptied weights entry (ultralytics: "model": None, "ema": model).
FALLBACK_WEIGHT_KEYS = ("ema",)
OPTIMIZER_KEYS = (
    "optimizer",
    "optimizers",
    "optimizer_states",
    "optimizer_state_dict",
    "optim",
    "opt",
    "lr_schedulers",
    "scheduler",
    "lr_scheduler",
)
INCLUDE_CHOICES = ("optimizer", "all")


@dataclass
class Selection:
    walk: Walk
    wrapper: str | None = None  # the weights entry the names are relative to
    excluded: list[tuple[str, int]] = field(default_factory=list)  # (entry, tensor count)


def select(
    root: Value, walker: Walker, include: tuple[str, ...] = (), unwrap: bool = True
) -> Selection:
    wrapper = find_wrapper(root, walker) if unwrap else None
    if wrapper is None:
        walker.walk(root, "")
        return Selection(walker.out)
    assert isinstance(root, DictValue)
    sel = Selection(walker.out, wrapper)
    for k, v in root.items:
        name = key_text(k)
        if name == wrapper:
            walker.walk(v, "")
            continue
        if name is None:
            continue
        wanted = "all" in include or ("optimizer" in include and name in OPTIMIZER_KEYS)
        if wanted or not walker.has_tensor(v):
            walker.walk(v, name)
        else:
            counter = walker.child()
            counter.walk(v, name)
            sel.excluded.append((name, len(counter.out.tensors)))
    return sel


def find_wrapper(root: Value, walker: Walker) -> str | None:
    if not isinstance(root, DictValue) or module_state(root) is not None:
        return None
    present = {key_text(k): v for k, v in root.items}
    for key in WEIGHT_KEYS:
        v = present.get(key)
        if _is_weights(v, walker):
            return key
    if any(key in present for key in WEIGHT_KEYS):  # a weights entry, but empty
        for key in FALLBACK_WEIGHT_KEYS:
            if _is_weights(present.get(key), walker):
                return key
    return None


def _is_weights(v: Value | None, walker: Walker) -> bool:
    if v is None or not (isinstance(v, DictValue) or module_state(v) is not None):
        return False
    return walker.has_tensor(v)
