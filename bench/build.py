"""Builds: full builds in process (chunks and tokens per second), and an incremental rebuild after
editing one term (in process, profiled, and through the CLI)."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import BUNDLED, TECH, chunk_texts, load_average, log, median, run_child, secs, semsearch_cmd, table


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


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
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


def report(r: dict[str, Any]) -> str:
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
