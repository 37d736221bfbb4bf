"""The index directory on disk: reading and writing generations (terms, chunk records, FAISS file,
TF-IDF side) and the manifest that commits them (its schema: manifest.py).

Layout::

    index/
      manifest.json         the commit record: format, encoder, corpus fingerprint, data files
      .lock                 held (flock) by a build while it writes
      data-<stamp>/         one generation: vectors.faiss, terms.jsonl, chunks.jsonl,
                            dense.npz (hubness priors), lexical.npz, lexical-vocab.json,
                            second.npz (the second encoder's side, when the index has one)

The second encoder's converted weights are not in the index: every index of the user shares them
(encoders/weights.py), and the manifest names them by key (`second.weights`). An index written
before that kept its own copy in `models/`; the build that rewrites it removes that folder.

A build writes a new generation into a temporary folder inside the index directory, fsyncs it,
renames it to `data-<stamp>/`, and only then replaces `manifest.json` with `os.replace` (atomic).
Readers open the manifest first and read only the generation it names, so they see the old index
or the new one, never a mixture; a build killed at any moment leaves the old index in place.
Nothing here uses pickle: JSON, JSON lines, `.npz` read with `allow_pickle=False`, FAISS bytes.

Nothing here follows a symbolic link inside the index directory, reading or writing: an index
unpacked from someone else's archive can carry links to anywhere. Files are created fresh
(`O_EXCL | O_NOFOLLOW`), a leftover at a fixed name (`.tmp-manifest.json`, `.lock`) is replaced
rather than followed, and a manifest or data file that is a link is refused as damage.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import stat
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..ann import AnnIndex
from ..corpus import Term
from ..errors import IndexLockedError, IndexStoreError, IndexVersionError, IndexWriteError
from ..lexical import LexicalIndex
from ..manifest import FIX, MANIFEST, Manifest, is_semsearch_manifest, parse_manifest

__all__ = [
    "ChunkRecord",
    "StoredIndex",
    "DenseExtras",
    "UseSide",
    "MODELS",
    "read_manifest",
    "read_index",
    "write_index",
    "build_lock",
    "prepare_index_dir",
    "remove_leftovers",
    "vectors_by_hash",
    "use_vectors_by_hash",
]

LOCK = ".lock"
#: Where indexes written before the shared weights (encoders/weights.py) kept their own copy of the
#: second encoder's converted weights; removed by the next build that commits.
MODELS = "models"
# Touched by a command that opens an index from the per-user cache: when it was last used (cli/caches.py).
USED = ".used"
DATA_PREFIX = "data-"
TMP_PREFIX = ".tmp-"
# Data files at most this big are checked against their SHA-256 on every load; bigger ones by size.
VERIFY_HASH_MAX_BYTES = 64 * 1024 * 1024
# How many times a reader re-reads the manifest when builds keep replacing the generation under it.
READ_ATTEMPTS = 5
# What a damaged data file can raise while it is parsed (numpy, zipfile, struct, json, faiss).
_PARSE_ERRORS = (
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    RuntimeError,
    OSError,
    EOFError,
    OverflowError,
    MemoryError,
    RecursionError,
    zipfile.BadZipFile,
)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class ChunkRecord:
    """What the index keeps of a chunk: the text is re-derived from the term when needed."""

    id: str
    term_position: int  # its term's position in the index's term list ("term" in chunks.jsonl)
    part: int
    sha256: str

    def to_row(self) -> dict[str, Any]:
        """Its line in chunks.jsonl."""
        return {"id": self.id, "term": self.term_position, "part": self.part, "sha256": self.sha256}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ChunkRecord:
        return cls(row["id"], row["term"], row["part"], row["sha256"])


@dataclass
class StoredIndex:
    """Everything an index directory holds, loaded."""

    path: Path
    manifest: Manifest
    terms: list[Term]
    term_ids: list[str]
    chunks: list[ChunkRecord]
    ann: AnnIndex
    lexical: LexicalIndex
    dense: DenseExtras
    use: UseSide | None = None  # the second encoder's side (manifest.second), when built


@dataclass
class DenseExtras:
    """What the dense side keeps beside the vectors: the hubness prior of every chunk and the
    pseudo-query vectors it was computed from (reused by rebuilds, keyed by text hash)."""

    priors: np.ndarray  # (chunks,) float32
    pseudo_sha256: list[str]
    pseudo_vectors: np.ndarray  # (pseudo queries, dim) float32

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            priors=self.priors,
            pseudo_vectors=self.pseudo_vectors,
            pseudo_sha256=np.array(self.pseudo_sha256, dtype="<U64"),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> DenseExtras:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                np.asarray(arrays["priors"], dtype=np.float32),
                [str(h) for h in arrays["pseudo_sha256"]],
                np.asarray(arrays["pseudo_vectors"], dtype=np.float32),
            )


@dataclass
class UseSide:
    """The second encoder's side (encoders/use.py): its vectors of each term's pieces
    (`chunking.whole_term_chunks`), which term each row belongs to, their content hashes (for reuse),
    and their hubness priors with the pseudo-query vectors they came from."""

    vectors: np.ndarray  # (rows, dim) float32, L2-normalised
    term_of_row: np.ndarray  # (rows,) int64
    sha256: list[str]
    extras: DenseExtras

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            vectors=self.vectors,
            term_of_row=self.term_of_row,
            sha256=np.array(self.sha256, dtype="<U64"),
            priors=self.extras.priors,
            pseudo_vectors=self.extras.pseudo_vectors,
            pseudo_sha256=np.array(self.extras.pseudo_sha256, dtype="<U64"),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> UseSide:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            side = cls(
                np.asarray(arrays["vectors"], dtype=np.float32),
                np.asarray(arrays["term_of_row"], dtype=np.int64),
                [str(h) for h in arrays["sha256"]],
                DenseExtras(
                    np.asarray(arrays["priors"], dtype=np.float32),
                    [str(h) for h in arrays["pseudo_sha256"]],
                    np.asarray(arrays["pseudo_vectors"], dtype=np.float32),
                ),
            )
        rows = len(side.vectors)
        if not (len(side.term_of_row) == len(side.sha256) == len(side.extras.priors) == rows):
            raise ValueError("the second side's arrays disagree in length")
        return side


def _inside(index_dir: Path, relative: str) -> Path:
    """`index_dir / relative`, refusing anything that would resolve outside the index directory."""
    base = index_dir.resolve()
    target = (base / relative).resolve()
    if Path(relative).is_absolute() or (target != base and base not in target.parents):
        raise IndexStoreError(f"manifest in {index_dir} points outside the index directory ({relative!r}); {FIX}")
    return target


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file, never through a symbolic link (nor from a FIFO or device).

    Raises IndexStoreError (with the fix) for a link or a special file, OSError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP or path.is_symlink():
            raise IndexStoreError(
                f"{path} is a symbolic link, which semsearch never writes and does not follow; {FIX}"
            ) from None
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IndexStoreError(f"{path} is not a regular file; {FIX}")
        return handle.read()


def read_manifest(index_dir: Path) -> Manifest:
    """The manifest of an index directory. Raises IndexStoreError with the fix when unusable."""
    path = index_dir / MANIFEST
    if not index_dir.is_dir():
        raise IndexStoreError(f"no index at {index_dir}; build one with `{_build_fix(index_dir)}`")
    try:
        raw = _read_regular(path).decode("utf-8")
    except FileNotFoundError:
        foreign = _foreign_entries(index_dir)
        if foreign:
            raise IndexStoreError(
                f"{index_dir} is not a semsearch index (no {MANIFEST}; it holds {foreign[0]!r}); choose another --index"
            ) from None
        raise IndexStoreError(
            f"no index at {index_dir} (no {MANIFEST}); build one with `{_build_fix(index_dir)}`"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise IndexStoreError(f"cannot read {path} ({error}); {FIX}") from error
    return parse_manifest(raw, path)


def _build_fix(index_dir: Path) -> str:
    return f"semsearch build CORPUS --index {index_dir}"


def _foreign_entries(index_dir: Path) -> list[str]:
    """Names in `index_dir` that no semsearch build writes (sorted)."""
    try:
        names = sorted(p.name for p in index_dir.iterdir())
    except OSError:
        return []
    return [n for n in names if n not in (MANIFEST, LOCK, MODELS, USED) and not n.startswith((DATA_PREFIX, TMP_PREFIX))]


def _read_data_file(index_dir: Path, manifest: Manifest, role: str) -> bytes:
    entry = manifest.data_files.get(role)
    if not isinstance(entry, dict) or "path" not in entry:
        raise IndexStoreError(f"index manifest in {index_dir} lists no {role} file; {FIX}")
    relative = f"{manifest.data}/{entry['path']}"
    for link in (index_dir / manifest.data, index_dir / relative):  # before resolving them below
        if link.is_symlink():
            raise IndexStoreError(f"{link} is a symbolic link, which semsearch never writes and does not follow; {FIX}")
    path = _inside(index_dir, relative)
    try:
        data = _read_regular(index_dir / relative)
    except OSError as error:
        raise IndexStoreError(f"index file {path} is missing or unreadable ({error.strerror}); {FIX}") from None
    if len(data) != entry.get("size"):
        raise IndexStoreError(f"index file {path} is truncated or damaged (size differs); {FIX}")
    if len(data) <= VERIFY_HASH_MAX_BYTES and hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise IndexStoreError(f"index file {path} is damaged (checksum differs); {FIX}")
    return data


def _jsonl(data: bytes) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    if not all(isinstance(row, dict) for row in rows):
        raise ValueError("a row is not a JSON object")
    return rows


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _term(row: dict[str, Any]) -> Term:
    """A term row as written by `write_index`; ValueError for anything else (a row with no names
    would break every query that ranks it)."""
    names, refs, url = row["names"], row.get("refs", []), row.get("url")
    if not (_strings(names) and names and all(n.strip() for n in names)):
        raise ValueError("a term has no names")
    if not (isinstance(row["body"], str) and isinstance(row["source"], str) and _strings(refs)):
        raise ValueError("a term row has fields of the wrong type")
    if type(row["line"]) is not int or not (url is None or isinstance(url, str)):
        raise ValueError("a term row has fields of the wrong type")
    return Term(tuple(names), row["body"], row["source"], row["line"], tuple(refs), url)


def _chunk(row: dict[str, Any]) -> ChunkRecord:
    chunk = ChunkRecord(row["id"], row["term"], row["part"], row["sha256"])
    if not (isinstance(chunk.id, str) and type(chunk.part) is int and isinstance(chunk.sha256, str)):
        raise ValueError("a chunk row has fields of the wrong type")
    return chunk


def _finite(name: str, *arrays: np.ndarray | None) -> None:
    for array in arrays:
        if array is not None and array.size and not np.isfinite(array).all():
            raise ValueError(f"{name} hold NaN or infinite values")


def _load_generation(index_dir: Path, manifest: Manifest) -> StoredIndex:
    try:
        term_rows = _jsonl(_read_data_file(index_dir, manifest, "terms"))
        chunk_rows = _jsonl(_read_data_file(index_dir, manifest, "chunks"))
        terms = [_term(r) for r in term_rows]
        chunks = [_chunk(r) for r in chunk_rows]
        ann = AnnIndex.from_bytes(_read_data_file(index_dir, manifest, "vectors"), manifest.ann.get("kind", "flat"))
        lexical = LexicalIndex.from_bytes(
            _read_data_file(index_dir, manifest, "lexical"), _read_data_file(index_dir, manifest, "vocab")
        )
        dense = DenseExtras.from_bytes(_read_data_file(index_dir, manifest, "dense"))
        # A flat index's vectors are at hand (a NumPy pass over them, small beside the checksum);
        # an approximate index's vectors live inside FAISS and are not re-read here.
        _finite("vectors", ann.matrix)
        _finite("hubness priors", dense.priors, dense.pseudo_vectors)
        _finite("TF-IDF weights", lexical.idf, lexical.weights)
        use = UseSide.from_bytes(_read_data_file(index_dir, manifest, "second")) if manifest.second else None
        if use is not None:
            _finite("the second encoder's vectors", use.vectors, use.extras.priors)
        disagree = (
            len(dense.priors) != len(chunks)
            or (use is not None and not all(0 <= t < len(terms) for t in use.term_of_row.tolist()))
            or lexical.n_docs != len(terms)
            or any(type(c.term_position) is not int or not 0 <= c.term_position < len(terms) for c in chunks)
        )
    except IndexStoreError:
        raise
    except _PARSE_ERRORS as error:
        raise IndexStoreError(f"index in {index_dir} is damaged ({type(error).__name__}: {error}); {FIX}") from None
    if ann.ntotal != len(chunks):
        raise IndexStoreError(f"index in {index_dir} has {ann.ntotal} vectors for {len(chunks)} chunks; {FIX}")
    if disagree:
        raise IndexStoreError(f"index in {index_dir} has chunks and terms that disagree; {FIX}")
    if ann.dim != manifest.encoder.get("dim") or (
        use is not None and use.vectors.shape[1] != manifest.second.get("dim")
    ):
        raise IndexStoreError(f"index in {index_dir} has vectors of the wrong dimension; {FIX}")
    term_ids = [r.get("id", "") for r in term_rows]
    return StoredIndex(index_dir, manifest, terms, term_ids, chunks, ann, lexical, dense, use)


def read_index(index_dir: Path, manifest: Manifest | None = None) -> StoredIndex:
    """Load an index directory (the generation `manifest` names, when it was just read). Raises
    IndexStoreError naming the fix when it is unusable."""
    index_dir = Path(index_dir)
    manifest = manifest if manifest is not None else read_manifest(index_dir)
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return _load_generation(index_dir, manifest)
        except IndexStoreError:
            # A build may have committed a new generation (and removed ours) between our reading
            # the manifest and its files: if the manifest changed meanwhile, read the new one.
            again = read_manifest(index_dir)
            if again.data == manifest.data or attempt == READ_ATTEMPTS:
                raise
            manifest = again
    raise AssertionError("unreachable")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can fsync a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_file(path: Path, data: bytes) -> dict[str, Any]:
    """Write a new file (never through a link, never into an existing file) and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {"path": path.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _unlink_leftover(path: Path) -> None:
    """Remove what sits at a fixed name semsearch writes (a file, or a link: the link, never its target)."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


_WRITE_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "a file would pass the file size limit, `ulimit -f`",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def write_failure(index_dir: Path, error: OSError) -> IndexWriteError:
    """The one-line error for an index directory that cannot be written."""
    reason = _WRITE_REASONS.get(error.errno or 0) or error.strerror or str(error)
    failure = IndexWriteError(
        f"cannot write the index in {index_dir} ({reason}); nothing was changed: "
        "free space or make it writable, or choose another --index"
    )
    failure.reason = reason
    return failure


def _refuse(index_dir: Path, holds: str) -> IndexStoreError:
    return IndexStoreError(
        f"{index_dir} is not empty and is not a semsearch index (it holds {holds}); "
        "refusing to overwrite it: choose another --index or empty it"
    )


def _manifest_is_foreign(index_dir: Path) -> bool:
    """Whether an unusable manifest.json belongs to something other than semsearch."""
    try:
        data = json.loads(_read_regular(index_dir / MANIFEST))
    except (OSError, ValueError, RecursionError, IndexStoreError):
        # Garbage (a torn or truncated write, a damaged disk): ours when nothing foreign sits beside it.
        return bool(_foreign_entries(index_dir))
    return not is_semsearch_manifest(data)


def prepare_index_dir(index_dir: Path, *, force: bool = False) -> None:
    """Create the index directory, or check that an existing one may be written to.

    Refuses a non-empty directory that holds anything but a semsearch index (or the leftovers
    of an interrupted build), so a typo in --index can never clobber someone's files. A damaged
    semsearch index may be replaced; one written by a newer semsearch only with `force`.
    """
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexStoreError(f"{index_dir} exists and is not a directory; choose another --index")
    if index_dir.is_dir():
        if (index_dir / MANIFEST).exists() or (index_dir / MANIFEST).is_symlink():
            try:
                read_manifest(index_dir)
            except IndexVersionError:
                if not force:
                    raise
            except IndexStoreError:
                if _manifest_is_foreign(index_dir):
                    raise _refuse(index_dir, f"a {MANIFEST} that is not semsearch's") from None
            return  # ours: usable, damaged (the build replaces it) or newer under force
        foreign = _foreign_entries(index_dir)
        if foreign:
            raise _refuse(index_dir, repr(foreign[0]))
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = _WRITE_REASONS.get(error.errno or 0) or error.strerror
        raise IndexWriteError(f"cannot create index directory {index_dir} ({reason}); choose another --index") from None


def _open_lock(index_dir: Path) -> int:
    """A descriptor of the index's `.lock` file, never through a link: a link or other leftover
    there is replaced by a fresh file. Raises IndexWriteError when the directory is not writable."""
    path = index_dir / LOCK
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC, 0o644)
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO) and not path.is_symlink():
                raise write_failure(index_dir, error) from None
            fd = -1
        if fd >= 0 and stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        if fd >= 0:
            os.close(fd)
        try:
            _unlink_leftover(path)
        except OSError as error:
            raise write_failure(index_dir, error) from None
    raise IndexStoreError(f"{path} keeps being replaced by something that is not a lock file; remove it")


@contextlib.contextmanager
def build_lock(index_dir: Path, timeout: float = 600.0, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the index's build lock; wait (calling `on_wait` once) up to `timeout` seconds."""
    import fcntl

    deadline = time.monotonic() + timeout
    waited = False
    while True:
        fd = _open_lock(index_dir)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if not waited and on_wait:
                on_wait()
            waited = True
            if time.monotonic() >= deadline:
                raise IndexLockedError(
                    f"another semsearch build is writing {index_dir} and did not finish within "
                    f"{timeout:g} s; try again later, or wait longer (`--wait SECONDS` or $SEMSEARCH_WAIT)"
                ) from None
            time.sleep(0.1)
            continue
        # Another process may have replaced a leftover `.lock` between our open and our lock: the
        # lock counts only on the file that is at the name now.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(index_dir / LOCK, follow_symlinks=False))
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_index(
    index_dir: Path,
    *,
    terms: Sequence[Term],
    term_ids: Sequence[str],
    chunks: Sequence[ChunkRecord],
    ann: AnnIndex,
    lexical: LexicalIndex,
    dense: DenseExtras,
    manifest_fields: dict[str, Any],
    use: UseSide | None = None,
) -> Manifest:
    """Write a new generation and commit it atomically. The caller holds `build_lock`.

    Raises IndexWriteError, leaving the previous index as it was, when the directory cannot be
    written (disk full, read-only, a file size limit)."""
    try:
        return _write_index(index_dir, terms, term_ids, chunks, ann, lexical, dense, manifest_fields, use)
    except OSError as error:
        raise write_failure(index_dir, error) from None


def _write_index(
    index_dir: Path,
    terms: Sequence[Term],
    term_ids: Sequence[str],
    chunks: Sequence[ChunkRecord],
    ann: AnnIndex,
    lexical: LexicalIndex,
    dense: DenseExtras,
    manifest_fields: dict[str, Any],
    use: UseSide | None,
) -> Manifest:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    name = f"{DATA_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        term_rows = ({"id": tid, **asdict(t)} for tid, t in zip(term_ids, terms, strict=True))
        term_lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in term_rows)
        chunk_lines = "".join(json.dumps(c.to_row(), ensure_ascii=False) + "\n" for c in chunks)
        files = {
            "terms": _write_file(tmp / "terms.jsonl", term_lines.encode("utf-8")),
            "chunks": _write_file(tmp / "chunks.jsonl", chunk_lines.encode("utf-8")),
            "vectors": _write_file(tmp / "vectors.faiss", ann.to_bytes()),
            "dense": _write_file(tmp / "dense.npz", dense.to_bytes()),
        }
        if use is not None:
            files["second"] = _write_file(tmp / "second.npz", use.to_bytes())
        arrays, vocab = lexical.to_bytes()
        files["lexical"] = _write_file(tmp / "lexical.npz", arrays)
        files["vocab"] = _write_file(tmp / "lexical-vocab.json", vocab)
        _fsync_dir(tmp)
        os.rename(tmp, index_dir / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest = Manifest(**{**manifest_fields, "data": name, "data_files": files, "ann": ann.info()})
    manifest_tmp = index_dir / f"{TMP_PREFIX}{MANIFEST}"
    try:
        _unlink_leftover(manifest_tmp)  # a killed build's, or a planted link: replaced, never followed
        _write_file(manifest_tmp, manifest.to_json().encode("utf-8"))
        os.replace(manifest_tmp, index_dir / MANIFEST)  # the commit point
    except BaseException:
        with contextlib.suppress(OSError):
            _unlink_leftover(manifest_tmp)
        shutil.rmtree(index_dir / name, ignore_errors=True)
        raise
    _fsync_dir(index_dir)
    with contextlib.suppress(OSError):  # committed: what is left over goes on the next build
        _remove_stale_generations(index_dir, keep=name)
        _unlink_leftover(index_dir / MODELS)  # an older index's own copy of shared weights
    return manifest


def remove_leftovers(index_dir: Path, manifest: Manifest | None = None) -> None:
    """Remove what killed, failed or replaced builds left beside the committed generation (the
    manifest's, read here when not given). Without a readable manifest, only `.tmp-*` goes: the
    generations of a damaged index stay until a build replaces it. Hold `build_lock`."""
    if manifest is None:
        try:
            manifest = read_manifest(index_dir)
        except IndexStoreError:
            manifest = None
    with contextlib.suppress(OSError):  # a read-only directory: nothing can be removed, nothing needs to be
        if manifest is not None:
            _remove_stale_generations(index_dir, keep=manifest.data)
        else:
            _remove_stale_generations(index_dir, keep=None, prefixes=(TMP_PREFIX,))


def _remove_stale_generations(
    index_dir: Path, keep: str | None, prefixes: tuple[str, ...] = (DATA_PREFIX, TMP_PREFIX)
) -> None:
    """Old generations and leftovers of killed builds (a link: the link, never what it points to).
    Only called under the build lock."""
    for path in index_dir.iterdir():
        if path.name != keep and path.name.startswith(prefixes):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def vectors_by_hash(stored: StoredIndex) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The stored vectors for reuse in a rebuild, by content hash: (chunk vectors, pseudo-query vectors)."""
    vectors = stored.ann.vectors()
    chunks = {c.sha256: vectors[i] for i, c in enumerate(stored.chunks)}
    pseudo = dict(zip(stored.dense.pseudo_sha256, stored.dense.pseudo_vectors, strict=True))
    return chunks, pseudo


def use_vectors_by_hash(stored: StoredIndex) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """`vectors_by_hash` for the second encoder's side (empty when the index has none)."""
    side = stored.use
    if side is None:
        return {}, {}
    rows = dict(zip(side.sha256, side.vectors, strict=True))
    pseudo = dict(zip(side.extras.pseudo_sha256, side.extras.pseudo_vectors, strict=True))
    return rows, pseudo
