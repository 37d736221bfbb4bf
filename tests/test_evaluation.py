"""evaluate.py: metrics against hand-computed values, the query file, and a tiny labelled run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import FakeEncoder

import semsearch
from semsearch.errors import QueryError
from semsearch.evaluation import LabelledQuery, evaluate, rank_metrics, read_queries

T, F = True, False


@pytest.mark.parametrize(
    ("relevant", "n_relevant", "expected"),
    [
        ([T, F, F], 1, (1.0, 1.0, 1.0, 1.0)),
        ([F, F, F, F, F, F, T], 1, (0.0, 0.0, 1 / 7, 1 / math.log2(8))),
        ([F, F, F, F, T], 1, (0.0, 1.0, 1 / 5, 1 / math.log2(6))),
        ([F] * 10 + [T], 1, (0.0, 0.0, 0.0, 0.0)),  # beyond depth 10
        ([], 1, (0.0, 0.0, 0.0, 0.0)),
        # Several relevant entries: DCG 1/log2(3) + 1/log2(5); ideal 1 + 1/log2(3) + 1/log2(4).
        ([F, T, F, T, F], 3, (0.0, 1.0, 0.5, (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 0.5))),
        ([T, T], 2, (1.0, 1.0, 1.0, 1.0)),
        ([T, F, T], 2, (1.0, 1.0, 1.0, (1 + 0.5) / (1 + 1 / math.log2(3)))),
    ],
)
def test_rank_metrics_hand_computed(relevant: list[bool], n_relevant: int, expected: tuple[float, ...]) -> None:
    assert rank_metrics(relevant, n_relevant) == pytest.approx(expected)


def test_rank_metrics_written_out() -> None:
    # The several-relevant case above, as numbers: 0.6309 + 0.4307 = 1.0616 over 2.1309.
    assert rank_metrics([F, T, F, T, F], 3) == pytest.approx((0.0, 1.0, 0.5, 0.49819), abs=1e-5)
    assert rank_metrics([F, F, T], 1, depth=2) == (0.0, 0.0, 0.0, 0.0)


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_queries(tmp_path: Path) -> None:
    path = write(
        tmp_path / "q.jsonl",
        '{"q": "勾配消失とは", "gold": ["勾配消失問題"], "id": "g1", "lang": "ja", "kind": "name"}',
        "",
        "// a comment line",
        '{"q": "what is dropout", "gold": "Dropout"}',
        '{"q": "best curry recipe", "gold": []}',
    )
    assert read_queries(path) == [
        LabelledQuery("勾配消失とは", ("勾配消失問題",), "g1", "ja", "name"),
        LabelledQuery("what is dropout", ("Dropout",), "4", "", ""),  # id defaults to the line number
        LabelledQuery("best curry recipe", (), "5", "", ""),
    ]
    assert read_queries(path)[2].offtopic


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"q": "ok", "gold": ["x"]', "{path}:2: not valid JSON (Expecting ',' delimiter)"),
        ('{"gold": ["x"]}', '{path}:2: each line needs a non-empty "q" string'),
        ('{"q": "  ", "gold": ["x"]}', '{path}:2: each line needs a non-empty "q" string'),
        ('["q", "gold"]', '{path}:2: each line needs a non-empty "q" string'),
        ('{"q": "ok", "gold": [1]}', '{path}:2: "gold" must be a list of names'),
    ],
)
def test_read_queries_errors_name_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "q.jsonl", '{"q": "fine", "gold": ["x"]}', line)
    with pytest.raises(QueryError) as error:
        read_queries(path)
    assert str(error.value) == message.format(path=path)


def test_read_queries_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match=r"holds no queries"):
        read_queries(write(tmp_path / "empty.jsonl", "", "// nothing"))
    with pytest.raises(QueryError, match=r"query file not found: .*missing\.jsonl"):
        read_queries(tmp_path / "missing.jsonl")


LABELLED = [
    # (question, gold, lang, kind); the TF-IDF rank of the first gold entry in the comment.
    ("ドロップアウト", [" DROPOUT "], "ja", "name"),  # 1 (gold compared after NFKC, trim, case fold)
    ("overfitting", ["過学習"], "en", "name"),  # 1
    ("連鎖律で勾配を計算", ["Backpropagation"], "ja", "para"),  # 1
    ("勾配", ["学習率"], "ja", "para"),  # 2 (after 勾配消失問題)
    ("過学習を防ぐ", ["過学習", "ドロップアウト"], "ja", "para"),  # 1 and 2: both relevant
    ("zzz", ["学習率"], "en", "typo"),  # no hit at all
    ("chicken curry recipe", [], "en", "offtopic"),  # off-topic: not in the metrics
]


@pytest.fixture
def labelled() -> list[LabelledQuery]:
    return [LabelledQuery(q, tuple(g), str(i), lang, kind) for i, (q, g, lang, kind) in enumerate(LABELLED)]


def test_evaluate_exact_numbers(glossary: Path, tmp_path: Path, labelled: list[LabelledQuery]) -> None:
    index = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    result = evaluate(index, labelled, modes=["tfidf"]).modes["tfidf"]
    ndcg_rank2 = 1 / math.log2(3)
    assert result.overall.n == 6
    assert (result.overall.recall_at_1, result.overall.recall_at_5, result.overall.mrr_at_10) == pytest.approx(
        (4 / 6, 5 / 6, 4.5 / 6)
    )
    assert result.overall.ndcg_at_10 == pytest.approx((4 + ndcg_rank2) / 6)
    assert result.overall.to_dict() == {
        "recall@1": 0.6667,
        "recall@5": 0.8333,
        "mrr@10": 0.75,
        "ndcg@10": 0.7718,
        "n": 6,
    }
    by_query = {r.query.q: r for r in result.results}
    assert by_query["勾配"].ranked[:2] == ("勾配消失問題", "学習率")
    assert by_query["過学習を防ぐ"].relevant[:2] == (True, True) and by_query["過学習を防ぐ"].n_relevant == 2
    assert by_query["zzz"].ranked == ()
    # Off-topic questions are left out of the metrics and counted apart.
    assert result.offtopic_rejected == (1, 1)
    assert result.ontopic_confident == (5, 6)  # "zzz" finds nothing: not confident


def test_evaluate_breakdown_by_lang_and_kind(glossary: Path, tmp_path: Path, labelled: list[LabelledQuery]) -> None:
    index = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    result = evaluate(index, labelled, modes=["tfidf"]).modes["tfidf"]
    assert sorted(result.by_lang) == ["en", "ja"]
    assert (result.by_lang["ja"].n, result.by_lang["ja"].recall_at_1, result.by_lang["ja"].mrr_at_10) == (
        4,
        0.75,
        0.875,
    )
    assert (result.by_lang["en"].n, result.by_lang["en"].recall_at_1, result.by_lang["en"].mrr_at_10) == (2, 0.5, 0.5)
    assert sorted(result.by_kind) == ["name", "para", "typo"]  # no "offtopic" slice: it has no on-topic query
    assert result.by_kind["name"].to_dict() == {"recall@1": 1.0, "recall@5": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0, "n": 2}
    assert result.by_kind["para"].mrr_at_10 == pytest.approx(2.5 / 3)
    assert result.by_kind["typo"].recall_at_5 == 0.0


def test_evaluate_every_mode_agrees_with_search(glossary: Path, tmp_path: Path, labelled: list[LabelledQuery]) -> None:
    index = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    evaluation = evaluate(index, labelled)
    assert list(evaluation.modes) == ["dense", "tfidf", "hybrid"]
    for mode, result in evaluation.modes.items():
        for r in result.results:
            assert r.ranked == tuple(h.term for h in index.search(r.query.q, k=10, mode=mode))
    data = json.loads(json.dumps(evaluation.to_dict()))
    assert set(data["modes"]["hybrid"]) == {
        "recall@1",
        "recall@5",
        "mrr@10",
        "ndcg@10",
        "n",
        "by_lang",
        "by_kind",
        "offtopic_rejected",
        "ontopic_confident",
    }
    assert data["modes"]["tfidf"]["offtopic_rejected"] == [1, 1]
