"""The two speed shortcuts, derived from what the rules read; neither may lose a finding.

``might_have_findings(text)``: cheap text tests before any parsing. A file passes
when it holds a call some rule's terminals name on a receiver that can resolve to a
loader module, an import of a loader, or one of the keywords the rules judge with a
value that is not the safe one (``weights_only=True`` alone cannot be a finding).

``hot_lines(code, words)``: the lines holding one of the rules' terminals or keywords
as a whole identifier (``load`` but not ``download``); statements elsewhere are only
scanned for name bindings. ``tests/lint/test_prefilter.py`` checks both against a
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
_ANY_WORDS = (
    "load",
    "save",
    "pickle",
    "weights_only",
    "safe_globals",
    "trust_remote_code",
    "use_safetensors",
)
_SPECIFIC_WORDS = ("Unpickler", "read_pickle", "safe_globals(")
# Keywords judged by their value, and the values that can make a finding: a literal
# the rule flags, or a bare name (it may be bound to one). An attribute, a call or a
# parameter passed through (`trust_remote_code=trust_remote_code`) cannot.
_KEYWORD_RISKY_VALUES = {
    "weights_only": r"False\b|0\b",  # TV003, TV006 (TV001 and TV005 need a call anyway)
    "trust_remote_code": r"True\b|[1-9]|[\"']",  # TV107
    "use_safetensors": r"False\b|0\b",  # TV108
}
_BARE_NAME = r"(?!(?:True|False|None)\b)[A-Za-z_]\w*\s*[,)}\n#]"
# What follows such a keyword: `=` (not `==`) or, after a quote, `:` (a dict key).
_KEYWORD_TAIL = {
    word: re.compile(rf"""(?:\s*=(?!=)|["']\s*:)\s*(?:{risky}|(?!{word}\b){_BARE_NAME})""")
    for word, risky in _KEYWORD_RISKY_VALUES.items()
}
# TV001: a `load_state_dict(...)` call passing one of these (or `**kwargs`).
_LSD_KEYWORDS = ("weights_only", "map_location", "mmap", "pickle_module", "**")
_LOAD_STATE_DICT = re.compile(r"\.load_state_dict\s*\(")
# How far to read a call's arguments; beyond it, say "maybe".
_ARGUMENTS_REACH = 2000
_UNREAD = -1
_LOADER_MODULES = "torch|pickle|_pickle|cPickle|dill|cloudpickle|joblib|numpy|pandas"
# `from torch import load as tl`, `from pickle import (loads, dumps)`
_LOADER_IMPORT = re.compile(
    rf"from\s+(?:{_LOADER_MODULES})\b[\w.]*\s+import[\w\s,()]*?\bload(?:s|_session)?\b"
)
_NAME_AFTER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
# `.load(` (and `.loads(`, `.load_session(`, `.load_module(`), `.save(`: called, not `.loader`.
_CALLS = {
    needle: re.compile(re.escape(needle) + r"(?:s|_session|_module)?\s*\(")
    for needle in (".load", ".save")
}
# Receivers of `.load(` worth a parse (besides an alias of a loader module).
_RECEIVERS = frozenset({"serialization", "hub", *_LOADER_MODULES.split("|"), *IMPLICIT_MODULES})
_ANY_BYTES = tuple(word.encode() for word in _ANY_WORDS)
_PICKLERS = frozenset({"pickle", "_pickle", "cPickle", "dill", "cloudpickle"})
# `pickle.loads(pickle.dumps(...))`: the argument is a dumps call.
_ROUND_TRIP = re.compile(r"\s*(?:\w+\.)?dumps\s*\(")
_KEYWORD = re.compile(r"\b(\w+)\s*=(?!=)")
# torch.load's parameters and the unpickler's (rules.base.KNOWN_KEYWORDS).
_TORCH_LOAD_KEYWORDS = frozenset(
    {"f", "map_location", "pickle_module", "weights_only", "mmap"}
    | {"encoding", "errors", "fix_imports", "buffers"}
)
_TRAILING_COMMA = re.compile(r"[ \t]*,")


def worth_decoding(data: bytes) -> bool:
    """Before decoding a file: some rule word, or a directive naming our codes, is there."""
    return any(word in data for word in _ANY_BYTES) or b"TV" in data


def might_have_findings(text: str) -> bool:
    if not any(word in text for word in _ANY_WORDS):
        return False
    if any(word in text for word in _SPECIFIC_WORDS) or _LOADER_IMPORT.search(text):
        return True
    if any(_risky_keyword(text, word) for word in _KEYWORD_TAIL):
        return True
    if "load_state_dict" in text and _call_passes(text, _LOAD_STATE_DICT, _LSD_KEYWORDS):
        return True
    if _receiver_call(text, ".load"):
        return True
    # `torch.save` matters only for its pickle protocol (TV008): by keyword, or as the
    # fourth positional argument.
    return "pickle" in text and _receiver_call(text, ".save", protocol=True)


def _risky_keyword(text: str, word: str) -> bool:
    """``word=value`` or ``"word": value`` with a value that can make a finding."""
    tail = _KEYWORD_TAIL[word]
    index = text.find(word)
    while index != -1:
        end = index + len(word)
        if tail.match(text, end) and _is_word_at(text, index, len(word)):
            return True
        index = text.find(word, end)
    return False


def _receiver_call(text: str, needle: str, protocol: bool = False) -> bool:
    """``x.load(`` where ``x`` is a loader module or an alias of one, and the call may be
    a finding (with ``protocol``: ``x.save(`` that may pass a pickle protocol)."""
    aliases: set[str] | None = None
    for match in _CALLS[needle].finditer(text):
        name = identifier_before(text, match.start())
        if name not in _RECEIVERS:
            if aliases is None:
                aliases = _aliases(text, _RECEIVERS)  # `import torch as T`: once, if needed
            if name not in aliases:
                continue
            name = ""  # an alias: of which module is not worth finding out here
        if protocol:
            if _may_pass_protocol(text, match.end()):
                return True
        elif _load_may_be_a_finding(text, name, match.end()):
            return True
    return False


def _load_may_be_a_finding(text: str, receiver: str, start: int) -> bool:
    """Whether a ``receiver.load(`` call whose arguments start at ``start`` can be a finding.

    Three shapes that cannot are common in real code: a round trip
    (``pickle.loads(pickle.dumps(x))``), a ``torch.load`` that passes ``weights_only``
    and only known keywords, and a ``numpy.load`` without ``allow_pickle``.
    """
    arguments, commas = _arguments(text, start)
    if commas == _UNREAD or "**" in arguments:
        return True
    if receiver in _PICKLERS:
        return _ROUND_TRIP.match(arguments) is None
    if receiver in ("torch", "serialization"):
        keywords = set(_KEYWORD.findall(arguments))
        return (
            "weights_only" not in keywords
            or not keywords <= _TORCH_LOAD_KEYWORDS
            or "pickle_module" in keywords
            or _TRAILING_COMMA.match(text, start + len(arguments)) is not None
        )
    if receiver in ("numpy", "np"):
        return "allow_pickle" in arguments or commas >= 2
    return True


def _arguments(text: str, start: int) -> tuple[str, int]:
    """The argument text of a call whose ``(`` ends at ``start``, and its top-level commas
    (``_UNREAD`` when it runs past ``_ARGUMENTS_REACH``: then anything may be in it).

    Brackets are counted, strings are not parsed: a bracket in a string can make the
    text longer or shorter; shorter only for code no formatter writes (a call whose
    string argument holds an unbalanced bracket before the keyword we look for).
    """
    depth, commas, index = 1, 0, start
    end = min(len(text), start + _ARGUMENTS_REACH)
    while index < end and depth:
        char = text[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 1:
            commas += 1
        index += 1
    return text[start:index], (commas if depth == 0 else _UNREAD)


def _may_pass_protocol(text: str, start: int) -> bool:
    arguments, commas = _arguments(text, start)
    return commas >= 3 or commas == _UNREAD or "protocol" in arguments or "**" in arguments


def _call_passes(text: str, call: re.Pattern, words: tuple[str, ...]) -> bool:
    """Some call matching ``call`` (up to its ``(``) passes one of ``words``."""
    for match in call.finditer(text):
        arguments, commas = _arguments(text, match.end())
        if commas == _UNREAD or any(word in arguments for word in words):
            return True
    return False


def _is_word_at(code: str, index: int, length: int) -> bool:
    before = code[index - 1] if index > 0 else " "
    after = code[index + length] if index + length < len(code) else " "
    return not (before.isalnum() or before == "_" or after.isalnum() or after == "_")


def _aliases(code: str, words: frozenset[str]) -> set[str]:
    """Names bound ``as`` one of ``words``: ``tl`` in ``from torch import load as tl``,
    ``T`` in ``import torch as T``."""
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
