"""semsearch: semantic search over a Japanese/English technical glossary.

import semsearch
index = semsearch.build("corpus/", index_dir="index/")
index = semsearch.load("index/")
hits = index.search("勾配消失とは", k=5)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import SemsearchError
from .indexer import BuildReport, build
from .search import Answer, Hit, Index, load

__all__ = ["build", "load", "Index", "Hit", "Answer", "BuildReport", "SemsearchError", "__version__"]
