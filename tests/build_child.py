"""A child process for the robustness tests: builds an index with a slowed fake encoder, and can
SIGKILL itself at a chosen moment of the build. The fault injection lives here, not in the library.

    python tests/build_child.py api CORPUS INDEX [--force]    semsearch.build(CORPUS, INDEX)
    python tests/build_child.py loop CORPUS INDEX N            N forced rebuilds, toggling CORPUS/canary.md
    python tests/build_child.py cli ARGS...                    the `semsearch` command with ARGS
    python tests/build_child.py entry ARGS...                  the same through the entry point (which asks
                                                               $SEMSEARCH_SERVER first: semsearch/serve/client.py)
    python tests/build_child.py hold LOCATION SECONDS         open the index at LOCATION, answer a question,
                                                               say "holding" on stdout, keep it open SECONDS
    python tests/build_child.py open LOCATION TIMEOUT         open it, waiting up to TIMEOUT s for another
                                                               process; print what happened and the CPU
                                                               seconds the wait took, as JSON

The `cli` and `entry` modes are also how the server tests run `semsearch serve` and `semsearch mcp`
on an index of the fake encoder (CHILD_MARKER and CHILD_HOLD then catch a background rebuild midway).

Environment:
    CHILD_DELAY    seconds slept per embedding batch of 8 passages (default 0)
    CHILD_MARKER   a file created once embedding has started (the build holds the lock by then)
    CHILD_HOLD     a file: embedding waits until it exists (so the build holds its lock until then)
    CHILD_KILL_AT  when to SIGKILL ourselves:
                   embed:N         after N embedding batches
                   write:N         after the N-th file write of the build (5 data files, then the manifest)
                   write-half:N    halfway through the N-th file write (a torn file)
                   before-rename   before the new generation folder is renamed into place
                   after-rename    after that rename, before the manifest is written
                   before-commit   right before the manifest replace (the commit point)
                   after-commit    right after the manifest replace
                   cleanup         after removing the first old generation
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import FakeEncoder

import semsearch
from semsearch import building
from semsearch.encoders import register_backend
from semsearch.stores import files as store

KILL_AT = os.environ.get("CHILD_KILL_AT", "")
DELAY = float(os.environ.get("CHILD_DELAY", "0"))
MARKER = os.environ.get("CHILD_MARKER", "")
HOLD = os.environ.get("CHILD_HOLD", "")
CANARY = "## 検証用カナリア | Canary Term\n- 並行再構築の検証でだけ現れる用語。\n"


def die(moment: str) -> None:
    if moment == KILL_AT:
        sys.stderr.write(f"child: killed at {moment}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


class SlowFakeEncoder(FakeEncoder):
    """The fake encoder (same id, same vectors), embedding in small batches with a pause between."""

    BATCH = 8

    def encode_passages(self, texts: Sequence[str], progress=None):
        if MARKER:
            Path(MARKER).touch()
        while HOLD and not Path(HOLD).exists():
            time.sleep(0.02)
        out = []
        for batch, start in enumerate(range(0, len(texts), self.BATCH), start=1):
            part = texts[start : start + self.BATCH]
            out.append(super().encode_passages(part))
            time.sleep(DELAY)
            if progress:
                progress(len(part))
            die(f"embed:{batch}")
        import numpy as np

        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)


register_backend(FakeEncoder.backend, SlowFakeEncoder)
building.default_encoder = SlowFakeEncoder  # what `semsearch build` uses for a new index

# -- fault injection around the store's writes ---------------------------------------------------

writes = 0
_write_file = store._write_file


def write_file(path: Path, data: bytes):
    global writes
    writes += 1
    if f"write-half:{writes}" == KILL_AT:
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            os.fsync(f.fileno())
        die(f"write-half:{writes}")
    result = _write_file(path, data)
    die(f"write:{writes}")
    return result


store._write_file = write_file

_rename, _replace, _rmtree = os.rename, os.replace, shutil.rmtree


def rename(src, dst, *args, **kwargs):
    generation = Path(dst).name.startswith(store.DATA_PREFIX)
    if generation:
        die("before-rename")
    _rename(src, dst, *args, **kwargs)
    if generation:
        die("after-rename")


def replace(src, dst, *args, **kwargs):
    commit = Path(dst).name == store.MANIFEST
    if commit:
        die("before-commit")
    _replace(src, dst, *args, **kwargs)
    if commit:
        die("after-commit")


def rmtree(path, *args, **kwargs):
    _rmtree(path, *args, **kwargs)
    if Path(path).name.startswith(store.DATA_PREFIX):
        die("cleanup")


os.rename, os.replace, shutil.rmtree = rename, replace, rmtree


def main(argv: list[str]) -> int:
    mode, *rest = argv
    if mode == "api":
        corpus, index, *flags = rest
        semsearch.build(corpus, index, encoder=SlowFakeEncoder(), force="--force" in flags)
        return 0
    if mode == "loop":
        corpus, index, count = rest
        canary = Path(corpus) / "canary.md"
        for _ in range(int(count)):
            if canary.exists():
                canary.unlink()
            else:
                canary.write_text(CANARY, encoding="utf-8")
            semsearch.build(corpus, index, encoder=SlowFakeEncoder())
        return 0
    if mode == "cli":
        from semsearch.cli import main as cli_main

        sys.argv = ["semsearch", *rest]
        cli_main()
        return 0
    if mode == "entry":
        from semsearch.__main__ import main as entry_main

        sys.argv = ["semsearch", *rest]
        entry_main()
        return 0
    if mode == "hold":
        where, seconds = rest
        semsearch.load(where, encoder=FakeEncoder()).query("dropout")
        print("holding", flush=True)
        time.sleep(float(seconds))
        return 0
    if mode == "open":
        import json

        from semsearch.errors import SemsearchError
        from semsearch.stores import open_store

        where, timeout = rest
        from semsearch.location import parse_location

        __import__("qdrant_edge" if parse_location(where).engine == "edge" else "qdrant_client")  # not timed
        cpu, wall = time.process_time(), time.monotonic()
        try:
            open_store(where, timeout=float(timeout)).read()
            error = None
        except SemsearchError as failure:
            error = {"type": type(failure).__name__, "message": str(failure), "exit": failure.exit_code}
        report = {"error": error, "cpu": time.process_time() - cpu, "waited": time.monotonic() - wall}
        print(json.dumps(report), flush=True)
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
