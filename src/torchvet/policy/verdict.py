"""From what the readers observed to findings, torch's first error and the verdict.

The readers (``torchvet.containers``) record what they saw, in order
(``torchvet.observations``); this module is the only place that turns it into
``Finding``s: each kind of observation has its category here, each stream is judged by
``judge``, and merged readings are weighed as ``readings`` says. ``conclude`` then takes
the worst finding as the file's verdict.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

from torchvet import observations as observed
from torchvet.observations import Item, Observation, Seen
from torchvet.pickle.trace import StreamTrace
from torchvet.policy.catalog import gadget_reason
from torchvet.policy.judge import Judgement, Policy, judge
from torchvet.policy.readings import absorb
from torchvet.results import Category, Finding, ScanResult, Verdict, worst

_SEEN_CATEGORY = {
    Seen.NOTE: Category.NOTE,
    Seen.WARNING: Category.WARNING,
    Seen.BROKEN: Category.MALFORMED,
    Seen.NOT_A_MODEL: Category.NOT_A_MODEL,
    Seen.FORM_REFUSED: Category.UNSUPPORTED_FORM,
    Seen.STRUCTURE_REFUSED: Category.UNSUPPORTED_STRUCTURE,
    Seen.UNMODELLED: Category.UNVERIFIED,
    Seen.CODE_ARCHIVE: Category.CODE,
    Seen.LIMIT: Category.LIMIT,
    Seen.RESOURCE: Category.RESOURCE,
    Seen.UNKNOWN_NAME: Category.UNKNOWN_GLOBAL,
    Seen.NAMED_CALL: Category.UNKNOWN_GLOBAL,  # GADGET when the catalog knows the name
    Seen.FOREIGN_LOAD: Category.GADGET,  # any pickle at all, from a path the file chose
}


def finding(o: Observation) -> Finding:
    """The finding one observation makes."""
    category, message = _SEEN_CATEGORY[o.kind], o.message
    if o.kind is Seen.NAMED_CALL and o.global_name is not None:
        reason = gadget_reason(o.global_name)
        if reason is not None:
            category, message = Category.GADGET, f"{message}: {reason}"
    return Finding(category, message, o.entry, o.offset, o.global_name)


def judge_observations(items: list[Item], policy: Policy) -> Judgement:
    """Findings, torch's first error and the allowlist of one reading, in the order the
    reader observed them."""
    walk = _Walk(policy)
    for item in items:
        walk.take(item)
    return walk.out


class _Walk:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.out = Judgement()
        self.streams: list[StreamTrace] = []  # the streams this reading ran itself

    def take(self, item: Item) -> None:
        try:
            _HANDLERS[type(item)](self, item)
        except Exception as exc:
            # A bug in torchvet must never turn into a traceback or a "safe".
            # TORCHVET_DEBUG=1 (set by the test suite) re-raises so that bugs are seen.
            if os.environ.get("TORCHVET_DEBUG"):
                raise
            self.out.findings.append(
                Finding(
                    Category.LIMIT,
                    f"torchvet could not finish judging what it read ({type(exc).__name__}: "
                    f"{exc}); the rest is not judged (please report this file)",
                )
            )

    def torch_fails(self, message: str, replaces: bool = False) -> None:
        if replaces or self.out.torch_error is None:
            self.out.torch_error = message

    def add_allowlist(self, names: list[str]) -> None:
        for name in names:
            if name not in self.out.allowlist:
                self.out.allowlist.append(name)

    # -- one method per kind of item ---------------------------------------------------
    def observation(self, o: Observation) -> None:
        self.out.findings.append(finding(o))

    def torch_failure(self, t: observed.TorchFails) -> None:
        self.torch_fails(t.message, t.replaces)

    def stream(self, s: observed.Stream) -> None:
        judged = judge(s.trace, self.policy)
        self.out.findings.extend(judged.findings)
        self.add_allowlist(judged.allowlist)
        if s.torch_reads and judged.torch_error is not None:
            self.torch_fails(judged.torch_error)
        self.streams.append(s.trace)

    def alternate(self, a: observed.AlternateStream) -> None:
        judged = judge(a.trace, self.policy)
        self.out.findings.extend(replace(f, view=a.view) for f in judged.findings)

    def probe(self, p: observed.TorchProbe) -> None:
        error = judge(p.trace, self.policy).torch_error
        if error is not None:
            self.torch_fails(error)

    def dormant(self, d: observed.Dormant) -> None:
        judged = judge_observations(d.observations, self.policy)
        gadgets = [f for f in judged.findings if f.category is Category.GADGET]
        names = sorted({f.global_name for f in gadgets if f.global_name})
        if names:
            self.out.findings.append(
                Finding(
                    Category.WARNING,
                    f"dormant payload {d.where} names {', '.join(names[:5])}: no loader "
                    "reads it, but the file was crafted to carry it",
                    d.entry,
                    d.offset,
                )
            )

    def vouched(self, v: observed.Vouched) -> None:
        """The format's own placeholders run no code: what was said of them is a note."""
        categories = {Category.UNKNOWN_GLOBAL} | ({Category.UNVERIFIED} if v.as_keys else set())
        findings = self.out.findings
        for i, f in enumerate(findings):
            name = f.global_name or (_key_class(f.message) if v.as_keys else None)
            if name in v.names and f.category in categories:
                findings[i] = replace(f, category=Category.NOTE, message=f"{name}: {v.reason}")

    def reading(self, r: observed.Reading) -> None:
        other = judge_observations(r.observations, self.policy)
        absorb(self.out, self.streams, other, r.view)

    def included(self, inc: observed.Included) -> None:
        inner = judge_observations(inc.observations, self.policy)
        failed = inner.torch_error is not None
        for f in inner.findings if inc.findings else ():
            if failed and inc.failure_hides_damage and f.category in _DAMAGE:
                continue
            if inc.not_a_model_is_broken and f.category is Category.NOT_A_MODEL:
                f = replace(f, category=Category.MALFORMED)
            if inc.prefix:
                f = replace(f, entry=f"{inc.prefix}:{f.entry}" if f.entry else inc.prefix)
            self.out.findings.append(f if inc.keep_view else replace(f, view=""))
        if inc.allowlist:
            self.add_allowlist(inner.allowlist)
        if inc.torch_error and inner.torch_error is not None:
            self.torch_fails(inner.torch_error)
        then = inc.if_torch_fails if failed else inc.if_torch_loads
        if then is not None:
            said = then.message.replace("{error}", inner.torch_error or "")
            self.observation(replace(then, message=said))


_DAMAGE = frozenset({Category.MALFORMED, Category.NOTE})
_HANDLERS: dict[type, Callable[[_Walk, object], None]] = {
    Observation: _Walk.observation,
    observed.TorchFails: _Walk.torch_failure,
    observed.Stream: _Walk.stream,
    observed.AlternateStream: _Walk.alternate,
    observed.TorchProbe: _Walk.probe,
    observed.Dormant: _Walk.dormant,
    observed.Vouched: _Walk.vouched,
    observed.Reading: _Walk.reading,
    observed.Included: _Walk.included,
}  # type: ignore[dict-item]


def _key_class(message: str) -> str | None:
    # The machine's "X(...) used as a dict key ...; cannot tell whether it is hashable":
    # a vouched class (DCP's MetadataIndex, a frozen dataclass) is hashable by its fields.
    head, sep, _ = message.partition("(...) used as a dict key")
    return head if sep else None


# -- the file's verdict ----------------------------------------------------------------
def conclude(
    path: str, format: str, observations: list[Item], size: int, policy: Policy
) -> ScanResult:
    """Verdict = the worst finding; SAFE needs torch to load the file as well."""
    judged = judge_observations(observations, policy)
    verdict = worst(f.verdict for f in judged.findings)
    findings = list(judged.findings)
    if verdict is Verdict.SAFE and judged.torch_error is not None:
        # torch fails for a reason no finding explains: never call that safe.
        findings.append(Finding(Category.MALFORMED, f"torch.load would fail: {judged.torch_error}"))
        verdict = Verdict.MALFORMED
    findings.sort(
        key=lambda f: (-f.verdict.rank, f.entry, f.offset if f.offset is not None else -1)
    )
    return ScanResult(
        path=path,
        format=format,
        verdict=verdict,
        findings=findings,
        torch_error=judged.torch_error,
        allowlist=list(judged.allowlist) if verdict is Verdict.NEEDS_ALLOWLIST else [],
        size=size,
    )


def unreadable(path: str, why: str, size: int = 0, bytes_read: int | None = None) -> ScanResult:
    """Nothing could be read: ``malformed``, saying why."""
    problem = Finding(Category.MALFORMED, f"cannot read file: {why}")
    return _stopped(path, "unreadable", problem, size, bytes_read)


def incomplete(path: str, why: object, size: int, bytes_read: int | None) -> ScanResult:
    """The scan started but could not finish: never better than unknown."""
    problem = Finding(Category.LIMIT, f"the scan could not finish: {why}")
    return _stopped(path, "error", problem, size, bytes_read)


def _stopped(
    path: str, format: str, problem: Finding, size: int, bytes_read: int | None
) -> ScanResult:
    return ScanResult(path, format, problem.verdict, [problem], size=size, bytes_read=bytes_read)


def add_note(result: ScanResult, message: str) -> None:
    """A remark about how the file was read, after the verdict (it changes nothing)."""
    result.findings.append(Finding(Category.NOTE, message))
