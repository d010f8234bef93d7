"""``torch.Size`` and ``torch.device``, which torch's allowlist lets a file construct."""

from __future__ import annotations

from torchvet.pickle import values
from torchvet.pickle.models import checks
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.models.registry import model, new_model
from torchvet.pickle.tensorinfo import fits_int64
from torchvet.pickle.values import Call, Value, int_of, str_of


@model("torch.Size")
@new_model("torch.Size")
def size(fx: Effects, call: Call) -> Value:
    a = call.args
    if not a:
        return values.Instance(call.pos, "torch.Size", call, hashable=True, info=())
    if len(a) == 1:
        seq = checks.ints(fx, a[0])
        if seq is not None and fits_int64(seq):
            return values.Instance(call.pos, "torch.Size", call, hashable=True, info=seq)
    fx.unverified(call, "torch.Size built from something other than a tuple of ints")
    return values.Instance(call.pos, "torch.Size", call, hashable=True)


@model("torch.device")
def device(fx: Effects, call: Call) -> Value:
    a = call.args
    ok = False
    if a and len(a) <= 2:
        spec = str_of(a[0])
        index = int_of(a[1]) if len(a) == 2 else 0
        if spec is not None and index is not None and index >= 0:
            kind, _, num = spec.partition(":")
            ok = kind in fx.facts.device_types and (num == "" or (num.isdigit() and len(a) == 1))
    if not ok:
        fx.unverified(call, "torch.device built from arguments torchvet does not model")
    return values.Instance(call.pos, "torch.device", call, hashable=True)
