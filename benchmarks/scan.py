"""Scan benchmark: torchvet and peer scanners side by side, whole processes, one run.

Sections (all by default, pick with --sections):

* ``dir``   — each tool scans the whole corpus directory in one process: wall time,
              peak RSS, files it reports;
* ``agree`` — each tool runs once per labelled file: recall on malicious files, false
              alarms on weights_only-loadable benign files, crashes, clean-on-malformed;
* ``size``  — each tool on a big (~1.5 GB) and a small (~400 kB) state_dict checkpoint,
              median of N runs: the big/small ratio shows whether cost follows the pickle
              or the tensor bytes.

Ratios are relative to torchvet when it is available. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import peers

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_TOOLS = ["torchvet", "picklescan", "modelscan", "fickling", "fickling-api"]
DEFAULT_TOOLS += ["modelaudit", "modelaudit-torch"]
SECTIONS = ("dir", "agree", "size")


# ---- set-up ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, help="directory of model files (default: build one)")
    p.add_argument("--labels", type=Path, help="JSON: file name -> {weights_only_ok, malicious}")
    p.add_argument("--tools", default=",".join(DEFAULT_TOOLS), help="comma-separated subset")
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated: dir,agree,size")
    p.add_argument("--quick", action="store_true", help="smoke run: small corpus, 1 repeat, 64 MB")
    p.add_argument("--out", type=Path, help="write the Markdown section here (+ .json beside it)")
    p.add_argument("--json", type=Path, help="JSON results path (default: OUT with .json)")
    p.add_argument("--timeout", type=float, default=600.0, help="per-process timeout, seconds")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median)")
    p.add_argument("--big-mb", type=int, default=1536, help="size of the big checkpoint")
    p.add_argument("--jobs", type=int, default=2, help="parallel per-file runs (agree only)")
    p.add_argument("--work-dir", type=Path, default=HERE / ".work", help="generated files")
    p.add_argument(
        "--peer-venvs", type=Path, default=Path(os.environ.get("PEER_VENVS", "/work/peer-venvs"))
    )
    p.add_argument("--torchvet-repo", type=Path, default=Path(__file__).resolve().parents[1])
    p.add_argument(
        "--python",
        type=Path,
        default=Path(sys.executable),
        help="python with torch; runs torchvet and generates checkpoints (default: this one)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.big_mb = 1, min(args.big_mb, 64)
    args.tools = [t for t in args.tools.split(",") if t]
    args.sections = [s for s in args.sections.split(",") if s]
    if bad := set(args.sections) - set(SECTIONS):
        p.error(f"unknown section(s): {', '.join(sorted(bad))}")
    return args


def machine_facts(python: Path) -> dict[str, object]:
    mem_kib = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    pyver = subprocess.run([str(python), "-V"], capture_output=True, text=True).stdout.strip()
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": nproc,
        "mem_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "harness_python": platform.python_version(),
        "torchvet_python": pyver,
    }


def load_labels(path: Path) -> dict[str, dict[str, bool]]:
    raw = json.loads(path.read_text())
    if isinstance(raw, list):  # scripts/build_corpus.py's manifest.json
        return {
            rec["path"]: {
                "weights_only_ok": bool(rec["weights_only"]["ok"]),
                # a payload counts as malicious when it really fires under its loader
                "malicious": rec["kind"] == "malicious" and bool(rec.get("fires")),
                "malformed": rec.get("expected_verdict") == "malformed",
            }
            for rec in raw
        }
    labels = {}
    for name, lab in raw.items():
        malformed = bool(lab.get("malformed")) or "malformed" in (
            str(lab.get("kind", "")),
            str(lab.get("category", "")),
        )
        labels[name] = {
            "weights_only_ok": bool(lab.get("weights_only_ok")),
            "malicious": bool(lab.get("malicious")),
            "malformed": malformed,
        }
    return labels


def resolve_corpus(args: argparse.Namespace) -> tuple[Path, dict[str, dict[str, bool]], str]:
    """Return (directory to scan, labels, how it was obtained)."""
    if args.corpus:
        candidates = [args.labels] if args.labels else []
        candidates += [args.corpus / n for n in ("labels.json", "manifest.json")]
        candidates += [args.corpus.parent / "labels.json"]
        labels_path = next((c for c in candidates if c and c.is_file()), None)
        if labels_path is None:
            raise SystemExit(f"no labels for {args.corpus}: pass --labels FILE")
        return args.corpus, load_labels(labels_path), f"given: {args.corpus}"
    builder = next(
        (
            r / "scripts" / "build_corpus.py"
            for r in (args.torchvet_repo, REPO)
            if (r / "scripts" / "build_corpus.py").is_file()
        ),
        None,
    )
    if builder and not args.quick:
        out = args.work_dir / "corpus"
        # scripts/build_corpus.py DIR writes the files and DIR/manifest.json (with the
        # torch oracle's results).
        if not (out / "manifest.json").is_file():
            subprocess.run(
                [str(args.python), str(builder), str(out)], check=True, stdout=subprocess.DEVNULL
            )
        return out, load_labels(out / "manifest.json"), f"built by {builder}"
    out = args.work_dir / "smoke-corpus"
    subprocess.run(
        [str(args.python), str(HERE / "smoke_corpus.py"), str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    why = "--quick" if args.quick else "scripts/build_corpus.py not found"
    return out / "files", load_labels(out / "labels.json"), f"smoke corpus ({why})"


def label_for(rel: str, labels: dict[str, dict[str, bool]]) -> dict[str, bool] | None:
    return labels.get(rel) or labels.get(Path(rel).name)


# ---- sections -------------------------------------------------------------------------


def _mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def run_dir(tools: list[peers.Tool], corpus: Path, args: argparse.Namespace) -> dict:
    n_files = sum(1 for p in corpus.rglob("*") if p.is_file())
    out: dict[str, dict] = {"corpus_files": n_files, "tools": {}}
    for tool in tools:
        runs = []
        for _ in range(args.repeats):
            res, parsed = tool.run([corpus], timeout_s=args.timeout, sample_tree_rss=True)
            runs.append((res, parsed))
            if parsed.outcome == peers.CRASH:
                break  # a crash will not get better by repeating
        res, parsed = runs[-1]
        out["tools"][tool.name] = {
            "wall_s": round(statistics.median(r.wall_s for r, _ in runs), 3),
            "walls": [round(r.wall_s, 3) for r, _ in runs],
            "max_rss_mib": _mib(max(r.max_rss_kib for r, _ in runs)),
            "peak_tree_rss_mib": _mib(max((r.peak_tree_rss_kib or 0) for r, _ in runs)),
            "rss_source": res.rss_source,
            "files_reported": parsed.files_reported,
            "outcome": parsed.outcome,
            "detail": parsed.detail,
            "exit": res.returncode,
            "per_file_processes": not tool.dir_mode,
        }
        print(
            f"[dir] {tool.name}: {out['tools'][tool.name]['wall_s']} s {parsed.outcome}",
            file=sys.stderr,
        )
    return out


def run_agree(
    tools: list[peers.Tool], corpus: Path, labels: dict, args: argparse.Namespace
) -> dict:
    files = sorted(p for p in corpus.rglob("*") if p.is_file())
    labelled = [(p, p.relative_to(corpus).as_posix()) for p in files]
    labelled = [(p, rel, lab) for p, rel in labelled if (lab := label_for(rel, labels))]
    unlabelled = len(files) - len(labelled)
    jobs = [(t, p, rel) for t in tools for p, rel, _ in labelled]

    def one(job: tuple[peers.Tool, Path, str]) -> tuple[str, str, dict]:
        tool, path, rel = job
        _, parsed = tool.run([path], timeout_s=args.timeout)
        return tool.name, rel, {"outcome": parsed.outcome, "detail": parsed.detail}

    matrix: dict[str, dict[str, dict]] = {t.name: {} for t in tools}
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for name, rel, cell in pool.map(one, jobs):
            matrix[name][rel] = cell
    summary = {}
    for tool in tools:
        cells = matrix[tool.name]
        s = {
            k: 0
            for k in (
                "malicious",
                "recall",
                "mal_clean",
                "benign_ok",
                "false_alarms",
                "benign_other",
                "other_flagged",
                "malformed",
                "malformed_clean",
                "crashes",
                "errors",
                "skipped",
            )
        }
        lists: dict[str, list[str]] = {"missed": [], "false_alarm": [], "crashed": []}
        for _, rel, lab in labelled:
            o = cells[rel]["outcome"]
            s["crashes"] += o == peers.CRASH
            s["errors"] += o == peers.ERROR
            s["skipped"] += o == peers.SKIPPED
            if o == peers.CRASH:
                lists["crashed"].append(rel)
            if lab["malicious"]:
                s["malicious"] += 1
                s["recall"] += o == peers.FLAGGED
                s["mal_clean"] += o == peers.CLEAN
                if o != peers.FLAGGED:
                    lists["missed"].append(rel)
            elif lab["malformed"]:
                s["malformed"] += 1
                s["malformed_clean"] += o == peers.CLEAN
            elif lab["weights_only_ok"]:
                s["benign_ok"] += 1
                s["false_alarms"] += o == peers.FLAGGED
                if o == peers.FLAGGED:
                    lists["false_alarm"].append(rel)
            else:
                s["benign_other"] += 1
                s["other_flagged"] += o == peers.FLAGGED
        summary[tool.name] = {**s, **lists}
        print(f"[agree] {tool.name}: recall {s['recall']}/{s['malicious']}", file=sys.stderr)
    return {
        "files": len(labelled),
        "unlabelled": unlabelled,
        "summary": summary,
        "matrix": matrix,
        "labels": {rel: lab for _, rel, lab in labelled},
    }


def _warm(path: Path) -> None:
    """Read the file once so every tool sees the same (warm) page cache."""
    with open(path, "rb") as fh:
        while fh.read(16 << 20):
            pass


def run_size(tools: list[peers.Tool], args: argparse.Namespace) -> dict:
    gen = subprocess.run(
        [
            str(args.python),
            str(HERE / "checkpoints.py"),
            str(args.work_dir),
            "--big-mb",
            str(args.big_mb),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    big, small = (Path(p) for p in gen.stdout.split())
    out: dict = {
        "big": {"path": big.name, "bytes": big.stat().st_size},
        "small": {"path": small.name, "bytes": small.stat().st_size},
        "tools": {},
    }
    for tool in tools:
        row: dict = {}
        for key, path in (("small", small), ("big", big)):
            _warm(path)
            walls, rss, parsed = [], [], None
            for _ in range(args.repeats):
                res, parsed = tool.run([path], timeout_s=args.timeout)
                walls.append(res.wall_s)
                rss.append(res.max_rss_kib)
                if parsed.outcome == peers.CRASH:
                    break
            row[key] = {
                "wall_s": round(statistics.median(walls), 3),
                "walls": [round(w, 3) for w in walls],
                "max_rss_mib": _mib(max(rss)),
                "outcome": parsed.outcome if parsed else None,
                "detail": parsed.detail if parsed else "",
            }
        row["ratio"] = round(row["big"]["wall_s"] / max(row["small"]["wall_s"], 1e-9), 2)
        out["tools"][tool.name] = row
        print(f"[size] {tool.name}: big/small {row['ratio']}", file=sys.stderr)
    return out


# ---- report ---------------------------------------------------------------------------


def _rel(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}×"


def _num(v: object) -> str:
    return "—" if v is None else str(v)


def render(results: dict) -> str:
    m, lines = results["machine"], []
    lines += ["## Scan benchmark: torchvet vs peer scanners", ""]
    lines += [
        f"Machine: {m['nproc']} cores (nproc), {m['mem_gib']} GiB, {m['cpu']}; "
        f"kernel {m['kernel']}; harness Python {m['harness_python']}, "
        f"torchvet under {m['torchvet_python']}; {m['date']}.",
        "",
    ]
    lines += ["| tool | version | status |", "| --- | --- | --- |"]
    for name, info in results["tools"].items():
        lines.append(f"| {name} | {info['version']} | {info['status']} |")
    lines += ["", f"Corpus: {results['corpus']['source']}", ""]

    if d := results.get("dir"):
        base = d["tools"].get("torchvet", {})
        if base.get("outcome") == "crash":
            base = {}  # no ratios against a run that produced nothing
        lines += [f"### Whole-corpus directory scan ({d['corpus_files']} files, one process)", ""]
        lines += [
            "| tool | wall s | vs torchvet | max RSS MiB | tree peak MiB | vs torchvet "
            "| files reported | result |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for name, r in d["tools"].items():
            note = " (one process per file: no directory mode)" if r["per_file_processes"] else ""
            res = f"{r['outcome']}{note}" + (f": {r['detail']}" if r["outcome"] == "crash" else "")
            lines.append(
                f"| {name} | {r['wall_s']:.2f} | {_rel(r['wall_s'], base.get('wall_s'))} "
                f"| {_num(r['max_rss_mib'])} | {_num(r['peak_tree_rss_mib'])} "
                f"| {_rel(r['peak_tree_rss_mib'], base.get('peak_tree_rss_mib'))} "
                f"| {_num(r['files_reported'])} | {res} |"
            )
        lines.append("")

        lines += [
            "wall: median, spawn to reap. max RSS: largest single process of the tree "
            "(`/usr/bin/time -f %M`). tree peak: summed RSS of all live processes of the run, "
            "sampled every 50 ms (catches worker fan-out; misses runs shorter than a sample).",
            "",
        ]

    if a := results.get("agree"):
        lines += [f"### Agreement (one process per file, {a['files']} labelled files)", ""]
        lines += [
            "| tool | malicious flagged | malicious said clean | false alarms "
            "(weights_only-loadable) | other benign flagged | clean on malformed "
            "| crashes | errors | skipped |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, s in a["summary"].items():
            lines.append(
                f"| {name} | {s['recall']}/{s['malicious']} | {s['mal_clean']} "
                f"| {s['false_alarms']}/{s['benign_ok']} "
                f"| {s['other_flagged']}/{s['benign_other']} "
                f"| {s['malformed_clean']}/{s['malformed']} | {s['crashes']} | {s['errors']} "
                f"| {s['skipped']} |"
            )
        lines += [
            "",
            "flagged = the tool calls the file unsafe/suspicious at any severity it counts as "
            "an issue; error = it says it could not read the file; crash = traceback, "
            "timeout or no result; skipped = not scanned (type/extension).",
            "",
        ]
        if a["files"] <= 60:
            names = list(a["matrix"])
            lines += ["<details><summary>Per-file outcomes</summary>", ""]
            lines += [
                "| file | label | " + " | ".join(names) + " |",
                "| --- | --- |" + " --- |" * len(names),
            ]
            for rel, lab in sorted(a["labels"].items()):
                tag = (
                    "malicious"
                    if lab["malicious"]
                    else "malformed"
                    if lab["malformed"]
                    else "wo-ok"
                    if lab["weights_only_ok"]
                    else "benign"
                )
                cells = [a["matrix"][n][rel]["outcome"] for n in names]
                lines.append(f"| {rel} | {tag} | " + " | ".join(cells) + " |")
            lines += ["", "</details>", ""]

    if s := results.get("size"):
        base = s["tools"].get("torchvet")
        if base and "crash" in (base["big"]["outcome"], base["small"]["outcome"]):
            base = None
        lines += [
            f"### Big vs small checkpoint (median of {results['repeats']}, whole process)",
            "",
            f"big: {s['big']['path']} ({s['big']['bytes'] / 2**20:.0f} MiB); "
            f"small: {s['small']['path']} ({s['small']['bytes'] / 1024:.0f} KiB); "
            "page cache warm. Sub-second medians are dominated by start-up noise: read "
            "big − small next to the ratio, and raise --repeats for steadier numbers.",
            "",
        ]
        lines += [
            "| tool | small s | big s | big/small | big − small s | big vs torchvet "
            "| big max RSS MiB | result (big) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for name, r in s["tools"].items():
            lines.append(
                f"| {name} | {r['small']['wall_s']:.2f} | {r['big']['wall_s']:.2f} "
                f"| {r['ratio']:.2f} | {r['big']['wall_s'] - r['small']['wall_s']:+.2f} "
                f"| {_rel(r['big']['wall_s'], base and base['big']['wall_s'])} "
                f"| {_num(r['big']['max_rss_mib'])} | {r['big']['outcome']} |"
            )
        lines.append("")
    return "\n".join(lines)


# ---- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    ctx = peers.Context(args.peer_venvs, args.torchvet_repo, args.python)
    tools = peers.make_tools(args.tools, ctx)
    results: dict = {"machine": machine_facts(args.python), "repeats": args.repeats, "tools": {}}
    ready = []
    for tool in tools:
        try:
            reason = tool.unavailable_reason()
        except (OSError, subprocess.SubprocessError) as exc:
            reason = f"probe failed: {exc}"
        version = tool.version() if reason is None else "—"
        results["tools"][tool.name] = {"version": version, "status": reason or "ok"}
        print(f"{tool.name}: {version} {reason or ''}", file=sys.stderr)
        if reason is None:
            ready.append(tool)
    corpus, labels, source = resolve_corpus(args)
    results["corpus"] = {"dir": str(corpus), "source": source, "labelled": len(labels)}
    if "dir" in args.sections:
        results["dir"] = run_dir(ready, corpus, args)
    if "agree" in args.sections:
        results["agree"] = run_agree(ready, corpus, labels, args)
    if "size" in args.sections:
        results["size"] = run_size(ready, args)
    md = render(results)
    print(md)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md + "\n")
    json_path = args.json or (args.out.with_suffix(args.out.suffix + ".json") if args.out else None)
    if json_path:
        json_path.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out} and {json_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
