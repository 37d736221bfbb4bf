"""Beyond one machine: the index in Qdrant against the index directory, and the embedding on Ray
against a local build.

Stores: a synthetic generation (bench/synthetic.py vectors, one chunk per term) committed to the
index directory, Qdrant's local mode and Qdrant Edge at 300, 10k and 50k chunks; then opened and
asked hybrid questions in a fresh process; then one term edited (bench/children/store_ops.py).
Ray: every chunk of a glossary embedded by the embedded encoder, locally and as a Ray Data job on
this machine's 2 cores (bench/children/ray_throughput.py), runs interleaved so that both see the
same load.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .common import BUNDLED, TECH, child_module, load_average, log, median, module_env, ms, run_child, secs, table

STORES = ("directory", "qdrant+local", "qdrant+edge")
# Local mode commits every point to SQLite on its own: its 50k build is one run, not a median.
ONE_RUN_FROM = 50_000


def _location(kind: str, scratch: Path, n: int) -> str:
    folder = scratch / f"{kind.replace('+', '-')}-{n}"
    return str(folder) if kind == "directory" else f"{kind}://{folder}"


def _child(*argv: str) -> dict[str, Any]:
    result = run_child(child_module(*argv), env=module_env())
    if result["rc"] != 0:
        raise RuntimeError(f"bench.children.{argv[0]} failed: {result['stderr'][-2000:]}")
    return json.loads(result["stdout"].strip().splitlines()[-1])


def _available(kind: str) -> bool:
    import importlib.util

    module = {"qdrant+local": "qdrant_client", "qdrant+edge": "qdrant_edge"}.get(kind)
    return module is None or importlib.util.find_spec(module) is not None


def run_stores(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [300] if args.quick else [int(s) for s in args.qdrant_sizes.split(",")]
    questions = 10 if args.quick else 40
    runs = 1 if args.quick else max(1, min(args.runs, 3))
    out: dict[str, Any] = {"sizes": sizes, "questions": questions, "rows": [], "load_start": load_average()}
    scratch = Path(tempfile.mkdtemp(prefix="semsearch-bench-qdrant-"))
    try:
        for n in sizes:
            for kind in STORES:
                if not _available(kind):
                    out["rows"].append({"store": kind, "chunks": n, "error": "not installed"})
                    continue
                repeats = 1 if (kind == "qdrant+local" and n >= ONE_RUN_FROM) else runs
                measured: dict[str, list[float]] = {}
                for run in range(repeats):
                    where = _location(kind, scratch, n)
                    log(f"qdrant: {kind} at {n:,} chunks, run {run + 1}/{repeats}")
                    for phase in ("build", "query", "edit"):
                        for key, value in _child("store_ops", where, str(n), str(questions), phase).items():
                            measured.setdefault(key, []).append(value)
                    shutil.rmtree(scratch / Path(where.split("://")[-1]).name, ignore_errors=True)
                row = {key: median(values) for key, values in measured.items()}
                out["rows"].append({"store": kind, "chunks": n, "runs": repeats, **row})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out["load_end"] = load_average()
    return out


def run_ray(args: argparse.Namespace) -> dict[str, Any]:
    import importlib.util

    corpus, label = (BUNDLED, "deep-learning (bundled)") if args.quick or not TECH.is_dir() else (TECH, "tech-glossary")
    out: dict[str, Any] = {"corpus": label, "load_start": load_average()}
    if importlib.util.find_spec("ray") is None:
        out["error"] = "ray is not installed (pip install 'semsearch[ray]')"
        return out
    runs = 1 if args.quick else max(1, min(args.runs, 3))
    local: list[dict[str, Any]] = []
    on_ray: list[dict[str, Any]] = []
    for run in range(runs):  # interleaved: both see the same load
        log(f"qdrant: embedding {label} locally and on Ray, run {run + 1}/{runs}")
        local.append(_child("ray_throughput", str(corpus), "local"))
        on_ray.append(_child("ray_throughput", str(corpus), "ray", "2"))
    out.update(
        chunks=local[0]["chunks"],
        tokens=local[0]["tokens"],
        runs=runs,
        local=median([r["seconds"] for r in local]),
        ray=median([r["seconds"] for r in on_ray]),
        ray_init=median([r["init"] for r in on_ray]),
        ray_job=median([r["job"] for r in on_ray]),
        ratios=[r["seconds"] / here["seconds"] for here, r in zip(local, on_ray, strict=True)],
        job_ratios=[r["job"] / here["seconds"] for here, r in zip(local, on_ray, strict=True)],
        load_end=load_average(),
    )
    return out


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    return {"stores": run_stores(args), "ray": run_ray(args)}


def _ratio(x: float) -> str:
    """A same-run ratio with two significant figures (0.41x, 3.1x, 45x)."""
    return f"{x:.2g}x" if x < 10 else f"{x:.0f}x"


def report(results: dict[str, Any]) -> str:
    stores, ray = results["stores"], results["ray"]
    lines = [
        "## Beyond one machine: Qdrant stores and Ray (bench/qdrant.py)\n",
        "A synthetic generation (e5-like vectors from bench/synthetic.py, one chunk per term, words in Latin "
        "and Japanese script) committed to each store, then opened and asked "
        f"{stores['questions']} hybrid questions in a fresh process (`Index.query`, k = 5, a replay encoder: "
        "the figures are the store's), then one term edited (the stored vectors read back for reuse, the "
        "new generation committed: in place for Qdrant). Each phase runs in its own process "
        "(`python -m bench.children.store_ops`); medians of the runs shown. `open` includes importing the "
        "engine's client. Qdrant local mode commits each point to SQLite on its own, so its build time "
        "grows with the disk's fsync time"
        + (f"; at {ONE_RUN_FROM:,} chunks and more it ran once" if max(stores["sizes"]) >= ONE_RUN_FROM else "")
        + f". Load average {stores['load_start']} at the start, {stores['load_end']} at the end.\n",
    ]
    rows = []
    for row in stores["rows"]:
        if "error" in row:
            rows.append((row["store"], f"{row['chunks']:,}", row["error"], "", "", "", "", ""))
            continue
        rows.append(
            (
                row["store"],
                f"{row['chunks']:,}",
                str(row["runs"]),
                secs(row["build"]),
                secs(row["open"]),
                ms(row["p50"]),
                ms(row["p90"]),
                secs(row["edit"]),
            )
        )
    lines.append(table(("store", "chunks", "runs", "build", "open", "query p50", "query p90", "edit one term"), rows))
    directory = {r["chunks"]: r for r in stores["rows"] if r["store"] == "directory" and "error" not in r}
    ratio_rows = [
        (r["store"], f"{r['chunks']:,}", _ratio(r["build"] / d["build"]), _ratio(r["p50"] / d["p50"]))
        for r in stores["rows"]
        if r["store"] != "directory" and "error" not in r and (d := directory.get(r["chunks"]))
    ]
    if ratio_rows:
        lines += [
            "\nAgainst the index directory, same run:\n",
            table(("store", "chunks", "build", "query p50"), ratio_rows),
        ]
    lines.append("\n### The embedding on Ray\n")
    if "error" in ray:
        lines.append(f"Not measured: {ray['error']}.")
        return "\n".join(lines) + "\n"
    lines += [
        f"Every chunk of {ray['corpus']} ({ray['chunks']} chunks, {ray['tokens']:,} tokens) embedded by the "
        "embedded encoder: locally as a build does (one single-threaded engine per core), and as a Ray Data "
        "job on this machine's 2 cores (`ray.init(num_cpus=2)`, one actor per CPU each holding one encoder), "
        f"{ray['runs']} interleaved runs (`python -m bench.children.ray_throughput`). Load average "
        f"{ray['load_start']} at the start, {ray['load_end']} at the end.\n",
        table(
            ("", "seconds (median)", "tokens/s", "Ray / local, same run"),
            [
                ("local build", secs(ray["local"]), f"{ray['tokens'] / ray['local']:,.0f}", "1"),
                (
                    "Ray, whole (start-up + job)",
                    secs(ray["ray"]),
                    f"{ray['tokens'] / ray['ray']:,.0f}",
                    ", ".join(f"{x:.2f}" for x in ray["ratios"]),
                ),
                ("Ray start-up (`ray.init`)", secs(ray["ray_init"]), "", ""),
                (
                    "Ray job (actors start, load the encoder, embed)",
                    secs(ray["ray_job"]),
                    f"{ray['tokens'] / ray['ray_job']:,.0f}",
                    ", ".join(f"{x:.2f}" for x in ray["job_ratios"]),
                ),
            ],
        ),
    ]
    return "\n".join(lines) + "\n"
