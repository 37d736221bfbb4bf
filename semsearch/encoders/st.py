"""The sentence-transformers backend: any sentence-transformers model, by hub name or local folder.

Imported only when an index uses it (or `--model` asks for it); `sentence_transformers` and `torch`
are imported inside the constructor, so loading this module costs nothing.

Prompts are applied here as plain text prefixes, never through sentence-transformers' own prompt
machinery, so the exact text the model reads is known, recorded in the manifest and testable:

    explicit --query-prompt/--passage-prompt
    > the model's own `prompts` (config_sentence_transformers.json: "query", "document"/"passage")
    > the documented prefixes of a known family that ships none (e5, ruri)
    > ""

Where the model comes from (a folder, the local cache, the hub) is hub.py's part.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EncoderError
from . import hub
from .base import Encoder, Progress, encode_in_batches

__all__ = ["SentenceTransformerEncoder", "resolve_prompts", "family_prompts", "pick_device"]

log = logging.getLogger(__name__)

BACKEND = "sentence-transformers"
INSTALL = (
    "run: pip install 'semsearch[st]' (on a CPU-only machine install a CPU torch first: "
    "pip install torch --index-url https://download.pytorch.org/whl/cpu)"
)
# Keys under which models store their retrieval prompts in config_sentence_transformers.json.
QUERY_KEYS = ("query", "queries", "search_query")
PASSAGE_KEYS = ("document", "passage", "corpus", "search_document")
# multilingual-e5-large-instruct and e5-mistral take an instruction on the query side only.
E5_INSTRUCT_QUERY = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "


# -- prompts ----------------------------------------------------------------------------------


def family_prompts(name: str) -> tuple[str, str] | None:
    """The documented (query, passage) prefixes of a known model family, from its name; None if unknown.

    e5 was trained with "query: " / "passage: " and degrades without them; its -instruct variants
    take a task instruction on queries only. Ruri v3 uses "検索クエリ: " / "検索文書: "; Ruri v1/v2
    used "クエリ: " / "文章: ".
    """
    words = set(re.split(r"[/\\_.\s-]+", name.lower()))
    if "ruri" in words:
        return ("検索クエリ: ", "検索文書: ") if "v3" in words else ("クエリ: ", "文章: ")
    if "e5" in words:
        return (E5_INSTRUCT_QUERY, "") if "instruct" in words else ("query: ", "passage: ")
    return None


def _first(prompts: Mapping[str, Any], keys: Sequence[str]) -> str:
    for key in keys:
        value = prompts.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def resolve_prompts(
    model_prompts: Mapping[str, Any] | None,
    family: tuple[str, str] | None,
    query_prompt: str | None = None,
    passage_prompt: str | None = None,
) -> tuple[str, str]:
    """(query, passage) prompts: explicit override > the model's own > the family's > ""."""
    own = (_first(model_prompts or {}, QUERY_KEYS), _first(model_prompts or {}, PASSAGE_KEYS))
    # A model that defines any retrieval prompt defines both sides (an absent one means "none").
    base = own if any(own) else (family or ("", ""))
    return (
        base[0] if query_prompt is None else query_prompt,
        base[1] if passage_prompt is None else passage_prompt,
    )


# -- environment ------------------------------------------------------------------------------


def pick_device(torch: Any) -> str:
    """CUDA when present, then Apple MPS, else CPU."""
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _import_sentence_transformers() -> Any:
    try:
        import sentence_transformers
    except Exception as error:  # ImportError, or a broken torch raising OSError on import
        raise EncoderError(
            f"the sentence-transformers backend needs the sentence-transformers package ({error}); {INSTALL}"
        ) from error
    return sentence_transformers


def _dtype_keyword() -> str:
    """transformers 4.56 renamed `torch_dtype` to `dtype`."""
    try:
        import transformers

        major, minor = (int(x) for x in re.findall(r"\d+", transformers.__version__)[:2])
    except Exception:
        return "torch_dtype"
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return text.splitlines()[0] if text else type(error).__name__


# -- the encoder ------------------------------------------------------------------------------


def _pooling_skips_prompt(model: Any) -> bool:
    """Instructor-style models exclude prompt tokens from pooling, which text prefixes cannot do."""
    with contextlib.suppress(Exception):
        return any(getattr(module, "include_prompt", True) is False for module in model)
    return False


def _token_counter(tokenizer: Any) -> Callable[[str], int] | None:
    """A token counter for a transformers tokenizer or a bare `tokenizers.Tokenizer` (static models)."""
    if tokenizer is None:
        return None

    def transformers_style(text: str) -> int:
        # verbose=False: no "sequence longer than the maximum" warning; counting long texts is the point.
        return len(tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"])

    def tokenizers_style(text: str) -> int:
        return len(tokenizer.encode(text).ids)

    for counter in (transformers_style, tokenizers_style):
        with contextlib.suppress(Exception):
            counter("probe")
            return counter
    return None


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bar from transformers on the user's terminal."""
    try:
        from transformers.utils import logging as hf_logging
    except Exception:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model (hub name or local folder) with its retrieval prompts.

    `query_prompt`/`passage_prompt` override the prompts the model or its family would get ("" means
    none). `revision` pins a hub model to a branch, tag or commit. `known_weights` is a fingerprint
    from a manifest, trusted for files whose size and mtime have not changed.
    """

    backend = BACKEND

    def __init__(
        self,
        model: str,
        *,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        device: str | None = None,
        batch_size: int = 32,
        revision: str | None = None,
        known_weights: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        if not model or not str(model).strip():
            raise EncoderError("the sentence-transformers model name is empty")
        st = _import_sentence_transformers()
        import torch

        self.batch_size = max(1, int(batch_size))
        self.device = device or pick_device(torch)
        options: dict[str, Any] = {"device": self.device}
        if self.device == "cpu":
            # transformers >= 5 loads a checkpoint in its stored dtype; half precision on a CPU is slow.
            options["model_kwargs"] = {_dtype_keyword(): torch.float32}

        folder = Path(model).expanduser()
        if folder.is_dir():
            self._folder: Path | None = folder.resolve()
            self._model_name = str(self._folder)
            try:
                self._model = self._load(st, self._model_name, options)
            except Exception as error:
                raise EncoderError(
                    f"the model folder {self._model_name} did not load as a sentence-transformers model: "
                    f"{_first_line(error)}"
                ) from error
            self._revision = hub.snapshot_commit(self._folder)
            self._weights: list[dict[str, Any]] | None = hub.weights_fingerprint(self._folder, known_weights)
        elif hub.looks_like_path(model):
            raise EncoderError(f"no model folder at {model!r}")
        else:
            self._folder = None
            self._model_name = model
            self._model, self._revision = self._load_from_hub(st, model, revision, options)
            self._weights = None

        self._query_prompt, self._passage_prompt = resolve_prompts(
            getattr(self._model, "prompts", None),
            family_prompts(hub.family_name(model, self._folder)),
            query_prompt,
            passage_prompt,
        )
        if (self._query_prompt or self._passage_prompt) and _pooling_skips_prompt(self._model):
            log.warning(
                "%s pools without its prompt tokens (include_prompt=False); semsearch feeds prompts as plain "
                "text, so its vectors differ from sentence-transformers' own prompt handling",
                model,
            )
        self._tokenizer = getattr(self._model, "tokenizer", None)
        self._counter = _token_counter(self._tokenizer)
        self._max_tokens = self._max_seq_length()
        self._dim = self._dimension()
        self._id = self._make_id()

    # -- loading ------------------------------------------------------------------------------

    @staticmethod
    def _load(st: Any, name: str, options: dict[str, Any], **extra: Any) -> Any:
        with _quiet_loading():
            return st.SentenceTransformer(name, **options, **extra)

    def _load_from_hub(
        self, st: Any, name: str, revision: str | None, options: dict[str, Any]
    ) -> tuple[Any, str | None]:
        """Cache first, without any network; the hub only when the model is not cached and reachable."""
        attempts = [revision, None] if revision else [None]
        local_error: Exception | None = None
        for wanted in attempts:
            try:
                model = self._load(st, name, options, revision=wanted, local_files_only=True)
            except Exception as error:
                local_error = local_error or error
                continue
            if wanted != revision:
                log.warning("%s revision %s is not in the local cache; using the cached one", name, revision)
            return model, next(filter(None, (hub.cached_commit(r, wanted) for r in hub.repo_ids(name))), None)
        log.debug("%s is not loadable from the local cache: %s", name, local_error)

        cached = any((hub.cache_dir() / f"models--{r.replace('/', '--')}").is_dir() for r in hub.repo_ids(name))
        if cached:
            where = f"is in the local cache ({hub.cache_dir()}) but did not load from it ({_first_line(local_error)})"
        else:
            where = f"is not in the local cache ({hub.cache_dir()})"
        offline = hub.offline()
        if offline or not hub.reachable():
            why = "HF_HUB_OFFLINE is set" if offline else f"no connection to {hub.endpoint()}"
            raise EncoderError(
                f"model {name!r} {where} and the hub is unreachable ({why}); "
                "download it once with network access, or pass a local model folder"
            )
        log.info("downloading %s from %s", name, hub.endpoint())
        try:
            model = self._load(st, name, options, revision=revision)
        except Exception as error:
            raise EncoderError(f"model {name!r} {where} and could not be downloaded: {_first_line(error)}") from error
        return model, next(filter(None, (hub.cached_commit(r, revision) for r in hub.repo_ids(name))), None)

    def _max_seq_length(self) -> int:
        length = getattr(self._model, "max_seq_length", None)
        if not length:
            length = getattr(self._tokenizer, "model_max_length", None)
        # Tokenizers without a limit report a huge sentinel (1e30); 512 is the common BERT window.
        return int(length) if length and int(length) < 1_000_000 else 512

    def _dimension(self) -> int:
        for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
            method = getattr(self._model, name, None)
            if callable(method):
                dim = method()
                if dim:
                    return int(dim)
        return int(self._raw_encode(["dimension probe"], "document").shape[1])

    def _make_id(self) -> str:
        """Names the model, its exact weights (commit or file hashes), the prompts and the window.

        The readable head is the hub name or the folder's own name with the commit or weights hash;
        the digest covers the rest. A local folder's parent path is not part of it, but its name is.
        """
        if self._folder is not None:
            pin = hashlib.sha256("".join(w["sha256"] for w in self._weights or ()).encode()).hexdigest()
            label, short = self._folder.name, f"sha256:{pin[:12]}"
            # Names and hashes only: a touched but unchanged file keeps the id.
            model_key: Any = [[w["file"], w["sha256"]] for w in self._weights or ()] or str(self._folder)
        else:
            label, short = self._model_name, (self._revision or "unpinned")[:12]
            model_key = [self._model_name, self._revision]
        facts = [model_key, self._query_prompt, self._passage_prompt, self._max_tokens]
        digest = hashlib.sha256(json.dumps(facts, ensure_ascii=False).encode()).hexdigest()[:10]
        return f"st:{label}@{short}+{digest}"

    # -- the Encoder interface ----------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def query_prompt(self) -> str:
        return self._query_prompt

    @property
    def passage_prompt(self) -> str:
        return self._passage_prompt

    @property
    def model(self) -> Any:
        """The underlying SentenceTransformer."""
        return self._model

    def spec(self) -> dict[str, Any]:
        return {
            **super().spec(),
            "model": self._model_name,
            "revision": self._revision,
            "weights": self._weights,
        }

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for `text` as a passage: prompt and special tokens included, so a
        chunk sized to `max_tokens` is never truncated by the model."""
        if self._counter is None:
            return super().count_tokens(self._passage_prompt + text)
        return self._counter(self._passage_prompt + text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt, "query", None)

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self._encode(texts, self._passage_prompt, "document", progress)

    def _encode(self, texts: Sequence[str], prompt: str, task: str, progress: Progress | None) -> np.ndarray:
        return encode_in_batches(
            texts,
            self._dim,
            self.batch_size,
            lambda batch: self._raw_encode([prompt + t for t in batch], task),
            progress,
        )

    def _raw_encode(self, inputs: list[str], task: str) -> np.ndarray:
        """Exactly `inputs` go to the model: `prompt=""` stops sentence-transformers from adding its
        own (or a default) prompt on top of ours; encode_query/encode_document route asymmetric models."""
        method = getattr(self._model, f"encode_{task}", None) or self._model.encode
        try:
            vectors = method(
                inputs,
                prompt="",
                batch_size=len(inputs),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as error:
            raise EncoderError(f"encoding with {self._model_name} failed: {type(error).__name__}: {error}") from error
        return np.asarray(vectors, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self._model_name!r}, device={self.device!r}, id={self._id!r})"


def from_spec(spec: dict[str, Any]) -> SentenceTransformerEncoder:
    """Rebuild the encoder a manifest records, with the prompts it recorded (not today's defaults)."""
    model = spec.get("model")
    if not isinstance(model, str) or not model:
        raise EncoderError("the index manifest names no sentence-transformers model; run `semsearch build --force`")
    if hub.looks_like_path(model) and not Path(model).is_dir():
        raise EncoderError(
            f"the model folder this index was built with is gone ({model}); "
            "rebuild the index with `semsearch build --model FOLDER_OR_NAME`"
        )
    return SentenceTransformerEncoder(
        model,
        query_prompt=str(spec.get("query_prompt") or ""),
        passage_prompt=str(spec.get("passage_prompt") or ""),
        revision=None if Path(model).is_dir() else spec.get("revision"),
        known_weights=spec.get("weights") or None,
    )
