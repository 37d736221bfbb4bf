"""semsearch.lint: every rule on a small real glossary, the allow comments, the settings, and the
records; with the fake encoder (its cosines are exact; the lines on likeness come from the settings,
as for any encoder without measured ones). The larger glossary: tests/test_lint_glossary.py."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder
from hypothesis import given, settings
from hypothesis import strategies as st

import semsearch
from semsearch.chunking import ChunkSettings
from semsearch.errors import ConfigError, CorpusError, QueryError
from semsearch.linter import Finding, LintConfig, LintReport, Place, read_config
from semsearch.linter.sources import scan_file


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return root


def linted(
    tmp_path: Path, files: dict[str, str | bytes], settings: ChunkSettings | None = None, **options
) -> LintReport:
    root = write(tmp_path / "glossary", files)
    index = semsearch.build(root, tmp_path / "index", encoder=FakeEncoder(), settings=settings)
    return semsearch.lint(root, index, **options)


def of(report: LintReport, rule: str) -> list[Finding]:
    return [f for f in report if f.rule == rule]


def where(finding: Finding) -> list[tuple[str, int]]:
    return [(p.source, p.line) for p in finding.places]


def b64(heading: str) -> str:
    return base64.b64encode(heading.encode()).decode()


# -- parse ----------------------------------------------------------------------------------------

ODD = """\
Intro text.
### 用語 | Term

## A || B
- body a

## C | D |
- body c

## | E
- body e

##NoSpace
## F
- body f
 ## Indented
## | |
- x
##\u3000全角
## G | ああああああああああああああああああああああああああああああああああああああああああ
- body g
"""


def test_parse_reports_each_odd_heading_where_it_is(tmp_path: Path) -> None:
    report = linted(tmp_path, {"odd.md": ODD}, select=["parse"])
    found = {(f.place.line, f.place.col, f.data["kind"]) for f in of(report, "parse")}
    assert found == {
        (2, 1, "before-first-heading"),
        (4, 6, "empty-name"),
        (7, 10, "trailing-separator"),
        (10, 4, "leading-separator"),
        (13, 1, "no-space"),
        (16, 1, "indented-heading"),
        (17, 1, "no-names"),
        (19, 1, "no-space"),
        (20, 8, "long-name"),
    }
    messages = {f.place.line: f.message for f in of(report, "parse")}
    assert "the body of the entry above" in messages[13]
    assert "a full-width space is not one" in messages[19]
    assert "84 columns wide, longer than a line (80)" in messages[20]
    assert all(f.severity == "error" and f.place.path.endswith("odd.md") for f in of(report, "parse"))


def test_parse_reports_files_not_read_and_lines_of_names_before_the_first_heading(tmp_path: Path) -> None:
    report = linted(
        tmp_path,
        {
            "ok.md": "## 勾配 | Gradient\n- 傾き。\n",
            "latin1.md": b"## caf\xe9\n- x\n",
            "hidden.md": "<!--\n## 隠し | Hidden\n-->\n",
            "names.md": "学習率 | Learning Rate\n\n## 過学習 | Overfitting\n- 適合しすぎ。\n",
            "prose.md": "これは説明です。A | B のように書きます。\n\n## 損失 | Loss\n- 誤差。\n",
        },
        select=["parse"],
    )
    found = {(f.place.source, f.place.line): f.message for f in of(report, "parse")}
    assert found == {
        ("hidden.md", 1): "the file is not read: no '## ' headings, nothing to index (its '## ' heading at line 2 "
        "inside an HTML comment)",
        ("latin1.md", 1): "the file is not read: not UTF-8 (invalid byte at offset 6)",
        ("names.md", 1): "text before the first '## ' heading looks like a term ('学習率 | Learning Rate'); write it "
        "as a '## ' heading to make it one",
    }


def test_an_allow_comment_naming_no_rule_is_a_parse_finding(tmp_path: Path) -> None:
    report = linted(tmp_path, {"a.md": "## 勾配 | Gradient\n<!-- semsearch: allow homonymm -->\n- 傾き。\n"})
    (finding,) = of(report, "parse")
    assert (finding.place.line, finding.place.col, finding.data["rule"]) == (2, 1, "homonymm")
    assert finding.message.startswith("unknown rule 'homonymm' in an allow comment; the rules are parse, broken-link")


# -- broken-link ----------------------------------------------------------------------------------


def test_broken_links_are_those_whose_entry_or_file_the_glossary_lacks(tmp_path: Path) -> None:
    base = "https://example.com/out/"
    a = (
        f"<!-- 記事URL:{base}a.md# -->\n"
        f'## 勾配 | Gradient<a id="{b64("勾配 | Gradient")}"></a>\n'
        f'- <a href="{base}b.md#{b64("学習率 | Learning Rate")}">学習率</a> で下る。\n'
        f'- <a href="{base}b.md#{b64("存在しない | Missing")}">どこか</a>\n'
        f'- <a href="{base}c.md#{b64("勾配")}">c</a> と <a href="https://arxiv.org/abs/1">論文</a>\n'
        f'- <a href="#勾配">ここ</a> と <a href="b.md#{b64("勾配")}">違うファイル</a>\n'
        '- <a href="#%E5%8B%BE%E9%85%8D--gradient">GitHub の見出しアンカー</a>\n'
    )
    b = f"<!-- 記事URL:{base}b.md# -->\n## 学習率 | Learning Rate\n- 更新幅。\n"
    report = linted(tmp_path, {"a.md": a, "b.md": b}, select=["broken-link"])
    found = {(f.place.line, f.place.col): f.message for f in of(report, "broken-link")}
    assert found == {
        (4, 3): "a link to '存在しない | Missing' in b.md, which has no such entry",
        (5, 3): "a link to 'c.md', which is not a file of the glossary",
        (6, 26): "a link to '勾配' in b.md, which has no such entry; it is in a.md",
    }
    assert all(f.severity == "error" for f in of(report, "broken-link"))


def test_a_link_follows_the_file_to_where_it_says_it_is_published(tmp_path: Path) -> None:
    # The larger glossary's llm-inference.md says it is published as llm-inference.md.md, and links so.
    base = "https://example.com/out/"
    text = f'<!-- 記事URL:{base}x.md.md# -->\n## vLLM\n- <a href="{base}x.md.md#{b64("vLLM")}">vLLM</a> です。\n'
    assert of(linted(tmp_path, {"x.md": text}, select=["broken-link"]), "broken-link") == []


# -- duplicate, homonym, near-duplicate -------------------------------------------------------------


def test_duplicate_quotes_each_body_and_says_how_alike_they_are(tmp_path: Path) -> None:
    report = linted(
        tmp_path,
        {
            "a.md": "## 過学習 | Overfitting\n- 訓練データに適合しすぎること。\n\n"
            "## 学習率 | Learning Rate\n- 更新幅。\n",
            "b.md": "## 過学習\n- 汎化性能が落ちる現象。\n\n## Learning Rate | 学習率\n- 更新幅。\n\n## 損失 | Loss\n",
            "c.md": "## overfitting\n- 未知のデータで誤差が増える。\n\n## 損失\n- 誤差の大きさ。\n",
        },
        select=["duplicate"],
    )
    overfit, rate = of(report, "duplicate")
    assert where(overfit) == [("a.md", 1), ("b.md", 1), ("c.md", 1)]
    assert [p.note for p in overfit.places] == [
        "訓練データに適合しすぎること。",
        "汎化性能が落ちる現象。",
        "未知のデータで誤差が増える。",
    ]
    assert overfit.message.startswith(
        "'過学習 | Overfitting' is written 3 times with different bodies (least alike: cosine 0."
    )
    least = min(p["cosine"] for p in overfit.data["pairs"])
    assert f"cosine {least:.3f}" in overfit.message and overfit.data["identical"] is False
    assert where(rate) == [("a.md", 4), ("b.md", 4)]
    assert rate.message == "'学習率 | Learning Rate' is written 2 times with the same body: keep one"
    assert rate.data["identical"] is True and rate.data["pairs"][0]["cosine"] == pytest.approx(1.0, abs=1e-4)
    # 損失 has one body (its other heading has none: the empty rule's), so it is no duplicate


def test_homonym_by_names_is_the_name_index_s_own_rule(tmp_path: Path) -> None:
    report = linted(
        tmp_path,
        {
            "a.md": "## 正規化 | Regularization\n- 過学習を抑える。\n",
            "b.md": "## 正規化 | Normalization\n- 値を0から1に収める。\n",
            "c.md": "## 正規化 | Normalization\n- 尺度を揃える。\n",
        },
        select=["homonym"],
    )
    (finding,) = of(report, "homonym")  # one per pair of terms (b.md and c.md are one), not per pair of entries
    assert where(finding) == [("a.md", 1), ("b.md", 1)]
    assert finding.message.startswith(
        "'正規化' names two concepts: 'Regularization' here and 'Normalization' at b.md:1; rename one"
    )
    assert finding.data["by"] == "names" and "cosine" in finding.data


def test_homonym_by_meaning_reports_entries_of_one_name_far_apart(tmp_path: Path) -> None:
    files = {
        "a.md": "## バッチ | Batch\n- 夜間にまとめて実行する業務処理の方式。\n",
        "b.md": "## バッチ | Batch\n- 学習で一度に使うサンプルの組。\n\n## 勾配 | Gradient\n- 傾き。\n",
        "c.md": "## 勾配 | Gradient\n- 傾き。\n",
    }
    report = linted(tmp_path, files, select=["homonym"], config=LintConfig(homonym=0.99))
    (finding,) = of(report, "homonym")
    assert where(finding) == [("a.md", 1), ("b.md", 1)] and finding.data["by"] == "meaning"
    assert finding.data["similarity"] < 0.99 and finding.data["threshold"] == 0.99
    assert "their bodies are far apart in meaning (similarity 0." in finding.message
    assert of(linted(tmp_path / "2", files, config=LintConfig(homonym=-1.0)), "homonym") == []


NEAR = {
    "a.md": "## 早期終了\n- 検証データの損失が改善しなくなった時点で学習を止め、過学習を防ぐ手法。\n\n"
    "## GPT-2\n- OpenAIが開発した言語モデル。数億のパラメータを持つ。\n",
    "b.md": "## Early Stopping\n- 検証データの損失が改善しなくなった時点で学習を止め、過学習を防ぐ。\n\n"
    "## GPT-3\n- OpenAIが開発した言語モデル。数千億のパラメータを持つ。\n\n"
    "## 畳み込み | Convolution\n- フィルタを画像に滑らせて特徴を取り出す演算。\n",
}


def test_near_duplicate_reports_one_concept_under_two_names_but_not_siblings(tmp_path: Path) -> None:
    report = linted(tmp_path, NEAR, config=LintConfig(near_duplicate=0.6))
    (finding,) = of(report, "near-duplicate")  # GPT-2 and GPT-3 read alike too, but are kin by name
    assert where(finding) == [("a.md", 1), ("b.md", 1)]
    assert finding.message.startswith("'早期終了' and 'Early Stopping' at b.md:1 may be one concept under two names")
    assert finding.data["likeness"] >= 0.6 and finding.data["likeness"] == pytest.approx(
        finding.data["cosine"], abs=1e-4
    )
    assert "near-duplicate" not in " ".join(report.notes)


def test_near_duplicate_lists_the_best_pair_first_and_stays_off_without_a_line(tmp_path: Path) -> None:
    files = {**NEAR, "c.md": "## 打ち切り学習\n- 検証データの損失が改善しなくなったら止める。\n"}
    report = linted(tmp_path, files, config=LintConfig(near_duplicate=0.3))
    scores = [f.data["likeness"] for f in of(report, "near-duplicate")]
    assert len(scores) >= 2 and scores == sorted(scores, reverse=True)
    plain = linted(tmp_path / "2", files)  # the fake encoder has no measured line
    assert of(plain, "near-duplicate") == []
    assert any(n.startswith("near-duplicate: off, no line measured for the encoder fake/") for n in plain.notes)


# -- each entry on its own ------------------------------------------------------------------------


def test_empty_and_short_entries(tmp_path: Path) -> None:
    report = linted(
        tmp_path,
        {
            "a.md": "## Muxer\n\n## 回帰 | Regression\n- 連続値を予測する。\n\n## 学習率 | Learning Rate\n"
            "- 勾配降下法で一回の更新幅を決めるハイパーパラメータ。大きすぎると発散し、小さすぎると収束が遅い。\n",
            "b.md": "## 学習率\n",
        },
        select=["empty", "short"],
    )
    empty = {f.place.source: f.message for f in of(report, "empty")}
    assert empty == {
        "a.md": "'Muxer' has no body; it is found only by its names, and comes up for unrelated questions: write one, "
        "or remove it",
        "b.md": "'学習率' has no body; the term has one at a.md:6: remove this heading, or write what this place adds",
    }
    (short,) = of(report, "short")
    assert (short.place.line, short.data["chars"], short.data["min_tokens"]) == (3, 9, 20)
    assert short.place.note == "連続値を予測する。"


def test_one_language_when_most_terms_are_bilingual(tmp_path: Path) -> None:
    files = {
        "a.md": "## 勾配 | Gradient\n- 傾き。\n\n## 損失 | Loss\n- 誤差。\n\n## 学習率 | Learning Rate\n- 更新幅。\n\n"
        "## Muxer\n- 多重化する。\n\n## PyTorch\n- 深層学習のフレームワーク。\n\n## 形態素\n- 意味をもつ最小単位。\n",
    }
    report = linted(tmp_path, files, select=None)
    found = {f.place.line: f.message for f in of(report, "one-language")}
    assert found == {
        10: "'Muxer' is named in English only, while 50% of the terms give Japanese and English: add its Japanese name",
        16: "'形態素' is named in Japanese only, while 50% of the terms give Japanese and English: add its "
        "English name",
    }  # PyTorch is written so in any language


def test_one_language_is_off_where_most_terms_have_one_language_unless_chosen(tmp_path: Path) -> None:
    files = {"a.md": "## Muxer\n- 多重化する。\n\n## Demuxer\n- 分離する。\n\n## 勾配 | Gradient\n- 傾き。\n"}
    report = linted(tmp_path, files)
    assert "one-language" not in report.rules and of(report, "one-language") == []
    assert "one-language: off, 33% of the terms give Japanese and English (it is on from 50%" in report.notes[-1]
    chosen = semsearch.lint(tmp_path / "glossary", tmp_path / "index", select=["one-language"])
    assert len(of(chosen, "one-language")) == 2


def test_oversized_entries_and_files(tmp_path: Path) -> None:
    book = "## 本 | Book\n" + "\n".join(f"- 段落{i}: " + "説明文" * 60 for i in range(40)) + "\n"
    files = {"book.md": book, "a.md": "## 勾配 | Gradient\n- 傾き。\n", "huge.md": "## 大 | Big\n- " + "x" * 40_000}
    report = linted(tmp_path, files, settings=ChunkSettings(max_chunks=3), max_file_bytes=30_000, select=["oversized"])
    entry, skipped = sorted(of(report, "oversized"), key=lambda f: f.place.source)
    assert entry.place.source == "book.md" and entry.message.startswith(
        "'本 | Book' is longer than 3 pieces: only its first 3 are embedded"
    )
    assert skipped.message == (
        "the file is not read: larger than 30000 bytes (40015 bytes; raise the limit with --max-file-mb)"
    )
    lower = semsearch.lint(
        tmp_path / "glossary", tmp_path / "index", select=["oversized"], max_pieces=2, max_file_bytes=30_000
    )
    entries = [f.message for f in of(lower, "oversized") if f.data["kind"] == "entry"]
    assert entries == ["'本 | Book' is longer than 2 pieces (oversized.max-pieces)"]


# -- accepting findings ----------------------------------------------------------------------------


def test_allow_comments_accept_a_rule_for_an_entry_or_a_file(tmp_path: Path) -> None:
    files = {
        "a.md": "## 正規化 | Regularization\n<!-- semsearch: allow homonym -->\n"
        "- 重みに罰則を課して過学習を抑える手法。L1やL2がある。\n\n## Muxer\n",
        "b.md": "## 正規化 | Normalization <!-- semsearch: allow short, empty -->\n- 尺度。\n\n## Demuxer\n",
        "c.md": "<!-- semsearch: allow empty -->\n## Remuxer\n\n## Transcoder\n",
    }
    report = linted(tmp_path, files, select=["homonym", "empty", "short"])
    assert of(report, "homonym") == []  # one entry of the pair accepts it
    assert [where(f) for f in of(report, "empty")] == [[("a.md", 5)], [("b.md", 4)]]
    assert of(report, "short") == []


# -- settings -------------------------------------------------------------------------------------


def test_settings_come_from_the_glossary_folder(tmp_path: Path) -> None:
    files = {"a.md": "## Muxer\n\n## 回帰 | Regression\n- 連続値。\n"}
    root = write(tmp_path / "glossary", files)
    index = semsearch.build(root, tmp_path / "index", encoder=FakeEncoder())
    (root / "pyproject.toml").write_text('[project]\nname = "g"\n\n[tool.semsearch.lint]\nignore = ["short"]\n')
    ignored = semsearch.lint(root, index)
    assert "short" not in ignored.rules and ignored.counts()["empty"] == 1
    (root / ".semsearch.toml").write_text('[lint]\nselect = ["short"]\n\n[lint.short]\nmin-tokens = 3\n')
    report = semsearch.lint(root, index)  # .semsearch.toml first
    assert report.rules == ("short",) and of(report, "short") == []
    assert semsearch.lint(root, index, select=["empty", "short"], ignore=["short"]).rules == ("empty",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[lint\n", "not valid TOML (Expected ']' at the end of a table declaration (at line 1, column 6))"),
        ('[lint]\nignore = ["homonymm"]\n', "unknown rule 'homonymm' in ignore; the rules are parse, broken-link"),
        ('[lint]\nignore = "short"\n', 'ignore must be a list of rules, such as ["one-language"]'),
        ("[lint]\nthreshold = 0.5\n", "unknown setting 'threshold'; the settings are select, ignore, and the tables"),
        ("[lint.near-duplicate]\nline = 0.5\n", "unknown setting near-duplicate.line; near-duplicate takes threshold"),
        ("[lint.empty]\nx = 1\n", "unknown setting empty.x; empty has no settings"),
        ("[lint.homonym]\nthreshold = 2\n", "homonym.threshold must be a number from -1 to 1, not 2"),
        ('[lint.short]\nmin-tokens = "20"\n', "short.min-tokens must be a whole number from 1, not '20'"),
        ("lint = 3\n", "the lint settings must be a table"),
    ],
)
def test_bad_settings_are_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / ".semsearch.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        read_config(path)
    assert str(path) in str(raised.value) and message in str(raised.value)
    assert "\n" not in str(raised.value) and raised.value.exit_code == 2


def test_a_pyproject_without_lint_settings_is_passed_over(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "semsearch-user"\n', encoding="utf-8")
    assert read_config(path) == LintConfig()


# -- the records and the library ------------------------------------------------------------------


def test_findings_are_frozen_records_with_every_place(tmp_path: Path) -> None:
    report = linted(tmp_path, {"a.md": "## Muxer\n"})
    (finding,) = of(report, "empty")
    assert isinstance(finding, Finding) and isinstance(finding.place, Place) and len(report) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.rule = "short"  # type: ignore[misc]
    data = finding.to_dict()
    assert data["rule"] == "empty" and data["severity"] == "warning"
    assert data["places"] == [
        {
            "source": "a.md",
            "line": 1,
            "col": 1,
            "path": str((tmp_path / "glossary" / "a.md").resolve()),
            "note": "Muxer",
        }
    ]
    assert report.summary().startswith("1 finding (1 empty) in 1 file, 1 entry (")
    assert report.to_dict()["counts"]["empty"] == 1


def test_without_an_index_the_rules_that_need_vectors_say_so(tmp_path: Path) -> None:
    root = write(tmp_path / "g", {"a.md": "## 勾配 | Gradient\n- 傾き。\n", "b.md": "## 勾配\n- 坂の急さ。\n"})
    report = semsearch.lint(root)
    (duplicate,) = of(report, "duplicate")
    assert "cosine" not in duplicate.message and "cosine" not in duplicate.data["pairs"][0]
    assert report.notes == (
        "duplicate: without cosines, no index given",
        "homonym: by names only, no index given",
        "near-duplicate: off, no index given",
    )


def test_unknown_rules_and_missing_folders_are_errors(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="unknown rule 'speling' for --rule; the rules are parse, broken-link"):
        semsearch.lint(tmp_path, select=["speling"])
    with pytest.raises(CorpusError, match="corpus folder not found"):
        semsearch.lint(tmp_path / "missing")


def test_entry_vectors_are_each_entry_s_first_chunk(tmp_path: Path) -> None:
    root = write(tmp_path / "g", {"a.md": "## 勾配 | Gradient\n- 傾き。\n\n## Muxer\n"})
    index = semsearch.build(root, tmp_path / "index", encoder=FakeEncoder())
    vectors = index.scoring.entry_vectors()
    assert vectors is not None and vectors.whole is None and vectors.names is None
    expected = FakeEncoder().encode_passages(["勾配 | Gradient\n傾き。", "Muxer"])
    np.testing.assert_allclose(vectors.dense, expected, atol=1e-6)


def test_an_index_in_qdrant_lints_by_names_and_says_what_it_leaves_out(tmp_path: Path) -> None:
    pytest.importorskip("qdrant_client")
    root = write(tmp_path / "g", {"a.md": "## 勾配 | Gradient\n- 傾き。\n", "b.md": "## 勾配\n- 坂の急さ。\n"})
    index = semsearch.build(root, f"qdrant+local://{tmp_path / 'store'}", encoder=FakeEncoder())
    report = semsearch.lint(root, index, select=["duplicate", "homonym", "near-duplicate"])
    assert [f.rule for f in report] == ["duplicate"]
    assert report.notes == (
        "duplicate: without cosines, the index keeps its vectors in its engine",
        "homonym: by names only, the index keeps its vectors in its engine",
        "near-duplicate: off, the index keeps its vectors in its engine",
    )


# -- hostile files --------------------------------------------------------------------------------

PIECES = ["## ", "# ", "##", " ## ", "### ", "|", "｜", "\n", "\r\n", "<!--", "-->", "```", "<a href=\"", "\">", "</a>",
          "<!-- semsearch: allow ", "名前", "Name", "\u3000", "\x1b[31m", "\u202e", "-", " "]  # fmt: skip


@pytest.mark.slow
@given(st.lists(st.sampled_from(PIECES), max_size=60))
@settings(max_examples=200, deadline=None)
def test_any_file_scans_without_failing_and_every_place_is_in_it(pieces: list[str]) -> None:
    text = "".join(pieces)
    scan = scan_file("x.md", "/g/x.md", text, max_name_width=10)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    for problem in scan.problems:
        assert problem.rule == "parse" and 1 <= problem.place.line <= lines and problem.place.col >= 1
        assert "\n" not in problem.message
    for line, col, _ in scan.links:
        assert 1 <= line <= lines and col >= 1
    assert all(start <= end for start, end in scan.ends.items())
