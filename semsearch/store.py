"""The index directory on disk: manifest, terms, chunk records, FAISS file, TF-IDF side.

Layout::

    index/
      manifest.json         the commit record: format, encoder, corpus fingerprint, data files
      .lock                 held (flock) by a build while it writes
      data-<stamp>/         one generation: vectors.faiss, terms.jsonl, chunks.jsonl,
                            dense.npz (hubness priors), lexical.npz, lexical-vocab.json

A build writes a new generation into a temporary folder inside the index directory, fsyncs it,
renames it to `data-<stamp>/`, and only then replaces `manifest.json` with `os.replace` (atomic).
Readers open the manifest first and read only the generation it names, so they see the old index
or the new one, never a mixture; a build killed at any moment leaves the old index in place.
Nothing here uses pickle: JSON, JSON lines, `.npz` read with `allow_pickle=False`, FAISS bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .ann import AnnIndex
from .corpus import Corpus, Term, discover_files, resolved_roots
from .errors import IndexLockedError, IndexStoreError, IndexVersionError
from .lexical import LexicalIndex, lexical_spec, term_document

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Manifest",
    "ChunkRecord",
    "StoredIndex",
    "DenseExtras",
    "read_manifest",
    "read_index",
    "write_index",
    "build_lock",
    "prepare_index_dir",
    "remove_leftovers",
    "stale_reason",
    "built_from_other_corpus",
]

FORMAT = "semsearch-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LOCK = ".lock"
DATA_PREFIX = "data-"
TMP_PREFIX = ".tmp-"
# Data files at most this big are checked against their SHA-256 on every load; bigger ones by size.
VERIFY_HASH_MAX_BYTES = 64 * 1024 * 1024
FIX = "run `semsearch build --force` to rebuild it"
# How many times a reader re-reads the manifest when builds keep replacing the generation under it.
READ_ATTEMPTS = 5

# What each manifest field must hold: a damaged or hand-edited manifest is refused here, with the
# fix, rather than failing deep inside a query.
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "encoder": dict,
    "chunking": dict,
    "lexical": dict,
    "roots": (list, tuple),
    "files": dict,
    "counts": dict,
    "ann": dict,
    "data": str,
    "data_files": dict,
    "built_at": str,
    "build_seconds": (int, float),
    "semsearch_version": str,
    "skipped": (list, tuple),
}


def _field_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with the shape of a manifest's fields, or None."""
    for name, kind in _FIELD_TYPES.items():
        if name in data and not isinstance(data[name], kind):
            return f"field {name!r} has the wrong type"
    for name in ("files", "data_files"):
        if not all(isinstance(entry, dict) for entry in data.get(name, {}).values()):
            return f"field {name!r} has entries of the wrong type"
    if not all(isinstance(root, str) for root in data.get("roots", ())):
        return "field 'roots' has entries of the wrong type"
    return None


@dataclass(frozen=True)
class ChunkRecord:
    """What the index keeps of a chunk: the text is re-derived from the term when needed."""

    id: str
    term: int
    part: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """manifest.json, the record that commits an index generation."""

    encoder: dict[str, Any]
    chunking: dict[str, Any]
    roots: tuple[str, ...]
    files: dict[str, dict[str, Any]]  # corpus source -> {"sha256", "size", "mtime_ns"}
    counts: dict[str, int]
    ann: dict[str, Any]
    data: str  # generation folder name
    data_files: dict[str, dict[str, Any]]  # role -> {"path", "size", "sha256"}
    built_at: str = ""
    build_seconds: float = 0.0
    semsearch_version: str = ""
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    skipped: tuple[str, ...] = field(default=())
    lexical: dict[str, Any] = field(default_factory=dict)  # `lexical.lexical_spec()`; {}: before it

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, where: Path) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            # Not ours (some other tool's manifest.json): rebuilding would clobber it, so no FIX here.
            raise IndexStoreError(f"{where} is not a semsearch index manifest; choose another --index")
        version = data.get("format_version")
        if not isinstance(version, int):
            raise IndexStoreError(f"{where} has no valid format_version; {FIX}")
        if version > FORMAT_VERSION:
            raise IndexVersionError(
                f"{where} was written by a newer semsearch (index format {version}, this one reads "
                f"up to {FORMAT_VERSION}); upgrade semsearch or {FIX}"
            )
        required = [f.name for f in dataclasses.fields(cls) if f.default is f.default_factory is dataclasses.MISSING]
        missing = [name for name in required if name not in data]
        problem = f"missing {', '.join(map(repr, missing))}" if missing else _field_problem(data)
        if problem:
            raise IndexStoreError(f"{where} is damaged ({problem}); {FIX}")
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        fields["roots"] = tuple(fields["roots"])
        fields["skipped"] = tuple(fields.get("skipped", ()))
        return cls(**fields)


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


def _inside(index_dir: Path, relative: str) -> Path:
    """`index_dir / relative`, refusing anything that would resolve outside the index directory."""
    base = index_dir.resolve()
    target = (base / relative).resolve()
    if Path(relative).is_absolute() or (target != base and base not in target.parents):
        raise IndexStoreError(f"manifest in {index_dir} points outside the index directory ({relative!r}); {FIX}")
    return target


def read_manifest(index_dir: Path) -> Manifest:
    """The manifest of an index directory. Raises IndexStoreError with the fix when unusable."""
    path = index_dir / MANIFEST
    if not index_dir.is_dir():
        raise IndexStoreError(f"no index at {index_dir}; build one with `{_build_fix(index_dir)}`")
    try:
        raw = path.read_text(encoding="utf-8")
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
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise IndexStoreError(f"{path} is not valid JSON ({error.msg} at line {error.lineno}); {FIX}") from None
    return Manifest.from_dict(data, path)


def _build_fix(index_dir: Path) -> str:
    return f"semsearch build CORPUS --index {index_dir}"


def _foreign_entries(index_dir: Path) -> list[str]:
    """Names in `index_dir` that no semsearch build writes (sorted)."""
    try:
        names = sorted(p.name for p in index_dir.iterdir())
    except OSError:
        return []
    return [n for n in names if n not in (MANIFEST, LOCK) and not n.startswith((DATA_PREFIX, TMP_PREFIX))]


def _read_data_file(index_dir: Path, manifest: Manifest, role: str) -> bytes:
    entry = manifest.data_files.get(role)
    if not isinstance(entry, dict) or "path" not in entry:
        raise IndexStoreError(f"index manifest in {index_dir} lists no {role} file; {FIX}")
    path = _inside(index_dir, f"{manifest.data}/{entry['path']}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise IndexStoreError(f"index file {path} is missing or unreadable ({error.strerror}); {FIX}") from None
    if len(data) != entry.get("size"):
        raise IndexStoreError(f"index file {path} is truncated or damaged (size differs); {FIX}")
    if len(data) <= VERIFY_HASH_MAX_BYTES and hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise IndexStoreError(f"index file {path} is damaged (checksum differs); {FIX}")
    return data


def _jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def _load_generation(index_dir: Path, manifest: Manifest) -> StoredIndex:
    try:
        term_rows = _jsonl(_read_data_file(index_dir, manifest, "terms"))
        chunk_rows = _jsonl(_read_data_file(index_dir, manifest, "chunks"))
        terms = [
            Term(tuple(r["names"]), r["body"], r["source"], r["line"], tuple(r.get("refs", ())), r.get("url"))
            for r in term_rows
        ]
        chunks = [ChunkRecord(r["id"], r["term"], r["part"], r["sha256"]) for r in chunk_rows]
        ann = AnnIndex.from_bytes(_read_data_file(index_dir, manifest, "vectors"), manifest.ann.get("kind", "flat"))
        lexical = LexicalIndex.from_bytes(
            _read_data_file(index_dir, manifest, "lexical"), _read_data_file(index_dir, manifest, "vocab")
        )
        if manifest.lexical != lexical_spec():
            # Built under other TF-IDF features: questions would miss the stored ones. Rebuilt here
            # (~0.1 s for 300 terms) until a build rewrites it; `open_index` does that when it can.
            lexical = LexicalIndex.build([term_document(t.names, t.body) for t in terms])
        dense = DenseExtras.from_bytes(_read_data_file(index_dir, manifest, "dense"))
        disagree = (
            len(dense.priors) != len(chunks)
            or lexical.n_docs != len(terms)
            or any(type(c.term) is not int or not 0 <= c.term < len(terms) for c in chunks)
        )
    except IndexStoreError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError, OSError) as error:
        raise IndexStoreError(f"index in {index_dir} is damaged ({type(error).__name__}: {error}); {FIX}") from None
    if ann.ntotal != len(chunks):
        raise IndexStoreError(f"index in {index_dir} has {ann.ntotal} vectors for {len(chunks)} chunks; {FIX}")
    if disagree:
        raise IndexStoreError(f"index in {index_dir} has chunks and terms that disagree; {FIX}")
    if ann.dim != manifest.encoder.get("dim"):
        raise IndexStoreError(f"index in {index_dir} has vectors of the wrong dimension; {FIX}")
    term_ids = [r.get("id", "") for r in term_rows]
    return StoredIndex(index_dir, manifest, terms, term_ids, chunks, ann, lexical, dense)


def read_index(index_dir: Path) -> StoredIndex:
    """Load an index directory. Raises IndexStoreError naming the fix when it is unusable."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
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
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {"path": path.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _refuse(index_dir: Path, holds: str) -> IndexStoreError:
    return IndexStoreError(
        f"{index_dir} is not empty and is not a semsearch index (it holds {holds}); "
        "refusing to overwrite it: choose another --index or empty it"
    )


def _manifest_is_foreign(index_dir: Path) -> bool:
    """Whether an unusable manifest.json belongs to something other than semsearch."""
    try:
        data = json.loads((index_dir / MANIFEST).read_bytes())
    except (OSError, ValueError):
        # Garbage (a torn or truncated write, a damaged disk): ours when nothing foreign sits beside it.
        return bool(_foreign_entries(index_dir))
    return not (isinstance(data, dict) and data.get("format") == FORMAT)


def prepare_index_dir(index_dir: Path, *, force: bool = False) -> None:
    """Create the index directory, or check that an existing one may be written to.

    Refuses a non-empty directory that holds anything but a semsearch index (or the leftovers
    of an interrupted build), so a typo in --index can never clobber someone's files. A damaged
    semsearch index may be replaced; one written by a newer semsearch only with `force`.
    """
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexStoreError(f"{index_dir} exists and is not a directory; choose another --index")
    if index_dir.is_dir():
        if (index_dir / MANIFEST).exists():
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
        raise IndexStoreError(f"cannot create index directory {index_dir} ({error.strerror})") from None


@contextlib.contextmanager
def build_lock(index_dir: Path, timeout: float = 600.0, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the index's build lock; wait (calling `on_wait` once) up to `timeout` seconds."""
    import fcntl

    with open(index_dir / LOCK, "a+") as handle:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait:
                    on_wait()
                waited = True
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"another semsearch build is writing {index_dir} and did not finish within "
                        f"{timeout:g} s; try again later, or wait longer (`--wait SECONDS` or $SEMSEARCH_WAIT)"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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
) -> Manifest:
    """Write a new generation and commit it atomically. The caller holds `build_lock`."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    name = f"{DATA_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        term_rows = ({"id": tid, **asdict(t)} for tid, t in zip(term_ids, terms, strict=True))
        term_lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in term_rows)
        chunk_lines = "".join(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in chunks)
        files = {
            "terms": _write_file(tmp / "terms.jsonl", term_lines.encode("utf-8")),
            "chunks": _write_file(tmp / "chunks.jsonl", chunk_lines.encode("utf-8")),
            "vectors": _write_file(tmp / "vectors.faiss", ann.to_bytes()),
            "dense": _write_file(tmp / "dense.npz", dense.to_bytes()),
        }
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
    _write_file(manifest_tmp, manifest.to_json().encode("utf-8"))
    os.replace(manifest_tmp, index_dir / MANIFEST)  # the commit point
    _fsync_dir(index_dir)
    _remove_stale_generations(index_dir, keep=name)
    return manifest


def remove_leftovers(index_dir: Path, manifest: Manifest) -> None:
    """Remove what killed or replaced builds left beside the committed generation. Hold `build_lock`."""
    _remove_stale_generations(index_dir, keep=manifest.data)


def _remove_stale_generations(index_dir: Path, keep: str) -> None:
    """Old generations and leftovers of killed builds. Only called under the build lock."""
    for path in index_dir.iterdir():
        if path.name != keep and path.name.startswith((DATA_PREFIX, TMP_PREFIX)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def file_fingerprints(corpus: Corpus) -> dict[str, dict[str, Any]]:
    """What the manifest records of each corpus file, including files skipped as unreadable
    (without a hash), so that fixing one of those also makes the index stale."""
    prints: dict[str, dict[str, Any]] = {
        f.source: {"sha256": f.sha256, "size": f.size, "mtime_ns": f.mtime_ns} for f in corpus.files
    }
    for skipped in corpus.skipped:
        if skipped.path:
            try:
                stat = os.stat(skipped.path)
            except OSError:  # a broken link or a link loop: recorded, so that it does not look "added"
                prints[skipped.source] = {"sha256": None, "size": None, "mtime_ns": None, "ctime_ns": None}
                continue
            # ctime as well: making a file readable (chmod) changes neither its size nor its mtime.
            prints[skipped.source] = {
                "sha256": None,
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "ctime_ns": stat.st_ctime_ns,
            }
    return prints


def built_from_other_corpus(manifest: Manifest, roots: Sequence[str | os.PathLike[str]]) -> bool:
    """Whether the index was built from other corpus folders than `roots`."""
    return resolved_roots(roots) != tuple(manifest.roots)


def stale_reason(manifest: Manifest, roots: Sequence[str | os.PathLike[str]]) -> str | None:
    """Why the index no longer matches the corpus under `roots`, or None when it does.

    Size and mtime decide when they match; otherwise the content hash does, so touching a file
    without changing it does not make the index stale.
    """
    if built_from_other_corpus(manifest, roots):
        return "the corpus folders differ from the ones it was built from"
    try:
        found, _ = discover_files(roots)
    except Exception as error:
        return f"the corpus cannot be read ({error})"
    current = {source for source, _ in found}
    for label, names in (("added", current - set(manifest.files)), ("removed", set(manifest.files) - current)):
        if names:
            first, more = sorted(names)[0], len(names) - 1
            return f"{first} was {label}" + (f" (and {more} more)" if more else "")
    for source, path in found:
        entry = manifest.files[source]
        was_skipped = entry.get("sha256") is None
        try:
            stat = path.stat()
        except OSError:
            if was_skipped and entry.get("size") is None:
                continue  # a broken link when built, a broken link now
            return f"{source} cannot be read"
        same = stat.st_size == entry.get("size") and stat.st_mtime_ns == entry.get("mtime_ns")
        if was_skipped:
            if same and stat.st_ctime_ns == entry.get("ctime_ns", stat.st_ctime_ns):
                continue
            return f"{source} changed"
        if same:
            continue
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
                return f"{source} changed"
        except OSError:
            return f"{source} cannot be read"
    return None


def vectors_by_hash(stored: StoredIndex) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The stored vectors for reuse in a rebuild, by content hash: (chunk vectors, pseudo-query vectors)."""
    vectors = stored.ann.vectors()
    chunks = {c.sha256: vectors[i] for i, c in enumerate(stored.chunks)}
    pseudo = dict(zip(stored.dense.pseudo_sha256, stored.dense.pseudo_vectors, strict=True))
    return chunks, pseudo
