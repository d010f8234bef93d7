"""Progress bars on stderr when it is a terminal: files (``check``, ``scan``) and bytes
(``convert``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


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


def transfer_bar(
    label: str, enabled: bool = True
) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """``(update(done, total), finish())`` for a bytes progress bar on a terminal's stderr
    (``update`` is None, and ``finish`` does nothing, elsewhere)."""
    if not enabled or not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        return None, lambda: None
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        label,
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "task" not in state:
            bar.start()
            state["task"] = bar.add_task(label, total=total)
        bar.update(state["task"], completed=done)

    def finish() -> None:
        if "task" in state:
            bar.stop()

    return update, finish
