"""Positions of ``ast`` nodes: (1-based line, UTF-8 byte column)."""

from __future__ import annotations

import ast

Position = tuple[int, int]


def start_of(node: ast.AST) -> Position:
    return node.lineno, node.col_offset  # type: ignore[attr-defined]


def end_of(node: ast.AST) -> Position:
    return node.end_lineno, node.end_col_offset  # type: ignore[attr-defined]
