"""Embed every chunk of a glossary with the embedded encoder, in a fresh process, locally or as a
Ray Data job on this machine's cores. Prints one JSON object.

    python -m bench.children.ray_throughput CORPUS local|ray [CPUS]

"local" is what a build does (EmbeddedE5.encode_passages: one single-threaded engine per core);
"ray" starts Ray with CPUS CPUs (default 2) and runs ray_embed.embed_on_ray (one actor per CPU,
each holding one encoder). Ray's start-up ("init") and its first actors' encoder loading are
reported apart from the whole.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def main(corpus: str, mode: str, cpus: int = 2) -> dict[str, Any]:
    from semsearch.chunking import chunk_terms
    from semsearch.corpus import read_corpus
    from semsearch.encoders import EmbeddedE5

    encoder = EmbeddedE5()
    chunks = chunk_terms(read_corpus([Path(corpus)]).terms, count_tokens=encoder.count_tokens)
    items = {c.sha256: c.text for c in chunks}
    tokens = sum(encoder.count_tokens(t) for t in items.values())
    out: dict[str, Any] = {"chunks": len(items), "tokens": tokens}
    if mode == "local":
        encoder.encode_passages(["warm up"])
        began = time.perf_counter()
        encoder.encode_passages(list(items.values()))
        out["seconds"] = time.perf_counter() - began
        return out
    import ray

    from semsearch.ray_embed import embed_on_ray

    # Ray's session folder holds Unix sockets, whose paths may not exceed 107 bytes: a short one,
    # whatever $TMPDIR is (the smoke test runs the benchmark with a deep one).
    session = tempfile.mkdtemp(prefix="ray-", dir=os.environ.get("RAY_TMPDIR", "/tmp"))
    began = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, _temp_dir=session)
    out["init"] = time.perf_counter() - began
    job = time.perf_counter()
    embed_on_ray(items, encoder)
    out["job"] = time.perf_counter() - job
    out["seconds"] = time.perf_counter() - began
    ray.shutdown()
    shutil.rmtree(session, ignore_errors=True)
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:4]))))
