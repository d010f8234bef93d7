"""Plain data passed between the lint stages: code snippets, edits, fixes, diagnostics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLine:
    """One line of extracted code and where it sits in the original unit.

    ``line`` is 1-based, ``col`` is the 0-based character column in the original
    line at which ``text`` starts (the width of a stripped prompt, indent or ``# ``).
    """

    line: int
    col: int
    text: str


@dataclass
class Snippet:
    """A piece of Python code pulled out of a file, with a map back to the original.

    ``origin[i]`` is ``(original line, column shift)`` for snippet line ``i + 1``;
    ``None`` means the snippet *is* the unit, line for line (a plain ``.py`` file).
    ``unit`` names the editable text the map points into: ``None`` for the whole
    file, or a notebook cell index (0-based).  ``declared`` says whether the author
    declared it Python (a ``.py`` file, a ``python`` fence); an undeclared literal
    block that does not parse is skipped silently.
    """

    code: str
    origin: list[tuple[int, int]] | None
    kind: str
    unit: int | None = None
    declared: bool = True

    @classmethod
    def from_lines(
        cls, lines: list[SourceLine], kind: str, unit: int | None = None, declared: bool = True
    ) -> Snippet:
        code = "".join(sl.text + "\n" for sl in lines)
        return cls(code, [(sl.line, sl.col) for sl in lines], kind, unit, declared)

    @property
    def first_line(self) -> int:
        return self.origin[0][0] if self.origin else 1

    def to_original(self, line: int, col: int) -> tuple[int, int]:
        """Map a 1-based snippet line and 0-based character column to the original."""
        if self.origin is None:
            return line, col
        index = min(max(line, 1), len(self.origin)) - 1
        original_line, shift = self.origin[index]
        return original_line, shift + col


@dataclass(frozen=True)
class Edit:
    """Replace the text between two (line, col) positions of one unit (1-based lines)."""

    unit: int | None
    start: tuple[int, int]
    end: tuple[int, int]
    text: str


@dataclass(frozen=True)
class Fix:
    description: str
    edits: tuple[Edit, ...]
    safe: bool


@dataclass
class Diagnostic:
    path: str
    code: str
    message: str
    line: int
    column: int  # 1-based
    end_line: int
    end_column: int  # 1-based, exclusive
    cell: int | None = None  # 1-based notebook cell number
    fix: Fix | None = None
    # Notebooks only: (line, column, end line, end column) in the raw .ipynb text.
    file_span: tuple[int, int, int, int] | None = None

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code)


@dataclass
class Note:
    """Something the user should know that is not a finding (e.g. a block skipped).

    ``verbose`` notes (a code block that does not parse) are listed only on request;
    otherwise the summary counts them.
    """

    path: str
    line: int
    message: str
    cell: int | None = None
    verbose: bool = False
