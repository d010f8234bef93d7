"""Benchmark `torchvet lint` against Ruff, Bandit and Semgrep (TorchFix on request), side by side.

    bash benchmarks/setup_peers.sh bandit semgrep   # peer venvs, exact pins
    python benchmarks/lint.py                       # print the section
    python benchmarks/lint.py --write benchmarks/RESULTS.md

Every tool runs as a whole process (start-up included) over the same real ML code:
the sdists of transformers, diffusers, pytorch-lightning, timm and pytorch-ignite at
the versions in CORPUS (downloaded once with `pip download --no-deps --no-binary :all:`
into benchmarks/.work/ and unpacked there), beside the installed sources of torch and
sympy (found without importing them). Time is wall time, best of --repeat runs (tools
that take minutes run --slow-repeat times). Accuracy is precision and recall per rule
on the hand-labelled cases in benchmarks/lint_labelled/ (see its README).

Ruff is the one on PATH (the project's pinned version); Bandit, Semgrep and TorchFix
come from $PEER_VENVS/<tool>/bin (default /work/peer-venvs). A tool that is missing is
reported as such, not faked.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LABELLED = HERE / "lint_labelled"
SEMGREP_RULES = HERE / "semgrep" / "lint-rules.yml"
TREES = ("torch", "sympy")
# Real ML code as pip downloads it: (distribution, version).
CORPUS = (
    ("transformers", "5.24.0"),
    ("diffusers", "0.42.1"),
    ("pytorch-lightning", "2.6.6"),
    ("timm", "1.0.31"),
    ("pytorch-ignite", "0.5.5"),
)
WORK = HERE / ".work"
DOWNLOADS = WORK / "lint-dl"
CORPUS_DIR = WORK / "lint-corpus"

# Which torchvet rules each peer's codes correspond to; the first is the one a false
# alarm is charged to.
PEER_RULES = {
    "bandit": {"B614": ("TV002", "TV003", "TV005"), "B301": ("TV101", "TV102", "TV104")},
    "ruff": {"S301": ("TV101", "TV102", "TV104")},
    "torchfix": {"TOR102": ("TV002",)},
}
_LABEL = re.compile(r"# expect: ([A-Z0-9, ]+?)(?:; allow: ([A-Z0-9, ]+))?\s*(?:\"|\\n|$)")
_TORCHFIX_LINE = re.compile(r"^(.+?):(\d+):(\d+): (TOR\d+)")


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the scanned root
    cell: int | None
    line: int
    codes: tuple[str, ...]  # torchvet rules it stands for


@dataclass
class ToolRun:
    name: str
    seconds: float | None = None
    findings: list[Finding] = field(default_factory=list)
    raw_codes: Counter = field(default_factory=Counter)
    error: str = ""


# --- running tools ------------------------------------------------------------------


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def download_command() -> list[str]:
    pins = [f"{name}=={version}" for name, version in CORPUS]
    return [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "-d", str(DOWNLOADS), *pins,
    ]  # fmt: skip


def prepare_corpus() -> list[Path]:
    """Download (once) and unpack the pinned sdists; the unpacked folders."""
    import tarfile

    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    wanted = {name.replace("-", "_").lower(): version for name, version in CORPUS}
    have = {p.name.split("-")[0].lower(): p for p in DOWNLOADS.glob("*.tar.gz")}
    if not all(name in have and version in have[name].name for name, version in wanted.items()):
        subprocess.run(download_command(), check=True)
    folders = []
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    for archive in sorted(DOWNLOADS.glob("*.tar.gz")):
        folder = CORPUS_DIR / archive.name.removesuffix(".tar.gz")
        if not folder.exists():
            with tarfile.open(archive) as tar:
                tar.extractall(CORPUS_DIR, filter="data")
        folders.append(folder)
    return folders


def tool_path(name: str, peers: Path) -> str:
    if name == "ruff":
        return shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return str(peers / name / "bin" / name)


def commands(peers: Path, paths: list[str]) -> dict[str, list[str]]:
    torchvet = [sys.executable, "-m", "torchvet", "lint", "--format", "json", "--exit-zero", "-q"]
    return {
        "torchvet": [*torchvet, *paths],
        "ruff": [
            tool_path("ruff", peers), "check", "--no-cache", "--isolated", "--select", "S",
            "--exit-zero", "--output-format", "json", *paths,
        ],
        "bandit": [
            tool_path("bandit", peers), "-q", "-t", "B614,B301", "-f", "json", "-r", *paths,
        ],
        "semgrep": [
            tool_path("semgrep", peers), "scan", "--config", str(SEMGREP_RULES), "--metrics=off",
            "--disable-version-check", "--json", "--quiet", "--no-git-ignore",
            "--max-target-bytes", "0", *paths,
        ],
        "torchfix": [tool_path("torchfix", peers), "--select", "TOR102", *paths],
    }  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ, SEMGREP_ENABLE_VERSION_CHECK="0", SEMGREP_SEND_METRICS="off")
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_tool(name: str, argv: list[str], root: Path, repeat: int) -> ToolRun:
    run = ToolRun(name)
    if not Path(argv[0]).exists():
        run.error = f"not installed ({argv[0]})"
        return run
    best = None
    out = ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            argv, cwd=root, capture_output=True, text=True, env=_env(), check=False
        )
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
        out = done.stdout
        if done.returncode not in (0, 1) and not out:
            run.error = f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
            return run
    run.seconds = best
    try:
        parse(run, out, root)
    except (ValueError, KeyError) as exc:
        run.error = f"unreadable output: {exc}"
    return run


def _relative(path: str, root: Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            return candidate.as_posix()
    return candidate.as_posix().removeprefix("./")


def parse(run: ToolRun, out: str, root: Path) -> None:
    add = run.findings.append
    if run.name == "torchvet":
        for r in json.loads(out or "[]"):
            run.raw_codes[r["code"]] += 1
            add(Finding(_relative(r["path"], root), r["cell"], r["line"], (r["code"],)))
    elif run.name == "bandit":
        for r in json.loads(out)["results"]:
            run.raw_codes[r["test_id"]] += 1
            codes = PEER_RULES["bandit"].get(r["test_id"], ())
            add(Finding(_relative(r["filename"], root), None, r["line_number"], codes))
    elif run.name == "ruff":
        for r in json.loads(out or "[]"):
            code = r.get("code") or "?"
            run.raw_codes[code] += 1
            codes = PEER_RULES["ruff"].get(code, ())
            add(Finding(_relative(r["filename"], root), r.get("cell"), r["location"]["row"], codes))
    elif run.name == "torchfix":
        for line in out.splitlines():
            match = _TORCHFIX_LINE.match(line)
            if match:
                code = match.group(4)
                run.raw_codes[code] += 1
                codes = PEER_RULES["torchfix"].get(code, ())
                add(Finding(_relative(match.group(1), root), None, int(match.group(2)), codes))
    elif run.name == "semgrep":
        for r in json.loads(out)["results"]:
            rule = r["check_id"].rsplit(".", 1)[-1]
            code = rule.split("-", 1)[0].upper()
            run.raw_codes[code] += 1
            add(Finding(_relative(r["path"], root), None, r["start"]["line"], (code,)))


# --- accuracy on the labelled set --------------------------------------------------------


def labels(root: Path) -> tuple[dict, dict]:
    """(path, cell, line) -> expected codes, and -> allowed codes."""
    expected: dict = {}
    allowed: dict = {}

    def record(key, text):
        match = _LABEL.search(text)
        if match:
            expected[key] = {c.strip() for c in match.group(1).split(",") if c.strip()}
            allowed[key] = {c.strip() for c in (match.group(2) or "").split(",") if c.strip()}

    for path in sorted(root.iterdir()):
        rel = path.name
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            for index, cell in enumerate(cells, start=1):
                source = "".join(cell.get("source", []))
                for number, text in enumerate(source.split("\n"), start=1):
                    record((rel, index, number), text)
        elif path.is_file():
            for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                record((rel, None, number), text)
    return expected, allowed


def accuracy(run: ToolRun, expected: dict, allowed: dict) -> dict[str, tuple[int, int, int]]:
    """rule -> (true positives, false positives, false negatives), for rules the tool shares."""
    if run.name == "torchvet":
        shared = {code for codes in expected.values() for code in codes}
    elif run.name == "semgrep":
        shared = {line["id"].split("-", 1)[0].upper() for line in _semgrep_rule_ids()}
    else:
        shared = {rule for codes in PEER_RULES[run.name].values() for rule in codes}
    found: dict = defaultdict(set)
    tp: Counter = Counter()
    fp: Counter = Counter()
    for f in run.findings:
        if not f.codes:
            continue
        key = (f.path, f.cell, f.line)
        hit = set(f.codes) & expected.get(key, set())
        if hit:
            for code in hit:
                if code not in found[key]:
                    found[key].add(code)
                    tp[code] += 1
        elif not set(f.codes) & allowed.get(key, set()):
            fp[f.codes[0]] += 1
    result = {}
    for rule in sorted(shared):
        wanted = sum(1 for codes in expected.values() if rule in codes)
        result[rule] = (tp[rule], fp[rule], wanted - tp[rule])
    return result


def _semgrep_rule_ids() -> list[dict]:
    ids = re.findall(r"^\s*- id: (\S+)", SEMGREP_RULES.read_text(encoding="utf-8"), re.MULTILINE)
    return [{"id": i} for i in ids]


# --- report ------------------------------------------------------------------------------


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, env=_env(), check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine_facts() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load:.2f} at start"
    )


def pct(numerator: int, denominator: int) -> str:
    return "–" if denominator == 0 else f"{100 * numerator / denominator:.0f}%"


def render(args, trees, counts, runs, acc, versions) -> str:
    ruff = runs.get("ruff")
    py_files = counts[".py"]
    lines = [
        "## lint",
        "",
        f"Command: `{args.command_line}`",
        "",
        f"Machine: {machine_facts()}.",
        "",
        "Corpus: the sdists of "
        + ", ".join(f"{name} {version}" for name, version in CORPUS)
        + ", fetched with `"
        + " ".join(["python", *download_command()[1:]]).replace(str(REPO) + "/", "")
        + "` and unpacked into `benchmarks/.work/lint-corpus/`, beside the installed "
        + " and ".join(f"`{t}`" for t in trees)
        + f": {py_files} .py files, {counts['.ipynb']} notebooks, "
        f"{counts['.md']} Markdown and {counts['.rst']} reST files.",
        "Whole process, wall time, best of "
        f"{args.repeat} (torchvet, Ruff) or {args.slow_repeat} (Bandit, Semgrep, TorchFix) runs.",
        "",
        "| tool | version | seconds | .py files/s | × Ruff's time | findings |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for name, run in runs.items():
        if run.seconds is None:
            lines.append(f"| {name} | {versions.get(name, '?')} | – | – | – | {run.error} |")
            continue
        ratio = run.seconds / ruff.seconds if ruff and ruff.seconds else float("nan")
        found = ", ".join(f"{code} {count}" for code, count in sorted(run.raw_codes.items()))
        if name == "ruff":
            s301 = run.raw_codes.get("S301", 0)
            found = f"{sum(run.raw_codes.values())} S-rule findings, of which S301 {s301}"
        lines.append(
            f"| {name} | {versions.get(name, '?')} | {run.seconds:.2f} | "
            f"{py_files / run.seconds:,.0f} | {ratio:.2f}× | {found or 'none'} |"
        )
    lines += [
        "",
        "Goal: torchvet within 1.5× Ruff's time (`ruff check --select S --isolated "
        "--no-cache`), stretch 1×.",
        "",
        "Accuracy on `benchmarks/lint_labelled/` (precision / recall, TP FP FN), per rule a",
        "tool shares with torchvet (peer codes mapped: B614 → TV002/TV003/TV005, "
        "B301 and S301 → TV101/TV102/TV104, TOR102 → TV002; Semgrep runs local rules "
        "written for this benchmark in `benchmarks/semgrep/lint-rules.yml`):",
        "",
        "| rule | " + " | ".join(runs) + " |",
        "| --- | " + " | ".join("---" for _ in runs) + " |",
    ]
    rules = sorted({rule for per_tool in acc.values() for rule in per_tool})
    for rule in rules:
        cells = []
        for name in runs:
            if rule not in acc.get(name, {}):
                cells.append("")
                continue
            tp, fp, fn = acc[name][rule]
            cells.append(f"{pct(tp, tp + fp)} / {pct(tp, tp + fn)} ({tp} {fp} {fn})")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Notes: the machine may be shared with other jobs (see the load average); best-of-N",
        "runs soften that. torchvet also reads the Markdown, reST and notebooks in the trees",
        "(the peers read `.py`, Ruff also `.ipynb`). In the labelled set, the TV001 cases in a",
        "sphinx-gallery comment block, a Markdown fence and a notebook are invisible to tools",
        "that read only `.py` code; `allow:` labels mark findings counted neither way.",
        "",
    ]
    return "\n".join(lines)


def write_section(target: Path, section: str) -> None:
    text = target.read_text(encoding="utf-8") if target.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## lint\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    target.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--peer-venvs", type=Path, default=Path(os.environ.get("PEER_VENVS", "/work/peer-venvs"))
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--slow-repeat", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="run just these tools")
    parser.add_argument("--with-torchfix", action="store_true", help="also TorchFix (~15 min)")
    parser.add_argument("--write", type=Path, help="update the `## lint` section of this file")
    args = parser.parse_args()
    args.command_line = "python benchmarks/lint.py" + (
        f" --write {args.write}" if args.write else ""
    )
    found = [package_dir(name) for name in TREES]
    trees = [*prepare_corpus(), *(path for path in found if path is not None)]
    counts = Counter(p.suffix for tree in trees for p in tree.rglob("*") if p.is_file())
    paths = [str(tree) for tree in trees]
    tree_cmds = commands(args.peer_venvs, paths)
    label_cmds = commands(args.peer_venvs, ["."])
    expected, allowed = labels(LABELLED)
    runs: dict[str, ToolRun] = {}
    acc: dict[str, dict] = {}
    versions: dict[str, str] = {"torchvet": "this tree"}
    for name in tree_cmds:
        if (args.only and name not in args.only) or (name == "torchfix" and not args.with_torchfix):
            continue
        binary = tree_cmds[name][0]
        if name != "torchvet":
            versions[name] = _version([binary, "--version"]) if Path(binary).exists() else "missing"
        repeat = args.repeat if name in ("torchvet", "ruff") else args.slow_repeat
        print(f"running {name} on the corpus ...", file=sys.stderr)
        runs[name] = run_tool(name, tree_cmds[name], REPO, repeat)
        labelled = run_tool(name, label_cmds[name], LABELLED, 1)
        if labelled.error:
            runs[name].error = runs[name].error or labelled.error
        else:
            acc[name] = accuracy(labelled, expected, allowed)
    shown = [f"site-packages/{tree.name}" for tree in trees if tree.name in TREES]
    section = render(args, shown, counts, runs, acc, versions)
    if args.write:
        write_section(args.write, section)
    print(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
