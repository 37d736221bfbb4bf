"""lexical.py: the TF-IDF side, checked against numbers worked out by hand from its formula."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from semsearch.corpus import read_corpus
from semsearch.lexical import LexicalIndex, term_document

DOCS = ["cat cat dog", "the dog and a bird", "fish"]  # "the", "and", "a" are stopwords


def test_scores_match_the_hand_computed_tf_idf_cosine() -> None:
    lexical = LexicalIndex.build(DOCS)
    n = 3
    idf = {
        "cat": math.log((1 + n) / (1 + 1)) + 1,  # df 1
        "dog": math.log((1 + n) / (1 + 2)) + 1,  # df 2
        "bird": math.log((1 + n) / (1 + 1)) + 1,
        "fish": math.log((1 + n) / (1 + 1)) + 1,
    }
    assert sorted(lexical.vocab) == sorted(idf)
    # Documents: sublinear tf (1 + ln count) times idf, L2-normalised.
    d0 = {"cat": (1 + math.log(2)) * idf["cat"], "dog": 1.0 * idf["dog"]}
    d1 = {"dog": idf["dog"], "bird": idf["bird"]}
    norm0, norm1 = math.hypot(*d0.values()), math.hypot(*d1.values())
    # Query "dogs and cats": plural folding gives {"dog": 1, "cat": 1}, weighted and normalised alike.
    q = {"cat": idf["cat"], "dog": idf["dog"]}
    qnorm = math.hypot(*q.values())
    expected = [
        (q["cat"] * d0["cat"] + q["dog"] * d0["dog"]) / (qnorm * norm0),
        (q["dog"] * d1["dog"]) / (qnorm * norm1),
        0.0,
    ]
    scores = lexical.scores("dogs and cats")
    assert scores.dtype == np.float32 and scores.shape == (3,)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert expected[0] == pytest.approx(0.9741, abs=1e-4)  # the numbers themselves, worked out by hand
    assert expected[1] == pytest.approx(0.3664, abs=1e-4)


def test_repeated_query_words_are_sublinear_and_unknown_words_ignored() -> None:
    lexical = LexicalIndex.build(DOCS)
    # A one-feature query is a unit vector whatever its count: cosine is the document's weight.
    idf_fish = math.log(4 / 2) + 1
    np.testing.assert_allclose(lexical.scores("fish fish fish unicorn"), [0.0, 0.0, 1.0], atol=1e-7)
    assert lexical.idf[lexical.vocab["fish"]] == pytest.approx(idf_fish)
    assert not lexical.scores("unicorn").any()
    assert not lexical.scores("the and a").any()  # stopwords only


def test_documents_are_unit_vectors() -> None:
    lexical = LexicalIndex.build(DOCS)
    norms = np.zeros(lexical.n_docs)
    np.add.at(norms, lexical.docs, lexical.weights.astype(np.float64) ** 2)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-6)


def test_japanese_question_matches_the_japanese_entry_by_bigrams(glossary: Path) -> None:
    terms = read_corpus([glossary]).terms
    lexical = LexicalIndex.build([term_document(t.names, t.body) for t in terms])
    ranked = [terms[i].name for i in np.argsort(-lexical.scores("勾配が小さくなる現象"), kind="stable")]
    assert ranked[0] == "勾配消失問題"
    scores = lexical.scores("ランダムに無効化する手法")
    assert terms[int(np.argmax(scores))].name == "ドロップアウト"
    # Katakana and hiragana spellings share bigrams.
    np.testing.assert_array_equal(lexical.scores("ドロップアウト"), lexical.scores("どろっぷあうと"))


def test_term_document_repeats_the_names() -> None:
    assert term_document(("過学習", "Overfitting"), "本文") == "過学習 Overfitting\n過学習 Overfitting\n本文"


def test_save_load_round_trip_without_pickle(tmp_path: Path, glossary: Path) -> None:
    terms = read_corpus([glossary]).terms
    lexical = LexicalIndex.build([term_document(t.names, t.body) for t in terms])
    arrays, vocab = tmp_path / "lexical.npz", tmp_path / "lexical-vocab.json"
    for path, data in zip((arrays, vocab), lexical.to_bytes(), strict=True):
        path.write_bytes(data)

    with np.load(arrays, allow_pickle=False) as data:  # would raise on any object array
        assert sorted(data.files) == ["docs", "idf", "indptr", "n_docs", "weights"]
        assert all(data[name].dtype != object for name in data.files)
    assert json.loads(vocab.read_text(encoding="utf-8")) == sorted(lexical.vocab, key=lexical.vocab.__getitem__)

    loaded = LexicalIndex.from_bytes(arrays.read_bytes(), vocab.read_bytes())
    assert loaded.vocab == lexical.vocab and loaded.n_docs == lexical.n_docs == len(terms)
    for question in ("勾配消失とは", "dropout", "過学習を防ぐには", "backpropagation"):
        np.testing.assert_array_equal(loaded.scores(question), lexical.scores(question))
