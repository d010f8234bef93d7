"""Notebook sources are replaced in place: the rest of the JSON text is untouched."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from torchvet.lint.jsonspan import replace_sources

lines = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
sources = st.lists(lines, max_size=4).map(lambda parts: "\n".join(parts))


def notebook(cell_sources: list[str], as_lists: bool, indent: int | None, ascii_only: bool) -> str:
    cells = [
        {
            "cell_type": "code",
            "metadata": {"tags": ["x"]},
            "outputs": [],
            "source": src.splitlines(keepends=True) if as_lists else src,
        }
        for src in cell_sources
    ]
    data = {"cells": cells, "metadata": {"a": "é"}, "nbformat": 4, "nbformat_minor": 4}
    return json.dumps(data, indent=indent, ensure_ascii=ascii_only) + "\n"


@settings(max_examples=150, deadline=None)
@given(
    old=st.lists(sources, min_size=1, max_size=3),
    new=sources,
    as_lists=st.booleans(),
    indent=st.sampled_from([None, 1, 2, 4]),
    ascii_only=st.booleans(),
    data=st.data(),
)
def test_replacing_one_source_changes_only_that_source(
    old, new, as_lists, indent, ascii_only, data
):
    text = notebook(old, as_lists, indent, ascii_only)
    index = data.draw(st.integers(0, len(old) - 1))
    result = replace_sources(text, {index: new})
    before, after = json.loads(text), json.loads(result)
    joined = after["cells"][index]["source"]
    assert ("".join(joined) if isinstance(joined, list) else joined) == new
    after["cells"][index]["source"] = before["cells"][index]["source"]
    assert after == before
    if old[index] == new:
        assert result == text
    # Layout is kept: the result is what the original writer would have produced,
    # except for a list that was empty (no layout to copy).
    expected = notebook(
        [new if i == index else s for i, s in enumerate(old)], as_lists, indent, ascii_only
    )
    if not as_lists or (old[index] and new):
        assert result == expected
