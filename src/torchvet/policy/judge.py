"""Turn a stream trace into findings: the allowlist decides, the catalogs explain.

A name is acceptable only if torch's weights-only allowlist (for the chosen torch
version, plus what ``import torch`` itself adds, plus the user's ``--allow``) holds
it exactly (:class:`torchvet.policy.names.NameRule`, shared with ``torchvet.guard``).
Everything else is refused; the gadget, inert and reflective catalogs only say *how
bad* the refusal is and what to do about it. A dotted or dunder name is an attribute
chain walked at load time: it is judged by what it can reach and is never inert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from torchvet.pickle.torchfacts import TorchFacts, class_repr, load_facts
from torchvet.pickle.trace import CallEvent, GlobalRef, Issue, IssueKind, StreamTrace, TypeUse
from torchvet.pickle.values import GlobalName
from torchvet.policy.catalog import (
    UNBUILDABLE_MODULES,
    gadget_reason,
    inert_reason,
    inert_type_reason,
    reflective_reason,
)
from torchvet.policy.names import NameRule, cpython_resolutions, is_attribute_chain
from torchvet.results import Category, Finding

_ISSUE_CATEGORY = {
    IssueKind.DECODE: Category.MALFORMED,
    IssueKind.LIMIT: Category.LIMIT,
    IssueKind.OPCODE: Category.UNSUPPORTED_FORM,
    IssueKind.STRUCTURE: Category.UNSUPPORTED_STRUCTURE,
    IssueKind.INVALID: Category.MALFORMED,
    IssueKind.UNVERIFIED: Category.UNVERIFIED,
    IssueKind.DYNAMIC: Category.GADGET,
    IssueKind.NOTE: Category.NOTE,
    IssueKind.RESOURCE: Category.RESOURCE,
}
# Issues after which torch's load has certainly failed (UNVERIFIED and DYNAMIC are
# not: torch may or may not fail there; a DYNAMIC chain fails earlier at its GLOBAL;
# a LIMIT is torchvet's own bound, which says nothing about torch).
_TORCH_FATAL = frozenset(
    {IssueKind.DECODE, IssueKind.OPCODE, IssueKind.STRUCTURE, IssueKind.INVALID}
)
_MAX_PER_KIND = 20  # repeated issues of one kind in one stream are summarised


@dataclass(frozen=True)
class Policy:
    """What counts as allowed: torch's allowlist for one version plus the user's additions."""

    facts: TorchFacts
    user_allow: frozenset[str] = frozenset()

    @classmethod
    def for_torch(cls, torch_version: str | None = None, allow: tuple[str, ...] = ()) -> Policy:
        return cls(load_facts(torch_version), frozenset(allow))

    @cached_property
    def rule(self) -> NameRule:
        """The exact names torch resolves: its allowlist, its import-time additions, --allow."""
        return NameRule.for_torch(self.facts, self.user_allow)

    def allows(self, module: str, name: str) -> bool:
        """A GLOBAL ``module name`` is exactly an allowed object."""
        return self.rule.allows(module, name)

    def allowed(self, name: str) -> bool:
        """A runtime type or call target (a qualified name torchvet computed) is allowed."""
        return self.rule.allows_type(name)

    def blocked(self, module: str) -> bool:
        return module in self.facts.blocked_modules


def unsupported_global_message(full_path: str, facts: TorchFacts | None = None) -> str:
    """torch's message for a refused GLOBAL (it drops a leading ``builtins.``)."""
    if full_path.startswith("builtins"):
        rest = full_path[len("builtins") :]
        full_path = rest[1:] if rest.startswith(".") else "builtins" + rest
    return (facts or load_facts()).message("unsupported_global", name=full_path)


@dataclass
class Judgement:
    findings: list[Finding] = field(default_factory=list)
    torch_error: str | None = None  # torch's first error for this stream
    allowlist: list[str] = field(default_factory=list)  # inert names, first-use order


class _Collector:
    def __init__(self, entry: str) -> None:
        self.entry = entry
        self.judgement = Judgement()
        self._seen: dict[tuple[Category, str], int] = {}
        self._per_kind: dict[Category, int] = {}

    def fatal(self, message: str) -> None:
        if self.judgement.torch_error is None:
            self.judgement.torch_error = message

    def add(self, category: Category, message: str, pos: int | None, name: str | None) -> None:
        key = (category, name or message)
        if name is not None and key in self._seen:
            return
        count = self._per_kind.get(category, 0)
        self._per_kind[category] = count + 1
        if name is None and count >= _MAX_PER_KIND:
            return
        self._seen[key] = len(self.judgement.findings)
        self.judgement.findings.append(Finding(category, message, self.entry, pos, name))

    def finish(self) -> Judgement:
        for category, count in self._per_kind.items():
            if count > _MAX_PER_KIND:
                self.judgement.findings.append(
                    Finding(
                        Category.NOTE,
                        f"... and {count - _MAX_PER_KIND} more {category.value} findings",
                        self.entry,
                    )
                )
        return self.judgement


def judge(trace: StreamTrace, policy: Policy) -> Judgement:
    out = _Collector(trace.entry)
    for event in trace.events:
        if isinstance(event, GlobalRef):
            _judge_global(out, policy, event)
        elif isinstance(event, TypeUse):
            _judge_type(out, policy, event)
        elif isinstance(event, CallEvent):
            _judge_call(out, policy, event)
        elif isinstance(event, Issue):
            category = _ISSUE_CATEGORY[event.kind]
            if event.kind in _TORCH_FATAL:
                out.fatal(event.torch_message or event.message)
            out.add(category, event.message, event.pos, event.global_name)
    return out.finish()


def _judge_global(out: _Collector, policy: Policy, g: GlobalRef) -> None:
    name = g.qualname
    facts = policy.facts
    if policy.blocked(g.module):
        out.fatal(facts.message("blocked_module", name=name, module=g.module))
        reason = gadget_reason(name) or f"module {g.module} is blocked by torch"
        out.add(Category.GADGET, f"{name}: {reason}", g.pos, name)
        return
    if policy.allows(g.module, g.name):
        return
    chain = is_attribute_chain(g.name)
    reason = _global_gadget(g, chain)
    out.fatal(facts.must_import.get(name) or unsupported_global_message(name, facts))
    if chain and reason is None:
        out.add(
            Category.UNKNOWN_GLOBAL,
            f"{name}: an attribute chain ({g.name!r} walked from module {g.module}) resolved "
            "at load time; torchvet cannot vouch for what it reaches",
            g.pos,
            name,
        )
        return
    _explain_refused(
        out,
        name,
        g.pos,
        reason,
        inert_reason(g.module, g.name),
        inert_note="refused by torch's allowlist",
        unknown_note="a class or function torchvet cannot vouch for (loading it runs its code)",
        reflective=True,
    )


def _global_gadget(g: GlobalRef, chain: bool) -> str | None:
    """A gadget reached by the name as torch maps it or as CPython's unpicklers map it."""
    reason = gadget_reason(g.qualname, resolved=chain)
    if reason is not None:
        return reason
    for module, name in cpython_resolutions(*g.raw):
        reason = gadget_reason(f"{module}.{name}", resolved=is_attribute_chain(name))
        if reason is not None:
            return f"{reason} (CPython's unpicklers import {module}.{name})"
    return None


def _judge_type(out: _Collector, policy: Policy, t: TypeUse) -> None:
    name = t.type_name
    if policy.allowed(name):
        return
    out.fatal(policy.facts.message("BUILD", type=class_repr(name)))
    if name.rpartition(".")[0] in UNBUILDABLE_MODULES:
        out.add(
            Category.UNSUPPORTED_STRUCTURE,
            f"BUILD applies state to a {name} instance, which has neither __dict__ nor "
            "__setstate__: torch fails there even if the type is allowlisted",
            t.pos,
            name,
        )
        return
    _explain_refused(
        out,
        name,
        t.pos,
        gadget_reason(name),
        inert_type_reason(name),
        inert_note="BUILD needs this type allowlisted (it never appears as a global)",
        unknown_note="instance state applied by BUILD; torchvet cannot vouch for this type",
        reflective=False,
    )


def _explain_refused(
    out: _Collector,
    name: str,
    pos: int,
    gadget: str | None,
    inert: str | None,
    inert_note: str,
    unknown_note: str,
    reflective: bool,
) -> None:
    """Say why a name torch refuses is refused: gadget, inert (goes on the printed
    allowlist), reflective, or unknown."""
    if gadget is not None:
        out.add(Category.GADGET, f"{name}: {gadget}", pos, name)
        return
    if inert is not None:
        out.add(Category.INERT_GLOBAL, f"{name}: {inert}; {inert_note}", pos, name)
        if name not in out.judgement.allowlist:
            out.judgement.allowlist.append(name)
        return
    why = reflective_reason(name) if reflective else None
    out.add(Category.UNKNOWN_GLOBAL, f"{name}: {why or unknown_note}", pos, name)


def _judge_call(out: _Collector, policy: Policy, event: CallEvent) -> None:
    call = event.call
    target = call.target
    if target is None:
        return
    func = call.func
    if isinstance(func, GlobalName):
        if policy.allows(func.module, func.name):
            return
        resolved = is_attribute_chain(func.name)
    else:
        resolved = True
    reason = gadget_reason(target, resolved=resolved)
    if reason is not None:
        out.add(Category.GADGET, f"calls {target}: {reason}", call.pos, target)
    elif resolved and not policy.allowed(target):
        out.add(
            Category.UNKNOWN_GLOBAL,
            f"calls {target}, reached at load time through an attribute or import chain",
            call.pos,
            target,
        )
