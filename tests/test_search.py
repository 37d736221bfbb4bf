"""search.py: fusion, the name tier, grouping per term, modes, hits, the TF-IDF fallback,
confidence and related terms. The fake encoder makes every ranking here exact."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder

import semsearch
from semsearch import lexical, search
from semsearch.chunking import ChunkSettings, chunk_terms
from semsearch.encoders import registry
from semsearch.errors import EncoderError
from semsearch.search import Index, fuse
from semsearch.stores.files import read_index
from semsearch.text import lexical_features

MODES = ("dense", "tfidf", "hybrid")


def build(root: Path, files: dict[str, str], tmp_path: Path, **options: object) -> Index:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return semsearch.build(root, index_dir=tmp_path / "index", encoder=FakeEncoder(), **options)


@pytest.fixture
def index(glossary: Path, tmp_path: Path) -> Index:
    return semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())


# -- fusion -------------------------------------------------------------------------------------


def test_fuse_against_a_hand_computed_example() -> None:
    nan = float("nan")
    dense = np.array([0.8, nan, 0.2, 0.5, nan], dtype=np.float32)
    lexical = np.array([0.0, 0.6, 0.3, 0.0, 0.0], dtype=np.float32)
    # Candidates: retrieved by dense (0, 2, 3) or matched lexically (1, 2); term 4 by neither.
    # Term 1 counts with the lowest retrieved dense score, 0.2. Fixed scales: dense + w * lexical.
    np.testing.assert_allclose(fuse(dense, lexical, 0.5), [0.8, 0.5, 0.35, 0.5, -np.inf], atol=1e-6)
    np.testing.assert_allclose(fuse(dense, lexical, 0.0), [0.8, 0.2, 0.2, 0.5, -np.inf], atol=1e-6)
    # The default weight is the module's measured one.
    np.testing.assert_array_equal(fuse(dense, lexical), fuse(dense, lexical, search.LEXICAL_WEIGHT))


def test_fuse_degenerate_inputs() -> None:
    nan = float("nan")
    # No dense candidates at all: the lexical side decides.
    np.testing.assert_allclose(
        fuse(np.array([nan, nan, nan]), np.array([0.2, 0.0, 0.4]), 0.5), [0.1, -np.inf, 0.2], atol=1e-6
    )
    # Nothing retrieved, nothing matched: no candidates.
    assert np.isneginf(fuse(np.array([nan, nan]), np.array([0.0, 0.0]))).all()


def test_a_score_means_the_same_on_every_question() -> None:
    """Calibrated scores depend on a term's own relevance only, not on the other candidates."""
    calibration = (0.45, 44.4, 0.16)
    alone = search.calibrated(np.array([0.5]), calibration)
    crowded = search.calibrated(np.array([0.5, 0.1, 0.9, -np.inf]), calibration)
    assert crowded[0] == alone[0]
    np.testing.assert_allclose(search.calibrated(np.array([0.45]), calibration), [0.5])
    assert 0 < crowded[1] < crowded[0] < crowded[2] < 1 and np.isneginf(crowded[3])
    # An encoder without calibration: its raw relevance, clipped to [0, 1].
    np.testing.assert_allclose(search.calibrated(np.array([1.4, 0.3, -0.2]), None), [1.0, 0.3, 0.0])


# -- name tier ----------------------------------------------------------------------------------

BATCHES = {
    "a.md": "## Batch | バッチ\n"
    "- 学習データの一部をまとめて処理する単位。サイズ、エポック、勾配、更新、メモリ、並列化と関係する。\n"
    "## Mini-batch | ミニバッチ\n- batch batch batch batch を小さく分けたもの。\n"
    "## Other\n- model weights.\n"
}


@pytest.mark.parametrize("mode", MODES)
def test_an_exact_name_comes_first_even_when_scores_disagree(tmp_path: Path, mode: str) -> None:
    index = build(tmp_path / "g", BATCHES, tmp_path)
    # Both sides score "Mini-batch" higher for the question "batch"...
    assert int(np.argmax(index.scoring.lexical_scores("batch"))) == 1
    assert int(np.nanargmax(index.scoring.dense_scores("batch"))) == 1
    # ...but "Batch" is the term's own name.
    for question in ("batch", "BATCH?", "What is a batch?", "バッチ", "ばっちとは"):
        assert [h.term for h in index.search(question, k=2, mode=mode)] == ["Batch", "Mini-batch"], question


@pytest.mark.parametrize("mode", MODES)
def test_a_misspelt_name_comes_first(index: Index, mode: str) -> None:
    hits = index.search("backpropogation", k=3, mode=mode)
    assert hits[0].term == "誤差逆伝播法"
    assert index.search("ドロップアウ", k=1, mode=mode)[0].term == "ドロップアウト"


def test_framing_does_not_change_the_ranking(index: Index) -> None:
    for mode in MODES:
        bare = index.search("勾配消失", k=6, mode=mode)
        assert index.search("勾配消失とは", k=6, mode=mode) == bare
        assert index.search("勾配消失って何？", k=6, mode=mode) == bare


# -- grouping per term --------------------------------------------------------------------------

LONG = {
    "long.md": "## 長い用語 | Long Term\n"
    + "\n".join(f"- bullet {i} gradient loss weight " + "filler " * 8 for i in range(6))
    + "\n## Gradient\n- gradient descent\n## Loss\n- loss function\n## Weight\n- weight decay\n"
}


def test_a_term_appears_once_at_its_best_chunk(tmp_path: Path) -> None:
    index = build(tmp_path / "g", LONG, tmp_path, settings=ChunkSettings(max_tokens=40))
    stored = read_index(tmp_path / "index")
    chunk_terms_of = np.array([c.term_position for c in stored.chunks])
    assert (chunk_terms_of == 0).sum() > 1  # the long term is split

    encoder = FakeEncoder()
    vectors = stored.ann.vectors()
    for question in ("gradient loss", "bullet 3", "weight"):
        q = encoder.encode_queries([question])[0]
        corrected = vectors @ q - stored.manifest.encoder["hubness_beta"] * stored.dense.priors
        best = [corrected[chunk_terms_of == t].max() for t in range(len(index.terms))]
        np.testing.assert_allclose(index.scoring.dense_scores(question), best, atol=1e-5)
        hits = index.search(question, k=10, mode="dense")
        assert len(hits) == len({h.id for h in hits}) == 4
        assert [h.rank for h in hits] == [1, 2, 3, 4]
        # The fake encoder is not calibrated: a hit's score is its raw relevance, clipped to [0, 1]
        # (a term the question names scores 1).
        expected = np.clip(sorted(best, reverse=True), 0.0, 1.0)
        expected[: sum(h.named for h in hits)] = 1.0
        assert [h.score for h in hits] == pytest.approx(expected.tolist(), abs=1e-5)
    assert len(index.search("gradient loss", k=2, mode="dense")) == 2
    assert len(index.search("gradient loss", k=1, mode="hybrid")) == 1


def test_the_snippet_is_the_best_matching_line(tmp_path: Path) -> None:
    index = build(tmp_path / "g", LONG, tmp_path, settings=ChunkSettings(max_tokens=40))
    hit = index.search("bullet 4", k=1, mode="tfidf")[0]
    assert hit.term == "長い用語"
    assert hit.snippet == "bullet 4 gradient loss weight " + "filler " * 7 + "filler"


def test_a_question_naming_the_term_gets_its_definition_not_the_line_repeating_the_name(tmp_path: Path) -> None:
    files = {"nlp.md": "## コーパス | Corpus\n- テキストデータのデータセット。\n- 具体例:\n  - 日本語コーパス\n"}
    index = build(tmp_path / "g", files, tmp_path)
    assert index.search("コーパスって何？", k=1)[0].snippet == "テキストデータのデータセット。"
    assert index.search("corpus", k=1)[0].snippet == "テキストデータのデータセット。"
    assert index.search("コーパスの具体例", k=1)[0].snippet == "具体例:"  # other words still choose


# -- modes --------------------------------------------------------------------------------------

MODELS = {
    "m.md": "## Model Zoo\n- model model model model model model.\n"
    "## Animals\n- zebra lion tiger elephant giraffe model.\n"
    "## Weights\n- model weights.\n## Parameters\n- model parameters.\n"
}


def test_modes_rank_differently_where_expected(tmp_path: Path) -> None:
    index = build(tmp_path / "g", MODELS, tmp_path)
    rankings = {mode: [h.term for h in index.search("model zebra", k=4, mode=mode)] for mode in MODES}
    # Dense (no idf) follows the many "model"s; TF-IDF the rare "zebra".
    assert rankings["dense"][0] == "Model Zoo"
    assert rankings["tfidf"][0] == "Animals"
    # Hybrid is the fusion of both sides, ties broken by corpus order.
    fused = fuse(index.scoring.dense_scores("model zebra"), index.scoring.lexical_scores("model zebra"))
    expected = [index.terms[int(t)].name for t in np.lexsort((np.arange(len(fused)), -fused))]
    assert rankings["hybrid"] == expected
    assert rankings["dense"][2:] == rankings["tfidf"][2:] == ["Weights", "Parameters"]  # a tie: corpus order


def test_tfidf_mode_returns_only_terms_that_match(index: Index) -> None:
    assert [h.term for h in index.search("転移", k=5, mode="tfidf")] == ["転移学習"]
    assert index.search("zzzz unknownword", k=5, mode="tfidf") == []
    answer = index.query("zzzz unknownword", mode="tfidf")
    assert (answer.hits, answer.confident, answer.mode) == ([], False, "tfidf")


# -- hits ---------------------------------------------------------------------------------------


def test_hit_fields(index: Index, glossary: Path) -> None:
    answer = index.query("What is dropout?", k=3, mode="hybrid")
    assert (answer.query, answer.cleaned, answer.mode) == ("What is dropout?", "dropout", "hybrid")
    hit = answer.hits[0]
    assert (hit.rank, hit.term, hit.names, hit.source, hit.line, hit.id) == (
        1,
        "ドロップアウト",
        ("ドロップアウト", "Dropout"),
        "dl.md",
        8,
        "dl.md::ドロップアウト",
    )
    assert hit.snippet == "学習時にユニットをランダムに無効化する正則化手法。過学習を防ぐ。"
    assert isinstance(hit.score, float) and 0 < hit.score <= 1
    assert Path(hit.path) == (glossary / "dl.md").resolve()
    assert hit.related == ()  # only asked for with related=True
    assert [h.rank for h in answer.hits] == [1, 2, 3]
    assert index.term(hit).body.startswith("- 学習時にユニット")
    nested = index.search("連鎖律", k=1, mode="tfidf")[0]
    assert (nested.source, nested.line, nested.id) == ("sub/more.md", 1, "sub/more.md::誤差逆伝播法")


def test_hit_path_with_several_roots(tmp_path: Path) -> None:
    roots = {"ml": tmp_path / "ml", "a": tmp_path / "a" / "docs", "b": tmp_path / "b" / "docs"}
    for key, name in (("ml", "Dropout"), ("a", "Overfitting"), ("b", "Regularization")):
        roots[key].mkdir(parents=True)
        (roots[key] / "g.md").write_text(f"## {name}\n- {name.lower()} body\n", encoding="utf-8")
    semsearch.build(list(roots.values()), index_dir=tmp_path / "index", encoder=FakeEncoder())
    index = semsearch.load(tmp_path / "index")
    for key, name in (("ml", "Dropout"), ("a", "Overfitting"), ("b", "Regularization")):
        hit = index.search(name, k=1)[0]
        assert hit.term == name
        assert Path(hit.path) == (roots[key] / "g.md").resolve(), name


def test_hit_to_dict(index: Index) -> None:
    hit = index.query("dropout", k=1, related=True).hits[0]
    data = hit.to_dict()
    assert set(data) == {
        "rank", "term", "names", "score", "source", "path", "line", "snippet", "related", "id", "named", "also_in"
    }  # fmt: skip
    assert data["names"] == ["ドロップアウト", "Dropout"]
    assert data["named"] is True  # "dropout" is its English name
    assert Path(data["path"]).is_absolute() and data["path"].endswith(data["source"])  # an editor opens it
    assert data["score"] == round(hit.score, 4)
    assert data["related"] == list(hit.related) and len(hit.related) == 3
    json.dumps(data)  # plain JSON types only


# -- one hit per term -----------------------------------------------------------------------------

SPREAD = {
    "dl.md": "## 過学習 | Overfitting\n- 訓練データに適合しすぎて汎化しない。\n"
    "## 早期終了 | Early Stopping\n- 検証損失が悪化したら訓練を止め過学習を防ぐ。\n"
    "## RAG\n",
    "ml.md": "## Overfitting\n- 訓練データに適合しすぎる。\n## Early Stopping\n- 過学習を防ぐために訓練を止める。\n"
    "## ドロップアウト | Dropout\n- 過学習を防ぐ正則化。\n",
    "llm.md": "## RAG | Retrieval-Augmented Generation\n- 検索した文書を生成に使う。\n",
}


@pytest.mark.parametrize("mode", MODES)
def test_a_term_in_several_files_is_one_hit(tmp_path: Path, mode: str) -> None:
    index = build(tmp_path / "g", SPREAD, tmp_path)
    hits = index.search("過学習を防ぐ", k=10, mode=mode)
    terms = [h.term for h in hits]
    assert len(terms) == len(set(terms))
    assert {"Overfitting", "過学習"} & set(terms) and not {"Overfitting", "過学習"} <= set(terms)
    early = next(h for h in hits if "Early Stopping" in h.names)
    assert early.names == ("早期終了", "Early Stopping") or early.names == ("Early Stopping", "早期終了")
    other = {("dl.md", 3), ("ml.md", 3)} - {(early.source, early.line)}
    assert early.also_in == tuple(other)


def test_names_of_a_term_are_merged_and_its_other_places_listed(tmp_path: Path) -> None:
    index = build(tmp_path / "g", SPREAD, tmp_path)
    hits = index.query("Overfitting", k=3).hits
    hit = hits[0]
    assert hit.named and sorted(hit.names) == sorted(["過学習", "Overfitting"])
    assert hit.also_in == ((("ml.md", 1),) if hit.source == "dl.md" else (("dl.md", 1),))
    assert all("Overfitting" not in h.names for h in hits[1:])
    assert hit.to_dict()["also_in"] == [{"source": s, "line": n} for s, n in hit.also_in]


def test_an_entry_with_no_body_never_takes_the_place_of_one_with_a_body(tmp_path: Path) -> None:
    index = build(tmp_path / "g", SPREAD, tmp_path)
    for question in ("RAGとは", "RAG", "retrieval augmented generation"):
        hit = index.search(question, k=1)[0]
        assert (hit.source, hit.snippet) == ("llm.md", "検索した文書を生成に使う。"), question
        assert hit.also_in == (("dl.md", 5),)
        assert hit.names == ("RAG", "Retrieval-Augmented Generation")


def test_entry_groups_join_entries_sharing_a_name_transitively(tmp_path: Path) -> None:
    files = {"a.md": "## A | B\n- x\n## C\n- y\n", "b.md": "## B | D\n- z\n## D | E\n- w\n## F\n- v\n"}
    index = build(tmp_path / "g", files, tmp_path)
    named = [[index.terms[m].name for m in group] for group in index.entries.entry_groups()]
    assert named == [["A", "B", "D"], ["C"], ["F"]]


# -- fallback -----------------------------------------------------------------------------------


class UnloadableEncoder(FakeEncoder):
    backend = "unloadable"


def refuse(spec: dict[str, object]) -> FakeEncoder:
    raise EncoderError("the model weights are missing")


def test_an_encoder_that_cannot_load_falls_back_to_tfidf(
    glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=UnloadableEncoder())
    monkeypatch.setitem(registry._BACKENDS, "unloadable", refuse)
    index = semsearch.load(tmp_path / "index")
    reference = index.query("過学習", k=3, mode="tfidf")
    with caplog.at_level(logging.WARNING, logger="semsearch"):
        for mode in ("hybrid", "dense"):
            answer = index.query("過学習", k=3, mode=mode)
            assert answer.mode == "tfidf"
            assert answer.notices == (
                "dense encoder unavailable (the model weights are missing); answering from TF-IDF",
            )
            assert answer.hits == reference.hits
    assert answer.hits[0].term == "過学習"
    assert "the model weights are missing" in caplog.text
    assert reference.notices == ()  # asked for tfidf: nothing to announce


def test_a_tfidf_side_built_under_other_features_is_not_answered_from(
    glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An index from a semsearch whose TF-IDF features differ (none of them is what a question has
    # now), whose encoder cannot load: the fallback must still find the term, not nothing.
    with monkeypatch.context() as patch:
        patch.setattr(lexical, "lexical_features", lambda text: [f"old:{f}" for f in lexical_features(text)])
        semsearch.build(glossary, index_dir=tmp_path / "index", encoder=UnloadableEncoder())
    path = tmp_path / "index" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    del manifest["lexical"]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.setitem(registry._BACKENDS, "unloadable", refuse)
    answer = semsearch.load(tmp_path / "index").query("ユニットを無効化する正則化", k=1)
    assert (answer.mode, answer.hits[0].term) == ("tfidf", "ドロップアウト")


def test_an_unknown_backend_in_the_manifest_falls_back_to_tfidf(index: Index, tmp_path: Path) -> None:
    path = tmp_path / "index" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["encoder"]["backend"] = "gone"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    answer = semsearch.load(tmp_path / "index").query("dropout")
    assert answer.mode == "tfidf"
    assert answer.notices == (
        "dense encoder unavailable (unknown encoder backend 'gone' in the index manifest; "
        "rebuild with `semsearch build --force --model embedded`); answering from TF-IDF",
    )
    assert answer.hits[0].term == "ドロップアウト"


# -- confidence ---------------------------------------------------------------------------------


@pytest.fixture
def calibrated(index: Index, monkeypatch: pytest.MonkeyPatch) -> Index:
    """The test index with a calibration and estimates for the fake encoder: a hybrid relevance of
    0.5 scores 0.5; the best hit is sure from a relevance of about 0.6 with a clear margin, and the
    glossary has no match for a question whose best relevance is under 0.4."""
    calibration = {"hybrid": [0.5, 20.0], "dense": [0.5, 20.0]}
    judge = {
        "right": {"weights": {"relevance": 20.0, "margin": 1.0}, "bias": -8.0},
        "match": {"weights": {"relevance": 30.0}, "bias": -12.0},
        "sure": 0.9,
        "none": 0.5,
    }
    monkeypatch.setitem(index.manifest.encoder, "calibration", calibration)
    monkeypatch.setitem(index.manifest.encoder, "estimate", {"hybrid": judge, "dense": judge})
    return index


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("question", ["ドロップアウト", "過学習を防ぐには", "gradient descent", "chicken curry recipe"])
def test_the_shown_order_follows_the_shown_score(calibrated: Index, mode: str, question: str) -> None:
    hits = calibrated.search(question, k=6, mode=mode)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= score <= 1.0 for score in scores)
    assert all(h.score == search.NAMED_SCORE for h in hits if h.named)


def test_an_answer_is_sure_possible_or_no_match(calibrated: Index) -> None:
    named = calibrated.query("ドロップアウト")
    assert (named.state, named.confident, named.probability) == ("sure", True, 1.0) and named.hits[0].named
    off_topic = calibrated.query("chicken curry recipe", mode="hybrid")
    assert off_topic.hits and off_topic.state == "no_match" and not off_topic.confident
    on_topic = calibrated.query("訓練データに適合しすぎる", mode="hybrid")
    assert on_topic.state == "sure" and on_topic.hits[0].term == "過学習"
    judge = calibrated.scoring.judge("hybrid")
    assert judge is not None and on_topic.probability is not None and on_topic.probability >= judge.sure
    assert calibrated.query("訓練データに適合しすぎる", mode="tfidf").state in ("sure", "possible")
    assert calibrated.query("chicken curry recipe", mode="tfidf").state == "no_match"


def test_a_possible_answer_is_neither_sure_nor_no_match(calibrated: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    judge = calibrated.manifest.encoder["estimate"]["hybrid"]
    monkeypatch.setitem(judge, "sure", 1.0)  # nothing unnamed is sure
    answer = calibrated.query("訓練データに適合しすぎる", mode="hybrid")
    assert (answer.state, answer.confident, answer.hits[0].term) == ("possible", False, "過学習")


def test_an_uncalibrated_encoder_answers_possible_unless_a_term_is_named(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(index.manifest.encoder, "estimate", None)  # an encoder nothing was measured for
    assert index.manifest.encoder["calibration"] is None
    assert (
        index.scoring.calibration("hybrid") is None and index.scoring.calibration("tfidf") == search.TFIDF_CALIBRATION
    )
    assert index.scoring.judge("dense") is None and index.scoring.judge("tfidf") is not None
    answer = index.query("chicken curry recipe", mode="dense")
    assert (answer.state, answer.probability) == ("possible", None) and answer.hits
    assert index.query("ドロップアウト", mode="dense").state == "sure"
    assert index.query("chicken curry recipe", mode="tfidf").state == "no_match"  # tfidf keeps its estimates


@pytest.mark.parametrize(
    "question",
    [
        *["とは", "?!?!...。、？", "|", "a" * 100_000, "what is", "42", "🙂🙂", ".*+?[](){}^$"],
        # regular expressions and letter soup: single letters among symbols, keyboard runs, repeats
        *[".*+?[](){}^$|\\\\d\\1(?P<x>", "^[a-z0-9._%+-]+@[a-z]+\\.[a-z]{2,}$", "asdfghjkl", "qwertyuiop zxcvbnm"],
        *["ｑｗｅｒｔｙ", "jkjkjkjkjk", "what is asdfghjkl?"],
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_a_question_with_nothing_to_search_is_no_match(calibrated: Index, question: str, mode: str) -> None:
    answer = calibrated.query(question, mode=mode)
    assert (answer.hits, answer.state) == ([], "no_match")
    assert answer.notices[-1] == "nothing to search for in the question"


def test_a_one_letter_name_is_still_found(tmp_path: Path) -> None:
    index = build(tmp_path / "g", {"langs.md": "## R\n- 統計の言語。\n## C\n- システムの言語。\n"}, tmp_path)
    answer = index.query("R")
    assert (answer.hits[0].term, answer.hits[0].named, answer.confident) == ("R", True, True)


# -- related terms ------------------------------------------------------------------------------


def b64(heading: str) -> str:
    return base64.b64encode(heading.encode("utf-8")).decode("ascii")


URL = "https://github.com/o/r/blob/main/output/dl.md#"
RENDERED = {
    "dl.md": f"""<!-- 記事URL:{URL} -->

## 過学習 | Overfitting<a id="{b64("過学習 | Overfitting")}"></a>

- 訓練データに適合しすぎる。<a href="{URL}{b64("正則化 | Regularization")}">正則化</a>で防ぐ。\
<a href="{URL}{b64("過学習 | Overfitting")}">過学習</a>自身、<a href="https://arxiv.org/abs/1">論文</a>、\
<a href="{URL}{b64("存在しない | Missing")}">存在しない語</a>。

## 正則化 | Regularization<a id="{b64("正則化 | Regularization")}"></a>

- 重みを小さく保つ。

## ドロップアウト | Dropout

- 訓練データに適合しすぎるのを防ぐ。

## 汎化 | Generalization

- 訓練データに適合しすぎない能力。
"""
}


def test_related_lists_cross_references_first_then_neighbours(tmp_path: Path) -> None:
    index = build(tmp_path / "g", RENDERED, tmp_path)
    assert [t.name for t in index.terms] == ["過学習", "正則化", "ドロップアウト", "汎化"]
    # 正則化 shares no words with 過学習 but is linked from it; a self-link, an article and a link
    # to a missing term name nothing. Then the nearest neighbours by vector, best first.
    vectors = read_index(tmp_path / "index").ann.vectors()
    by_cosine = [int(i) for i in np.argsort(-(vectors @ vectors[0]), kind="stable") if i not in (0, 1)]
    neighbours = [index.terms[i].name for i in by_cosine]
    assert index.entries.related(0) == ("正則化", *neighbours)
    assert index.entries.related(0, n=1) == ("正則化",)
    for position in range(len(index.terms)):
        related = index.entries.related(position)
        assert index.terms[position].name not in related
        assert len(related) == len(set(related)) == 3
    hit = index.query("過学習", k=1, related=True).hits[0]
    assert hit.related == index.entries.related(0)


def test_related_never_lists_the_same_term_from_another_file(tmp_path: Path) -> None:
    files = {
        "a.md": "## トランスフォーマー | Transformer\n- アテンションだけのモデル。\n## 注意機構\n- 重み付け。\n",
        "b.md": "## Transformer\n- アテンションだけのモデル。\n## RNN\n- 再帰。\n## CNN\n- 畳み込み。\n",
    }
    index = build(tmp_path / "g", files, tmp_path)
    first, second = index.entries.find("Transformer")
    for position in (first, second):
        related = index.entries.related(position)
        assert "Transformer" not in related and "トランスフォーマー" not in related
        assert len(related) == 3  # the places are filled by other terms


def test_related_from_the_chunked_dense_side_never_lists_the_term_itself(tmp_path: Path) -> None:
    index = build(tmp_path / "g", LONG, tmp_path, settings=ChunkSettings(max_tokens=40))
    # The long term's other chunks are its nearest neighbours; they must not come back as "related".
    assert len(chunk_terms(index.terms, ChunkSettings(max_tokens=40))) > len(index.terms)
    assert "長い用語" not in index.entries.related(0)
    assert sorted(index.entries.related(0)) == ["Gradient", "Loss", "Weight"]


def test_similarity_is_what_related_ranks_neighbours_by(tmp_path: Path) -> None:
    """`similarity` (the README check judges related terms' near-ties with it) agrees with the
    vectors, and with the order of the neighbours `related` lists."""
    index = build(tmp_path / "g", RENDERED, tmp_path)
    vectors = read_index(tmp_path / "index").ann.vectors()
    assert index.entries.similarity(0, 0) == pytest.approx(1.0, abs=1e-6)
    assert index.entries.similarity(0, 2) == pytest.approx(float(vectors[2] @ vectors[0]), abs=1e-6)
    neighbours = [index.entries.find(name)[0] for name in index.entries.related(0)[1:]]  # after the cross-reference
    assert [index.entries.similarity(0, n) for n in neighbours] == sorted(
        (index.entries.similarity(0, n) for n in neighbours), reverse=True
    )
    long = build(tmp_path / "long", LONG, tmp_path / "l", settings=ChunkSettings(max_tokens=40))
    stored = read_index(tmp_path / "l" / "index")
    of_term = np.array([c.term_position for c in stored.chunks])
    chunks = stored.ann.vectors()
    assert (of_term == 0).sum() > 1  # a term of several chunks is as near as its nearest chunk
    gradient = chunks[np.flatnonzero(of_term == 1)[0]]
    assert long.entries.similarity(1, 0) == pytest.approx(float(np.max(chunks[of_term == 0] @ gradient)), abs=1e-6)


def test_the_same_question_in_several_modes_is_embedded_once(index: Index) -> None:
    encoder = index.scoring.encoder
    assert isinstance(encoder, FakeEncoder)
    before = encoder.queries_embedded
    for mode in ("dense", "hybrid", "dense"):
        index.query("過学習を防ぐには", mode=mode)
    assert encoder.queries_embedded == before + 1
    index.query("ドロップアウト", mode="dense")
    assert encoder.queries_embedded == before + 2


@pytest.mark.parametrize("mode", MODES)
def test_a_katakana_rendering_of_an_english_name_comes_first(tmp_path: Path, mode: str) -> None:
    index = build(
        tmp_path / "g",
        {"a.md": "## 深層学習 | Deep Learning\n- 多層のネット。\n## 転移学習 | Transfer Learning\n- 別タスク。\n"},
        tmp_path,
    )
    assert index.search("ディープラーニングとは", k=1, mode=mode)[0].term == "深層学習"
    assert index.search("トランスファーラーニング", k=1, mode=mode)[0].term == "転移学習"


def test_min_score_keeps_only_hits_scoring_at_least_that(calibrated: Index) -> None:
    every = calibrated.search("訓練データに適合しすぎる", k=6)
    cut = (every[0].score + every[1].score) / 2
    kept = calibrated.search("訓練データに適合しすぎる", k=6, min_score=cut)
    assert [h.term for h in kept] == [every[0].term]
    assert calibrated.search("訓練データに適合しすぎる", k=6, min_score=1.0) == []
    with pytest.raises(search.QueryError, match="between 0 and 1"):
        calibrated.search("dropout", min_score=1.5)
