"""Killed builds, concurrent builds and readers during rebuilds, with real processes.

Each child (tests/build_child.py) builds a temporary copy of the larger tech glossary with a slowed
fake encoder, and SIGKILLs itself at a chosen moment (or is killed by the parent at some moment).
Afterwards the index must be exactly the previous one or exactly the new one, fully usable, and the
next build must clean up whatever the killed one left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FakeEncoder

import semsearch
from semsearch.errors import IndexStoreError
from semsearch.stores import files as store

pytestmark = pytest.mark.slow  # real builds of the larger glossary, in child processes

CHILD = Path(__file__).resolve().parent / "build_child.py"
CANARY = "## 検証用カナリア | Canary Term\n- 並行再構築の検証でだけ現れる用語。\n"
TIMEOUT = 120


def child(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, out, err


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"child ended early: {process.communicate()}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@pytest.fixture
def corpus(tech_glossary: Path, tmp_path: Path) -> Path:
    """A private copy of the larger glossary (children write only there and under tmp_path)."""
    return Path(shutil.copytree(tech_glossary, tmp_path / "corpus"))


@pytest.fixture
def previous(corpus: Path, tmp_path: Path) -> tuple[Path, int]:
    """An index of the corpus as it was (v1), then the corpus gains a term (v2 is one term more)."""
    index = tmp_path / "v1"
    terms = len(semsearch.build(corpus, index, encoder=FakeEncoder()))
    (corpus / "canary.md").write_text(CANARY, encoding="utf-8")
    return index, terms


def state(index: Path, v1_terms: int) -> str:
    """'v1' or 'v2' for a complete, usable index (raises for anything else)."""
    opened = semsearch.load(index, FakeEncoder())  # verifies sizes, checksums and counts
    counts = opened.manifest.counts
    assert counts["terms"] == len(opened.terms) and counts["chunks"] == len(opened._stored.chunks)
    top = opened.search("Canary Term", k=1)[0]
    if len(opened) == v1_terms:
        assert top.term != "検証用カナリア"
        return "v1"
    assert len(opened) == v1_terms + 1 and top.term == "検証用カナリア"
    return "v2"


def assert_cleaned_up_by_next_build(index: Path, corpus: Path, v1_terms: int) -> None:
    # The killed build's lock died with it (a kernel lock): this build need not wait at all.
    built = semsearch.build(corpus, index, encoder=FakeEncoder(), lock_timeout=0)
    assert len(built) == v1_terms + 1
    names = sorted(p.name for p in index.iterdir())
    assert names == [".lock", store.read_manifest(index).data, "manifest.json"], names


# Moments of a build; before the manifest replace the old index must survive, after it the new one.
KILL_POINTS = {
    "embed:3": "v1",  # halfway through embedding
    "write-half:3": "v1",  # some data files written into the temporary folder, the vectors torn
    "after-rename": "v1",  # a complete generation in place, that no manifest names
    "write-half:6": "v1",  # a torn temporary manifest
    "before-commit": "v1",  # complete temporary manifest, right before os.replace
    "after-commit": "v2",  # right after os.replace, before fsync and clean-up
    "cleanup": "v2",  # old generation half removed
}


def test_sigkill_at_every_moment_of_a_build_keeps_an_index(previous: tuple[Path, int], corpus: Path, tmp_path):
    v1, v1_terms = previous
    runs = {}
    for point in KILL_POINTS:  # all at once: the machine has idle cores while children sleep
        index = tmp_path / f"kill-{point.replace(':', '-')}"
        shutil.copytree(v1, index, symlinks=True)
        runs[point] = (index, child("api", str(corpus), str(index), "--force", CHILD_KILL_AT=point))
    for point, (index, process) in runs.items():
        code, _, err = finish(process)
        assert code == -signal.SIGKILL, f"{point}: exit {code}, {err}"
        assert f"child: killed at {point}" in err
        assert state(index, v1_terms) == KILL_POINTS[point], point
    for point in ("after-rename", "write-half:6", "after-commit", "cleanup"):  # the ones that leave debris
        assert_cleaned_up_by_next_build(runs[point][0], corpus, v1_terms)


def test_sigkill_from_outside_at_arbitrary_moments(previous: tuple[Path, int], corpus: Path, tmp_path: Path):
    v1, v1_terms = previous
    delays = [0.0, 0.4, 1.0]  # after embedding started; embedding takes about a second
    runs = []
    for number, delay in enumerate(delays):
        index = tmp_path / f"shot-{number}"
        shutil.copytree(v1, index, symlinks=True)
        marker = tmp_path / f"shot-{number}.started"
        process = child("api", str(corpus), str(index), "--force", CHILD_DELAY="0.02", CHILD_MARKER=str(marker))
        runs.append((index, marker, delay, process))
    seen = set()
    for index, marker, delay, process in runs:
        try:
            wait_for(marker, process)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
        except AssertionError:
            pass  # it finished before we shot: fine, the index must then be v2
        finish(process)
        seen.add(state(index, v1_terms))
    assert "v1" in seen
    assert_cleaned_up_by_next_build(runs[-1][0], corpus, v1_terms)


def test_two_builds_at_once_one_waits_for_the_other(previous: tuple[Path, int], corpus: Path, tmp_path: Path):
    index, v1_terms = previous
    started, release = tmp_path / "first.started", tmp_path / "first.release"
    build = ["cli", "build", str(corpus), "--index", str(index), "--force"]
    first = child(*build, CHILD_MARKER=str(started), CHILD_HOLD=str(release))
    wait_for(started, first)  # the first build is embedding, so it holds the lock, until we release it
    second = child(*build, "--json")
    code, _, err = finish(child(*build, "--wait", "0.2"))
    assert code == 4
    assert err.splitlines()[-2:] == [  # after the corpus warnings
        f"another build is writing {index}; waiting up to 0.2 s for it to finish",
        f"error: another semsearch build is writing {index} and did not finish within 0.2 s; try again later, "
        "or wait longer (`--wait SECONDS` or $SEMSEARCH_WAIT)",
    ]
    assert state(index, v1_terms) == "v1", "while the first build runs, readers get the previous index"
    release.touch()
    code_first, out_first, err_first = finish(first)
    code_second, out_second, err_second = finish(second)
    assert (code_first, code_second) == (0, 0), (err_first, err_second)
    assert out_first.startswith(f"built: {index}")
    assert f"another build is writing {index}; waiting up to 600 s for it to finish" in err_second
    assert '"written": true' in out_second  # --force: it rebuilt after the first one, not at the same time
    assert state(index, v1_terms) == "v2"
    assert sorted(p.name for p in index.iterdir()) == [".lock", store.read_manifest(index).data, "manifest.json"]


def test_readers_never_see_a_half_written_index(previous: tuple[Path, int], corpus: Path) -> None:
    """One process rebuilds over and over (the canary term comes and goes); this one reads meanwhile."""
    index, v1_terms = previous
    (corpus / "canary.md").unlink()  # the loop adds it first
    rebuilds = 4
    process = child("loop", str(corpus), str(index), str(rebuilds))
    seen: dict[str, int] = {"v1": 0, "v2": 0}
    generations = set()
    while process.poll() is None:
        try:
            seen[state(index, v1_terms)] += 1
        except IndexStoreError as error:  # pragma: no cover - exactly what must not happen
            pytest.fail(f"a reader saw a broken index: {error}")
        generations.add(store.read_manifest(index).data)
        time.sleep(0.005)  # leave the rebuilding child some CPU on a small machine
    code, _, err = finish(process)
    assert code == 0, err
    assert seen["v1"] and seen["v2"], seen
    assert len(generations) >= 3, "the reads overlapped several rebuilds"
    assert state(index, v1_terms) == "v1"  # an even number of toggles: back to v1
