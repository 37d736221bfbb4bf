"""The Python API (`semsearch.build`, `load`, `Index.search`, ...), and the acceptance checks on the
bundled glossary with the real encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FakeEncoder

import semsearch


def test_public_face() -> None:
    assert semsearch.__all__ == [
        "open",
        "build",
        "load",
        "evaluate",
        "lint",
        "Index",
        "Hit",
        "Answer",
        "BuildReport",
        "LintReport",
        "SemsearchError",
        "__version__",
    ]
    for name in semsearch.__all__:
        assert getattr(semsearch, name) is not None
    assert isinstance(semsearch.__version__, str) and semsearch.__version__.count(".") == 2


def test_build_load_search(glossary: Path, tmp_path: Path) -> None:
    index = semsearch.build(str(glossary), index_dir=str(tmp_path / "index"), encoder=FakeEncoder())
    assert isinstance(index, semsearch.Index)
    assert isinstance(index.build_report, semsearch.BuildReport)
    assert (index.build_report.terms, index.build_report.written) == (6, True)
    assert len(index) == 6

    loaded = semsearch.load(tmp_path / "index")
    assert isinstance(loaded, semsearch.Index) and loaded.build_report is None
    hits = loaded.search("勾配消失とは", k=3)
    assert isinstance(hits, list) and len(hits) == 3
    assert all(isinstance(h, semsearch.Hit) for h in hits)
    top = hits[0]
    assert (top.term, top.names, top.source, top.line) == (
        "勾配消失問題",
        ("勾配消失問題", "Vanishing Gradient Problem"),
        "dl.md",
        4,
    )
    assert isinstance(top.score, float) and top.snippet
    assert [h.term for h in loaded.search("dropout", k=2, mode="tfidf")] == ["ドロップアウト"]  # nothing else matches
    answer = loaded.query("dropout", k=1)
    assert isinstance(answer, semsearch.Answer) and answer.hits[0].term == "ドロップアウト"


def test_errors_share_one_base_class(tmp_path: Path) -> None:
    with pytest.raises(semsearch.SemsearchError):
        semsearch.load(tmp_path / "nowhere")


# -- the real encoder on the bundled glossary (issue 2 and issue 6 acceptance) -------------------
# One query per question: the real encoder is slow on a busy 2-core machine.


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("勾配消失とは", "勾配消失問題"),
        ("what is dropout", "ドロップアウト"),
        ("how does backpropagation work", "誤差逆伝播法"),
    ],
)
def test_bundled_glossary_answers_first_and_confidently(
    bundled_index: semsearch.Index, question: str, first: str
) -> None:
    answer = bundled_index.query(question, k=3)
    assert answer.hits[0].term == first, [h.term for h in answer.hits]
    assert answer.state == "sure" and answer.confident is True


@pytest.mark.slow
def test_bundled_glossary_overfitting_question(bundled_index: semsearch.Index) -> None:
    answer = bundled_index.query("過学習を防ぐには", k=3)
    assert {"過学習", "ドロップアウト"} & {h.term for h in answer.hits}, [h.term for h in answer.hits]
    assert answer.confident is True


@pytest.mark.slow
@pytest.mark.parametrize("question", ["best recipe for chicken curry", "明日の大阪の天気は"])
def test_off_topic_questions_are_no_match(bundled_index: semsearch.Index, question: str) -> None:
    answer = bundled_index.query(question)
    assert answer.state == "no_match" and answer.confident is False, [(h.term, h.score) for h in answer.hits]
    assert answer.mode == "hybrid" and answer.hits  # still the closest entries to name
