"""Parity of the stores: one glossary built as an index directory (the default build, the second
encoder's side included) and in Qdrant (local mode, and Qdrant Edge where qdrant-edge-py installs),
then every bench query set (`bench/queries/<glossary>.{dev,heldout}.jsonl` with the off-topic sets)
evaluated on each, every mode: R@1, MRR@10, and the states' counts (sure / possible / no_match over
on-topic and off-topic questions); then, per mode, how far each store's scores are from the
directory's (the largest difference over the top 10 hits of every question) and on how many
questions its top 10 names or their order differ.

The Qdrant builds reuse the directory's vectors as an embedding cache, so the stores differ only in
how they rank. The table this prints is the one in docs/scaling.md ("Parity").

    python -m bench.parity [--glossary deep-learning|tech-glossary] [--stores directory,qdrant+local,qdrant+edge]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import semsearch
from semsearch.evaluation import evaluate, read_queries
from semsearch.ray_embed import Embeddings
from semsearch.stores.files import read_index, vectors_by_hash

from .common import BUNDLED, ROOT, TECH

GLOSSARIES = {"deep-learning": BUNDLED, "tech-glossary": TECH}
STORES = ("directory", "qdrant+local", "qdrant+edge")
PACKAGES = {"qdrant+local": "qdrant_client", "qdrant+edge": "qdrant_edge"}


def _cache(index: Any) -> Embeddings:
    """The directory's vectors (chunks and pseudo-questions, by content hash) as an embedding cache."""
    chunks, pseudo = vectors_by_hash(read_index(index.path))
    rows = {**chunks, **pseudo}
    return Embeddings(index.scoring.encoder_id, tuple(rows), np.array(list(rows.values()), dtype=np.float32))


def _figures(index: Any, glossary: str) -> dict[str, dict[str, Any]]:
    """part -> mode -> figures, on the query sets of `glossary` with the off-topic sets."""
    out: dict[str, dict[str, Any]] = {}
    for part in ("dev", "heldout"):
        queries = [
            *read_queries(ROOT / "bench" / "queries" / f"{glossary}.{part}.jsonl"),
            *read_queries(ROOT / "bench" / "queries" / f"offtopic.{part}.jsonl"),
        ]
        result = evaluate(index, queries, ["dense", "use", "tfidf", "hybrid"])
        out[part] = {
            mode: {
                "mode_used": mode if mode != "use" or "use" in index.modes else "dense",
                "r1": round(r.overall.recall_at_1, 4),
                "mrr10": round(r.overall.mrr_at_10, 4),
                "sure": r.states.sure + r.states.offtopic_sure,
                "possible": r.states.possible + r.states.offtopic_possible,
                "no_match": r.states.no_match + r.states.offtopic_no_match,
            }
            for mode, r in result.modes.items()
        }
    return out


def _questions(glossary: str) -> list[str]:
    return [
        q.q
        for part in ("dev", "heldout")
        for name in (glossary, "offtopic")
        for q in read_queries(ROOT / "bench" / "queries" / f"{name}.{part}.jsonl")
    ]


def _agreement(index: Any, directory: Any, questions: list[str]) -> dict[str, Any]:
    """mode -> the largest score difference from the directory's over the top 10 hits, and the
    questions whose top 10 names (in order) or state differ."""
    out: dict[str, Any] = {}
    for mode in ("dense", "use", "tfidf", "hybrid"):
        delta, orders, states = 0.0, 0, 0
        for question in questions:
            got, want = index.query(question, k=10, mode=mode), directory.query(question, k=10, mode=mode)
            names, wanted = [h.id for h in got.hits], [h.id for h in want.hits]
            orders += names != wanted
            states += got.state != want.state
            scores = {h.id: h.score for h in want.hits}
            delta = max([delta, *(abs(h.score - scores[h.id]) for h in got.hits if h.id in scores)])
        out[mode] = {"max_score_delta": delta, "orders_differ": orders, "states_differ": states, "n": len(questions)}
    return out


def run(glossary: str, stores: list[str], work: Path) -> dict[str, Any]:
    corpus = GLOSSARIES[glossary]
    directory = semsearch.build(corpus, index_dir=work / "directory")
    results: dict[str, Any] = {"directory": _figures(directory, glossary), "modes": {"directory": directory.modes}}
    cache = _cache(directory)
    for store in stores:
        if store == "directory":
            continue
        if importlib.util.find_spec(PACKAGES[store]) is None:
            results[store] = None
            continue
        where = f"{store}://{work / store.replace('+', '-')}"
        index = semsearch.build(corpus, index_dir=where, embeddings=cache)
        results[store] = _figures(index, glossary)
        results["modes"][store] = index.modes
        results.setdefault("agreement", {})[store] = _agreement(index, directory, _questions(glossary))
    return results


def table(results: dict[str, Any], stores: list[str]) -> str:
    """Markdown: part, mode, then `R@1 / MRR@10, sure · possible · no_match` per store."""
    lines = ["| part | mode | " + " | ".join(stores) + " |", "|---|---|" + "---|" * len(stores)]
    base = results["directory"]
    for part, modes in base.items():
        for mode in modes:
            cells = []
            for store in stores:
                got = results.get(store)
                if got is None:
                    cells.append("not installed")
                    continue
                f = got[part][mode]
                used = "" if f["mode_used"] == mode else f" (as {f['mode_used']})"
                cells.append(f"{f['r1']:.3f} / {f['mrr10']:.3f}, {f['sure']} · {f['possible']} · {f['no_match']}{used}")
            lines.append(f"| {part} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def agreement_table(results: dict[str, Any]) -> str:
    """Markdown: per store and mode, the largest score difference and the questions that differ."""
    lines = [
        "| store | mode | max score difference | top-10 order differs | state differs |",
        "|---|---|---|---|---|",
    ]
    for store, modes in results.get("agreement", {}).items():
        for mode, a in modes.items():
            lines.append(
                f"| {store} | {mode} | {a['max_score_delta']:.1e} | {a['orders_differ']} of {a['n']} "
                f"| {a['states_differ']} of {a['n']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.parity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--glossary", choices=sorted(GLOSSARIES), default="deep-learning")
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    stores = [s for s in args.stores.split(",") if s]
    if not GLOSSARIES[args.glossary].is_dir():
        raise SystemExit(f"the glossary {args.glossary} is not at {GLOSSARIES[args.glossary]}")
    with tempfile.TemporaryDirectory(prefix="semsearch-parity-") as scratch:
        results = run(args.glossary, stores, Path(scratch))
    print(table(results, stores))
    print()
    print(agreement_table(results))
    if args.json:
        print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
