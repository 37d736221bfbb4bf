"""FAISS at scale, on synthetic e5-like vectors (bench/synthetic.py) at 1k to 1M: exact against
approximate indexes (build time, latency, recall, size, load time), and the statistics that make the
synthetic data comparable with the real vectors."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import load_average, log, median, ms, queries_of, secs, table
from .synthetic import MixtureSpec, mixture, spectrum_slope


def _latency(search: Callable[[np.ndarray], Any], queries: np.ndarray, count: int) -> float:
    times = []
    for row in queries[:count]:
        started = time.perf_counter()
        search(row[None, :])
        times.append(time.perf_counter() - started)
    return median(times)


def _load_time(blob: bytes, kind: str) -> float:
    """Seconds to turn a serialized index back into a searchable one (what every `ask` pays)."""
    from semsearch.ann import AnnIndex

    times = []
    for _ in range(3):
        started = time.perf_counter()
        AnnIndex.from_bytes(blob, kind)
        times.append(time.perf_counter() - started)
    return median(times)


def _recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(e[:10]) - {-1}) / 10 for f, e in zip(found, exact, strict=True)]))


def _real_statistics(work: Path) -> dict[str, float] | None:
    """The same statistics for the real e5 vectors of the tech-glossary, to compare with."""
    index_dir = work / "index-tech"
    if not (index_dir / "manifest.json").exists():
        return None
    import semsearch

    index = semsearch.load(index_dir)
    vectors = index._stored.ann.vectors()
    queries = index.scoring.encoder.encode_queries(queries_of("tech-glossary"))
    return _statistics(vectors, queries)


def _statistics(data: np.ndarray, queries: np.ndarray, sample: int = 300) -> dict[str, float]:
    scores = queries[:200] @ data.T
    top = np.sort(scores, axis=1)[:, ::-1]
    small = data[np.random.default_rng(0).choice(len(data), min(sample, len(data)), replace=False)]
    return {
        "query_top1": float(top[:, 0].mean()),
        "query_top10": float(top[:, 9].mean()),
        "mean_cosine": float(scores.mean()),
        "spectrum_slope_300": spectrum_slope(small),
        "lid_300": _lid(small),
    }


def _lid(data: np.ndarray, k: int = 10) -> float:
    """Local intrinsic dimensionality, maximum-likelihood estimate over the k nearest neighbours."""
    distances = np.sqrt(np.maximum(2 - 2 * (data @ data.T), 0))
    np.fill_diagonal(distances, np.inf)
    near = np.sort(distances, axis=1)[:, :k]
    return float(np.mean(-1 / np.mean(np.log(near[:, :-1] / near[:, -1:]), axis=1)))


STRESS = MixtureSpec(topic_fraction=0.5, family_fraction=0.0, points_per_topic=100)


def _measure_sizes(
    args: argparse.Namespace, spec: MixtureSpec, sizes: Sequence[int], kinds: Sequence[str]
) -> list[dict[str, Any]]:
    from semsearch import ann

    entries = []
    for n in sizes:
        n_queries = 1000 if n <= 100_000 else 500
        log(f"faiss: generating {n:,} vectors")
        data, queries = mixture(n, n_queries, spec=spec)
        entry: dict[str, Any] = {"n": n, "queries": n_queries, "statistics": _statistics(data, queries)}
        single = 200 if n <= 100_000 else 40

        started = time.perf_counter()
        flat = ann.build_ann(data, kind="flat")
        entry["flat_build"] = time.perf_counter() - started
        _, exact = flat.search(queries, 10)
        entry["flat_p50"] = _latency(lambda q, f=flat: f.search(q, 10), queries, single)
        blob = flat.to_bytes()
        entry["flat_bytes"] = len(blob) / n
        entry["flat_load"] = _load_time(blob, "flat")
        del blob
        # The query layer scores every chunk up to stores.arrays.EXACT_SCORING_MAX_CHUNKS: it asks for k = n.
        if n <= 100_000:
            entry["flat_all_p50"] = _latency(lambda q, f=flat, n=n: f.search(q, n), queries, 50)
            entry["numpy_all_p50"] = _latency(lambda q, d=data: d @ q[0], queries, 50)
        entry["approx"] = []
        for kind in kinds if n <= 100_000 else [k.strip() for k in args.faiss_kinds_large.split(",") if k.strip()]:
            log(f"faiss: {n:,} vectors, {kind} build")
            started = time.perf_counter()
            index = ann.build_ann(data, kind=kind)
            build = time.perf_counter() - started
            _, found = index.search(queries, 10)
            result = {
                "kind": kind,
                "info": index.info(),
                "build": build,
                "recall": _recall(found, exact),
                "p50": _latency(lambda q, i=index: i.search(q, 10), queries, single),
                "p50_k256": _latency(lambda q, i=index: i.search(q, 256), queries, single),
                "sweep": [],
            }
            blob = index.to_bytes()
            result["bytes"] = len(blob) / n
            result["load"] = _load_time(blob, kind)
            del blob
            knob, values = _sweep(index)
            for value in values:
                _set_knob(index, knob, value)
                _, found = index.search(queries, 10)
                latency = _latency(lambda q, i=index: i.search(q, 10), queries, single)
                result["sweep"].append((knob, value, _recall(found, exact), latency))
            entry["approx"].append(result)
            del index
        entries.append(entry)
        del data, queries, flat, exact
    return entries


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import faiss

    from semsearch import ann

    sizes = [int(s) for s in args.faiss_sizes.split(",")]
    kinds = [k.strip() for k in args.faiss_kinds.split(",") if k.strip()]
    out: dict[str, Any] = {"spec": MixtureSpec().describe(), "real": _real_statistics(work)}
    # Calibration: the same statistics on 300-point draws (the size of the real corpus).
    out["calibration"] = {
        name: _statistics(*mixture(300, 200, seed=seed, spec=spec))
        for name, spec, seed in (("synthetic", MixtureSpec(), 0), ("stress variant", STRESS, 0))
    }
    out["sizes"] = _measure_sizes(args, MixtureSpec(), sizes, kinds)
    # A harder variant: one level of clusters of 100 points, no tight families (higher LID).
    stress_sizes = [n for n in sizes if n <= 100_000][-1:]
    out["stress_spec"] = STRESS.describe()
    out["stress"] = _measure_sizes(args, STRESS, stress_sizes, kinds)
    out["threads"] = faiss.omp_get_max_threads()
    out["load"] = load_average()
    out["approx_min"] = ann.APPROX_MIN_VECTORS
    out["approx_kind"] = ann.APPROX_KIND
    return out


def _sweep(index: Any) -> tuple[str, list[int]]:
    if index.kind == "ivf":
        nlist, nprobe = index.info()["nlist"], index.info()["nprobe"]
        values = {max(1, nprobe // 4), max(1, nprobe // 2), min(nlist, nprobe * 2), min(nlist, nprobe * 4)}
        return "nprobe", sorted(values - {nprobe})
    if index.kind == "hnsw":
        ef = index.info()["ef_search"]
        return "ef_search", sorted({32, 64, 128, 256, 512} - {ef})
    return "", []


def _set_knob(index: Any, knob: str, value: Any) -> None:
    if knob == "nprobe":
        index.index.nprobe = int(value)
    elif knob == "ef_search":
        index.index.hnsw.efSearch = int(value)


def _statistics_row(label: str, x: dict[str, float], local: bool = True) -> tuple[str, ...]:
    return (
        label,
        f"{x['query_top1']:.3f}",
        f"{x['query_top10']:.3f}",
        f"{x['mean_cosine']:.3f}",
        f"{x['spectrum_slope_300']:.2f}" if local else "",
        f"{x['lid_300']:.1f}" if local else "",
    )


def _index_rows(entries: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows = []
    for e in entries:
        n = e["n"]
        rows.append(
            (
                f"{n:,}",
                "flat (exact)",
                secs(e["flat_build"]),
                ms(e["flat_p50"]),
                "",
                f"{e['flat_bytes']:.0f}",
                ms(e["flat_load"]),
                "1",
            )
        )
        for a in e["approx"]:
            params = ", ".join(f"{k}={v}" for k, v in a["info"].items() if k not in ("kind", "faiss", "ntotal"))
            rows.append(
                (
                    f"{n:,}",
                    f"{a['kind']} ({params})",
                    secs(a["build"]),
                    ms(a["p50"]),
                    ms(a["p50_k256"]),
                    f"{a['bytes']:.0f}",
                    ms(a["load"]),
                    f"**{a['recall']:.4f}**",
                )
            )
    return rows


def _sweep_lines(entries: list[dict[str, Any]], what: str) -> list[str]:
    lines = []
    for e in entries:
        for a in e["approx"]:
            if a["sweep"]:
                knobs = "; ".join(f"{k}={v}: {rec:.4f} ({ms(lat)})" for k, v, rec, lat in a["sweep"])
                lines.append(f"- {what}, n = {e['n']:,}, {a['kind']}: {knobs}")
    return lines


def report(r: dict[str, Any]) -> str:
    headers = (
        "n",
        "index",
        "build",
        "query p50 (k=10)",
        "p50 (k=256)",
        "bytes/chunk",
        "load from bytes",
        "recall@10 vs exact",
    )
    parts = ["## FAISS with synthetic vectors\n"]
    parts.append(f"Data: {r['spec']} (bench/synthetic.py, seeded). FAISS threads: {r['threads']}.\n")
    rows = [_statistics_row(f"{name}, n = 300", x) for name, x in r["calibration"].items()]
    rows += [_statistics_row(f"synthetic, n = {e['n']:,}", e["statistics"], local=False) for e in r["sizes"]]
    rows += [_statistics_row(f"stress variant, n = {e['n']:,}", e["statistics"], local=False) for e in r["stress"]]
    if r["real"]:
        rows.insert(0, _statistics_row("real: e5 vectors of tech-glossary, its queries", r["real"]))
    parts.append(
        table(
            ("vectors", "query top-1 cos", "query top-10 cos", "mean cos", "spectrum slope (300)", "LID (k=10, 300)"),
            rows,
        )
    )
    parts.append(
        "\nThe generator's constants were fitted to the real vectors at the same size (300 points): mean cosine, the "
        "slope of the covariance spectrum, and the local intrinsic dimensionality (LID, maximum likelihood over 10 "
        "neighbours), which drives how hard approximate search is. The nearest-neighbour cosines grow with n, as "
        "they would for a bigger real corpus.\n"
    )
    parts.append(table(headers, _index_rows(r["sizes"])))
    parts.append(
        "\nOne query per search call, as `ask` does; p50 over 200 queries (40 at 1M). bytes/chunk = serialized "
        "index size / n (the index file, and roughly its memory); load = `AnnIndex.from_bytes` of it, which every "
        "one-shot `ask` pays (reading the file comes on top). The query layer asks an approximate index for "
        "256 candidates (stores.arrays.DENSE_CANDIDATES), hence the k=256 column; recall is measured at k=10.\n"
    )
    parts.append("Recall@10 (and p50) when the search knob is turned, everything else fixed:\n")
    parts += _sweep_lines(r["sizes"], "calibrated data")
    if r["stress"]:
        parts.append(f"\n### Stress variant: {r['stress_spec']}\n")
        parts.append(
            "Without the tight term families the data has about twice the LID of the real vectors: a harder, "
            "less realistic case, to see how each index degrades.\n"
        )
        parts.append(table(headers, _index_rows(r["stress"])))
        parts.append("")
        parts += _sweep_lines(r["stress"], "stress data")
    exact_rows = [
        (f"{e['n']:,}", ms(e["flat_p50"]), ms(e["flat_all_p50"]), ms(e["numpy_all_p50"]))
        for e in r["sizes"]
        if "flat_all_p50" in e
    ]
    if exact_rows:
        parts.append("\n### Scoring every chunk (the query layer's path up to EXACT_SCORING_MAX_CHUNKS)\n")
        parts.append(table(("n", "flat, k=10", "flat, k=n (sorted)", "NumPy `vectors @ q` (unsorted)"), exact_rows))
    parts.append(
        f"\nsemsearch/ann.py: APPROX_MIN_VECTORS = {r['approx_min']:,}, approximate kind = {r['approx_kind']}. "
        f"Load average after this section: {r['load']}.\n"
    )
    return "\n".join(parts)
