"""The engines a Qdrant store runs on, behind one small interface (`Engine`), so that qdrant.py
speaks semsearch's terms (points, one search with a formula, generations behind an alias) and
nothing else knows an engine's API:

    ClientEngine   qdrant-client: a server or cluster (`QdrantClient(url=…)`), or its local mode
                   (`QdrantClient(path=…)`), which runs the same API calls in-process, in Python
    EdgeEngine     Qdrant Edge (qdrant-edge-py): Qdrant's Rust engine in-process, one shard per
                   generation under a folder; it has no collections, aliases or grouping, so a
                   generation is a shard folder named by a pointer file, and grouping by term
                   happens in qdrant.py

Every client import happens here, inside the engine that needs it.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import json
import logging
import os
import re
import shutil
import stat
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import IndexLockedError, IndexStoreError, SemsearchError
from ..location import ENV_QDRANT_API_KEY, QdrantLocation

__all__ = ["DamagedStore", "Engine", "PointSpec", "Relevance", "Search", "connect"]

log = logging.getLogger(__name__)

#: The named vectors of a chunk point (dense, lexical) and of a USE point ("use": the Universal
#: Sentence Encoder's vector of one piece of an entry, chunking.whole_term_chunks).
DENSE, LEXICAL, USE = "dense", "lexical", "use"
#: A generation's sibling collection (its entries, features, manifest) is named with this suffix.
META_SUFFIX = "-meta"
BATCH = 256
SCROLL_PAGE = 1024
# A server or cluster answers within this many seconds, or the command says it cannot reach it.
SERVER_TIMEOUT = 60
# How often a command waiting for another process to close a local or Edge store tries again.
RETRY_SECONDS = 0.2

Sparse = tuple[list[int], list[float]]


@dataclass(frozen=True)
class PointSpec:
    """One point as semsearch lays it out: named dense vectors, the sparse TF-IDF vector, a payload."""

    id: str
    payload: dict[str, Any]
    vectors: dict[str, list[float]]
    sparse: Sparse | None = None


@dataclass(frozen=True)
class Relevance:
    """One side's raw relevance, as the engine computes it for each point:

        dense x cosine(question, chunk) + use x cosine(question's USE vector, piece)
            - prior x the point's hubness prior + lexical x TF-IDF cosine(question, the chunk's term)

    A query asks one side at a time (scoring.py fuses the sides, `scoring.fuse`); the weights are 0 or 1
    but for the prior, which is the side's hubness weight."""

    dense: float = 0.0
    lexical: float = 0.0
    prior: float = 0.0
    use: float = 0.0


@dataclass(frozen=True)
class Search:
    """One engine query in semsearch's terms: the chunks' relevance under `formula` (stores/base.py),
    from the `candidates` best chunks of each side; `limit` results, one per `group_by` value when
    grouping (else the best chunks); only chunks of the terms `terms` when given."""

    formula: Relevance
    vector: list[float] | None
    sparse: Sparse | None
    candidates: int
    limit: int
    group_by: str | None = None
    terms: tuple[str, ...] | None = None
    use_vector: list[float] | None = None


def _sides(search: Search) -> list[tuple[str, Any]]:
    """(vector name, query) of each prefetch, in the order `$score[i]` refers to them."""
    sides: list[tuple[str, Any]] = []
    if search.formula.dense and search.vector is not None:
        sides.append((DENSE, search.vector))
    if search.formula.lexical and search.sparse is not None:
        sides.append((LEXICAL, search.sparse))
    if search.formula.use and search.use_vector is not None:
        sides.append((USE, search.use_vector))
    return sides


def _terms(weights: dict[str, float], prior: float, sides: list[tuple[str, Any]]) -> list[tuple[float, str]]:
    """The formula as (weight, variable) terms: each side's score, minus the prior."""
    out = [(weights[name], f"$score[{i}]") for i, (name, _) in enumerate(sides)]
    if prior and any(name in (DENSE, USE) for name, _ in sides):
        out.append((-prior, "prior"))
    return out


T = TypeVar("T")


class DamagedStore(IndexStoreError):
    """A local or Edge store whose own files are damaged (a pointer naming no generation of the
    store, a folder or file missing, truncated or a link): a build makes a new generation."""


def _fix(location: QdrantLocation) -> str:
    return f"rebuild it: semsearch build CORPUS --index {location} --force"


def _text(error: BaseException) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__


def _caught(error: BaseException) -> bool:
    """Whether an engine's exception is one to turn into a one-line error: any Exception, and the
    panics of Rust engines (pyo3's PanicException derives from BaseException), never an interrupt."""
    return isinstance(error, Exception) or type(error).__name__ == "PanicException"


def _unreachable(error: BaseException) -> bool:
    """Whether an engine error comes from not reaching the server (refused, timed out, no route)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (ConnectionError, TimeoutError)) or "Connect" in type(seen).__name__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _engine_errors(method: Callable[..., T]) -> Callable[..., T]:
    """An engine's own exceptions become one-line IndexStoreErrors naming the store."""

    @functools.wraps(method)
    def wrapper(self: Engine, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except SemsearchError:
            raise
        except BaseException as error:
            if not _caught(error):
                raise
            text = _text(error)
            if self.location.engine == "server" and _unreachable(error):
                raise IndexStoreError(f"cannot reach the Qdrant server at {self.location.url} ({text})") from error
            raise IndexStoreError(f"the Qdrant store at {self.location} failed: {text}") from error

    return wrapper


def _edge_reads(method: Callable[..., T]) -> Callable[..., T]:
    """Qdrant Edge runs here, on files: an error (or a panic) while reading them means they are
    damaged (a truncated vector file, a missing segment), said with the fix."""

    @functools.wraps(method)
    def wrapper(self: EdgeEngine, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except SemsearchError:
            raise
        except BaseException as error:
            if not _caught(error):
                raise
            raise self.damaged(_text(error)) from error

    return wrapper


class Engine(ABC):
    """What qdrant.py needs from an engine. Collections are generations; `current` is the one the
    index's alias names."""

    location: QdrantLocation
    #: Whether the engine groups results by a payload field itself (query_points_groups).
    groups: bool = False

    @abstractmethod
    def current(self) -> str | None:
        """The generation the alias names (None: no index here)."""

    @abstractmethod
    def generations(self) -> list[str]:
        """Every collection of this index's generations that exists, the current ones included."""

    @abstractmethod
    def is_foreign(self) -> str | None:
        """What is at the location that is not a semsearch store (None: nothing, or ours)."""

    @abstractmethod
    def create(self, name: str, dim: int, *, chunks: bool, use_dim: int = 0) -> None:
        """A new, empty collection: for chunks (a dense and a sparse vector, and the USE pieces' vectors
        of `use_dim` when the index has that side), or for the rest (payload only)."""

    @abstractmethod
    def drop(self, name: str) -> None: ...

    @abstractmethod
    def switch(self, name: str) -> None:
        """Point the alias at generation `name`, atomically."""

    @abstractmethod
    def upsert(self, name: str, points: Sequence[PointSpec]) -> None: ...

    @abstractmethod
    def delete(self, name: str, ids: Sequence[str]) -> None: ...

    @abstractmethod
    def scroll(
        self, name: str, kind: str, fields: Sequence[str] | None, vector: str | None
    ) -> Iterator[tuple[str, dict, Any]]:
        """(id, payload, the named vector or None) of every point of `kind`; `fields` None: the whole payload."""

    @abstractmethod
    def retrieve(self, name: str, ids: Sequence[str]) -> dict[str, dict]:
        """id -> payload of the points of `ids` that exist."""

    @abstractmethod
    def search(self, name: str, search: Search) -> list[tuple[dict, float]]:
        """(payload, score) best first: one per group when `search.group_by` and the engine
        groups, else the best chunks (up to `search.limit`)."""

    @abstractmethod
    def nearest(self, name: str, point_id: str, limit: int) -> list[dict]:
        """The payloads of the `limit` chunks nearest the chunk `point_id` (itself excluded)."""

    @abstractmethod
    def vector(self, name: str, point_id: str) -> list[float] | None:
        """The dense vector of the chunk `point_id`, or None when there is no such point."""

    def close(self) -> None:  # noqa: B027 - an engine in this process holds nothing to release
        """Release the connection (a server's); local folders stay open for the process (see below)."""

    def claims_index(self) -> bool:
        """Whether something here says it is an index (an alias, a pointer), damaged or not."""
        return self.current() is not None

    def verify(self, name: str) -> None:  # noqa: B027 - only an engine on local files can look at them
        """Raise DamagedStore when a cheap look at generation `name` finds it damaged."""

    def remove_links(self) -> None:  # noqa: B027 - only an engine on local files can find links
        """Remove links planted where generations go (never following them)."""


def new_generation_name(base: str) -> str:
    return f"{base}-g{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"


# -- qdrant-client: a server or cluster, or local mode -----------------------------------------

# Local mode locks its folder for the lifetime of a client, and an Edge shard its WAL: one client per
# folder and one shard per generation per process, shared by every store opened on them (a build's
# index and a `semsearch.load` of the same folder), closed when the interpreter exits.
_LOCAL_CLIENTS: dict[str, Any] = {}
_EDGE_SHARDS: dict[str, Any] = {}


@atexit.register
def _close_all() -> None:
    for handle in [*_LOCAL_CLIENTS.values(), *_EDGE_SHARDS.values()]:
        with contextlib.suppress(Exception):
            handle.close()
    _LOCAL_CLIENTS.clear()
    _EDGE_SHARDS.clear()


def _missing(extra: str, package: str) -> IndexStoreError:
    return IndexStoreError(f"a Qdrant index needs {package}: pip install 'semsearch[{extra}]'")


class ClientEngine(Engine):
    groups = True

    def __init__(self, location: QdrantLocation, timeout: float, on_wait: Callable[[], None] | None) -> None:
        self.location = location
        try:
            from qdrant_client import QdrantClient, models
        except ImportError:
            raise _missing("qdrant", "qdrant-client") from None
        self.models = models
        self.alias = location.name
        if location.engine == "server":
            self.client = _server_client(QdrantClient, location)
        else:
            assert location.path is not None
            self.client = _local_client(QdrantClient, location.path, timeout, on_wait)

    @_engine_errors
    def current(self) -> str | None:
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == self.alias:
                return str(alias.collection_name)
        return None

    @_engine_errors
    def generations(self) -> list[str]:
        prefix = f"{self.alias}-g"
        return sorted(c.name for c in self.client.get_collections().collections if c.name.startswith(prefix))

    @_engine_errors
    def is_foreign(self) -> str | None:
        names = {c.name for c in self.client.get_collections().collections}
        if self.alias in names:
            return f"a Qdrant collection named {self.alias!r} that is not a semsearch index"
        return None

    @_engine_errors
    def create(self, name: str, dim: int, *, chunks: bool, use_dim: int = 0) -> None:
        m = self.models
        cosine = m.VectorParams(size=dim, distance=m.Distance.COSINE)
        vectors = {DENSE: cosine}
        if use_dim:
            vectors[USE] = m.VectorParams(size=use_dim, distance=m.Distance.COSINE)
        spread: dict[str, int] = {}  # on a cluster, as the URI asks (?shards=N&replicas=N)
        if self.location.shards:
            spread["shard_number"] = self.location.shards
        if self.location.replicas:
            spread["replication_factor"] = self.location.replicas
        if chunks:
            self.client.create_collection(
                name, vectors_config=vectors, sparse_vectors_config={LEXICAL: m.SparseVectorParams()}, **spread
            )
        else:
            self.client.create_collection(name, vectors_config={}, **spread)
        if self.location.engine == "server":  # local mode has no payload indexes (and warns about them)
            for field in ("kind", "term", "group") if chunks else ("kind",):
                self.client.create_payload_index(name, field, m.PayloadSchemaType.KEYWORD)

    @_engine_errors
    def drop(self, name: str) -> None:
        self.client.delete_collection(name)

    @_engine_errors
    def switch(self, name: str) -> None:
        m = self.models
        operations: list[Any] = []
        if self.current() is not None:
            operations.append(m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name=self.alias)))
        operations.append(
            m.CreateAliasOperation(create_alias=m.CreateAlias(collection_name=name, alias_name=self.alias))
        )
        self.client.update_collection_aliases(operations)  # one request: readers see one alias or the other

    def _point(self, spec: PointSpec) -> Any:
        m = self.models
        vector: dict[str, Any] = dict(spec.vectors)
        if spec.sparse is not None:
            vector[LEXICAL] = m.SparseVector(indices=spec.sparse[0], values=spec.sparse[1])
        return m.PointStruct(id=spec.id, vector=vector, payload=spec.payload)

    @_engine_errors
    def upsert(self, name: str, points: Sequence[PointSpec]) -> None:
        for start in range(0, len(points), BATCH):
            self.client.upsert(name, [self._point(p) for p in points[start : start + BATCH]], wait=True)

    @_engine_errors
    def delete(self, name: str, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), BATCH):
            self.client.delete(name, self.models.PointIdsList(points=list(ids[start : start + BATCH])), wait=True)

    def _kind(self, kind: str) -> Any:
        m = self.models
        return m.Filter(must=[m.FieldCondition(key="kind", match=m.MatchValue(value=kind))])

    @_engine_errors
    def scroll(
        self, name: str, kind: str, fields: Sequence[str] | None, vector: str | None
    ) -> Iterator[tuple[str, dict, Any]]:
        offset = None
        while True:
            records, offset = self.client.scroll(
                name,
                scroll_filter=self._kind(kind),
                limit=SCROLL_PAGE,
                offset=offset,
                with_payload=list(fields) if fields is not None else True,
                with_vectors=[vector] if vector else False,
            )
            for record in records:
                vectors = record.vector if isinstance(record.vector, dict) else {}
                yield str(record.id), record.payload or {}, vectors.get(vector) if vector else None
            if offset is None:
                return

    @_engine_errors
    def retrieve(self, name: str, ids: Sequence[str]) -> dict[str, dict]:
        if not ids:
            return {}
        return {str(r.id): r.payload or {} for r in self.client.retrieve(name, list(ids), with_payload=True)}

    def _filter(self, terms: tuple[str, ...] | None) -> Any:
        m = self.models
        if terms is None:
            return None
        return m.Filter(must=[m.FieldCondition(key="term", match=m.MatchAny(any=list(terms)))])

    @_engine_errors
    def search(self, name: str, search: Search) -> list[tuple[dict, float]]:
        m = self.models
        sides = _sides(search)
        if not sides:
            return []
        where = self._filter(search.terms)
        prefetch = [
            m.Prefetch(
                query=query if side != LEXICAL else m.SparseVector(indices=query[0], values=query[1]),
                using=side,
                limit=search.candidates,
                filter=where,
            )
            for side, query in sides
        ]
        weights = {DENSE: search.formula.dense, LEXICAL: search.formula.lexical, USE: search.formula.use}
        parts: list[Any] = [
            var if w == 1 else m.MultExpression(mult=[w, var])
            for w, var in _terms(weights, search.formula.prior, sides)
        ]
        defaults = {f"$score[{i}]": 0.0 for i in range(len(sides))}
        formula = m.FormulaQuery(formula=m.SumExpression(sum=parts), defaults={**defaults, "prior": 0.0})
        fields = ["term", "group"]
        if search.group_by and self.groups:
            result = self.client.query_points_groups(
                name,
                group_by=search.group_by,
                prefetch=prefetch,
                query=formula,
                query_filter=where,
                limit=search.limit,
                group_size=1,
                with_payload=fields,
            )
            return [(g.hits[0].payload or {}, float(g.hits[0].score)) for g in result.groups if g.hits]
        limit = search.limit if not search.group_by else len(sides) * search.candidates
        points = self.client.query_points(
            name, prefetch=prefetch, query=formula, query_filter=where, limit=limit, with_payload=fields
        ).points
        return [(p.payload or {}, float(p.score)) for p in points]

    @_engine_errors
    def nearest(self, name: str, point_id: str, limit: int) -> list[dict]:
        points = self.client.query_points(name, query=point_id, using=DENSE, limit=limit, with_payload=["term"]).points
        return [p.payload or {} for p in points]

    @_engine_errors
    def vector(self, name: str, point_id: str) -> list[float] | None:
        records = self.client.retrieve(name, [point_id], with_payload=False, with_vectors=[DENSE])
        vectors = records[0].vector if records and isinstance(records[0].vector, dict) else {}
        found = vectors.get(DENSE)
        return [float(x) for x in found] if isinstance(found, list) else None

    def close(self) -> None:
        if self.location.engine == "server":
            with contextlib.suppress(Exception):
                self.client.close()


def _server_client(client_class: Any, location: QdrantLocation) -> Any:
    api_key = os.environ.get(ENV_QDRANT_API_KEY) or None
    try:
        # No version handshake: it warns on stderr whenever a server is unreachable; formula queries need a
        # server of 1.14 or newer (docs/scaling.md).
        return client_class(url=location.url, api_key=api_key, timeout=SERVER_TIMEOUT, check_compatibility=False)
    except Exception as error:
        raise IndexStoreError(f"cannot connect to the Qdrant server at {location.url}: {error}") from error


def _remove_leftover(path: Path) -> None:
    """Remove what sits at a name semsearch is about to create (a file, or a link: the link, never its target)."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


# What local mode writes at fixed names with a plain open(): its lock (created when missing) and its
# manifest's temporary copy. A link there would be written through (an adversarial try planted one).
_LOCAL_FIXED = (".lock", "meta.json.tmp")


def _no_links(path: Path) -> None:
    """Before local mode opens a folder: a link at a name it writes plainly is removed (never its
    target); a link anywhere else in the store (meta.json, a collection, its SQLite file or journal)
    is refused as damage, since SQLite would write through it."""
    if not path.is_dir():
        return
    for name in _LOCAL_FIXED:
        if (path / name).is_symlink():
            with contextlib.suppress(FileNotFoundError):
                (path / name).unlink()
    for root, dirs, files in os.walk(path):
        for entry in (*dirs, *files):
            if (Path(root) / entry).is_symlink():
                where = (Path(root) / entry).relative_to(path)
                raise IndexStoreError(
                    f"the Qdrant store at {path} holds a symbolic link ({where}), which semsearch never writes and "
                    f"local mode would write through; delete that folder and build again: "
                    f"semsearch build CORPUS --index qdrant+local://{path}"
                )


def local_folder_problem(path: Path) -> str | None:
    """What makes `path` no local Qdrant store: it is a file, or a folder holding other things
    (local mode would write its files into it). None: absent, empty, or a local store."""
    if not path.exists():
        return None
    if not path.is_dir():
        return "it is a file"
    entries = sorted(p.name for p in path.iterdir())
    if entries and "meta.json" not in entries:
        return f"it holds {entries[0]!r}"
    return None


def _local_client(client_class: Any, path: Path, timeout: float, on_wait: Callable[[], None] | None) -> Any:
    key = str(path.resolve())
    if key in _LOCAL_CLIENTS:
        return _LOCAL_CLIENTS[key]
    problem = local_folder_problem(path)
    if problem:
        raise IndexStoreError(f"{path} is not a Qdrant store ({problem}); choose another --index")
    _no_links(path)
    waiting = _Waiting(f"qdrant+local://{path}", timeout, on_wait)
    while True:
        try:
            with _quiet_local_mode():
                client = client_class(path=str(path))
            break
        except RuntimeError as error:
            if "already accessed" not in str(error):
                raise IndexStoreError(f"cannot open the Qdrant store at {path}: {error}") from error
        except Exception as error:  # its SQLite files or meta.json damaged: local mode reads them all here
            text = " ".join(str(error).split())[:200] or type(error).__name__
            raise IndexStoreError(
                f"the Qdrant store at {path} is damaged and cannot be opened ({text}); "
                f"delete that folder and build again: semsearch build CORPUS --index qdrant+local://{path}"
            ) from error
        waiting.again()  # another process has it open: wait for it (never at once: that spun a core)
    _LOCAL_CLIENTS[key] = client
    return client


class _Waiting:
    """Waiting for another process to close a local or Edge store: `on_wait` once, a try every
    RETRY_SECONDS, IndexLockedError after `timeout` seconds."""

    def __init__(self, store: str, timeout: float, on_wait: Callable[[], None] | None) -> None:
        self.store = store
        self.timeout = timeout
        self.on_wait = on_wait
        self.deadline = time.monotonic() + timeout
        self.waited = False

    def again(self) -> None:
        if not self.waited and self.on_wait:
            self.on_wait()
        self.waited = True
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise IndexLockedError(
                f"another process has the store {self.store} open and did not close it within {self.timeout:g} s; "
                "a local or Edge store serves one process at a time: stop that process (a `semsearch serve` "
                "holding it answers for others through $SEMSEARCH_SERVER), or keep the index in a Qdrant server"
            )
        time.sleep(min(RETRY_SECONDS, left))


@contextlib.contextmanager
def _quiet_local_mode() -> Iterator[None]:
    """Local mode warns (on the warnings module) above 20,000 points; semsearch's docs say the same once."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ll]ocal mode.*")
        yield


# -- Qdrant Edge: the Rust engine in-process ---------------------------------------------------

POINTER = "current.json"
_POINTER_TMP = f".{POINTER}.tmp"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# The most a pointer file holds ({"generation": NAME}): anything longer is not one.
_POINTER_BYTES = 4096


class EdgeEngine(Engine):
    """One EdgeShard per generation in `path/<name>/`; `path/current.json` names the current one and
    is replaced atomically (os.replace), as an index directory's manifest is.

    Nothing is trusted that the folder holds: the pointer must name a generation folder of this store
    (by its name, never a path), itself and its `-meta` sibling real folders; a pointer, temporary
    pointer or generation that is a symbolic link is never followed (it is replaced, or removed as a
    leftover). A store another process holds open (its WAL locked) is waited for, as local mode's is."""

    groups = False

    def __init__(
        self, location: QdrantLocation, timeout: float = 600.0, on_wait: Callable[[], None] | None = None
    ) -> None:
        self.location = location
        try:
            import qdrant_edge
        except ImportError:
            raise _missing("qdrant-edge", "qdrant-edge-py") from None
        self.edge = qdrant_edge
        assert location.path is not None
        self.path = location.path
        self.alias = location.name
        self.timeout = timeout
        self.on_wait = on_wait
        self._generation = re.compile(re.escape(self.alias) + r"-g[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")

    def damaged(self, reason: str) -> DamagedStore:
        return DamagedStore(f"the Qdrant Edge store at {self.location} is damaged ({reason}); {_fix(self.location)}")

    def _is_generation(self, name: str) -> bool:
        """A generation's name (chunks or its `-meta`), as `new_generation_name` makes them."""
        return self._generation.fullmatch(name.removesuffix(META_SUFFIX)) is not None

    def current(self) -> str | None:
        """The generation the pointer names; None without a pointer. DamagedStore when the pointer
        is a link or no JSON, or names anything but a generation folder of this store with its
        `-meta` sibling (a path outside the store, a folder deleted)."""
        if not self.path.is_dir():
            if self.path.exists():
                raise IndexStoreError(f"{self.path} is not a Qdrant store (it is a file); choose another --index")
            return None
        pointer = self.path / POINTER
        try:
            fd = os.open(pointer, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno == errno.ELOOP or pointer.is_symlink():
                raise self.damaged(f"{POINTER} is a symbolic link, which semsearch never writes") from None
            raise self.damaged(f"{POINTER} cannot be read: {error.strerror or error}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder, a FIFO: never read
            os.close(fd)
            raise self.damaged(f"{POINTER} is not a regular file")
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(_POINTER_BYTES + 1)
        try:
            data = json.loads(raw.decode("utf-8")) if len(raw) <= _POINTER_BYTES else None
        except (UnicodeError, ValueError, RecursionError):
            data = None
        name = data.get("generation") if isinstance(data, dict) else None
        if not isinstance(name, str):
            raise self.damaged(f"{POINTER} names no generation")
        if not self._is_generation(name) or name.endswith(META_SUFFIX):
            raise self.damaged(f"{POINTER} names {name!r:.120}, not a generation of this store")
        for folder in (name, f"{name}{META_SUFFIX}"):
            try:
                mode = os.lstat(self.path / folder).st_mode
            except FileNotFoundError:
                raise self.damaged(f"the generation folder {folder} is missing") from None
            except OSError as error:
                raise self.damaged(f"{folder} cannot be read: {error.strerror or error}") from None
            if stat.S_ISLNK(mode):
                raise self.damaged(f"{folder} is a symbolic link, which semsearch never writes")
            if not stat.S_ISDIR(mode):
                raise self.damaged(f"{folder} is not a folder")
        return name

    def claims_index(self) -> bool:
        return os.path.lexists(self.path / POINTER)

    def generations(self) -> list[str]:
        """The generation folders here, real folders only (a link of that name is a leftover)."""
        if not self.path.is_dir():
            return []
        return sorted(
            p.name for p in self.path.iterdir() if self._is_generation(p.name) and p.is_dir() and not p.is_symlink()
        )

    def is_foreign(self) -> str | None:
        if not self.path.exists():
            return None
        if not self.path.is_dir():
            return "a file"
        ours = {POINTER, _POINTER_TMP}
        foreign = sorted(p.name for p in self.path.iterdir() if p.name not in ours and not self._is_generation(p.name))
        return repr(foreign[0]) if foreign else None

    def verify(self, name: str) -> None:
        """A cheap look at a generation's files before it is read: no links, and the fixed-size
        files of Edge's storage (vector chunks, storage pages) at their size. A truncated vector
        file failed every question (or killed the process on reading it) while `build` said "up
        to date"; now it is damage, which a build replaces."""
        try:
            self._verify(name)
        except OSError as error:
            raise self.damaged(f"{name} cannot be read: {error.strerror or error}") from None

    def _verify(self, name: str) -> None:
        for folder in (name, f"{name}{META_SUFFIX}"):
            for root, dirs, files in os.walk(self.path / folder):
                here = Path(root)
                for entry in (*dirs, *files):
                    if (here / entry).is_symlink():
                        raise self.damaged(f"{(here / entry).relative_to(self.path)} is a symbolic link")
                if "config.json" in files:
                    self._check_sizes(here, files)
                if "status.dat" in files and (here / "status.dat").stat().st_size == 0:
                    raise self.damaged(f"{(here / 'status.dat').relative_to(self.path)} is empty")

    def _check_sizes(self, folder: Path, files: list[str]) -> None:
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeError, ValueError, RecursionError):
            raise self.damaged(f"{(folder / 'config.json').relative_to(self.path)} is not readable JSON") from None
        if not isinstance(config, dict):
            return
        for key, pattern in (("chunk_size_bytes", r"chunk_\d+\.mmap"), ("page_size_bytes", r"page_\d+\.dat")):
            size = config.get(key)
            if type(size) is not int:
                continue
            for file in files:
                actual = (folder / file).stat().st_size if re.fullmatch(pattern, file) else size
                if actual != size:
                    where = (folder / file).relative_to(self.path)
                    raise self.damaged(f"{where} is truncated or extended ({actual} bytes, not {size})")

    @_edge_reads
    def _shard(self, name: str) -> Any:
        key = str((self.path / name).resolve())
        if key not in _EDGE_SHARDS:
            waiting = _Waiting(str(self.location), self.timeout, self.on_wait)
            while True:
                try:
                    _EDGE_SHARDS[key] = self.edge.EdgeShard.load(key)
                    break
                except BaseException as error:
                    # Another process has it open: its write-ahead log is locked ("WouldBlock").
                    if not _caught(error) or "WouldBlock" not in str(error):
                        raise
                waiting.again()
        return _EDGE_SHARDS[key]

    @_engine_errors
    def create(self, name: str, dim: int, *, chunks: bool, use_dim: int = 0) -> None:
        e = self.edge
        cosine = e.EdgeVectorParams(size=dim, distance=e.Distance.Cosine)
        if chunks:
            vectors = {DENSE: cosine}
            if use_dim:
                vectors[USE] = e.EdgeVectorParams(size=use_dim, distance=e.Distance.Cosine)
            config = e.EdgeConfig(vectors=vectors, sparse_vectors={LEXICAL: e.EdgeSparseVectorParams()})
        else:  # a shard needs some vector; the meta shard's points have none
            config = e.EdgeConfig(sparse_vectors={LEXICAL: e.EdgeSparseVectorParams()})
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.path / name
        _remove_leftover(target)  # a link planted at the new name: removed, never entered
        key = str(target.resolve())
        _EDGE_SHARDS[key] = e.EdgeShard.create(key, config)

    def drop(self, name: str) -> None:
        target = self.path / name
        if target.is_symlink():  # never the folder it points to
            with contextlib.suppress(OSError):
                target.unlink()
            return
        shard = _EDGE_SHARDS.pop(str(target.resolve()), None)
        if shard is not None:
            with contextlib.suppress(Exception):
                shard.close()
        shutil.rmtree(target, ignore_errors=True)

    def remove_links(self) -> None:
        """Links named like a generation (planted, or left by hand): removed, never followed."""
        if self.path.is_dir():
            for entry in self.path.iterdir():
                if self._is_generation(entry.name) and entry.is_symlink():
                    with contextlib.suppress(OSError):
                        entry.unlink()

    def switch(self, name: str) -> None:
        self._shard(name).flush()
        tmp = self.path / _POINTER_TMP
        _remove_leftover(tmp)  # a killed build's, or a planted link: replaced, never followed
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"generation": name}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        pointer = self.path / POINTER
        if pointer.is_dir() and not pointer.is_symlink():  # a folder at the pointer's name cannot be replaced
            shutil.rmtree(pointer)
        os.replace(tmp, pointer)  # replaces a pointer that is a link, never its target
        with contextlib.suppress(OSError):
            folder = os.open(self.path, os.O_RDONLY | _CLOEXEC)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def _point(self, spec: PointSpec) -> Any:
        e = self.edge
        vector: dict[str, Any] = dict(spec.vectors)
        if spec.sparse is not None:
            vector[LEXICAL] = e.SparseVector(spec.sparse[0], spec.sparse[1])
        return e.Point(spec.id, vector, spec.payload)

    @_engine_errors
    def upsert(self, name: str, points: Sequence[PointSpec]) -> None:
        shard = self._shard(name)
        for start in range(0, len(points), BATCH):
            shard.update(
                self.edge.UpdateOperation.upsert_points([self._point(p) for p in points[start : start + BATCH]])
            )
        shard.flush()

    @_engine_errors
    def delete(self, name: str, ids: Sequence[str]) -> None:
        shard = self._shard(name)
        for start in range(0, len(ids), BATCH):
            shard.update(self.edge.UpdateOperation.delete_points(list(ids[start : start + BATCH])))
        shard.flush()

    def _kind(self, kind: str) -> Any:
        e = self.edge
        return e.Filter(must=[e.FieldCondition("kind", match=e.MatchValue(kind))])

    @_edge_reads
    def scroll(
        self, name: str, kind: str, fields: Sequence[str] | None, vector: str | None
    ) -> Iterator[tuple[str, dict, Any]]:
        shard = self._shard(name)
        offset = None
        while True:
            request = self.edge.ScrollRequest(
                offset=offset,
                limit=SCROLL_PAGE,
                filter=self._kind(kind),
                with_payload=list(fields) if fields is not None else True,
                with_vector=[vector] if vector else False,
            )
            records, offset = shard.scroll(request)
            for record in records:
                vectors = record.vector if isinstance(record.vector, dict) else {}
                yield str(record.id), dict(record.payload or {}), vectors.get(vector) if vector else None
            if offset is None:
                return

    @_edge_reads
    def retrieve(self, name: str, ids: Sequence[str]) -> dict[str, dict]:
        if not ids:
            return {}
        records = self._shard(name).retrieve(list(ids), True, False)
        return {str(r.id): dict(r.payload or {}) for r in records}

    @_edge_reads
    def search(self, name: str, search: Search) -> list[tuple[dict, float]]:
        e = self.edge
        sides = _sides(search)
        if not sides:
            return []
        where = None
        if search.terms is not None:
            where = e.Filter(must=[e.FieldCondition("term", match=e.MatchAny(list(search.terms)))])
        prefetches = [
            e.Prefetch(
                search.candidates,
                e.Query.Nearest(query if side != LEXICAL else e.SparseVector(query[0], query[1]), using=side),
                filter=where,
            )
            for side, query in sides
        ]
        weights = {DENSE: search.formula.dense, LEXICAL: search.formula.lexical, USE: search.formula.use}
        X = e.Expression
        parts = [
            X.Variable(var) if w == 1 else X.Mult([X.Constant(w), X.Variable(var)])
            for w, var in _terms(weights, search.formula.prior, sides)
        ]
        defaults = {f"$score[{i}]": 0.0 for i in range(len(sides))}
        formula = e.Formula(X.Sum(parts), defaults={**defaults, "prior": 0.0})
        limit = search.limit if not search.group_by else len(sides) * search.candidates
        request = e.QueryRequest(limit=limit, prefetches=prefetches, query=formula, filter=where, with_payload=True)
        return [(dict(p.payload or {}), float(p.score)) for p in self._shard(name).query(request)]

    @_edge_reads
    def nearest(self, name: str, point_id: str, limit: int) -> list[dict]:
        e = self.edge
        shard = self._shard(name)
        records = shard.retrieve([point_id], False, [DENSE])
        if not records:
            return []
        vector = records[0].vector[DENSE] if isinstance(records[0].vector, dict) else records[0].vector
        request = e.QueryRequest(limit=limit + 1, query=e.Query.Nearest(list(vector), using=DENSE), with_payload=True)
        return [dict(p.payload or {}) for p in shard.query(request) if str(p.id) != point_id][:limit]

    @_edge_reads
    def vector(self, name: str, point_id: str) -> list[float] | None:
        records = self._shard(name).retrieve([point_id], False, [DENSE])
        if not records:
            return None
        found = records[0].vector[DENSE] if isinstance(records[0].vector, dict) else records[0].vector
        return [float(x) for x in found] if found is not None else None


def connect(location: QdrantLocation, timeout: float = 600.0, on_wait: Callable[[], None] | None = None) -> Engine:
    """The engine of a Qdrant location. Raises IndexStoreError naming the extra when its package is missing."""
    if location.engine == "edge":
        return EdgeEngine(location, timeout, on_wait)
    return ClientEngine(location, timeout, on_wait)
