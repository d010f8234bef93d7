"""What a model may do to the stream being read, and nothing else.

A model sees the call it emulates and this interface: it can record a finding about the
call (an issue, torch refusing it, a form torchvet cannot vouch for), charge the work it
does, count what the call makes the loader allocate, record a call the callee makes in
turn, insert keys into a container it builds, defer a check that needs tensor data, and
read the torch release's facts. It cannot touch the machine's stack, memo or position.
One ``Effects`` serves one stream (the machine creates it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchvet import budget as budgets
from torchvet.pickle.trace import CallEvent, IssueKind

if TYPE_CHECKING:
    from torchvet.pickle.hashwork import HashWork
    from torchvet.pickle.machine import Machine
    from torchvet.pickle.torchfacts import TorchFacts
    from torchvet.pickle.values import Call, Value


class Effects:
    __slots__ = ("_hashes", "_m", "allocated", "facts")

    def __init__(self, machine: Machine, facts: TorchFacts, hashes: HashWork) -> None:
        self._m = machine
        self.facts = facts
        self._hashes = hashes  # the stream's: the machine's own opcodes insert keys too
        self.allocated = 0  # bytes the stream's calls make the loader allocate

    @property
    def pos(self) -> int:
        """Offset of the opcode being read."""
        return self._m.pos

    # -------------------------------------------------------------- findings
    def issue(self, kind: IssueKind, message: str, torch_message: str | None = None) -> None:
        self._m.issue(kind, message, torch_message=torch_message)

    def invalid(self, message: str, torch_message: str | None = None) -> None:
        """torch refuses the call (``torch_message`` in its words)."""
        self._m.issue(IssueKind.INVALID, message, torch_message=torch_message or message)

    def unverified(self, call: Call, why: str) -> None:
        """The call's arguments fall outside the forms torchvet models."""
        self._m.issue(
            IssueKind.UNVERIFIED,
            f"{call.target or call.func.describe()} called at offset {call.pos}: {why}",
        )

    def dynamic(self, message: str) -> None:
        """The call reaches something only known at load time."""
        self._m.issue(IssueKind.DYNAMIC, message)

    def record_call(self, call: Call) -> None:
        """A call the emulated callee makes in turn (judged like any other call)."""
        self._m.trace.events.append(CallEvent(call))

    # -------------------------------------------------------------- costs
    def charge(self, units: int) -> None:
        """Work beyond one opcode (a value the memo lets a file reuse any number of times)."""
        self._m.charge(units)

    def copying(self, n: int) -> None:
        """Charge for walking or copying ``n`` items of a value: the memo lets a file pass
        one huge container to any number of calls."""
        if n > 64:
            self._m.charge(n >> 3)

    def allocate(self, call: Call, nbytes: int, what: str) -> None:
        """Count what a call makes the loader allocate; one RESOURCE issue per stream once
        the total is far out of proportion to the file (one huge call, or a memoised
        tensor converted a hundred thousand times)."""
        before = self.allocated
        self.allocated += nbytes
        if budgets.disproportionate(self.allocated) and not budgets.disproportionate(before):
            total = (
                "" if before == 0 else f", {budgets.human(self.allocated)} with the calls before it"
            )
            self.issue(
                IssueKind.RESOURCE,
                f"{call.target} at offset {call.pos} makes the loader allocate {what} of "
                f"{budgets.human(nbytes)}{total}: a denial of service (it fails where that "
                "much memory cannot be had)",
            )

    def insert_keys(self, container: Value, keys: list[Value]) -> None:
        """``keys`` go into ``container``: what hashing and comparing them costs."""
        self._hashes.insert(self, container, keys)

    # -------------------------------------------------------------- later checks
    def defer(self, pos: int, kind: str, payload: object) -> None:
        """A check that needs tensor data the pickle only points at; the container,
        which can read storages, settles it."""
        self._m.trace.deferred.append((pos, kind, payload))

    def note_build_type(self, inst: Value) -> None:
        """The runtime type BUILD acts on, for the policy to check."""
        self._m.note_build_type(inst)
