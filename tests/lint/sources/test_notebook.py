"""Notebook code cells: findings name their cell, cells share imports, bad JSON is a note."""

from __future__ import annotations

import json

from tests.lint.helpers import lint, positions


def test_notebook_findings_name_the_cell_and_share_imports() -> None:
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["import torch as T"]},
            {"cell_type": "markdown", "metadata": {}, "source": ["T.load(p)"]},
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "source": ["!pip install x\n", "y = T.load(p)"],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    outcome = lint("n.ipynb", json.dumps(nb))
    assert positions(outcome) == [("TV002", 3, 2, 5, 2, 14)]


def test_unreadable_notebook_is_a_note() -> None:
    outcome = lint("n.ipynb", "{not json torch.load(p)")
    assert outcome.diagnostics == [] and len(outcome.notes) == 1
