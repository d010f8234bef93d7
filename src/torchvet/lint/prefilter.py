"""The two speed shortcuts, derived from what the rules read; neither may lose a finding.

``might_have_findings(text)``: cheap text tests before any parsing. A file passes
when it holds a call some rule's terminals name on a receiver that can resolve to a
loader module, an import of a loader, or one of the keywords the rules judge with a
value that is not the safe one (``weights_only=True`` alone cannot be a finding).

``hot_lines(code, words)``: the lines holding one of the rules' terminals or keywords
as a whole identifier (``load`` but not ``download``); statements elsewhere are only
scanned for name bindings. ``tests/lint/test_shortcuts.py`` checks both against a
run without them.

Substring tests (``str.find``, ``in``) are far faster than regular expressions
here, so regular expressions run only on files that passed a substring test.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from torchvet.lint.resolve import IMPLICIT_MODULES
from torchvet.lint.text import identifier_before, line_starts

# Every finding needs one of these substrings somewhere in the file.
_ANY_WORDS = ("load", "save", "pickle", "safe_globals", "trust_remote_code", "use_safetensors")
_SPECIFIC_WORDS = ("Unpickler", "read_pickle", "safe_globals(")
# Keywords judged by their value: a file passes only with a value other than these
# (a literal, or a name that may be bound to one). A dict key (`"kw": value`) too.
_KEYWORD_SAFE_VALUES = {
    "weights_only": ("True", "None", "weights_only"),
    "trust_remote_code": ("False", "None", "trust_remote_code"),
    "use_safetensors": ("True", "None", "use_safetensors"),
    "allow_pickle": ("False", "None", "allow_pickle"),
}
_KEYWORD_VALUE = {
    word: re.compile(
        rf"""(?:\b{word}\s*=|["']{word}["']\s*:)\s*(?!(?:{"|".join(safe)})\b)[\w"'({{\[]"""
    )
    for word, safe in _KEYWORD_SAFE_VALUES.items()
}
_LOAD_STATE_DICT_KEYWORDS = ("weights_only", "map_location", "mmap", "pickle_module")
_LOADER_MODULES = "torch|pickle|_pickle|cPickle|dill|cloudpickle|joblib|numpy|pandas"
# `from torch import load as tl`, `from pickle import (loads, dumps)`
_LOADER_IMPORT = re.compile(
    rf"from\s+(?:{_LOADER_MODULES})\b[\w.]*\s+import[\w\s,()]*?\bload(?:s|_session)?\b"
)
_CALL_TAIL = re.compile(r"(?:s|_session|_module)?\s*\(")
# Receivers of `.load(` worth a parse (besides an alias of a loader module).
_RECEIVERS = frozenset({"serialization", "hub", *IMPLICIT_MODULES})


def might_have_findings(text: str) -> bool:
    if not any(word in text for word in _ANY_WORDS):
        return False
    if any(word in text for word in _SPECIFIC_WORDS) or _LOADER_IMPORT.search(text):
        return True
    if any(word in text and _KEYWORD_VALUE[word].search(text) for word in _KEYWORD_VALUE):
        return True
    if "load_state_dict" in text and any(k in text for k in _LOAD_STATE_DICT_KEYWORDS):
        return True
    # `torch.save` matters only for its pickle protocol (TV008).
    needles = (".load", ".save") if "pickle" in text else (".load",)
    return any(_receiver_call(text, needle) for needle in needles)


def _receiver_call(text: str, needle: str) -> bool:
    """``x.load(`` where ``x`` is a loader module or an alias of one."""
    checked: set[str] = set()
    index = text.find(needle)
    while index != -1:
        start, index = index, text.find(needle, index + 1)
        if not _CALL_TAIL.match(text, start + len(needle)):
            continue  # `.loader`, `.saved`, an attribute that is not called
        name = identifier_before(text, start)
        if name in _RECEIVERS:
            return True
        if name and name not in checked:  # an alias: `import torch as T`
            checked.add(name)
            alias = rf"\b(?:{_LOADER_MODULES}|serialization|hub)\b[\w.]*\s+as\s+{name}\b"
            if re.search(alias, text):
                return True
    return False


_NAME_AFTER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _is_word_at(code: str, index: int, length: int) -> bool:
    before = code[index - 1] if index > 0 else " "
    after = code[index + length] if index + length < len(code) else " "
    return not (before.isalnum() or before == "_" or after.isalnum() or after == "_")


def _aliases(code: str, words: frozenset[str]) -> set[str]:
    """``tl`` in ``from torch import load as tl``: names bound ``as`` a hot word."""
    aliases = set()
    index = code.find(" as ")
    while index != -1:
        if identifier_before(code, index) in words:
            after = _NAME_AFTER.match(code, index + 4)
            if after:
                aliases.add(after.group())
        index = code.find(" as ", index + 4)
    return aliases


def hot_lines(code: str, words: Iterable[str]) -> list[int]:
    """Sorted numbers of the lines holding one of ``words`` as a whole identifier.

    ``**`` counts too when one of the words appears at all: a ``**kwargs`` dict bound
    elsewhere may carry a keyword a rule judges.
    """
    words = frozenset(words)
    offsets = []
    for word in words | _aliases(code, words):
        index = code.find(word)
        while index != -1:
            if _is_word_at(code, index, len(word)):
                offsets.append(index)
            index = code.find(word, index + len(word))
    if offsets and "**" in code:
        index = code.find("**")
        while index != -1:
            offsets.append(index)
            index = code.find("**", index + 2)
    return _line_numbers(code, offsets)


def _line_numbers(code: str, offsets: list[int]) -> list[int]:
    if not offsets:
        return []
    if "\r" in code:
        starts = line_starts(code)
        return sorted({bisect.bisect_right(starts, offset) for offset in offsets})
    offsets.sort()
    lines, line, previous = [], 1, 0
    for offset in offsets:
        line += code.count("\n", previous, offset)
        previous = offset
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines
