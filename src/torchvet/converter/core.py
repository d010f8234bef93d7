"""``convert(IN, OUT)``: a checkpoint's tensors as a safetensors file, without running it.

Pipeline: open the input (scan it; the verdict decides whether to go on; the object
its loader would return) -> select and name tensors -> plan bytes per tensor -> write
a temp file beside OUT and rename it. Everything before the write is
``plan_conversion``, which reads no tensor bytes and writes nothing: the advice
"run torchvet convert" is printed only when it succeeds (converter/advice.py).
Neither torch nor numpy is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.zipreader import ZipError
from torchvet.converter.blobs import BlobError
from torchvet.converter.copier import WriteError, header_for, write
from torchvet.converter.inputs import InputError, Opened, open_input
from torchvet.converter.plan import LOAD_FROM_BYTES, Plans, StorageResolver, plan
from torchvet.converter.select import INCLUDE_CHOICES, Selection, select
from torchvet.converter.walk import Walker
from torchvet.pickle.trace import CallEvent
from torchvet.pickle.values import Const, Instance, Value
from torchvet.policy.judge import Policy
from torchvet.remote.urls import is_url
from torchvet.results import Category, ScanResult, Verdict
from torchvet.scan import scan_source
from torchvet.source import BytesSource

Progress = Callable[[int, int], None]  # (bytes written so far, total tensor bytes)


class ConvertError(Exception):
    """The conversion was refused or failed; the message says why and what to do."""


@dataclass
class ConvertReport:
    source: str
    output: str
    format: str
    verdict: Verdict
    tensors: list[tuple[str, str, list[int]]] = field(default_factory=list)  # name, dtype, shape
    bytes_written: int = 0
    aliases: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    excluded: list[tuple[str, int]] = field(default_factory=list)
    wrapper: str | None = None
    forced: bool = False


@dataclass
class Conversion:
    """What ``convert`` would write, decided without writing or reading tensor bytes."""

    report: ConvertReport
    plans: Plans
    metadata: dict[str, str]


def convert(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    force: bool = False,
    include: Iterable[str] = (),
    unwrap: bool = True,
    strip_prefix: Iterable[str] = (),
    prefix: str = "",
    skip_unsupported: bool = False,
    allow: Iterable[str] = (),
    torch_version: str | None = None,
    progress: Progress | None = None,
) -> ConvertReport:
    """Write the tensors of checkpoint ``source`` (a file, or a torch.distributed.checkpoint
    folder) to ``output`` as safetensors.

    Raises ``ConvertError`` (with a message meant for people) when the file is
    dangerous (unless ``force``), unreadable, holds tensors safetensors cannot store
    (unless ``skip_unsupported``), or ``output`` exists (unless ``force``).
    """
    src_path, out_path = os.fspath(source), os.fspath(output)
    _check_paths(src_path, out_path, force)
    options = PlanOptions(
        force, tuple(include), unwrap, tuple(strip_prefix), prefix, skip_unsupported
    )
    with plan_conversion(src_path, options, allow=allow, torch_version=torch_version) as conv:
        report = conv.report
        report.output = out_path
        try:
            report.bytes_written = write(out_path, conv.plans, conv.metadata, force, progress)
        except WriteError as exc:
            raise ConvertError(str(exc)) from None
        report.tensors = [(p.name, p.target.code, p.header_shape) for p in conv.plans.tensors]
    return report


@dataclass(frozen=True)
class PlanOptions:
    """``convert``'s choices that shape what is written (see ``convert`` for each)."""

    force: bool = False
    include: tuple[str, ...] = ()
    unwrap: bool = True
    strip_prefix: tuple[str, ...] = ()
    prefix: str = ""
    skip_unsupported: bool = False


@contextmanager
def plan_conversion(
    source: str | os.PathLike[str],
    options: PlanOptions = PlanOptions(),
    *,
    allow: Iterable[str] = (),
    torch_version: str | None = None,
) -> Iterator[Conversion]:
    """Everything ``convert`` decides before writing; raises ``ConvertError`` exactly when
    ``convert`` would refuse. The input stays open while the context is active."""
    with open_for_conversion(source, allow=allow, torch_version=torch_version) as opened:
        yield decide(opened, options)


@dataclass
class OpenInput:
    """A scanned input, open, ready for any number of conversion plans."""

    path: str
    policy: Policy
    opened: Opened


@contextmanager
def open_for_conversion(
    source: str | os.PathLike[str],
    *,
    allow: Iterable[str] = (),
    torch_version: str | None = None,
) -> Iterator[OpenInput]:
    """Scan ``source`` once and keep it open (raises ``ConvertError`` if it cannot be read)."""
    src_path = os.fspath(source)
    if not is_url(src_path) and not os.path.exists(src_path):
        raise ConvertError(f"no such file: {src_path}")
    policy = Policy.for_torch(torch_version, tuple(allow))
    ctx = ScanContext(policy, path=src_path)
    with ExitStack() as stack:
        try:
            opened = open_input(src_path, ctx, stack)
        except (InputError, BlobError, ZipError) as exc:
            raise ConvertError(str(exc)) from None
        yield OpenInput(src_path, policy, opened)


def decide(source: OpenInput, options: PlanOptions = PlanOptions()) -> Conversion:
    """The conversion of an open input with these options, or ``ConvertError``."""
    bad = [i for i in options.include if i not in INCLUDE_CHOICES]
    if bad:
        raise ConvertError(f"unknown --include value {bad[0]!r} (choose from {INCLUDE_CHOICES})")
    opened = source.opened
    try:
        report = ConvertReport(
            source.path, "", opened.format, opened.result.verdict, forced=options.force
        )
        _check_danger(opened.scan, opened.result, opened.resolver, options.force)
        walker = Walker(frozenset(source.policy.facts.dtypes), opened.arrays)
        sel = select(opened.root, walker, options.include, options.unwrap)
        plans = plan(
            sel.walk.tensors, opened.resolver, _renamer(options.strip_prefix, options.prefix)
        )
    except (InputError, BlobError, ZipError) as exc:
        raise ConvertError(str(exc)) from None
    _fill_report(report, sel, plans)
    _check_plans(plans, report, options.skip_unsupported)
    metadata = _metadata(sel, plans, report)
    try:
        header_for(plans, metadata)
    except WriteError as exc:
        raise ConvertError(str(exc)) from None
    return Conversion(report, plans, metadata)


# ------------------------------------------------------------------------- steps
def _check_paths(src: str, out: str, force: bool) -> None:
    remote = is_url(src)
    if not remote and not os.path.exists(src):
        raise ConvertError(f"no such file: {src}")
    if os.path.isdir(out):
        raise ConvertError(f"{out} is a directory; give the output file's name")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise ConvertError(f"the output folder {parent} does not exist")
    if os.path.exists(out):
        if not remote and os.path.samefile(src, out):
            raise ConvertError("the output would overwrite the input")
        if not force:
            raise ConvertError(f"{out} exists; pass --force to replace it")


def _check_danger(
    scan: ContainerScan, result: ScanResult, resolver: StorageResolver, force: bool
) -> None:
    if result.verdict is not Verdict.DANGEROUS or force:
        return
    gadgets = [f for f in result.findings if f.category is Category.GADGET]
    if gadgets and all(f.global_name == LOAD_FROM_BYTES for f in gadgets):
        # pickle.dumps(tensor) stores each storage as a nested legacy file loaded by
        # torch.storage._load_from_bytes: dangerous for torch.load, but torchvet reads
        # the payloads itself. Go on if every payload is a plain storage and benign.
        problem = _nested_problem(scan, resolver)
        if problem is None:
            return
        raise ConvertError(f"refused: {problem}")
    lines = [f"  {f.global_name or ''}: {f.message}" for f in gadgets[:10]]
    raise ConvertError(
        "refused: the scanner rates this file dangerous (it names code-execution "
        "gadgets):\n" + "\n".join(lines) + "\nDo not load it. Pass --force only to extract "
        "the tensors for analysis; nothing in the file is run either way."
    )


def _nested_problem(scan: ContainerScan, resolver: StorageResolver) -> str | None:
    for trace in scan.streams:
        for event in trace.events:
            if not (isinstance(event, CallEvent) and event.call.target == LOAD_FROM_BYTES):
                continue
            args = event.call.args
            if not (len(args) == 1 and isinstance(args[0], Const)):
                return f"{LOAD_FROM_BYTES} is called with a computed argument"
            payload = args[0].value
            if not isinstance(payload, bytes):
                return f"{LOAD_FROM_BYTES} is called with a non-bytes argument"
            nested = scan_source(BytesSource(payload), Policy.for_torch(), "<nested>")
            if nested.verdict is Verdict.DANGEROUS:
                return f"a nested {LOAD_FROM_BYTES} payload is itself dangerous"
            probe = resolver.nested_storage(_obj_of(event))
            if probe is None:
                return f"a nested {LOAD_FROM_BYTES} payload is not a plain storage"
    return None


def _obj_of(event: CallEvent) -> Value:
    return Instance(event.call.pos, None, event.call)


def _renamer(strip: tuple[str, ...], prefix: str) -> Callable[[str], str]:
    def rename(name: str) -> str:
        for p in strip:
            if p and name.startswith(p):
                name = name[len(p) :]
                break
        return prefix + name if name else prefix.rstrip(".") or "tensor"

    return rename


def _fill_report(report: ConvertReport, sel: Selection, plans: Plans) -> None:
    report.wrapper = sel.wrapper
    report.excluded = sel.excluded
    report.dropped = list(sel.walk.dropped)
    report.aliases = dict(plans.aliases)


def _check_plans(plans: Plans, report: ConvertReport, skip: bool) -> None:
    names = [p.name for p in plans.tensors] + list(plans.aliases)
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ConvertError(
                f"two tensors would both be named {n!r}; use --prefix/--strip-prefix "
                "or --no-unwrap to keep them apart"
            )
        seen.add(n)
    if plans.unsupported and not skip:
        lines = [f"  {name}: {why}" for name, why in plans.unsupported[:20]]
        more = len(plans.unsupported) - 20
        if more > 0:
            lines.append(f"  ... and {more} more")
        raise ConvertError(
            "refused: safetensors cannot hold these tensors:\n"
            + "\n".join(lines)
            + "\nPass --skip-unsupported to write the others and list these as skipped."
        )
    report.skipped = list(plans.unsupported)
    if not plans.tensors:
        if plans.unsupported:
            raise ConvertError(
                "no tensors to write: every tensor is one safetensors cannot hold ("
                + "; ".join(f"{n}: {why}" for n, why in plans.unsupported[:5])
                + ")"
            )
        raise ConvertError(
            "no tensors to write"
            + (
                f" (left out: {', '.join(n for n, _ in report.excluded)}; see --include)"
                if report.excluded
                else ""
            )
        )


def _metadata(sel: Selection, plans: Plans, report: ConvertReport) -> dict[str, str]:
    # "format": "pt" is what transformers expects of any safetensors file with metadata.
    meta: dict[str, str] = {"format": "pt"}
    for alias, kept in plans.aliases.items():
        meta[alias] = kept
    for key, value in sel.walk.metadata.items():
        if key in meta:
            report.dropped.append((key, "its name is taken by a tensor alias or 'format'"))
            continue
        meta[key] = value
    report.metadata = {k: v for k, v in meta.items() if k not in plans.aliases}
    return meta
