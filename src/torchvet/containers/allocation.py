"""What torch.load allocates from sizes a file declares, before it reads any data.

* The legacy loader creates ``UntypedStorage(numel * itemsize)`` for every storage key at
  its first persistent id, even when nothing uses the storage and no data follows it:
  a few hundred bytes can declare a terabyte (torch then fails allocating it).
* The zip loader reads each record it needs into a buffer of the record's declared
  uncompressed size: ``data.pkl``, then every storage record, once per key. A DEFLATE
  record inflates up to ~1000x its stored size, and many central-directory names can
  share one stored record, so a small archive can make a load allocate gigabytes.

The estimate is reported as RESOURCE (at least ``unknown``) when it is far out of
proportion to the file (``budget.disproportionate``).
"""

from __future__ import annotations

from torchvet import budget as budgets
from torchvet.containers.base import ContainerScan
from torchvet.observations import Seen

# More than any machine can allocate: torch certainly fails.
_IMPOSSIBLE = 1 << 48


class Allocations:
    """Allocations one load makes, added as the container reader meets them."""

    def __init__(self) -> None:
        self.total = 0
        self.count = 0
        self._largest: tuple[int, str, int | None] = (0, "", None)

    def add(self, nbytes: int, what: str, offset: int | None = None) -> None:
        if nbytes <= 0:
            return
        self.total += nbytes
        self.count += 1
        if nbytes > self._largest[0]:
            self._largest = (nbytes, what, offset)

    def report(self, scan: ContainerScan, entry: str) -> None:
        """A RESOURCE finding when the total is out of proportion to the file."""
        if not budgets.disproportionate(self.total):
            return
        size, what, offset = self._largest
        budget = budgets.current()
        of_file = f", for a file of {budgets.human(budget.input_size)}" if budget else ""
        fails = (
            "torch fails: no machine can allocate that much"
            if self.total >= _IMPOSSIBLE
            else "torch fails where that much memory cannot be had"
        )
        where = f" at offset {offset}" if offset is not None else ""
        scan.observe(
            Seen.RESOURCE,
            f"torch.load allocates about {budgets.human(self.total)} for what the file "
            f"declares ({self.count} buffer{'s' if self.count > 1 else ''}; the largest, "
            f"{what}{where}, is "
            f"{budgets.human(size)}){of_file}: a denial of service on the loader; {fails}",
            entry,
            offset,
        )
