"""The search page (`semsearch serve`, GET /) on the tech glossary (the bundled one when it is absent).

    python -m bench --only page --merge      # the page section of bench/RESULTS.md

Measures, in the system's headless Chromium (bench/browser.py), on a `semsearch serve` process:
- keystroke-to-results: a question put in the box and its `input` event fired, until the page has
  swapped in that question's cards and the browser has run the next animation frame (p50, p95;
  the page waits DEBOUNCE_MS after the last keystroke before it asks, included);
- the page's weight: the bytes a first view transfers with an empty cache (the browser's own
  Resource Timing: the HTML, the CSS, the JS; the icon beside), of / and of /?q=…;
- that the page costs nothing to the rest: GET /ask (one client) and a one-shot local `semsearch
  ask` with this revision against the same with semsearch as it was at `--baseline` (default: where
  this branch left main), alternating in the same run.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from .common import BUNDLED, ROOT, TECH, child_env, load_average, log, ms, percentile

DEBOUNCE_MS = 120  # as semsearch/serve/static/page.js
ROUNDS = 3  # alternating rounds of /ask latency, this revision and the baseline

# Fired in the page: the question in the box, its input event; resolves with the milliseconds until
# the page shows that question's answer (its <title>) and a frame has been rendered.
KEYSTROKE = """
var question = arguments[0], done = arguments[arguments.length - 1];
var box = document.getElementById("q"), main = document.getElementById("main");
var want = (question.replace(/\\s+/g, " ").trim()) + " — semsearch";
var started = 0;
var observer = new MutationObserver(function () {
  if (document.title !== want) return;
  observer.disconnect();
  requestAnimationFrame(function () { done(performance.now() - started); });
});
observer.observe(main, { childList: true });
box.value = question;
started = performance.now();
box.dispatchEvent(new Event("input", { bubbles: true }));
"""

WEIGHT = """
var entries = performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"));
return entries.map(function (e) {
  return { name: e.name, transfer: e.transferSize, body: e.decodedBodySize, encoded: e.encodedBodySize };
});
"""


def _baseline(args: argparse.Namespace) -> str:
    if args.baseline:
        return args.baseline
    found = subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], capture_output=True, text=True)
    return found.stdout.strip() or "HEAD"


def _start(command: list[str], env: dict[str, str], index: Path, log_path: Path) -> tuple[subprocess.Popen, int]:
    with open(log_path, "w", encoding="utf-8") as err:
        process = subprocess.Popen(
            [*command, "serve", "--port", "0", "--index", str(index), "--poll", "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    while True:
        found = re.search(r" at http://127\.0\.0\.1:(\d+);", log_path.read_text(encoding="utf-8"))
        if found:
            return process, int(found[1])
        if process.poll() is not None:
            raise RuntimeError(log_path.read_text(encoding="utf-8"))
        time.sleep(0.02)


def _ask_latency(ports: dict[str, int], texts: list[str], rounds: int) -> dict[str, list[float]]:
    """GET /ask of every question from each server in turn (one keep-alive connection each), the
    order of the servers swapped every round, so that neither gets the quieter moments."""
    import http.client

    connections = {key: http.client.HTTPConnection("127.0.0.1", port, timeout=60) for key, port in ports.items()}
    times: dict[str, list[float]] = {key: [] for key in ports}
    try:
        for round_ in range(rounds):
            order = list(ports) if round_ % 2 == 0 else list(reversed(ports))
            for text in texts:
                for key in order:
                    started = time.perf_counter()
                    connections[key].request("GET", "/ask?" + urllib.parse.urlencode({"q": text}))
                    response = connections[key].getresponse()
                    response.read()
                    times[key].append(time.perf_counter() - started)
                    if response.status != 200:
                        raise RuntimeError(f"/ask answered {response.status}")
    finally:
        for connection in connections.values():
            connection.close()
    return times


def _one_shot(command: list[str], env: dict[str, str], index: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "ask", "勾配消失とは", "--index", str(index)], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-1000:])
    return wall


def _browser_figures(url: str, texts: list[str]) -> dict[str, Any]:
    from .browser import chrome

    out: dict[str, Any] = {}
    cold = chrome()
    try:  # a first view, cache empty: the page with no question, then with one
        cold.get(url + "/")
        out["weight_home"] = cold.execute_script(WEIGHT)
        cold.get(url + "/?" + urllib.parse.urlencode({"q": texts[0]}))
        out["weight_question"] = cold.execute_script(WEIGHT)  # the CSS and JS come from the cache now
    finally:
        cold.quit()
    driver = chrome()
    try:
        driver.set_script_timeout(60)
        driver.get(url + "/")
        for text in texts[:5]:  # warm-up
            driver.execute_async_script(KEYSTROKE, text)
        times = []
        previous = ""
        for text in texts:
            if text == previous:
                continue
            times.append(float(driver.execute_async_script(KEYSTROKE, text)) / 1000)
            previous = text
        out["keystroke"] = times
        out["errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
    return out


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import tempfile

    import semsearch

    from .browser import missing
    from .serve import questions
    from .throughput import _tp_checkout

    why = missing()
    if why:
        log(f"page: skipped ({why})")
        return {"skipped": why}
    corpus, label, query_set = (
        (TECH, "tech glossary", "tech-glossary") if TECH.is_dir() else (BUNDLED, "bundled glossary", "deep-learning")
    )
    index = work / f"index-serve-{query_set}"
    log(f"page: index of {corpus} in {index}")
    semsearch.build(corpus, index)
    texts = list(dict.fromkeys(questions(query_set)))
    one_shot_runs = max(args.runs, 11)
    if args.quick:
        texts, one_shot_runs = texts[:12], 3
    out: dict[str, Any] = {"load_start": load_average(), "glossary": label, "questions": len(texts)}
    # Both run as `python -m semsearch`, this checkout or the baseline's first on the path.
    new_env = child_env(SEMSEARCH_SERVER="", PYTHONPATH=str(ROOT))
    old_env = new_env
    if not args.quick:  # a smoke run compares this revision with itself (no checkout to compile)
        baseline = _baseline(args)
        scratch = Path(tempfile.mkdtemp(prefix="semsearch-page-"))
        _tp_checkout(baseline, scratch / "baseline")
        old_env = child_env(SEMSEARCH_SERVER="", PYTHONPATH=str(scratch / "baseline"))
    out["baseline"] = (
        "this revision (--quick)"
        if args.quick
        else subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", baseline], capture_output=True, text=True
        ).stdout.strip()
    )
    command = [sys.executable, "-m", "semsearch"]
    new, new_port = _start(command, new_env, index, work / "page-serve.log")
    old, old_port = _start(command, old_env, index, work / "page-serve-baseline.log")
    try:
        log(f"page: GET /ask, {len(texts)} questions x {ROUNDS} rounds, this revision and {out['baseline']}")
        ports = {"new": new_port, "old": old_port}
        _ask_latency(ports, texts[:10], 1)  # warm-up
        lat = _ask_latency(ports, texts, ROUNDS)
        out["ask"] = {key: {"p50": percentile(v, 50), "p95": percentile(v, 95)} for key, v in lat.items()}
        log(f"page: in Chromium, {len(texts)} questions")
        out.update(_browser_figures(f"http://127.0.0.1:{new_port}", texts))
    finally:
        for process in (new, old):
            process.terminate()
            process.wait(60)
    log(f"page: one-shot ask, {one_shot_runs} alternating runs")
    _one_shot(command, new_env, index), _one_shot(command, old_env, index)  # warm-up
    shots: dict[str, list[float]] = {"new": [], "old": []}
    for run_ in range(one_shot_runs):
        pairs = [("new", new_env), ("old", old_env)]
        for key, env in pairs if run_ % 2 == 0 else reversed(pairs):
            shots[key].append(_one_shot(command, env, index))
    out["one_shot"] = {key: statistics.median(v) for key, v in shots.items()}
    out["one_shot_runs"] = one_shot_runs
    out["load_end"] = load_average()
    return out


def _bytes(entries: list[dict[str, Any]]) -> tuple[int, list[str]]:
    total = sum(int(e["transfer"]) for e in entries)
    parts = [f"{urllib.parse.urlsplit(e['name']).path} {int(e['transfer']):,}" for e in entries]
    return total, parts


def report(r: dict[str, Any]) -> str:
    lines = ["## Search page (`semsearch serve`, GET /, headless Chromium)\n"]
    if "skipped" in r:
        return "\n".join([*lines, f"Not measured: {r['skipped']}.\n"])
    keys = r["keystroke"]
    home, home_parts = _bytes(r["weight_home"])
    asked, asked_parts = _bytes(r["weight_question"])
    ask, one = r["ask"], r["one_shot"]
    lines += [
        f"{r['glossary']}, {r['questions']} questions; load average {r['load_start']} at start, "
        f"{r['load_end']} at end.\n",
        "| figure | p50 | p95 |",
        "|---|---|---|",
        f"| keystroke to results shown ({len(keys)} questions; the {DEBOUNCE_MS} ms debounce included) "
        f"| {ms(percentile(keys, 50))} | {ms(percentile(keys, 95))} |",
        f"| the same, beyond the debounce | {ms(percentile(keys, 50) - DEBOUNCE_MS / 1000)} "
        f"| {ms(percentile(keys, 95) - DEBOUNCE_MS / 1000)} |",
        f"| GET /ask, this revision | {ms(ask['new']['p50'])} | {ms(ask['new']['p95'])} |",
        f"| GET /ask, at {r['baseline']} (before the page) | {ms(ask['old']['p50'])} | {ms(ask['old']['p95'])} |",
        "",
        f"First view, empty cache (bytes on the wire, headers included): `/` {home:,} B "
        f"({'; '.join(home_parts)}); then `/?q=…` {asked:,} B ({'; '.join(asked_parts)}: the CSS and JS "
        "from the cache).\n",
        f'One-shot local `semsearch ask "勾配消失とは"` (median of {r["one_shot_runs"]}, alternating): this '
        f"revision {one['new']:.3f} s, at {r['baseline']} {one['old']:.3f} s. Same-run ratios, this revision / "
        f"before: one-shot ask {one['new'] / one['old']:.2f}x, GET /ask p50 "
        f"{ask['new']['p50'] / ask['old']['p50']:.2f}x.\n",
    ]
    if r.get("errors"):
        lines.append(f"Browser console errors: {json.dumps(r['errors'], ensure_ascii=False)}\n")
    return "\n".join(lines)
