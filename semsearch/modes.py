"""The ranking modes. Kept free of heavy imports: the CLI needs them to parse options."""

from __future__ import annotations

__all__ = ["MODES", "DEFAULT_MODE"]

MODES = ("dense", "tfidf", "hybrid")
#: The best measured mode (README, "Ranking").
DEFAULT_MODE = "hybrid"
