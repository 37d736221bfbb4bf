"""A Qdrant Edge store (and, where it applies, a qdrant+local one) on disk, damaged or held open the
ways an adversarial try found:

- a link planted where a build writes its pointer (`.current.json.tmp`, `current.json`) is replaced,
  never written through;
- a pointer naming a folder outside the store (or no generation, or a deleted one), a deleted `-meta`
  folder, a generation that is a link, a truncated vector file: each is damage, reported with the fix
  (never a raw engine message, never a file created outside the store), and a build repairs it;
- a second process waits for the one holding the store (`--wait`, $SEMSEARCH_WAIT), without spinning,
  then gives up with exit 4.

Real stores on disk; the commands run as child processes where exit codes and the engines' own
per-process state matter (tests/build_child.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import GLOSSARY, FakeEncoder

import semsearch
from semsearch.errors import IndexStoreError
from semsearch.stores import qdrant_engines

CHILD = Path(__file__).resolve().parent / "build_child.py"
SAFETY = 120  # seconds: a limit for a loaded machine, not a measurement


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, str(CHILD), "cli", *args],
        capture_output=True,
        timeout=SAFETY,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", "SEMSEARCH_WAIT": "0", **(env or {})},
    )
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "glossary").mkdir()
    (tmp_path / "glossary" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    return tmp_path / "glossary"


@pytest.fixture
def edge(tmp_path: Path, corpus: Path) -> Iterator[tuple[str, Path]]:
    """A fresh Edge store of the test glossary: (its location, its folder). Nothing of it is kept open
    in this process (a test that truncates a file this process maps would die of SIGBUS)."""
    pytest.importorskip("qdrant_edge")
    folder = tmp_path / "edge"
    where = f"qdrant+edge://{folder}"
    semsearch.build(corpus, where, encoder=FakeEncoder())
    qdrant_engines._close_all()
    yield where, folder
    qdrant_engines._close_all()


def generation(folder: Path) -> str:
    return json.loads((folder / "current.json").read_text(encoding="utf-8"))["generation"]


def answers(where: str) -> list[str]:
    return [hit.term for hit in semsearch.load(where, encoder=FakeEncoder()).search("dropout", k=1)]


# -- planted links ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("planted", [".current.json.tmp", "current.json"])
def test_a_planted_pointer_link_is_replaced_never_followed(
    edge: tuple[str, Path], corpus: Path, tmp_path: Path, planted: str
) -> None:
    where, folder = edge
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (folder / planted).unlink(missing_ok=True)
    (folder / planted).symlink_to(victim)
    semsearch.build(corpus, where, encoder=FakeEncoder(), force=True)
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not (folder / "current.json").is_symlink() and (folder / "current.json").is_file()
    assert (folder / generation(folder)).is_dir()
    assert answers(where) == ["ドロップアウト"]


@pytest.mark.slow
def test_a_link_named_like_a_generation_is_removed_never_entered(
    edge: tuple[str, Path], corpus: Path, tmp_path: Path
) -> None:
    where, folder = edge
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me", encoding="utf-8")
    (folder / "semsearch-g20000101T000000-0badc0de").symlink_to(outside, target_is_directory=True)
    semsearch.build(corpus, where, encoder=FakeEncoder(), force=True)
    assert (outside / "precious.txt").read_text(encoding="utf-8") == "keep me"
    assert not (folder / "semsearch-g20000101T000000-0badc0de").exists()


# -- damage -------------------------------------------------------------------------------------


def _pointer(text: str) -> Callable[[Path, Path], None]:
    def damage(folder: Path, outside: Path) -> None:
        (folder / "current.json").write_text(text.replace("OUTSIDE", str(outside)), encoding="utf-8")

    return damage


def _outside_relative(folder: Path, outside: Path) -> None:
    (folder / "current.json").write_text(json.dumps({"generation": f"../{outside.name}"}), encoding="utf-8")


def _deleted_meta(folder: Path, outside: Path) -> None:
    shutil.rmtree(folder / f"{generation(folder)}-meta")


def _deleted_generation(folder: Path, outside: Path) -> None:
    shutil.rmtree(folder / generation(folder))


def _generation_is_a_link(folder: Path, outside: Path) -> None:
    name = generation(folder)
    shutil.rmtree(outside)
    shutil.move(folder / name, outside)
    (folder / name).symlink_to(outside, target_is_directory=True)


def _pointer_is_a_folder(folder: Path, outside: Path) -> None:
    (folder / "current.json").unlink()
    (folder / "current.json").mkdir()


def _pointer_is_a_fifo(folder: Path, outside: Path) -> None:
    (folder / "current.json").unlink()
    os.mkfifo(folder / "current.json")  # opened without blocking, never read


def _truncated_vectors(folder: Path, outside: Path) -> None:
    (vectors,) = (folder / generation(folder)).rglob("chunk_0.mmap")
    os.truncate(vectors, 1000)


def _empty_status(folder: Path, outside: Path) -> None:
    (status,) = (folder / generation(folder)).rglob("vector_storage-dense/vectors/status.dat")
    os.truncate(status, 0)


DAMAGE = {
    "pointer outside (relative)": _outside_relative,
    "pointer outside (absolute)": _pointer('{"generation": "OUTSIDE"}'),
    "pointer to no generation": _pointer('{"generation": "semsearch-g20000101T000000-deadbeef"}'),
    "pointer not JSON": _pointer("{garbage"),
    "pointer deeply nested": _pointer("[" * 100_000),
    "pointer naming a number": _pointer('{"generation": 5}'),
    "pointer is a folder": _pointer_is_a_folder,
    "pointer is a FIFO": _pointer_is_a_fifo,
    "meta folder deleted": _deleted_meta,
    "generation folder deleted": _deleted_generation,
    "generation is a link": _generation_is_a_link,
    "vector file truncated": _truncated_vectors,
    "status file emptied": _empty_status,
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGE.values()), ids=list(DAMAGE))
def test_a_damaged_store_is_reported_with_the_fix_and_a_build_repairs_it(
    edge: tuple[str, Path], corpus: Path, tmp_path: Path, damage: Callable[[Path, Path], None]
) -> None:
    where, folder = edge
    outside = tmp_path / "outside"
    outside.mkdir()
    damage(folder, outside)
    before = sorted(p.relative_to(outside) for p in outside.rglob("*"))
    with pytest.raises(IndexStoreError) as refused:
        semsearch.load(where, encoder=FakeEncoder())
    message = str(refused.value)
    assert "is damaged" in message and "--force" in message and "\n" not in message
    built = semsearch.build(corpus, where, encoder=FakeEncoder())  # not even --force: it is damage
    assert built.build_report is not None and built.build_report.written
    assert answers(where) == ["ドロップアウト"]
    assert sorted(p.relative_to(outside) for p in outside.rglob("*")) == before  # nothing made or removed there
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["current.json", generation(folder), f"{generation(folder)}-meta"]
    )


@pytest.mark.slow
def test_the_command_says_damage_in_one_line_with_exit_4(edge: tuple[str, Path], tmp_path: Path) -> None:
    where, folder = edge
    (tmp_path / "outside").mkdir()
    _outside_relative(folder, tmp_path / "outside")
    code, out, err = cli("ask", "dropout", "--index", where)
    assert (code, out) == (4, "")
    assert err.startswith("error: the Qdrant Edge store at ") and err.count("\n") == 1
    assert "--force" in err and "Traceback" not in err
    assert list((tmp_path / "outside").iterdir()) == []


@pytest.mark.slow
def test_a_truncated_vector_file_is_rebuilt_not_up_to_date(edge: tuple[str, Path], corpus: Path) -> None:
    """`build` said "up to date" and every `ask` failed; now `build` rebuilds, as for a directory."""
    where, folder = edge
    _truncated_vectors(folder, folder)
    code, out, err = cli("build", "--index", where)
    assert code == 0, err
    assert "is unusable" in err and "truncated" in err and "up to date" not in out
    code, out, err = cli("ask", "dropout", "-k", "1", "--json", "--index", where)
    assert code == 0 and json.loads(out)["hits"][0]["term"] == "ドロップアウト"


@pytest.mark.slow
def test_a_truncated_vector_file_with_the_corpus_gone_is_exit_4(edge: tuple[str, Path], corpus: Path) -> None:
    where, folder = edge
    _truncated_vectors(folder, folder)
    shutil.rmtree(corpus)
    code, out, err = cli("ask", "dropout", "--index", where)
    assert code == 4 and out == ""
    assert "is damaged" in err and "truncated" in err and "--force" in err and err.count("\n") == 1


# -- held by another process -------------------------------------------------------------------


@pytest.fixture(params=["edge", "local"])
def held(request: pytest.FixtureRequest, tmp_path: Path, corpus: Path) -> Iterator[str]:
    """A store another process has open (a child answering from it), for as long as the test runs."""
    pytest.importorskip("qdrant_edge" if request.param == "edge" else "qdrant_client")
    where = f"qdrant+{request.param}://{tmp_path / request.param}"
    semsearch.build(corpus, where, encoder=FakeEncoder())
    qdrant_engines._close_all()
    if request.param == "local":
        qdrant_engines._LOCAL_CLIENTS.clear()
    holder = subprocess.Popen(
        [sys.executable, str(CHILD), "hold", where, str(SAFETY)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"holding\n"
        yield where
    finally:
        holder.kill()
        holder.wait(SAFETY)


@pytest.mark.slow  # a process holding the store, another waiting for it: ~4 s each (CI runs them)
def test_a_second_process_waits_then_gives_up_with_exit_4(held: str) -> None:
    code, out, err = cli("ask", "dropout", "--index", held, env={"SEMSEARCH_WAIT": "0.5"})
    assert (code, out) == (4, "")
    assert err.startswith(f"another process has {held} open; waiting up to 0.5 s")  # the notice, then the error
    error = err.splitlines()[-1]
    assert error.startswith(f"error: another process has the store {held} open and did not close it within 0.5 s")
    assert len(err.splitlines()) == 2 and "Traceback" not in err


@pytest.mark.slow  # a process holding the store, another waiting for it: ~4 s each (CI runs them)
def test_waiting_for_another_process_does_not_spin(held: str) -> None:
    """The wait sleeps between tries: it used to retry at once, forever, at 100% of a core."""
    done = subprocess.run(
        [sys.executable, str(CHILD), "open", held, "2"],
        capture_output=True,
        timeout=SAFETY,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    report = json.loads(done.stdout)
    assert report["error"]["type"] == "IndexLockedError" and report["error"]["exit"] == 4
    assert report["cpu"] < 0.5  # a core spinning through the 2 s would spend about 2 s


# -- qdrant+local: what local mode writes with a plain open() -----------------------------------


@pytest.fixture
def local(tmp_path: Path, corpus: Path) -> Iterator[tuple[str, Path]]:
    pytest.importorskip("qdrant_client")
    folder = tmp_path / "local"
    where = f"qdrant+local://{folder}"
    semsearch.build(corpus, where, encoder=FakeEncoder())
    qdrant_engines._close_all()
    qdrant_engines._LOCAL_CLIENTS.clear()
    yield where, folder
    qdrant_engines._close_all()
    qdrant_engines._LOCAL_CLIENTS.clear()


@pytest.mark.slow
def test_a_planted_lock_link_is_removed_never_followed(local: tuple[str, Path], tmp_path: Path) -> None:
    """Local mode creates a missing `.lock` with open("w"): through a dangling link, outside the store."""
    where, folder = local
    (folder / ".lock").unlink()
    (folder / ".lock").symlink_to(tmp_path / "created-outside.txt")
    assert answers(where) == ["ドロップアウト"]
    assert not (tmp_path / "created-outside.txt").exists()
    assert (folder / ".lock").is_file() and not (folder / ".lock").is_symlink()


def test_a_planted_manifest_copy_link_is_removed_never_written_through(
    local: tuple[str, Path], corpus: Path, tmp_path: Path
) -> None:
    """Local mode writes `meta.json.tmp` with open("w") before replacing meta.json with it."""
    where, folder = local
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (folder / "meta.json.tmp").symlink_to(victim)
    semsearch.build(corpus, where, encoder=FakeEncoder(), force=True)  # a new collection: meta.json is saved
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert answers(where) == ["ドロップアウト"]


def test_a_link_inside_a_local_store_is_refused(local: tuple[str, Path], tmp_path: Path) -> None:
    where, folder = local
    storage = next(folder.rglob("storage.sqlite"))
    victim = tmp_path / "victim.sqlite"
    shutil.copy(storage, victim)
    storage.unlink()
    storage.symlink_to(victim)  # SQLite would write through it
    with pytest.raises(IndexStoreError) as refused:
        semsearch.load(where, encoder=FakeEncoder())
    assert "holds a symbolic link" in str(refused.value) and "delete that folder" in str(refused.value)
