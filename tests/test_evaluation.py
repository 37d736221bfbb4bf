"""evaluate.py: metrics against hand-computed values, the query file, and a tiny labelled run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import ROOT, FakeEncoder

import semsearch
from semsearch.errors import QueryError
from semsearch.evaluation import LabelledQuery, evaluate, rank_metrics, read_queries
from semsearch.text import normalize

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
        ("[" * 100_000, "{path}:2: not valid JSON (nested too deeply)"),
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
    # Off-topic questions are left out of the metrics; every answer's state is counted.
    states = {r.query.q: r.state for r in result.results}
    assert states["ドロップアウト"] == states["overfitting"] == "sure"  # named
    assert states["zzz"] == "no_match"  # nothing to search for
    assert states["chicken curry recipe"] == "no_match"
    counts = result.states
    assert (counts.ontopic, counts.offtopic, counts.offtopic_no_match, counts.offtopic_sure) == (6, 1, 1, 0)
    assert counts.sure == sum(s == "sure" for q, s in states.items() if q != "chicken curry recipe")
    assert counts.sure_right == sum(
        r.state == "sure" and r.gold_rank == 1 for r in result.results if not r.query.offtopic
    )
    assert counts.sure + counts.possible + counts.no_match == counts.ontopic


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
        "states",
    }
    assert data["modes"]["tfidf"]["states"]["offtopic"] == {"n": 1, "sure": 0, "possible": 0, "no_match": 1}


# The project's own labelled sets in bench/queries: what `semsearch eval` and the README's tables read.

QUERY_DIR = ROOT / "bench" / "queries"
QUERY_SETS = {"deep-learning": "dl", "tech-glossary": "tg", "offtopic": "off"}  # set -> id prefix
KINDS = {"name", "paraphrase", "usecase", "typo", "variant", "offtopic"}
TOPICS = {"web", "database", "network", "git", "devops", "os", "programming", "security", "spreadsheet"}
TOPICS |= {"life", "nonsense", "soup"}


def query_rows(query_set: str, part: str) -> list[dict]:
    path = QUERY_DIR / f"{query_set}.{part}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_query_files_are_the_known_sets_in_two_halves() -> None:
    assert sorted(p.name for p in QUERY_DIR.glob("*.jsonl")) == sorted(
        f"{s}.{part}.jsonl" for s in QUERY_SETS for part in ("dev", "heldout")
    )


@pytest.mark.parametrize("part", ["dev", "heldout"])
@pytest.mark.parametrize("query_set", sorted(QUERY_SETS))
def test_query_file_rows_are_well_formed(query_set: str, part: str) -> None:
    path = QUERY_DIR / f"{query_set}.{part}.jsonl"
    rows = query_rows(query_set, part)
    assert [(q.q, q.gold, q.id) for q in read_queries(path)] == [(r["q"], tuple(r["gold"]), r["id"]) for r in rows]
    prefix = f"{QUERY_SETS[query_set]}-{'dev' if part == 'dev' else 'ho'}-"
    assert [r["id"] for r in rows] == [f"{prefix}{n:03d}" for n in range(1, len(rows) + 1)]
    for r in rows:
        assert set(r) == {"id", "q", "gold", "lang", "kind"} | ({"topic"} if query_set == "offtopic" else set()), r
        assert r["q"].strip() and r["lang"] in {"ja", "en", "mixed"} and r["kind"] in KINDS, r
        assert (r["kind"] == "offtopic") == (r["gold"] == []), r
        assert len(set(r["gold"])) == len(r["gold"]), r
    if query_set == "offtopic":
        assert all(r["kind"] == "offtopic" and r["topic"] in TOPICS for r in rows)


def test_off_topic_halves_share_every_topic_and_no_question() -> None:
    dev, heldout = query_rows("offtopic", "dev"), query_rows("offtopic", "heldout")
    assert {r["topic"] for r in dev} == {r["topic"] for r in heldout} == TOPICS
    assert len(dev) + len(heldout) >= 80 and abs(len(dev) - len(heldout)) <= 2
    offtopic = [normalize(r["q"]) for r in dev + heldout]
    elsewhere = {
        normalize(r["q"]) for s in QUERY_SETS if s != "offtopic" for p in ("dev", "heldout") for r in query_rows(s, p)
    }
    assert len(offtopic) == len(set(offtopic)) and not set(offtopic) & elsewhere


def gold_names_missing(query_set: str, corpus_root: Path) -> list[tuple[str, str]]:
    from semsearch.corpus import read_corpus

    names = {normalize(n) for term in read_corpus([corpus_root]).terms for n in term.names}
    return [
        (r["id"], g)
        for part in ("dev", "heldout")
        for r in query_rows(query_set, part)
        for g in r["gold"]
        if normalize(g) not in names
    ]


def test_every_gold_name_is_a_name_in_the_bundled_glossary() -> None:
    assert gold_names_missing("deep-learning", ROOT / "corpus") == []


def test_every_gold_name_is_a_name_in_the_larger_glossary(tech_glossary: Path) -> None:
    assert gold_names_missing("tech-glossary", tech_glossary) == []


@pytest.mark.parametrize("query_set", ["deep-learning", "tech-glossary"])
def test_use_cases_are_measured_on_at_least_40_questions_per_glossary(query_set: str) -> None:
    usecases = {part: [r for r in query_rows(query_set, part) if r["kind"] == "usecase"] for part in ("dev", "heldout")}
    assert len(usecases["dev"]) + len(usecases["heldout"]) >= 40
    assert len(usecases["heldout"]) >= 20
    assert {r["lang"] for rows in usecases.values() for r in rows} == {"ja", "en", "mixed"}
