"""An index in Qdrant: a collection (one generation) behind an alias (the index's name), and its
sibling `<collection>-meta` for everything that is not a chunk.

What the engine holds and does, and what stays in semsearch:

    chunk points    the chunk's vector ("dense", cosine), its term's TF-IDF vector ("lexical", sparse,
                    semsearch's own features and IDF: server tokenisers do not split Japanese), and
                    payload: its term's id, the term it belongs to ("group": entries sharing a name
                    are one term), its hubness prior, its content hash
    term points     the entries themselves (names, body, source, line, …): loaded when the index opens,
                    for the name tier and the presentation
    feature points  the TF-IDF features' IDFs and sparse indexes: a question looks up the points its
                    features fall in
    pseudo points   the hubness pseudo-questions' vectors, reused by rebuilds
    use points      the Universal Sentence Encoder's side, when the index has it (the default
                    ensemble): each entry's whole text and its names alone as two points in the
                    chunk collection, with a named vector "use" and payload: the entry's id, the
                    piece's hubness prior, its content hash; its pseudo-questions' vectors are
                    kept in the meta collection ("use-pseudo" buckets), for rebuilds
    manifest point  the manifest (encoder id, format version, corpus identity), checked before answering

Chunk points live in the collection the alias names, the others in its `-meta` sibling: a vector
search then sees only chunks (local mode scans every point of a collection in Python). Terms,
features and pseudo-questions are kept about 64 to a point, in buckets by a hash of their key (a
term's id, a feature, a question's hash): a store holds a few hundred such points rather than tens of
thousands (local mode commits every point to disk on its own).

A question asks the engine for each side's score per entry, as the index directory's NumPy engine
gives them (arrays.py): the dense side (`cosine - beta x prior`, a formula query, best chunk per
entry), the TF-IDF side (sparse), the USE side (`cosine - beta x prior` over the "use" vectors),
each grouped by entry (query_points_groups; Qdrant Edge has no grouping, so its best points are
grouped here). scoring.py fuses the sides (`scoring.fuse`) and judges the answer from them, exactly
as for a directory. Chunking, encoders, lexical features, the priors, the name tier, calibration and
presentation stay in semsearch.

A build makes a new generation behind the alias (a new collection, filled, then the alias switched
in one request) when there is none, under `--force`, and when the encoder, the chunking or the
corpus folders change. Otherwise it updates the current one in place, by content hash: a chunk whose
text changed is a new point (embedded, upserted) and its old point is deleted; points whose derived
fields moved (a term's TF-IDF weights, a prior) are rewritten without embedding; the manifest point
is written last. While an in-place update runs, the manifest point says so (`updating`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..corpus import Term
from ..errors import IndexStoreError
from ..lexical import query_weights
from ..location import QdrantLocation
from ..manifest import FIX, Manifest, parse_manifest
from ..names import NameIndex
from .base import EngineIndex, Generation, Opened, Store
from .files import DenseExtras
from .qdrant_engines import (
    DENSE,
    META_SUFFIX,
    USE,
    DamagedStore,
    Engine,
    PointSpec,
    Relevance,
    Search,
    connect,
    local_folder_problem,
    new_generation_name,
)

__all__ = ["QdrantStore", "QdrantIndex", "LAYOUT", "CANDIDATES", "SyncReport"]

log = logging.getLogger(__name__)

#: The layout of points described above; recorded in the manifest's "ann" field. 2: the USE side
#: is in the store (a store of layout 1 ranked without it, and is refused with its fix).
LAYOUT = 2
#: Chunks each side contributes to a question's candidates (all of them in smaller indexes, which
#: makes the engine's ranking exact, as the directory's is up to 50,000 chunks).
CANDIDATES = 1000
_NAMESPACE = uuid.UUID("5e3a5ea5-c4a1-4b1e-9d0c-17a1b2c3d4e5")


def point_id(kind: str, key: str) -> str:
    """The id of a point: stable for the same kind and key (a chunk's key holds its content hash)."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}\0{key}"))


MANIFEST_ID = point_id("manifest", "")
META = META_SUFFIX
#: Records per bucket point, about (the bucket count of each kind is a power of two, in the manifest).
PER_BUCKET = 64
BUCKETED = ("term", "feature", "pseudo", "use-pseudo")
#: The kinds of point kept in the chunk collection (the others are in its `-meta` sibling).
IN_COLLECTION = ("chunk", "use")


def bucket_count(records: int) -> int:
    """How many buckets hold `records` records: a power of two, so it changes only when their number doubles."""
    return 1 << max(0, math.ceil(math.log2(max(1, records) / PER_BUCKET)))


def bucket_id(kind: str, key: str, buckets: int) -> str:
    """The id of the point holding the record `key` of `kind`, among `buckets` buckets."""
    bucket = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") % buckets
    return point_id(kind, f"{buckets}/{bucket}")


def records(engine: Engine, collection: str, kind: str) -> dict[str, Any]:
    """Every record of `kind` in its bucket points: key -> record."""
    return {
        key: value
        for _, p, _ in engine.scroll(collection, kind, ["records"], None)
        for key, value in p.get("records", {}).items()
    }


def meta_of(collection: str) -> str:
    """The collection that holds a generation's term, feature, pseudo-question and manifest points."""
    return f"{collection}{META}"


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SyncReport:
    """What a build wrote to the engine (`BuildReport.store`)."""

    generation: str
    new_generation: bool
    upserted: int  # chunk points whose content is new (embedded or reused from the cache)
    rewritten: int  # points whose derived fields moved (TF-IDF weights, priors, term records)
    deleted: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "qdrant",
            "generation": self.generation,
            "new_generation": self.new_generation,
            "upserted": self.upserted,
            "rewritten": self.rewritten,
            "deleted": self.deleted,
        }


class QdrantStore(Store):
    """An index kept by Qdrant (see the module docstring)."""

    location: QdrantLocation

    def __init__(
        self, location: QdrantLocation, *, timeout: float = 600.0, on_wait: Callable[[], None] | None = None
    ) -> None:
        self.location = location
        self._timeout = timeout
        self._on_wait = on_wait
        self._engine: Engine | None = None

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = connect(self.location, self._timeout, self._on_wait)
        return self._engine

    def _absent(self) -> bool:
        """A local or Edge folder that does not exist holds no index (and reading must not create it)."""
        path = self.location.path
        return path is not None and not path.exists()

    def _no_index(self) -> IndexStoreError:
        return IndexStoreError(
            f"no index at {self.location}; build one with `semsearch build CORPUS --index {self.location}`"
        )

    def _current(self) -> str:
        if self._absent():
            raise self._no_index()
        current = self.engine().current()
        if current is None:
            raise self._no_index()
        return current

    def _manifest_payload(self, collection: str) -> dict[str, Any]:
        payload = self.engine().retrieve(meta_of(collection), [MANIFEST_ID]).get(MANIFEST_ID)
        if payload is None or not isinstance(payload.get("manifest"), str):
            raise IndexStoreError(f"{self.location} is damaged (its collection {collection} has no manifest); {FIX}")
        return payload

    def read_manifest(self) -> Manifest:
        payload = self._manifest_payload(self._current())
        return parse_manifest(payload["manifest"], self.location)  # type: ignore[arg-type]

    def has_manifest(self) -> bool:
        return not self._absent() and self.engine().claims_index()

    def exists(self) -> bool:
        path = self.location.path
        return path.exists() if path is not None else True  # a server: `prepare` checks what the name holds

    def read(self) -> QdrantIndex:
        collection = self._current()
        engine = self.engine()
        engine.verify(collection)
        payload = self._manifest_payload(collection)
        manifest = parse_manifest(payload["manifest"], self.location)  # type: ignore[arg-type]
        if manifest.ann.get("layout") != LAYOUT:
            raise IndexStoreError(f"{self.location} has points laid out by another semsearch version; {FIX}")
        if payload.get("updating"):
            log.warning(
                "the index at %s is being updated, or an update was interrupted; answers may mix old and new entries",
                self.location,
            )
        try:
            rows = sorted(records(engine, meta_of(collection), "term").values(), key=lambda r: r["position"])
            terms = [
                Term(tuple(r["names"]), r["body"], r["source"], r["line"], tuple(r.get("refs", ())), r.get("url"))
                for r in rows
            ]
            ids = [str(r["id"]) for r in rows]
            counts = [int(r["chunks"]) for r in rows]
            first = [str(r["first"]) for r in rows]
        except (KeyError, TypeError, ValueError) as error:
            raise IndexStoreError(
                f"{self.location} has damaged term records ({type(error).__name__}: {error}); {FIX}"
            ) from None
        if [r.get("position") for r in rows] != list(range(len(rows))) or len(rows) != manifest.counts.get("terms"):
            raise IndexStoreError(
                f"{self.location} has {len(rows)} term records for {manifest.counts.get('terms')} terms; {FIX}"
            )
        return QdrantIndex(self.location, engine, collection, manifest, terms, ids, counts, first)

    def prepare(self, *, force: bool = False) -> None:
        path = self.location.path
        if self.location.engine == "local" and path is not None:
            problem = local_folder_problem(path)
            if problem:
                raise IndexStoreError(
                    f"{path} is not a Qdrant store ({problem}); refusing to write into it: choose another --index"
                )
        foreign = self.engine().is_foreign()
        if foreign:
            raise IndexStoreError(
                f"{self.location} is not a semsearch index (it holds {foreign}); refusing to overwrite it: "
                "choose another --index"
            )
        try:
            current = self.engine().current()
        except DamagedStore:
            return  # a damaged store of ours: the build replaces it with a new generation
        if current is not None and MANIFEST_ID not in self.engine().retrieve(meta_of(current), [MANIFEST_ID]):
            # An alias of ours names something without a manifest: not semsearch's, never clobbered.
            raise IndexStoreError(
                f"{self.location} is not a semsearch index (its collection {current} has no semsearch manifest); "
                "choose another --index"
            )

    def vectors_by_hash(self, previous: Opened) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        assert isinstance(previous, QdrantIndex)
        engine, collection = self.engine(), previous.collection
        chunks = {
            p["sha256"]: np.asarray(v, dtype=np.float32)
            for _, p, v in engine.scroll(collection, "chunk", ["sha256"], DENSE)
            if v is not None
        }
        pseudo = {h: np.asarray(v, dtype=np.float32) for h, v in records(engine, meta_of(collection), "pseudo").items()}
        return chunks, pseudo

    def use_vectors_by_hash(self, previous: Opened) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        assert isinstance(previous, QdrantIndex)
        if not previous.has_use:
            return {}, {}
        engine, collection = self.engine(), previous.collection
        pieces = {
            p["sha256"]: np.asarray(v, dtype=np.float32)
            for _, p, v in engine.scroll(collection, "use", ["sha256"], USE)
            if v is not None
        }
        pseudo = records(engine, meta_of(collection), "use-pseudo")
        return pieces, {h: np.asarray(v, dtype=np.float32) for h, v in pseudo.items()}

    def commit(self, generation: Generation, previous: Opened | None, *, force: bool = False) -> QdrantIndex:
        engine = self.engine()
        # Only an index that was read (so its pointer or alias was sound) is updated in place.
        current = engine.current() if isinstance(previous, QdrantIndex) and not force else None
        encoder = generation.manifest_fields["encoder"]
        dim = int(generation.vectors.shape[1]) if generation.vectors.ndim == 2 else int(encoder.get("dim", 0))
        in_place = (
            not force
            and current is not None
            and isinstance(previous, QdrantIndex)
            and previous.collection == current
            and previous.manifest.encoder.get("id") == encoder.get("id")
            and previous.manifest.encoder.get("dim") == encoder.get("dim")
            and previous.manifest.chunking == generation.manifest_fields["chunking"]
            and tuple(previous.manifest.roots) == tuple(generation.manifest_fields["roots"])
            # Another USE encoder (or none) changes every "use" vector, and the collection's vectors.
            and previous.manifest.second.get("id") == (generation.manifest_fields.get("second") or {}).get("id")
        )
        if in_place:
            assert current is not None
            features = {f: int(entry[0]) for f, entry in records(engine, meta_of(current), "feature").items()}
            layout = _Layout(generation, features)
            report = self._update(current, layout)
            collection = current
        else:
            collection = new_generation_name(self.location.name)
            layout = _Layout(generation, {})
            try:
                use_dim = int(generation.use.vectors.shape[1]) if generation.use is not None else 0
                engine.create(collection, dim, chunks=True, use_dim=use_dim)
                engine.create(meta_of(collection), dim, chunks=False)
                points = layout.points.values()
                engine.upsert(collection, [p for p in points if p.payload["kind"] in IN_COLLECTION])
                engine.upsert(meta_of(collection), [p for p in points if p.payload["kind"] not in IN_COLLECTION])
                engine.upsert(meta_of(collection), [self._manifest_point(layout, collection, updating=False)])
                engine.switch(collection)  # the commit point
            except BaseException:
                engine.drop(collection)
                engine.drop(meta_of(collection))
                raise
            report = SyncReport(collection, True, len(layout.chunk_ids), 0, 0)
        manifest = layout.manifest(collection)
        self.remove_leftovers(manifest)
        index = QdrantIndex(
            self.location,
            engine,
            collection,
            manifest,
            list(generation.terms),
            list(generation.term_ids),
            layout.chunk_counts,
            layout.first_chunk,
        )
        index.sync = report
        return index

    def _manifest_point(self, layout: _Layout, collection: str, *, updating: bool) -> PointSpec:
        return PointSpec(
            MANIFEST_ID,
            {"kind": "manifest", "manifest": layout.manifest(collection).to_json(), "updating": updating},
            {},
        )

    def _update(self, collection: str, layout: _Layout) -> SyncReport:
        """Bring the current generation to `layout` in place, writing only what differs."""
        engine, meta = self.engine(), meta_of(collection)
        existing: dict[str, tuple[str, str]] = {}  # id -> (collection, hash of its payload)
        for where, kind in (*((collection, kind) for kind in IN_COLLECTION), *((meta, kind) for kind in BUCKETED)):
            existing.update(
                (pid, (where, str(p.get("h", "")))) for pid, p, _ in engine.scroll(where, kind, ["h"], None)
            )
        wanted = layout.points
        gone = [pid for pid in existing if pid not in wanted]
        new = [spec for pid, spec in wanted.items() if pid not in existing]
        moved = [spec for pid, spec in wanted.items() if pid in existing and existing[pid][1] != spec.payload["h"]]
        upserted = sum(1 for spec in new if spec.payload["kind"] == "chunk")
        if gone or new or moved:
            marker = self._manifest_payload(collection)
            engine.upsert(meta, [PointSpec(MANIFEST_ID, {**marker, "updating": True}, {})])
            writes = new + moved
            engine.upsert(collection, [spec for spec in writes if spec.payload["kind"] in IN_COLLECTION])
            engine.upsert(meta, [spec for spec in writes if spec.payload["kind"] not in IN_COLLECTION])
            engine.delete(collection, [pid for pid in gone if existing[pid][0] == collection])
            engine.delete(meta, [pid for pid in gone if existing[pid][0] == meta])
        engine.upsert(meta, [self._manifest_point(layout, collection, updating=False)])
        return SyncReport(collection, False, upserted, len(new) - upserted + len(moved), len(gone))

    def remove_leftovers(self, manifest: Manifest | None = None) -> None:
        engine = self.engine()
        engine.remove_links()
        try:
            current = engine.current()
        except DamagedStore:
            return  # its generations stay until a build replaces the damaged one (as a directory's)
        for name in engine.generations():
            if name not in (current, meta_of(current or "")):
                engine.drop(name)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


class _Layout:
    """A generation laid out as points (see the module docstring). `features`: the sparse index of
    each feature the current generation already has (kept, so unchanged terms keep their vectors)."""

    def __init__(self, generation: Generation, features: dict[str, int]) -> None:
        self.generation = generation
        terms, term_ids, chunks = generation.terms, generation.term_ids, generation.chunks
        groups = NameIndex(list(terms)).groups()
        first_of_group: dict[int, str] = {}
        for position, group in enumerate(groups):
            first_of_group.setdefault(group, term_ids[position])
        documents = generation.lexical.documents()
        vocab = generation.lexical.vocab
        self.features = {f: i for f, i in features.items() if f in vocab}
        next_index = max(features.values(), default=-1) + 1
        for feature in sorted(vocab):
            if feature not in self.features:
                self.features[feature] = next_index
                next_index += 1
        sparse: list[tuple[list[int], list[float]]] = []
        for document in documents:
            pairs = sorted((self.features[f], float(np.float32(w))) for f, w in document.items())
            sparse.append(([i for i, _ in pairs], [w for _, w in pairs]))
        self.points: dict[str, PointSpec] = {}
        self.chunk_ids: list[str] = []
        self.chunk_counts = [0] * len(terms)
        self.first_chunk = [""] * len(terms)
        priors = generation.dense.priors
        for row, chunk in enumerate(chunks):
            pid = point_id("chunk", f"{chunk.id}\0{chunk.sha256}")
            position = chunk.term_position
            payload: dict[str, Any] = {
                "kind": "chunk",
                "term": term_ids[position],
                "group": first_of_group[groups[position]],
                "part": chunk.part,
                "sha256": chunk.sha256,
                "prior": float(priors[row]),
            }
            payload["h"] = _digest([payload, sparse[position]])
            vector = np.asarray(generation.vectors[row], dtype=np.float32).tolist()
            self.points[pid] = PointSpec(pid, payload, {DENSE: vector}, sparse[position])
            self.chunk_ids.append(pid)
            self.chunk_counts[position] += 1
            if not self.first_chunk[position]:
                self.first_chunk[position] = pid
        side = generation.use
        if side is not None:
            pieces = [0] * len(terms)  # a piece's id: its entry's id, its place in the entry, its content
            for row, (position, sha256) in enumerate(zip(side.term_of_row.tolist(), side.sha256, strict=True)):
                pid = point_id("use", f"{term_ids[position]}\0{pieces[position]}\0{sha256}")
                pieces[position] += 1
                use_payload: dict[str, Any] = {
                    "kind": "use",
                    "term": term_ids[position],
                    "sha256": sha256,
                    "prior": float(side.extras.priors[row]),
                }
                use_payload["h"] = _digest(use_payload)
                vector = np.asarray(side.vectors[row], dtype=np.float32).tolist()
                self.points[pid] = PointSpec(pid, use_payload, {USE: vector})
        entries: dict[str, Any] = {}
        for position, (term, term_id) in enumerate(zip(terms, term_ids, strict=True)):
            entries[term_id] = {
                "id": term_id,
                "position": position,
                "names": list(term.names),
                "body": term.body,
                "source": term.source,
                "line": term.line,
                "refs": list(term.refs),
                "url": term.url,
                "chunks": self.chunk_counts[position],
                "first": self.first_chunk[position],
            }
        idf = generation.lexical.idf
        dense: DenseExtras = generation.dense
        self.buckets: dict[str, int] = {}
        self._bucket("term", entries)
        self._bucket("feature", {f: [i, float(idf[vocab[f]])] for f, i in self.features.items()})
        self._bucket(
            "pseudo",
            {
                digest: np.asarray(vector, dtype=np.float32).tolist()
                for digest, vector in zip(dense.pseudo_sha256, dense.pseudo_vectors, strict=True)
            },
        )
        if side is not None:
            extras = side.extras
            self._bucket(
                "use-pseudo",
                {
                    digest: np.asarray(vector, dtype=np.float32).tolist()
                    for digest, vector in zip(extras.pseudo_sha256, extras.pseudo_vectors, strict=True)
                },
            )
        self.use_points = 0 if side is None else len(side.sha256)

    def _bucket(self, kind: str, items: dict[str, Any]) -> None:
        """Points holding the records `items` of `kind` (key -> record), about PER_BUCKET a point."""
        buckets = self.buckets[kind] = bucket_count(len(items))
        grouped: dict[str, dict[str, Any]] = {}
        for key in sorted(items):
            grouped.setdefault(bucket_id(kind, key, buckets), {})[key] = items[key]
        for pid, held in grouped.items():
            payload = {"kind": kind, "records": held}
            payload["h"] = _digest(payload)
            self.points[pid] = PointSpec(pid, payload, {})

    def manifest(self, collection: str) -> Manifest:
        fields = self.generation.manifest_fields
        ann = {
            "kind": "qdrant",
            "layout": LAYOUT,
            "collection": collection,
            "ntotal": len(self.chunk_ids),
            "use": self.use_points,
            "buckets": self.buckets,
        }
        return Manifest(**{**fields, "data": collection, "data_files": {}, "ann": ann})


class QdrantIndex(EngineIndex):
    """An opened Qdrant index: the term records here, the vectors and TF-IDF side in the engine."""

    def __init__(
        self,
        location: QdrantLocation,
        engine: Engine,
        collection: str,
        manifest: Manifest,
        terms: list[Term],
        term_ids: list[str],
        chunk_counts: list[int],
        first_chunk: list[str],
    ) -> None:
        self.location = location
        self.engine = engine
        self.collection = collection
        self.manifest = manifest
        self.terms = terms
        self.term_ids = term_ids
        self._chunk_counts = chunk_counts
        self._first_chunk = first_chunk
        self._positions = {term_id: i for i, term_id in enumerate(term_ids)}
        self._idf_cache: dict[str, tuple[int, float] | None] = {}
        self.sync: SyncReport | None = None

    def chunk_counts(self) -> list[int]:
        return list(self._chunk_counts)

    def _features(self, features: Collection[str]) -> dict[str, tuple[int, float]]:
        """(sparse index, IDF) of each of `features` the index knows, looked up in the engine once."""
        missing = [f for f in features if f not in self._idf_cache]
        if missing:
            buckets = int(self.manifest.ann.get("buckets", {}).get("feature", 1))
            ids = {bucket_id("feature", f, buckets) for f in missing}
            found = self.engine.retrieve(meta_of(self.collection), sorted(ids))
            known = {f: entry for payload in found.values() for f, entry in payload.get("records", {}).items()}
            for feature in missing:
                entry = known.get(feature)
                self._idf_cache[feature] = (int(entry[0]), float(entry[1])) if entry else None
        return {f: cached for f in features if (cached := self._idf_cache.get(f)) is not None}

    def _sparse_query(self, text: str) -> tuple[list[int], list[float]] | None:
        known: dict[str, tuple[int, float]] = {}

        def idf(features: Collection[str]) -> dict[str, float]:
            known.update(self._features(features))
            return {f: value for f, (_, value) in known.items()}

        weights = query_weights(text, idf)
        if not weights:
            return None
        pairs = sorted((known[f][0], w) for f, w in weights.items())
        return [i for i, _ in pairs], [w for _, w in pairs]

    @property
    def has_use(self) -> bool:
        return bool(self.manifest.second) and int(self.manifest.ann.get("use", 0)) > 0

    def _per_entry(self, search: Search, missing: float) -> np.ndarray:
        """Each entry's best score under `search` (grouped by entry), `missing` where it has none."""
        out = np.full(len(self.terms), missing, dtype=np.float32)
        found: dict[int, float] = {}
        self._collect(found, self._search(search), "term", len(self.terms))
        for position, score in found.items():
            out[position] = score
        return out

    def dense_scores(self, vector: np.ndarray, beta: float) -> np.ndarray:
        dense = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        candidates = max(1, min(self.chunk_total, CANDIDATES))
        search = Search(Relevance(dense=1.0, prior=beta), dense, None, candidates, len(self.terms), group_by="term")
        return self._per_entry(search, np.nan)

    def lexical_scores(self, text: str) -> np.ndarray:
        sparse = self._sparse_query(text)
        if sparse is None:
            return np.zeros(len(self.terms), dtype=np.float32)
        # Every chunk that shares a feature with the question: the TF-IDF side is exact, as the directory's.
        candidates = max(1, self.chunk_total)
        search = Search(Relevance(lexical=1.0), None, sparse, candidates, len(self.terms), group_by="term")
        return self._per_entry(search, 0.0)

    def use_scores(self, vector: np.ndarray, beta: float) -> np.ndarray:
        use = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        pieces = max(1, int(self.manifest.ann.get("use", 0)))  # every piece: every entry gets its score
        search = Search(Relevance(use=1.0, prior=beta), None, None, pieces, len(self.terms), "term", use_vector=use)
        return self._per_entry(search, -np.inf)

    def _search(self, search: Search) -> list[tuple[dict, float]]:
        return self.engine.search(self.collection, search)

    def _collect(self, out: dict[int, float], hits: Iterable[tuple[dict, float]], key: str, limit: int) -> None:
        """Each hit's entry and score, one per `key` value (the engine's grouping, or here for an
        engine without it: hits come best first, so the first of each value is its best)."""
        seen: set[str] = set()
        for payload, score in hits:
            value = payload.get(key)
            position = self._positions.get(str(payload.get("term")))
            if value is None or value in seen or position is None:
                continue
            seen.add(value)
            out[position] = max(score, out.get(position, -np.inf))
            if len(seen) >= limit:
                return

    def neighbours(self, position: int, n: int) -> list[int]:
        first = self._first_chunk[position] if 0 <= position < len(self._first_chunk) else ""
        if not first:
            return []
        found = self.engine.nearest(self.collection, first, n)
        return [p for payload in found if (p := self._positions.get(str(payload.get("term")))) is not None]

    def similarity(self, position: int, others: Sequence[int]) -> float:
        first = self._first_chunk[position] if 0 <= position < len(self._first_chunk) else ""
        vector = self.engine.vector(self.collection, first) if first else None
        wanted = tuple(self.term_ids[p] for p in others if 0 <= p < len(self.term_ids))
        if vector is None or not wanted:
            return float("nan")
        search = Search(Relevance(dense=1.0), vector, None, max(1, self.chunk_total), 1, terms=wanted)
        hits = self.engine.search(self.collection, search)
        return max((score for _, score in hits), default=float("nan"))

    def close(self) -> None:
        self.engine.close()
