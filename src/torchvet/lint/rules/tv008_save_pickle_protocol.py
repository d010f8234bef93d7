from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import TORCH_SAVE, UNKNOWN, CallRule, argument

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

# pickle.HIGHEST_PROTOCOL is 5 and DEFAULT_PROTOCOL 4 on every Python torchvet supports.
_NAMED_PROTOCOLS = {
    "pickle.HIGHEST_PROTOCOL": 5,
    "pickle.DEFAULT_PROTOCOL": 4,
    "_pickle.HIGHEST_PROTOCOL": 5,
    "_pickle.DEFAULT_PROTOCOL": 4,
}


class SavePickleProtocol(CallRule):
    """
    ## What it does
    Finds `torch.save(..., pickle_protocol=N)` with `N` of 3 or more
    (including `pickle.HIGHEST_PROTOCOL` and `pickle.DEFAULT_PROTOCOL`).

    ## Why is this bad?
    The weights-only unpickler understands only the protocol-2 opcodes. A file saved
    with protocol 4 or 5 fails `torch.load(..., weights_only=True)` with
    "Unsupported operand 149" (protocol 3 fails as soon as it stores bytes), which
    pushes every user of the file towards `weights_only=False`.

    ## Example
    ```python
    torch.save(model.state_dict(), path, pickle_protocol=4)
    ```

    ## Use instead
    ```python
    torch.save(model.state_dict(), path)
    ```

    ## Fix availability and safety
    No fix: files already written keep their protocol; the saving code is usually
    chosen for a reason worth reading first.
    """

    code = "TV008"
    name = "save-pickle-protocol"
    summary = "`torch.save` with a pickle protocol `weights_only` loading cannot read"
    callees = TORCH_SAVE

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        protocol = argument(ctx, call, "pickle_protocol", 3)
        if protocol is None:
            return
        value = ctx.constant(protocol)
        if value is UNKNOWN:
            value = _NAMED_PROTOCOLS.get(ctx.qualified_name(protocol) or "")
        if type(value) is int and value >= 3:
            ctx.report(
                self,
                protocol,
                f"`torch.save` with pickle protocol {value}: the file cannot be loaded with "
                "`weights_only=True`; keep the default protocol 2",
            )
