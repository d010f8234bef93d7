"""The progress bar that ``check`` and ``scan`` show on stderr when it is a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class RichDisplay:
    """A progress bar on stderr: ``start(total)`` once the work is known, then ``advance``."""

    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.label = label
        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = None

    def start(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=total)

    def advance(self, files: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, files)

    def stop(self) -> None:
        self.progress.stop()


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[RichDisplay | None]:
    """A display when ``enabled`` and stderr is a terminal; None otherwise."""
    from rich.console import Console

    display = RichDisplay(label) if enabled and Console(stderr=True).is_terminal else None
    try:
        yield display
    finally:
        if display is not None:
            display.stop()
