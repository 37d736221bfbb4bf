"""The resident server (`semsearch serve`) on the tech glossary (the bundled one when it is absent).

    python -m bench --only serve --merge      # the serve section of bench/RESULTS.md

Measures, with the machine's load average before and after:
- HTTP GET /ask latency (p50, p99) over every question of bench/queries/tech-glossary.*.jsonl:
  one client, then 8 clients at once (8 processes, bench/children/serve_client.py, one keep-alive
  connection each); GET /health alone as the cost of the HTTP layer; throughput;
- the server's memory (VmRSS and VmHWM from /proc) with the tech glossary loaded, after the load;
- the shared embedding engine from 8 threads in one process: in parallel (as served) against one
  question at a time (a lock), to show what `EmbeddedE5.reentrant` buys on this machine;
- one-shot `semsearch ask` through the thin client against `python -c pass` and a local one-shot
  `ask`, alternating, medians and same-run ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .common import (
    BUNDLED,
    TECH,
    child_module,
    embedding_engine,
    load_average,
    log,
    module_env,
    ms,
    percentile,
    semsearch_cmd,
)

CLIENTS = 8
PACE = 0.25  # seconds between two questions of one paced client: 8 of them ask 32 questions a second
GOALS = {"p50": 0.030, "p99": 0.100, "thin": 0.15}
ONE_SHOT_RUNS = 21  # alternating thin / `python -c pass` / local rounds
PASSES = 2  # passes over the questions per client


def questions(query_set: str) -> list[str]:
    from .common import queries_of

    return queries_of(query_set)


def start_server(index: Path, log_path: Path) -> tuple[subprocess.Popen, int, float]:
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as err:
        process = subprocess.Popen(
            [*semsearch_cmd(), "serve", "--port", "0", "--index", str(index), "--poll", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    while True:
        found = re.search(r" at http://127\.0\.0\.1:(\d+);", log_path.read_text(encoding="utf-8"))
        if found:
            return process, int(found[1]), time.perf_counter() - started
        if process.poll() is not None:
            raise RuntimeError(log_path.read_text(encoding="utf-8"))
        time.sleep(0.01)


def clients(
    port: int, texts: list[str], passes: int, count: int, path: str = "/ask", every: float = 0.0
) -> dict[str, Any]:
    """`count` client processes at once (back to back, or one request every `every` s each); every
    latency, and requests per second over the whole run."""
    files = []
    for n in range(count):  # each client its own order: no two ask the same question at once
        shift = n * len(texts) // count
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
            json.dump(texts[shift:] + texts[:shift], f, ensure_ascii=False)
        files.append(f.name)
    start_at = time.time() + 1.0 + 0.1 * count  # every client is up and waiting by then
    procs = [
        subprocess.Popen(
            child_module(
                "serve_client",
                "127.0.0.1",
                str(port),
                name,
                str(passes),
                str(start_at + n * every / count),
                path,
                str(every),
            ),
            stdout=subprocess.PIPE,
            text=True,
            env=module_env(),
        )
        for n, name in enumerate(files)
    ]
    outputs = [p.communicate()[0] for p in procs]
    wall = time.time() - start_at
    for name in files:
        os.unlink(name)
    if any(p.returncode for p in procs):
        raise RuntimeError("a benchmark client failed")
    times = [t for out in outputs for t in json.loads(out)]
    return {
        "clients": count,
        "every": every,
        "requests": len(times),
        "p50": percentile(times, 50),
        "p99": percentile(times, 99),
        "mean": statistics.fmean(times),
        "per_second": len(times) / wall,
    }


def memory(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+) kB", status)[1]) / 1024 for key in ("VmRSS", "VmHWM")}  # type: ignore[index]


def engine_threads(index_dir: Path, texts: list[str], threads: int) -> dict[str, Any]:
    """Questions from `threads` threads on one loaded index: in parallel on the shared engine, and one
    at a time (a lock, as for an encoder that is not reentrant). Questions per second, each way."""
    import semsearch

    index = semsearch.load(index_dir)
    for text in texts[:5]:
        index.query(text, related=True)
    lock = threading.Lock()
    out = {}
    for label, guard in (("parallel (shared engine, as served)", None), ("one at a time (a lock)", lock)):
        barrier = threading.Barrier(threads + 1)

        def work(offset: int, guard: threading.Lock | None = guard, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            for i in range(len(texts)):
                text = texts[(i + offset * 7) % len(texts)]
                if guard is None:
                    index.query(text, related=True)
                else:
                    with guard:
                        index.query(text, related=True)

        pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        barrier.wait()
        started = time.perf_counter()
        for t in pool:
            t.join()
        out[label] = threads * len(texts) / (time.perf_counter() - started)
    return out


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed: {done.stderr[-1000:]}")
    return wall


def one_shots(port: int, index: Path, runs: int) -> dict[str, Any]:
    """Alternating runs: thin-client `ask`, `python -c pass`, local `ask` (every other round)."""
    base = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    thin_env = {**base, "SEMSEARCH_SERVER": f"http://127.0.0.1:{port}"}
    local_env = {**base, "SEMSEARCH_SERVER": ""}
    ask = [*semsearch_cmd(), "ask", "勾配消失とは"]
    for _ in range(2):  # warm-up: page cache, the server's first answers
        timed(ask, thin_env)
        timed([sys.executable, "-c", "pass"], base)
    thin, bare, local = [], [], []
    for i in range(runs):
        thin.append(timed(ask, thin_env))
        bare.append(timed([sys.executable, "-c", "pass"], base))
        if i % 2 == 0:
            local.append(timed([*ask, "--index", str(index)], local_env))
    med = {name: statistics.median(v) for name, v in (("thin", thin), ("pass", bare), ("local", local))}
    return {
        "runs": runs,
        "local_runs": len(local),
        **{f"{k}_median": v for k, v in med.items()},
        "thin_min": min(thin),
        "thin_max": max(thin),
        "thin_over_pass": med["thin"] / med["pass"],
        "local_over_thin": med["local"] / med["thin"],
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import semsearch

    quick, runs, passes = args.quick, max(args.runs, ONE_SHOT_RUNS), PASSES
    corpus, label, query_set = (
        (TECH, "tech glossary", "tech-glossary") if TECH.is_dir() else (BUNDLED, "bundled glossary", "deep-learning")
    )
    index = work / f"index-serve-{query_set}"
    log(f"serve: index of {corpus} in {index}")
    semsearch.build(corpus, index)
    texts = questions(query_set)
    if quick:
        texts, runs, passes = texts[:20], min(runs, 5), 1
    out: dict[str, Any] = {
        "load_start": load_average(),
        "questions": len(texts),
        "passes": passes,
        "glossary": label,
        "query_set": query_set,
    }
    process, port, ready = start_server(index, work / "serve.log")
    out["ready_seconds"] = ready
    try:
        clients(port, texts[:10], 1, 1)  # warm-up
        log(f"serve: 1 client, {len(texts)} questions x {passes}")
        out["sequential"] = clients(port, texts, passes, 1)
        out["health"] = clients(port, texts, passes, 1, "/health")
        log(f"serve: {CLIENTS} clients at once")
        out["concurrent"] = clients(port, texts, passes, CLIENTS)
        log(f"serve: {CLIENTS} clients, each one question every {PACE} s")
        out["paced"] = clients(port, texts, 1, CLIENTS, every=PACE)
        out["memory_mib"] = memory(process.pid)
        log(f"serve: one-shot ask, {runs} alternating runs")
        out["one_shot"] = one_shots(port, index, runs)
        out["memory_mib_end"] = memory(process.pid)
    finally:
        process.terminate()
        out["exit_code"] = process.wait(60)
    log(f"serve: {CLIENTS} threads on one engine, in process")
    out["engine_threads"] = engine_threads(index, texts[: 20 if quick else 60], CLIENTS)
    out["load_end"] = load_average()
    out["engine"] = embedding_engine()
    return out


def report(r: dict[str, Any]) -> str:
    seq, con, one = r["sequential"], r["concurrent"], r["one_shot"]
    glossary, query_set = r.get("glossary", "tech glossary"), r.get("query_set", "tech-glossary")
    goals = [
        ("HTTP /ask p50, 1 client", "≤ 30 ms", ms(seq["p50"]), seq["p50"] <= GOALS["p50"]),
        ("HTTP /ask p99, 1 client", "≤ 100 ms", ms(seq["p99"]), seq["p99"] <= GOALS["p99"]),
        (f"HTTP /ask p50, {con['clients']} clients", "≤ 30 ms", ms(con["p50"]), con["p50"] <= GOALS["p50"]),
        (f"HTTP /ask p99, {con['clients']} clients", "≤ 100 ms", ms(con["p99"]), con["p99"] <= GOALS["p99"]),
        (f"HTTP /ask p50, {con['clients']} paced clients", "≤ 30 ms", ms(r["paced"]["p50"]), r["paced"]["p50"] <= 0.03),
        (f"HTTP /ask p99, {con['clients']} paced clients", "≤ 100 ms", ms(r["paced"]["p99"]), r["paced"]["p99"] <= 0.1),
        ("thin-client one-shot `ask`, median", "≤ 0.15 s", f"{one['thin_median']:.3f} s", one["thin_median"] <= 0.15),
    ]
    lines = [
        f"## Resident server (`semsearch serve`, {glossary})\n",
        f"Load average (1/5/15 min) at start {r['load_start']}, at end {r['load_end']}: the machine's 2 cores "
        "are shared with other jobs, so read medians and same-run ratios. The server is "
        f"`semsearch serve --poll 0` on the {glossary}'s index (embedded encoder, "
        f"{r['engine']}); clients are separate processes (bench/children/serve_client.py), each on one keep-alive "
        f"connection, asking all {r['questions']} questions of bench/queries/{query_set}.*.jsonl "
        f"{r['passes']} times with k=5.\n",
        "| goal | target | measured | met |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {'yes' if ok else '**no**'} |" for a, b, c, ok in goals),
        "",
        "| HTTP | requests | p50 | p99 | mean | requests/s |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in (
        ("GET /ask, 1 client", seq),
        (f"GET /ask, {con['clients']} clients at once, back to back", con),
        (f"GET /ask, {con['clients']} clients at once, each one question every {PACE} s", r["paced"]),
        ("GET /health, 1 client (the HTTP layer alone)", r["health"]),
    ):
        lines.append(
            f"| {label} | {row['requests']} | {ms(row['p50'])} | {ms(row['p99'])} | {ms(row['mean'])} "
            f"| {row['per_second']:.0f} |"
        )
    mem, end = r["memory_mib"], r["memory_mib_end"]
    threads = r["engine_threads"]
    lines += [
        "",
        f"Server memory with the {glossary} loaded, after the {con['clients']}-client run: RSS "
        f"{mem['VmRSS']:.0f} MiB (peak {mem['VmHWM']:.0f} MiB); after the one-shot runs {end['VmRSS']:.0f} MiB. "
        f"Ready to answer {r['ready_seconds']:.2f} s after start (index loaded, encoder warmed). "
        f"Stopped by SIGTERM: exit code {r['exit_code']}.\n",
        f"The shared embedding engine from {CLIENTS} threads in one process (`Index.query` with "
        "related terms, no HTTP): "
        + "; ".join(f"{label}: {qps:.0f} questions/s" for label, qps in threads.items())
        + ".\n",
        '| one-shot `semsearch ask "勾配消失とは"` | median | runs |',
        "|---|---|---|",
        f"| thin client (`SEMSEARCH_SERVER` set) | {one['thin_median']:.3f} s "
        f"(min {one['thin_min']:.3f}, max {one['thin_max']:.3f}) | {one['runs']} |",
        f"| `python -c pass` | {one['pass_median']:.3f} s | {one['runs']} |",
        f"| local (no server) | {one['local_median']:.3f} s | {one['local_runs']} |",
        "",
        f"Same-run ratios: thin client / `python -c pass` = {one['thin_over_pass']:.1f}x; "
        f"local / thin client = {one['local_over_thin']:.1f}x.\n",
    ]
    return "\n".join(lines)
