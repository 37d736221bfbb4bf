"""Ordinary faults are clear errors with the right exit code, never "internal error" (issue 16):
a full disk, a file size limit, a read-only index directory, and index files damaged in ways their
checksum does not catch. What failed or killed builds leave behind is cleaned by the next build."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch.cli import app
from semsearch.errors import IndexStoreError, IndexWriteError
from semsearch.stores import files as store

pytestmark = pytest.mark.usefixtures("fake_default_encoder")

HERE = Path(__file__).resolve().parent


@pytest.fixture
def index(glossary: Path, tmp_path: Path) -> Path:
    path = tmp_path / "index"
    semsearch.build(glossary, path, encoder=FakeEncoder())
    return path


def _manifest(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text(encoding="utf-8"))


def _data(index: Path, role: str) -> Path:
    m = _manifest(index)
    return index / m["data"] / m["data_files"][role]["path"]


def _rewrite(index: Path, role: str, data: bytes) -> None:
    """Replace a data file and make the manifest's size and checksum match it (damage the
    checksum cannot catch)."""
    m = _manifest(index)
    _data(index, role).write_bytes(data)
    m["data_files"][role].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    (index / "manifest.json").write_text(json.dumps(m), encoding="utf-8")


def _entries(index: Path) -> set[str]:
    return {p.name for p in index.iterdir()}


def _answers(index: Path) -> None:
    assert semsearch.load(index).search("dropout", k=1)[0].term == "ドロップアウト"


# -- writing: a full disk, a file size limit, a read-only directory ---------------------------------


@contextlib.contextmanager
def failing_writes(code: int, after: int = 0) -> Iterator[None]:
    """The store's file writes fail with `code` (after `after` successful ones)."""
    real = store._write_file
    count = 0

    def write_file(path: Path, data: bytes):
        nonlocal count
        count += 1
        if count > after:
            raise OSError(code, os.strerror(code), str(path))
        return real(path, data)

    store._write_file = write_file
    try:
        yield
    finally:
        store._write_file = real


@pytest.mark.parametrize("after", [0, 3, 6])  # the first data file, one in the middle, the manifest
def test_a_full_disk_is_a_clear_error_and_the_old_index_stays(
    runner: CliRunner, index: Path, glossary: Path, after: int
) -> None:
    before = _entries(index)
    with failing_writes(errno.ENOSPC, after):
        result = runner.invoke(app, ["build", str(glossary), "--index", str(index), "--force"])
    assert result.exit_code == 4, result.output
    assert result.stderr.strip() == (
        f"error: cannot write the index in {index} (no space left on the device); nothing was changed: "
        "free space or make it writable, or choose another --index"
    )
    assert _entries(index) == before  # no half-written generation, no .tmp-* left behind
    _answers(index)


def test_a_full_disk_in_the_library_raises_index_write_error(index: Path, glossary: Path) -> None:
    with failing_writes(errno.ENOSPC), pytest.raises(IndexWriteError) as raised:
        semsearch.build(glossary, index, encoder=FakeEncoder(), force=True)
    assert raised.value.reason == "no space left on the device"
    assert isinstance(raised.value, IndexStoreError)


def _run_child(*args: str, limit: int | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    def preexec() -> None:
        if limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, str(HERE / "build_child.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=preexec,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_a_file_size_limit_for_real(index: Path, glossary: Path) -> None:
    """`ulimit -f`: a real limit on a real child process; the write fails with EFBIG."""
    before = _entries(index)
    child = _run_child("cli", "build", str(glossary), "--index", str(index), "--force", limit=2048)
    assert child.returncode == 4, child.stderr
    assert "(a file would pass the file size limit, `ulimit -f`)" in child.stderr
    assert "internal error" not in child.stderr and "Traceback" not in child.stderr
    assert _entries(index) == before
    _answers(index)


@contextlib.contextmanager
def read_only(index: Path) -> Iterator[None]:
    """The index directory refuses every write with EROFS (root ignores chmod; a read-only mount is
    what a user meets: tests/test_faults.py::test_a_read_only_mount_for_real does that where it can)."""
    real_open, real_mkdir = os.open, os.mkdir
    inside = str(index.resolve())

    def guarded(path: object) -> bool:
        return str(Path(os.fspath(path)).resolve()).startswith(inside)  # type: ignore[arg-type]

    def fake_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and guarded(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if guarded(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    os.open, os.mkdir = fake_open, fake_mkdir
    try:
        yield
    finally:
        os.open, os.mkdir = real_open, real_mkdir


def test_a_no_op_build_of_a_read_only_index_is_up_to_date(runner: CliRunner, index: Path, glossary: Path) -> None:
    with read_only(index):
        result = runner.invoke(app, ["build", str(glossary), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"up to date: {index}")


def test_a_build_that_must_write_a_read_only_index_says_so(runner: CliRunner, index: Path, glossary: Path) -> None:
    (glossary / "dl.md").write_text("## 正則化 | Regularization\n- 過学習を抑える。\n", encoding="utf-8")
    with read_only(index):
        result = runner.invoke(app, ["build", str(glossary), "--index", str(index)])
        forced = runner.invoke(app, ["build", str(glossary), "--index", str(index), "--force"])
    for run in (result, forced):
        assert run.exit_code == 4, run.output
        assert run.stderr.strip() == (
            f"error: cannot write the index in {index} (the file system is read-only); nothing was changed: "
            "free space or make it writable, or choose another --index"
        )


def test_ask_answers_from_a_read_only_stale_index_with_a_warning(
    runner: CliRunner, index: Path, glossary: Path
) -> None:
    (glossary / "sub" / "more.md").unlink()  # the corpus changed: the index is stale
    with read_only(index):
        result = runner.invoke(app, ["ask", "dropout", "-k", "1", "--index", str(index), "--corpus", str(glossary)])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == (
        f"warning: index at {index} is stale (sub/more.md was removed) and cannot be rebuilt: "
        "the file system is read-only; answering from it as built"
    )
    assert "ドロップアウト" in result.stdout
    assert "rebuilding" not in result.stderr


def test_no_building_notice_when_the_build_cannot_start(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    index = tmp_path / "ro" / "index"
    index.parent.mkdir()
    with read_only(index.parent):
        result = runner.invoke(app, ["ask", "dropout", "--index", str(index), "--corpus", str(glossary)])
    assert result.exit_code == 4, result.output
    assert result.stderr.strip() == (
        f"error: cannot create index directory {index} (the file system is read-only); choose another --index"
    )


def test_the_building_notice_still_comes_when_the_build_starts(
    runner: CliRunner, glossary: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    result = runner.invoke(app, ["ask", "dropout", "--index", str(index), "--corpus", str(glossary)])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"no index at {index} yet; building it from {glossary}"


# A real full disk and a real read-only mount, where this machine lets the tests mount a tmpfs.


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("cannot mount a tmpfs here")
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=10)


def test_a_full_disk_for_real(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "64k") as disk:
        index = disk / "index"
        semsearch.build(glossary, index, encoder=FakeEncoder())
        before = _entries(index)
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        result = runner.invoke(app, ["build", str(glossary), "--index", str(index), "--force"])
        assert result.exit_code == 4, result.output
        assert "(no space left on the device)" in result.stderr
        assert _entries(index) == before
        _answers(index)


def test_a_read_only_mount_for_real(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "4m") as disk:
        index = disk / "index"
        semsearch.build(glossary, index, encoder=FakeEncoder())
        remount = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, timeout=10)
        if remount.returncode != 0:
            pytest.skip("cannot remount read-only here")
        result = runner.invoke(app, ["build", str(glossary), "--index", str(index)])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"up to date: {index}")
        (glossary / "dl.md").unlink()
        result = runner.invoke(app, ["ask", "dropout", "-k", "1", "--index", str(index), "--corpus", str(glossary)])
        assert result.exit_code == 0, result.output
        assert "cannot be rebuilt: the file system is read-only; answering from it as built" in result.stderr


# -- damage a checksum does not catch -----------------------------------------------------------------


def _refused(runner: CliRunner, index: Path, glossary: Path, expected: str, manifest: bool = False) -> None:
    """Damage is refused with the fix, exit 4, when the corpus is gone; `ask` rebuilds an index
    whose data files are damaged from the corpus its manifest names; `build --force` repairs a
    damaged manifest (which names no corpus any more)."""
    with pytest.raises(IndexStoreError, match=expected) as raised:
        semsearch.load(index)
    assert str(raised.value).endswith("run `semsearch build --force` to rebuild it")
    moved = glossary.with_name("moved-away")
    glossary.rename(moved)
    try:
        result = runner.invoke(app, ["ask", "dropout", "--index", str(index)])
        assert result.exit_code == 4, result.output
        assert result.stderr.startswith("error: ") and "semsearch build --force" in result.stderr
        assert "internal error" not in result.stderr and len(result.stderr.splitlines()) == 1
    finally:
        moved.rename(glossary)
    if manifest:
        result = runner.invoke(app, ["build", str(glossary), "--index", str(index), "--force"])
        assert result.exit_code == 0, result.output
        _answers(index)
        return
    result = runner.invoke(app, ["ask", "dropout", "-k", "1", "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "is unusable" in result.stderr and "rebuilding it from" in result.stderr
    _answers(index)


@pytest.mark.parametrize(
    "damage",
    [
        b"PK\x03\x04 this is not a zip file",
        b"",
        b"\x93NUMPY garbage",
    ],
)
@pytest.mark.parametrize("role", ["lexical", "dense"])
def test_a_damaged_npz_whose_checksum_matches(
    runner: CliRunner, index: Path, glossary: Path, role: str, damage: bytes
) -> None:
    _rewrite(index, role, damage)
    _refused(runner, index, glossary, "is damaged")


def test_a_big_data_file_is_only_size_checked_and_damage_is_still_caught(
    runner: CliRunner, index: Path, glossary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "VERIFY_HASH_MAX_BYTES", 0)  # every file is "over 64 MiB"
    path = _data(index, "lexical")
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64  # same size, other bytes
    path.write_bytes(bytes(data))
    _refused(runner, index, glossary, "is damaged")


def test_a_5000_digit_format_version(runner: CliRunner, index: Path, glossary: Path) -> None:
    text = (index / "manifest.json").read_text(encoding="utf-8")
    (index / "manifest.json").write_text(text.replace('"format_version": 1', '"format_version": ' + "9" * 5000))
    _refused(runner, index, glossary, "damaged", manifest=True)


@pytest.mark.parametrize("version", ["true", "99999999999", "0", "-3", "1.5"])
def test_an_implausible_format_version_is_damage_not_a_newer_semsearch(
    runner: CliRunner, index: Path, glossary: Path, version: str
) -> None:
    text = (index / "manifest.json").read_text(encoding="utf-8")
    (index / "manifest.json").write_text(text.replace('"format_version": 1', f'"format_version": {version}'))
    _refused(runner, index, glossary, "has no valid format_version", manifest=True)


def test_a_deeply_nested_manifest(runner: CliRunner, index: Path, glossary: Path) -> None:
    m = _manifest(index)
    (index / "manifest.json").write_text(json.dumps(m)[:-1] + ', "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    _refused(runner, index, glossary, "nested too deeply", manifest=True)


@pytest.mark.parametrize(
    "row",
    [
        {"names": []},
        {"names": [""]},
        {"names": "ドロップアウト"},
        {"names": [1, 2]},
        {"line": "3"},
        {"body": None},
    ],
)
def test_a_terms_row_with_no_names_or_wrong_fields(runner: CliRunner, index: Path, glossary: Path, row: dict) -> None:
    lines = _data(index, "terms").read_text(encoding="utf-8").splitlines()
    first = {**json.loads(lines[0]), **row}
    _rewrite(index, "terms", "\n".join([json.dumps(first, ensure_ascii=False), *lines[1:]]).encode() + b"\n")
    _refused(runner, index, glossary, "is damaged")


def test_a_terms_file_that_is_not_rows_of_objects(runner: CliRunner, index: Path, glossary: Path) -> None:
    _rewrite(index, "terms", b"[1, 2, 3]\n")
    _refused(runner, index, glossary, "is damaged")


def test_a_nan_vector_file(runner: CliRunner, index: Path, glossary: Path) -> None:
    data = bytearray(_data(index, "vectors").read_bytes())
    header = struct.calcsize("<4siqqqBiq")
    data[header : header + 8] = struct.pack("<2f", float("nan"), float("nan"))
    _rewrite(index, "vectors", bytes(data))
    _refused(runner, index, glossary, "NaN or infinite")


def test_nan_hubness_priors(runner: CliRunner, index: Path, glossary: Path) -> None:
    import io

    with np.load(io.BytesIO(_data(index, "dense").read_bytes())) as arrays:
        priors = np.full_like(arrays["priors"], np.nan)
        extras = store.DenseExtras(priors, [str(h) for h in arrays["pseudo_sha256"]], arrays["pseudo_vectors"])
    _rewrite(index, "dense", extras.to_bytes())
    _refused(runner, index, glossary, "NaN or infinite")


# -- leftovers -------------------------------------------------------------------------------------


def _plant_orphans(index: Path) -> set[str]:
    orphans = {f"data-20000101T000000-{uuid.uuid4().hex[:8]}", f".tmp-{uuid.uuid4().hex[:8]}", ".tmp-manifest.json"}
    for name in orphans:
        if name.endswith(".json"):
            (index / name).write_text("{")
        else:
            (index / name).mkdir()
            (index / name / "vectors.faiss").write_bytes(b"half")
    return orphans


def test_orphans_are_cleaned_by_the_next_build_even_a_no_op(index: Path, glossary: Path) -> None:
    before = _entries(index)
    _plant_orphans(index)
    report = semsearch.build(glossary, index, encoder=FakeEncoder()).build_report
    assert report is not None and not report.written
    assert _entries(index) == before
    _answers(index)


def test_orphans_of_a_failed_build_are_cleaned_by_the_next(index: Path, glossary: Path) -> None:
    before = _entries(index)
    with failing_writes(errno.ENOSPC, after=6), pytest.raises(IndexWriteError):
        semsearch.build(glossary, index, encoder=FakeEncoder(), force=True)
    _plant_orphans(index)  # as if a build had been killed as well
    semsearch.build(glossary, index, encoder=FakeEncoder(), force=True)
    after = _entries(index)
    assert len(after) == len(before) and not any(n.startswith(".tmp-") for n in after)


def test_a_damaged_index_keeps_its_generations_until_replaced(index: Path, glossary: Path, tmp_path: Path) -> None:
    (index / "manifest.json").write_text("{")
    generation = {n for n in _entries(index) if n.startswith("data-")}
    (index / ".tmp-leftover").mkdir()
    with store.build_lock(index):
        store.remove_leftovers(index)
    assert {n for n in _entries(index) if n.startswith("data-")} == generation
    assert not (index / ".tmp-leftover").exists()
    shutil.rmtree(tmp_path / "glossary")
