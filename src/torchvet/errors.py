"""Exceptions of the torch-facing APIs (``torchvet.load``, ``torchvet.guard``).

Both derive from ``pickle.UnpicklingError``: code that already handles a refused
``torch.load`` keeps working, and neither error can be mistaken for success.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence


class UnsafeCheckpointError(pickle.UnpicklingError):
    """``torchvet.load`` refused a file; the message says what would work instead."""

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        verdict: str = "",
        blocking: Sequence[str] = (),
        allowlist: Sequence[str] = (),
        remedy: str = "",
    ) -> None:
        super().__init__(message)
        self.path = path
        self.verdict = verdict
        self.blocking = list(blocking)  # every global that stops the load, in file order
        self.allowlist = list(allowlist)  # names that would make it load, when inert
        self.remedy = remedy  # the exact code or command that would work


class BlockedGlobalError(pickle.UnpicklingError):
    """``torchvet.guard`` refused a global before any unpickler resolved it."""

    def __init__(self, module: str, name: str, reason: str, gadget: bool = False) -> None:
        self.module = module
        self.name = name
        self.reason = reason
        self.gadget = gadget  # a code-execution gadget: refused whatever the allowlist
        qual = f"{module}.{name}"
        advice = (
            "This file tries to run code: do not load it."
            if gadget
            else f"If you trust this file, allow it: torchvet.guard(allow=[{qual!r}]) or "
            f"`torchvet run --allow {qual} ...`"
        )
        super().__init__(
            f"torchvet.guard blocked the global {qual} while unpickling: {reason}. {advice}"
        )


class BlockedActionError(BlockedGlobalError):
    """A guarded load tried to write files, start processes, use the network or run code.

    Raised from the audit hook while an unpickler's load runs (``torchvet.guard``) or
    while ``torchvet.load`` runs ``torch.load``: allowed objects must not act on the
    machine, whatever a pickle did to them.
    """

    def __init__(self, event: str, what: str = "") -> None:
        message = (
            f"torchvet stopped a load that {what}: loading data must not act on the machine. "
            "This file tries to run code or change files: do not load it."
            if what
            else event  # re-raised by a library with the message alone
        )
        pickle.UnpicklingError.__init__(self, message)
        self.module = "<audit>"
        self.name = event
        self.reason = what
        self.gadget = True
