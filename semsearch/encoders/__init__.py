"""Encoders: questions and passages -> L2-normalised float32 vectors."""

from __future__ import annotations

from .base import (
    _BACKENDS,
    EMBEDDED_NAMES,
    EmbeddedE5,
    Encoder,
    Progress,
    default_encoder,
    encoder_for,
    load_encoder,
    normalize_rows,
    register_backend,
)

__all__ = [
    "Encoder",
    "EmbeddedE5",
    "Progress",
    "register_backend",
    "load_encoder",
    "default_encoder",
    "encoder_for",
    "normalize_rows",
    "EMBEDDED_NAMES",
    "_BACKENDS",
]
