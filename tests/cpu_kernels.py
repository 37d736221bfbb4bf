"""Which kernels this CPU can run, for the CI step that runs the numeric and embedded tests on each
(.ci/run, docs/testing.md "Tests that travel").

    python tests/cpu_kernels.py openblas   the OPENBLAS_CORETYPE names whose kernels run here
    python tests/cpu_kernels.py e5fast     the E5FAST_KERNEL values this CPU has besides its default

numpy's OpenBLAS picks its kernels for the CPU it runs on, and OPENBLAS_CORETYPE forces others: a
CPU without AVX-512 dies of an illegal instruction under SkylakeX's. So each candidate is tried in a
child process (matrix products in float32 and float64, as the tests use them); those that run are
printed. semsearch's C engine (semsearch/csrc) has an AVX-512 VNNI kernel and an AVX2 one; it
picks VNNI where the CPU has it, and E5FAST_KERNEL=avx2 forces the other.
"""

from __future__ import annotations

import os
import subprocess
import sys

CANDIDATES = ("SkylakeX", "Haswell", "Sandybridge", "Prescott")
TRIAL = (
    "import numpy as np; r = np.random.default_rng(0); a = r.random((300, 300), dtype=np.float32);"
    "b = a.astype(np.float64); (a @ a).sum(); (b @ b).sum(); a[0] @ a[1]; np.linalg.norm(a, axis=1)"
)


def openblas() -> list[str]:
    """The candidate core types whose kernels run on this CPU."""
    runs = []
    for core in CANDIDATES:
        trial = subprocess.run(
            [sys.executable, "-c", TRIAL],
            env={**os.environ, "OPENBLAS_CORETYPE": core},
            capture_output=True,
            timeout=120,
        )
        if trial.returncode == 0:
            runs.append(core)
    return runs


def e5fast() -> list[str]:
    """The kernels of semsearch's C engine this CPU has, other than the one it picks by default."""
    from semsearch.encoders.e5fast import engine

    return ["avx2"] if "(avx512-vnni)" in engine().name else []


if __name__ == "__main__":
    kinds = {"openblas": openblas, "e5fast": e5fast}
    if len(sys.argv) != 2 or sys.argv[1] not in kinds:
        sys.exit(f"usage: python {sys.argv[0]} {{{'|'.join(kinds)}}}")
    print(" ".join(kinds[sys.argv[1]]()))
