"""semsearch benchmark: start-up, query latency, build throughput, encoders, FAISS at scale.

Run from the repository root:

    python -m bench                                # everything: bench/RESULTS.md (+ .json)
    python -m bench --quick                        # smoke run: report in --work, not here
    python -m bench --only startup,query           # some sections: report in --work
    python -m bench --only startup --merge         # re-run sections into RESULTS.md

Sections, one module each: startup (one-shot `semsearch ask`, `--help`, import costs), query
(in-process latency per mode), build (full and incremental builds), encoders (embedded e5 vs
sentence-transformers vs the compute bound), faiss (synthetic vectors at 1k/100k/1M: exact vs
approximate; bench/scale.py), serve, throughput (the C engine by batch size and text length on
both kernels, a question's CPU time, before/after with --baseline REV, and `semsearch build --force`
against sentence-transformers in the same run), qdrant (the index in Qdrant against the directory, and
the embedding on Ray against a local build; bench/qdrant.py); report.py writes the goals and the Markdown.
Programs that must run in a fresh process are modules in bench/children/. Every figure is a median
over >= 5 runs (`--runs`) unless its row says otherwise. The larger glossary is read from $SEMSEARCH_TECH_GLOSSARY or
../shared/corpora/tech-glossary and is never modified: edits happen in a temporary copy. Indexes used
by the start-up and query sections are kept in --work (default ~/.cache/semsearch-bench) and brought
up to date incrementally.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import HERE, load_average, log, machine
from .report import SECTIONS, write_report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
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
        "--baseline",
        default=None,
        help="throughput: also run semsearch and its C engine as they were at this git revision",
    )
    parser.add_argument(
        "--qdrant-sizes", default="300,10000,50000", help="synthetic chunks per store (default 300,10000,50000)"
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

    command = "python -m bench" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    results: dict[str, Any] = {"machine": machine(), "commands": [command]}
    previous = args.out.with_suffix(".json")
    if args.merge and previous.exists():
        old = json.loads(previous.read_text(encoding="utf-8"))
        results = {**old, "commands": [*old.get("commands", []), command]}
        now = machine()
        same_cpu = (now["cpu"], now["simd"]) == (old["machine"]["cpu"], old["machine"]["simd"])
        # On another CPU, the table keeps describing the machine the other sections ran on; the
        # re-run sections name their own CPU (throughput does).
        elsewhere = "" if same_cpu else f" on {now['cpu']} ({now['simd']})"
        results["machine"] = {
            **old["machine"],
            **{key: now[key] for key in (("engine", "git", "versions") if same_cpu else ("git",))},
            "date": old["machine"]["date"] + f" (partly re-run {now['date']}{elsewhere})",
        }
    started = time.perf_counter()
    for name in SECTIONS:
        if name in sections:
            log(f"section {name}")
            results[name] = SECTIONS[name].run(args, work)
            results["load_end"] = load_average()
            results["seconds"] = time.perf_counter() - started
            write_report(args.out, results)  # after every section: a long run stopped midway keeps its figures
    log(f"wrote {args.out} in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
