"""What a scan produces: verdicts, finding categories, findings and per-file results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Verdict(str, enum.Enum):
    """One verdict per file; a file gets the worst verdict among its findings.

    Declared from best to worst (``rank``). NOT_A_MODEL: not a model file at all (text,
    an image, a Git LFS pointer, an empty file). MALFORMED ranks below UNKNOWN because it
    promises that no loader can execute anything from the file, so anything executable
    found before the damage (an unknown class) outranks it.
    """

    SAFE = "safe"
    NEEDS_ALLOWLIST = "needs-allowlist"
    UNSUPPORTED = "unsupported"
    NOT_A_MODEL = "not-a-model"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    DANGEROUS = "dangerous"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __str__(self) -> str:
        return self.value


_RANK = {v: i for i, v in enumerate(Verdict)}


def worst(verdicts: Any) -> Verdict:
    """The worst of an iterable of verdicts (SAFE for an empty one)."""
    result = Verdict.SAFE
    for v in verdicts:
        if v.rank > result.rank:
            result = v
    return result


class Category(str, enum.Enum):
    """Why a finding exists; each category forces a verdict (its second value)."""

    verdict: Verdict

    def __new__(cls, value: str, verdict: Verdict) -> Category:
        member = str.__new__(cls, value)
        member._value_ = value
        member.verdict = verdict
        return member

    # Explains, does not change the verdict.
    NOTE = "note", Verdict.SAFE
    # Does not change the verdict (torch behaves the same), but deserves attention:
    # e.g. a payload hidden where no loader reads it.
    WARNING = "warning", Verdict.SAFE
    # A global that torch refuses but that torchvet's catalog knows to be inert.
    INERT_GLOBAL = "inert-global", Verdict.NEEDS_ALLOWLIST
    # torch refuses the form, not the content: protocol >= 3 opcodes, tar, plain pickles,
    # a file torch.load does not read at all (numpy, safetensors without the suffix).
    UNSUPPORTED_FORM = "unsupported-form", Verdict.UNSUPPORTED
    # A structure torch's weights-only unpickler refuses even when every global is allowed
    # (SETITEM on a defaultdict, APPEND on a non-list, ...).
    UNSUPPORTED_STRUCTURE = "unsupported-structure", Verdict.UNSUPPORTED
    # A class or callable torchvet cannot vouch for (a user's class, a pickled nn.Module).
    UNKNOWN_GLOBAL = "unknown-global", Verdict.UNKNOWN
    # A call to an allowed callable with arguments torchvet does not model, so it cannot
    # confirm that torch accepts them.
    UNVERIFIED = "unverified", Verdict.UNKNOWN
    # Code its loader runs: TorchScript (torch.jit.load), torch.package.
    CODE = "code", Verdict.UNKNOWN
    # torchvet stopped reading before the end: one of its bounds (ops, stack, memo, nesting,
    # decompressed size) or an internal error. What was read is judged; the rest is not,
    # so the file is at least unknown.
    LIMIT = "limit", Verdict.UNKNOWN
    # A load would allocate or compute far out of proportion to the file (declared
    # storage sizes, dict keys that all hash alike): a denial of service on the loader.
    RESOURCE = "resource", Verdict.UNKNOWN
    # Not readable as the format it claims, truncated, or beyond resource bounds; or a
    # construct torch is known to reject (storage bounds, record sizes).
    MALFORMED = "malformed", Verdict.MALFORMED
    # Not a model file at all (Git LFS pointer, HTML page, gzip, image, empty).
    NOT_A_MODEL = "not-a-model", Verdict.NOT_A_MODEL
    # A known code-execution gadget, or a call chain that reaches one.
    GADGET = "gadget", Verdict.DANGEROUS


@dataclass(frozen=True)
class Finding:
    """One reason behind a verdict, located as precisely as the container allows."""

    category: Category
    message: str
    entry: str = ""  # entry inside the container, e.g. "archive/data.pkl"
    offset: int | None = None  # byte offset of the opcode inside that entry
    global_name: str | None = None  # "module.name" when a global is involved
    # The loader whose reading of the file this finding comes from ("" = torch.load's own
    # reading of the format the content calls for; else e.g. "pickle.load", "zipfile").
    view: str = ""

    @property
    def verdict(self) -> Verdict:
        return self.category.verdict

    def to_json(self) -> dict[str, Any]:
        return {
            "view": self.view or "torch.load",
            "entry": self.entry,
            "offset": self.offset,
            "global": self.global_name,
            "category": self.category.value,
            "message": self.message,
        }


@dataclass
class ScanResult:
    """Everything torchvet concluded about one file."""

    path: str
    format: str
    verdict: Verdict
    findings: list[Finding] = field(default_factory=list)
    # What torch.load(weights_only=True) would report first, in torch's words (None if it loads).
    torch_error: str | None = None
    # For needs-allowlist: the names to pass to torch.serialization.safe_globals, in order.
    allowlist: list[str] = field(default_factory=list)
    # The tensors found in the file (name -> short description), for reports and convert.
    size: int = 0
    # Bytes fetched to reach the verdict, for sources that count them (remote files);
    # None where nothing counts them (local files are read through the page cache).
    bytes_read: int | None = None

    @property
    def safe(self) -> bool:
        return self.verdict is Verdict.SAFE

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "verdict": self.verdict.value,
            "torch_error": self.torch_error,
            "allowlist": list(self.allowlist),
            "findings": [f.to_json() for f in self.findings],
            "size": self.size,
            "bytes_read": self.bytes_read,
        }
