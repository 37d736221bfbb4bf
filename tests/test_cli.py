"""The command line (cli/) through typer's CliRunner: every command, plain and --json, on an index built with the
fake encoder. Results on stdout, notices on stderr; plain output carries no escape sequences."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from conftest import ROOT, FakeEncoder
from typer.testing import CliRunner, Result

import semsearch
from semsearch.cli import app
from semsearch.encoders import registry
from semsearch.errors import EncoderError

ESC = "\x1b"
HIT_KEYS = {"rank", "term", "names", "score", "source", "line", "path", "snippet", "related", "id", "named", "also_in"}
ASK_KEYS = {"query", "mode", "encoder", "state", "confident", "probability", "did_you_mean", "hits"}
COMMANDS = ["build", "ask", "compare", "eval", "show", "terms", "info", "shell", "serve", "mcp", "lint", "cache"]


@pytest.fixture(autouse=True)
def offline_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build without an explicit encoder uses the fake one; no location comes from the environment."""
    monkeypatch.setattr("semsearch.building.default_encoder", FakeEncoder)
    for name in ("SEMSEARCH_WAIT", "SEMSEARCH_CORPUS", "SEMSEARCH_INDEX", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def where(glossary: Path, tmp_path: Path) -> list[str]:
    """--index and --corpus of an index built with the fake encoder."""
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    return ["--index", str(tmp_path / "index"), "--corpus", str(glossary)]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert ESC not in result.stdout and ESC not in result.stderr
    return result


# A terminal as rich sees one (stdout is still captured): wrapping, box drawing, colours off.
TTY = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "100"}


def ok_tty(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


# -- ask ----------------------------------------------------------------------------------------


def test_ask_plain_output(runner: CliRunner, where: list[str], glossary: Path) -> None:
    result = ok(runner.invoke(app, ["ask", "勾配消失とは", "-k", "2", *where]))
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert re.fullmatch(r" 1  勾配消失問題 \| Vanishing Gradient Problem  [█░]{10} \d\.\d{3}", lines[0])
    assert lines[1:4] == [
        "    dl.md:4",
        "    深い層で勾配が小さくなり学習が進まなくなる現象。",  # the line sharing most with the question
        lines[3],
    ]
    assert re.fullmatch(r"    related: [^,]+, [^,]+, [^,]+", lines[3])
    assert lines[4] == ""
    assert re.fullmatch(r" 2  .+ \| .+  [█░]{10} \d\.\d{3}", lines[5])
    assert sum(1 for line in lines if re.match(r" \d  ", line)) == 2


def test_a_card_says_when_the_question_names_the_term(runner: CliRunner, where: list[str]) -> None:
    """The name tier can put a lower score first: the card says why."""
    lines = ok(runner.invoke(app, ["ask", "dropout", "-k", "2", *where])).stdout.splitlines()
    assert re.fullmatch(r" 1  ドロップアウト \| Dropout  [█░]{10} \d\.\d{3}  name match", lines[0])
    assert not [line for line in lines[1:] if "name match" in line]


def test_ask_json_schema(runner: CliRunner, where: list[str]) -> None:
    result = ok(runner.invoke(app, ["ask", "What is dropout?", "--json", "-k", "3", *where]))
    assert result.stderr == ""
    data = json.loads(result.stdout)  # exactly one JSON object
    assert set(data) == ASK_KEYS
    assert (data["query"], data["mode"], data["encoder"], data["confident"]) == (
        "What is dropout?",
        "hybrid",
        "fake/hashed-features-64",
        True,
    )
    assert len(data["hits"]) == 3
    for rank, hit in enumerate(data["hits"], start=1):
        assert set(hit) == HIT_KEYS
        assert hit["rank"] == rank
        assert isinstance(hit["score"], float) and isinstance(hit["line"], int)
        assert hit["term"] == hit["names"][0]
        assert len(hit["related"]) <= 3 and hit["term"] not in hit["related"]
    assert data["hits"][0] == {
        **data["hits"][0],
        "term": "ドロップアウト",
        "names": ["ドロップアウト", "Dropout"],
        "source": "dl.md",
        "line": 8,
        "snippet": "学習時にユニットをランダムに無効化する正則化手法。過学習を防ぐ。",
        "id": "dl.md::ドロップアウト",
        "named": True,  # "What is dropout?" names it
    }


def test_ask_mode_is_reported(runner: CliRunner, where: list[str]) -> None:
    for mode in ("dense", "tfidf", "hybrid"):
        data = json.loads(ok(runner.invoke(app, ["ask", "過学習", "--mode", mode, "--json", *where])).stdout)
        assert data["mode"] == mode
        assert data["hits"][0]["term"] == "過学習"


def test_ask_full_shows_whole_entries(runner: CliRunner, where: list[str]) -> None:
    short = ok(runner.invoke(app, ["ask", "勾配消失問題", "-k", "1", *where])).stdout
    full = ok(runner.invoke(app, ["ask", "勾配消失問題", "-k", "1", "--full", *where])).stdout
    # Without --full one line of the body (the snippet); with it every bullet, as a Markdown list.
    assert "ReLU や残差接続で緩和できる。" not in short
    assert re.search(r"• 深い層で勾配が小さくなり学習が進まなくなる現象。", full)
    assert re.search(r"• ReLU や残差接続で緩和できる。", full)


def test_ask_falls_back_to_tfidf_with_one_warning(
    runner: CliRunner, glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unloadable(FakeEncoder):
        backend = "unloadable"

    def refuse(spec: dict[str, object]) -> FakeEncoder:
        raise EncoderError("the model weights are missing")

    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=Unloadable())
    monkeypatch.setitem(registry._BACKENDS, "unloadable", refuse)
    result = ok(runner.invoke(app, ["ask", "過学習", "--json", "--index", str(tmp_path / "index")]))
    data = json.loads(result.stdout)
    assert data["mode"] == "tfidf"
    assert data["hits"][0]["term"] == "過学習"
    assert result.stderr.splitlines() == [
        "warning: dense encoder unavailable (the model weights are missing); answering from TF-IDF"
    ]
    compared = ok(runner.invoke(app, ["compare", "過学習", "--index", str(tmp_path / "index")]))
    assert "dense→tfidf" in compared.stdout
    data = json.loads(
        ok(runner.invoke(app, ["compare", "過学習", "--json", "--index", str(tmp_path / "index")])).stdout
    )
    assert data["mode_used"] == {"dense": "tfidf", "tfidf": "tfidf", "hybrid": "tfidf"}


def test_ask_off_topic_says_no_match_and_exits_1(runner: CliRunner, where: list[str]) -> None:
    result = runner.invoke(app, ["ask", "chicken curry recipe", "--mode", "tfidf", *where])
    assert (result.exit_code, result.stdout, result.stderr) == (1, "No match for “chicken curry recipe”.\n", "")
    result = runner.invoke(app, ["ask", "chicken curry recipe", *where])
    assert result.exit_code == 1 and result.stderr == ""  # the text says it
    assert re.fullmatch(
        r"No match for “chicken curry recipe”\. Closest entries: [^,]+, [^,]+, [^,]+\.\n", result.stdout
    )
    result = runner.invoke(app, ["ask", "chicken curry recipe", "--json", *where])
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and (data["state"], data["confident"], len(data["hits"])) == ("no_match", False, 5)
    assert result.stderr == (
        "no match for “chicken curry recipe” (the entries listed are the closest, not answers)\n"
    )  # off the text, stderr says what the exit status means
    tsv = runner.invoke(app, ["ask", "chicken curry recipe", "--format", "tsv", *where])
    assert tsv.exit_code == 1 and all(row.endswith("\tno_match") for row in tsv.stdout.splitlines()[1:])


def test_ask_exit_status_follows_the_state(
    runner: CliRunner, where: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sure = ok(runner.invoke(app, ["ask", "dropout", "--json", *where]))
    assert json.loads(sure.stdout)["state"] == "sure"
    assert runner.invoke(app, ["ask", "dropout", "--sure-only", *where]).exit_code == 0
    # A sure line nothing unnamed reaches: a question that names no term has possible matches.
    estimate = {mode: {**judge, "sure": 1.0} for mode, judge in (FakeEncoder.estimate or {}).items()}
    monkeypatch.setattr(FakeEncoder, "estimate", estimate)
    semsearch.build(where[3], index_dir=where[1], encoder=FakeEncoder(), force=True)
    possible = ok(runner.invoke(app, ["ask", "訓練データに適合しすぎる", "-k", "2", *where]))
    assert possible.stdout.startswith(
        "Possible matches for “訓練データに適合しすぎる” (none of them sure):\n\n 1  過学習"
    )
    strict = runner.invoke(app, ["ask", "訓練データに適合しすぎる", "-k", "2", "--sure-only", *where])
    assert (strict.exit_code, strict.stdout) == (1, possible.stdout)  # the same answer; not counted as one
    tsv = runner.invoke(app, ["ask", "訓練データに適合しすぎる", "--sure-only", "--format", "tsv", *where])
    assert tsv.exit_code == 1 and tsv.stderr == (
        "no sure answer for “訓練データに適合しすぎる” (the entries listed are possible matches)\n"
    )


# -- compare and eval ---------------------------------------------------------------------------


def test_compare_table(runner: CliRunner, where: list[str]) -> None:
    """Off a terminal: aligned columns, no box drawing, no trailing spaces."""
    result = ok(runner.invoke(app, ["compare", "dropout", "-k", "3", *where]))
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "dense", "score", "tfidf", "score", "hybrid", "score"]
    rows = [line.split() for line in lines[1:-1]]
    assert len(rows) == 3
    assert lines[-1].strip() == "state: dense sure, tfidf sure, hybrid sure"
    assert [rows[0][i] for i in (0, 1, 3, 5)] == ["1", "ドロップアウト", "ドロップアウト", "ドロップアウト"]
    assert all(re.fullmatch(r"-?\d\.\d{3}", rows[0][i]) for i in (2, 4, 6))
    assert not any(line != line.rstrip() or set(line) & set("┃│┏━") for line in lines)


def test_compare_table_on_a_terminal(runner: CliRunner, where: list[str]) -> None:
    result = ok_tty(runner.invoke(app, ["compare", "dropout", "-k", "3", *where], env=TTY))
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "dense" in line)
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == [
        "#",
        "dense",
        "score",
        "tfidf",
        "score",
        "hybrid",
        "score",
    ]
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in lines if line.startswith("│")]
    assert len(rows) == 3
    assert [rows[0][i] for i in (0, 1, 3, 5)] == ["1", "ドロップアウト", "ドロップアウト", "ドロップアウト"]
    assert all(re.fullmatch(r"-?\d\.\d{3}", rows[0][i]) for i in (2, 4, 6))


def test_compare_json(runner: CliRunner, where: list[str]) -> None:
    data = json.loads(ok(runner.invoke(app, ["compare", "勾配", "-k", "2", "--json", *where])).stdout)
    assert set(data) == {"query", "encoder", "modes", "mode_used", "states"}
    assert set(data["states"]) == {"dense", "tfidf", "hybrid"} and set(data["states"].values()) <= {
        "sure",
        "possible",
        "no_match",
    }
    assert (data["query"], data["encoder"]) == ("勾配", "fake/hashed-features-64")
    assert data["mode_used"] == {"dense": "dense", "tfidf": "tfidf", "hybrid": "hybrid"}
    assert list(data["modes"]) == ["dense", "tfidf", "hybrid"]
    for mode, hits in data["modes"].items():
        assert [set(h) for h in hits] == [HIT_KEYS, HIT_KEYS], mode
        assert [h["term"] for h in hits] == [h.term for h in semsearch.load(where[1]).search("勾配", k=2, mode=mode)]


QUERIES = [
    {"q": "ドロップアウト", "gold": ["Dropout"], "lang": "ja", "kind": "name"},
    {"q": "勾配", "gold": ["学習率"], "lang": "ja", "kind": "para"},
    {"q": "overfitting", "gold": ["過学習"], "lang": "en", "kind": "name"},
    {"q": "chicken curry", "gold": []},
]


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    path = tmp_path / "queries.jsonl"
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUERIES), encoding="utf-8")
    return path


def test_eval_json(runner: CliRunner, where: list[str], queries: Path) -> None:
    data = json.loads(ok(runner.invoke(app, ["eval", str(queries), "--json", *where])).stdout)
    assert set(data) == {"modes"}
    assert list(data["modes"]) == ["dense", "tfidf", "hybrid"]
    for metrics in data["modes"].values():
        assert {"recall@1", "recall@5", "mrr@10", "ndcg@10", "n"} <= set(metrics)
        assert metrics["n"] == 3  # the off-topic question is not counted
    tfidf = data["modes"]["tfidf"]
    # ドロップアウト and overfitting first, 学習率 second for "勾配".
    assert [tfidf[k] for k in ("recall@1", "recall@5", "mrr@10")] == [0.6667, 1.0, 0.8333]
    assert tfidf["by_lang"]["en"]["n"] == 1 and tfidf["by_kind"]["para"]["mrr@10"] == 0.5
    assert tfidf["states"]["offtopic"] == {"n": 1, "sure": 0, "possible": 0, "no_match": 1}
    assert tfidf["states"]["ontopic"]["n"] == 3


def test_eval_tables_and_mode_selection(runner: CliRunner, where: list[str], queries: Path) -> None:
    result = ok(runner.invoke(app, ["eval", str(queries), "--mode", "tfidf", "--mode", "dense", *where]))
    rows = {cells[0]: cells[1:] for line in result.stdout.splitlines() for cells in [line.split()] if len(cells) == 6}
    assert rows["tfidf"] == ["3", "0.667", "1.000", "0.833", "0.877"]
    assert "dense" in rows and "hybrid" not in rows
    assert rows["lang=en"] == ["1", "1.000", "1.000", "1.000", "1.000"]
    assert rows["kind=para"] == ["1", "0.000", "1.000", "0.500", "0.631"]
    assert "tfidf: by language and kind" in result.stdout
    assert "off-topic: no match 1/1 (100%), sure 0/1 (0%)" in result.stdout


def test_eval_misses_lists_the_questions_not_answered_first(runner: CliRunner, where: list[str], queries: Path) -> None:
    args = ["eval", str(queries), "--mode", "tfidf", "--misses", *where]
    data = json.loads(ok(runner.invoke(app, [*args, "--json"])).stdout)
    (miss,) = data["modes"]["tfidf"]["misses"]  # "勾配": 学習率 second; the off-topic question is no miss
    want = {"id": "2", "q": "勾配", "gold": ["学習率"], "kind": "para", "rank": 2, "state": miss["state"]}
    assert miss == {**want, "got": miss["got"]} and miss["state"] in ("sure", "possible", "no_match")
    assert miss["got"][1] == "学習率" and len(miss["got"]) <= 3
    text = ok(runner.invoke(app, args)).stdout
    assert "tfidf: 1 not first, or off-topic and sure" in text
    assert re.search(r"^2 +para +勾配 +学習率 +2  \w+ +勾配消失問題, 学習率", text, re.M)
    plain = json.loads(ok(runner.invoke(app, ["eval", str(queries), "--json", *where])).stdout)
    assert "misses" not in plain["modes"]["tfidf"]  # only when asked


@pytest.mark.parametrize("command", [["ask", "dropout"], ["eval", "QUERIES"], ["shell"]], ids=["ask", "eval", "shell"])
def test_mode_is_validated_before_any_index_is_built(
    runner: CliRunner, glossary: Path, tmp_path: Path, queries: Path, command: list[str]
) -> None:
    args = [str(queries) if a == "QUERIES" else a for a in command]
    index = tmp_path / "not-yet"
    result = runner.invoke(
        app, [*args, "--mode", "psychic", "--index", str(index), "--corpus", str(glossary)], input="dropout\n"
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: Invalid value for '--mode': 'psychic' is not one of 'dense', 'use', 'tfidf', 'hybrid'. "
        f"(see 'root {command[0]} --help')\n"
    )
    assert not index.exists()  # refused before building (shell used to build the index first)


# -- show, terms, info --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Backpropagation", "ＢＡＣＫＰＲＯＰＡＧＡＴＩＯＮ", "ばっくぷろぱげーしょん", "誤差逆伝播法"]
)
def test_show_finds_an_entry_by_any_name(runner: CliRunner, where: list[str], name: str) -> None:
    lines = ok(runner.invoke(app, ["show", name, *where])).stdout.splitlines()
    assert lines[:2] == ["誤差逆伝播法 | バックプロパゲーション | Backpropagation", "sub/more.md:1"]
    assert any("連鎖律で出力側から勾配を計算する。" in line for line in lines[2:])


def test_show_json(runner: CliRunner, where: list[str]) -> None:
    data = json.loads(ok(runner.invoke(app, ["show", "dropout", "--json", *where])).stdout)
    entry = {
        "id": "dl.md::ドロップアウト",
        "term": "ドロップアウト",
        "names": ["ドロップアウト", "Dropout"],
        "source": "dl.md",
        "line": 8,
        "path": str(Path(where[3]).resolve() / "dl.md"),
        "body": "- 学習時にユニットをランダムに無効化する正則化手法。過学習を防ぐ。",
    }
    assert data == {"query": "dropout", "term": entry, "entries": [entry], "homonyms": []}


def test_show_not_found_suggests(runner: CliRunner, where: list[str]) -> None:
    result = runner.invoke(app, ["show", "勾配消失", *where])  # part of a name: no slip, the closest entries
    assert result.exit_code == 2
    assert result.stdout == ""
    assert re.fullmatch(
        r"error: no term named '勾配消失'; the closest entries: 勾配消失問題, [^,]+, [^,]+\n", result.stderr
    )
    slip = runner.invoke(app, ["show", "勾配消失問", *where])
    assert slip.stderr == "error: no term named '勾配消失問'; did you mean: 勾配消失問題\n"


def test_show_of_a_term_in_several_files_shows_every_entry(runner: CliRunner, tmp_path: Path) -> None:
    root = tmp_path / "g"
    root.mkdir()
    (root / "a.md").write_text("## Overfitting\n\n## 過学習 | Overfitting\n- 深層学習での説明\n", encoding="utf-8")
    (root / "ml.md").write_text("## Overfitting | 過剰適合\n- 機械学習での説明\n", encoding="utf-8")
    semsearch.build(root, index_dir=tmp_path / "index", encoder=FakeEncoder())
    where = ["--index", str(tmp_path / "index"), "--corpus", str(root)]
    lines = ok(runner.invoke(app, ["show", "overfitting", *where])).stdout.splitlines()
    assert [line.strip() for line in lines if line.strip()] == [
        "過学習 | Overfitting | 過剰適合",
        "a.md:3",
        "• 深層学習での説明",
        "ml.md:1",
        "• 機械学習での説明",
        "a.md:1",
        "(no body)",
    ]
    data = json.loads(ok(runner.invoke(app, ["show", "過剰適合", "--json", *where])).stdout)
    assert (data["term"]["source"], data["term"]["names"]) == ("ml.md", ["Overfitting", "過剰適合", "過学習"])
    assert [(e["source"], e["line"]) for e in data["entries"]] == [("ml.md", 1), ("a.md", 3), ("a.md", 1)]
    picked = ok(runner.invoke(app, ["show", "overfitting", "--source", "ml.md", *where])).stdout
    assert picked.splitlines()[:2] == ["Overfitting | 過剰適合", "ml.md:1"]


def test_terms(runner: CliRunner, where: list[str]) -> None:
    result = ok(runner.invoke(app, ["terms", *where]))
    assert "勾配消失問題 | Vanishing Gradient Problem" in result.stdout
    assert result.stdout.splitlines()[0] == "dl.md  4 terms"
    assert result.stdout.splitlines()[-1] == "6 terms in 2 files"
    only = ok(runner.invoke(app, ["terms", "--source", "sub/more.md", *where])).stdout
    assert only.splitlines() == [
        "sub/more.md  2 terms",
        "  1  誤差逆伝播法 | バックプロパゲーション | Backpropagation",
        "  4  転移学習 | Transfer Learning",
        "2 terms in 1 file",
    ]


@pytest.fixture
def written_twice(tmp_path: Path) -> list[str]:
    """A glossary whose Overfitting is written in two files (three entries), beside a term in one."""
    root = tmp_path / "g"
    root.mkdir()
    (root / "a.md").write_text("## Overfitting\n\n## 過学習 | Overfitting\n- 深層学習での説明\n", encoding="utf-8")
    (root / "ml.md").write_text(
        "## Overfitting | 過剰適合\n- 機械学習での説明\n\n## 学習率\n- 更新の幅\n", encoding="utf-8"
    )
    semsearch.build(root, index_dir=tmp_path / "index", encoder=FakeEncoder())
    return ["--index", str(tmp_path / "index"), "--corpus", str(root)]


def test_terms_lists_a_term_written_in_several_places_once(runner: CliRunner, written_twice: list[str]) -> None:
    where = written_twice
    info = json.loads(ok(runner.invoke(app, ["info", "--json", *where])).stdout)["counts"]
    assert (info["distinct_terms"], info["terms"]) == (2, 4)
    assert ok(runner.invoke(app, ["terms", *where])).stdout.splitlines() == [
        "a.md  1 term",
        "  3  過学習 | Overfitting | 過剰適合  also in a.md:1, ml.md:1",  # at its first entry with a body
        "ml.md  1 term",
        "  4  学習率",
        "2 terms in 2 files",
    ]
    rows = json.loads(ok(runner.invoke(app, ["terms", "--json", *where])).stdout)["terms"]
    assert len(rows) == info["distinct_terms"]
    merged = rows[0]
    assert (merged["source"], merged["line"], merged["entries"], merged["chunks"]) == ("a.md", 3, 3, 3)
    assert merged["also_in"] == [{"source": "a.md", "line": 1}, {"source": "ml.md", "line": 1}]
    # the places are those `ask` gives the same term
    hit = json.loads(ok(runner.invoke(app, ["ask", "過学習", "-k", "1", "--json", *where])).stdout)["hits"][0]
    places = {(p["source"], p["line"]) for p in [hit, *hit["also_in"]]}
    assert places == {(p["source"], p["line"]) for p in [merged, *merged["also_in"]]}
    assert set(hit["names"]) == set(merged["names"])
    tsv = ok(runner.invoke(app, ["terms", "--format", "tsv", *where])).stdout.splitlines()
    assert tsv[0].split("\t") == ["term", "names", "source", "line", "path", "chunks", "entries", "also_in"]
    assert tsv[1].split("\t")[-2:] == ["3", "a.md:1 | ml.md:1"]
    grep = ok(runner.invoke(app, ["terms", "--format", "grep", *where])).stdout.splitlines()
    assert grep[0].endswith("a.md:3:1:過学習 | Overfitting | 過剰適合 (also in a.md:1, ml.md:1)")
    markdown = ok(runner.invoke(app, ["terms", "--format", "markdown", *where])).stdout
    assert "- 過学習 \\| Overfitting \\| 過剰適合 (line 3; also in a.md:1, ml.md:1)" in markdown
    jsonl = ok(runner.invoke(app, ["terms", "--format", "jsonl", *where])).stdout.splitlines()
    assert [json.loads(line) for line in jsonl] == rows
    every = ok(runner.invoke(app, ["terms", "--entries", "--format", "tsv", "--no-header", *where])).stdout
    assert [line.split("\t")[2:4] for line in every.splitlines()] == [
        ["a.md", "1"],
        ["a.md", "3"],
        ["ml.md", "1"],
        ["ml.md", "4"],
    ]
    assert ok(runner.invoke(app, ["terms", "--entries", *where])).stdout.splitlines()[-1] == "4 entries in 2 files"


def test_terms_source_lists_a_merged_term_at_its_entry_in_that_file(
    runner: CliRunner, written_twice: list[str]
) -> None:
    lines = ok(runner.invoke(app, ["terms", "--source", "ml.md", *written_twice])).stdout.splitlines()
    assert lines == [
        "ml.md  2 terms",
        "  1  Overfitting | 過剰適合 | 過学習  also in a.md:1, a.md:3",
        "  4  学習率",
        "2 terms in 1 file",
    ]


def test_terms_json(runner: CliRunner, where: list[str]) -> None:
    def row(name: str, names: list[str], line: int) -> dict[str, object]:
        return {
            "id": f"sub/more.md::{name}",
            "term": name,
            "names": names,
            "source": "sub/more.md",
            "line": line,
            "path": str(Path(where[3]).resolve() / "sub" / "more.md"),
            "chunks": 1,
        }

    rows = [row("誤差逆伝播法", ["誤差逆伝播法", "バックプロパゲーション", "Backpropagation"], 1)]
    rows.append(row("転移学習", ["転移学習", "Transfer Learning"], 4))
    data = json.loads(ok(runner.invoke(app, ["terms", "--json", "--source", "sub/more.md", *where])).stdout)
    assert data == {"terms": [{**r, "entries": 1, "also_in": []} for r in rows]}  # each term in one place
    entries = json.loads(ok(runner.invoke(app, ["terms", "--entries", "--json", "--source", "more.md", *where])).stdout)
    assert entries == {"terms": rows}
    everything = json.loads(ok(runner.invoke(app, ["terms", "--json", *where])).stdout)["terms"]
    assert [t["term"] for t in everything] == [
        "勾配消失問題",
        "ドロップアウト",
        "過学習",
        "学習率",
        "誤差逆伝播法",
        "転移学習",
    ]


def test_info(runner: CliRunner, where: list[str]) -> None:
    stdout = ok(runner.invoke(app, ["info", *where])).stdout
    rows = dict(line.split(None, 1) for line in stdout.splitlines())
    assert list(rows) == [
        "index",
        "corpus",
        "encoder",
        "prompts",
        "second",
        "counts",
        "vectors",
        "size",
        "built",
        "stale",
    ]
    assert rows["encoder"] == "fake/hashed-features-64"
    assert re.fullmatch(r"\d+\.\d kB on disk", rows["size"])  # no second side: no shared weights to mention
    assert "none (the hybrid ranking is e5 and TF-IDF)" in stdout  # the fake encoder has no second side
    assert rows["index"] == f"{where[1]} (given by --index)"
    assert rows["prompts"] == "none"
    assert rows["counts"] == "6 terms in 2 files, 6 chunks"
    assert rows["vectors"] == "6 of 64 dimensions, exact search"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, in \d+\.\d s", rows["built"])
    assert rows["stale"] == "no"
    assert not [line for line in stdout.splitlines() if line != line.rstrip() or "{" in line or "'" in line]


def test_info_json_and_staleness(runner: CliRunner, where: list[str], glossary: Path) -> None:
    data = json.loads(ok(runner.invoke(app, ["info", "--json", *where])).stdout)
    assert data["index"] == str(Path(where[1]).resolve())
    assert data["corpus"] == [str(glossary.resolve())]
    assert data["encoder"]["id"] == "fake/hashed-features-64"
    assert data["engine"] is None  # a C engine is named only for the embedded encoder
    assert 0 < data["bytes"] < 100_000 and data["shared_weights"] is None
    assert (data["encoder"]["query_prompt"], data["encoder"]["passage_prompt"]) == ("", "")
    assert data["counts"] == {"chunks": 6, "distinct_terms": 6, "files": 2, "skipped": 0, "terms": 6}
    assert data["format_version"] == 1 and data["built_at"]
    assert (data["stale"], data["stale_reason"]) == (False, None)

    with open(glossary / "dl.md", "a", encoding="utf-8") as f:
        f.write("\n## 正則化 | Regularization\n")
    data = json.loads(ok(runner.invoke(app, ["info", "--json", *where])).stdout)
    assert (data["stale"], data["stale_reason"]) == (True, "dl.md changed")
    human = ok(runner.invoke(app, ["info", "--index", where[1]])).stdout  # the corpus it was built from
    assert re.search(r"^stale +yes: dl\.md changed$", human, re.M)


# -- shell --------------------------------------------------------------------------------------


def test_shell_reads_questions_and_commands_from_a_pipe(runner: CliRunner, where: list[str]) -> None:
    lines = "dropout\n:k 2\n:mode tfidf\n過学習\n\n:full\n学習率\n:q\nnever answered\n"
    result = ok(runner.invoke(app, ["shell", *where], input=lines))
    assert result.stderr.splitlines() == ["k: 2", "mode: tfidf", "full entries: on"]
    cards = re.findall(r"^ (\d)  (.+?)  [█░]{10}", result.stdout, re.M)
    assert [rank for rank, _ in cards] == ["1", "2", "3", "4", "5", "1", "2", "1", "2"]
    assert cards[0][1] == "ドロップアウト | Dropout"
    assert cards[5][1] == "過学習 | Overfitting"
    assert cards[7][1] == "学習率 | Learning Rate"
    assert "• 勾配降下法で一回の更新幅を決めるハイパーパラメータ。" in result.stdout  # :full
    assert "never answered" not in result.stdout


def test_shell_shows_opens_copies_and_pages_the_hits_it_found(
    runner: CliRunner, where: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A clipboard tool and an editor that record what they were given (real programs on PATH).
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "xclip").write_text(f"#!/bin/sh\ncat > {tmp_path / 'clipboard'}\n", encoding="utf-8")
    (tools / "myeditor").write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "edited"}\n', encoding="utf-8")
    for tool in tools.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    monkeypatch.setenv("EDITOR", "myeditor")
    monkeypatch.delenv("VISUAL", raising=False)
    lines = "dropout\n:k 2\n:show 2\n:more\n:open 1\n:copy 1\n:show 9\n"
    result = ok(runner.invoke(app, ["shell", "-k", "2", *where], input=lines))
    cards = re.findall(r"^ (\d)  (.+?)  [█░]{10}", result.stdout, re.M)
    assert [rank for rank, _ in cards] == ["1", "2", "3", "4"]  # the answer, then :more's next two
    second = cards[1][1]
    assert result.stdout.count(second) >= 2  # :show 2 printed the entry under its card
    edited = (tmp_path / "edited").read_text(encoding="utf-8").split()
    assert edited[0].startswith("+") and edited[1].endswith(".md")  # :open 1: the editor at the entry's line
    assert (tmp_path / "clipboard").read_text(encoding="utf-8").startswith("## ドロップアウト | Dropout")
    assert "error: :show takes the number of a hit shown, 1 to 4" in result.stderr


def test_a_failing_clipboard_tool_is_one_line_and_the_shell_goes_on(
    runner: CliRunner, where: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "xclip").write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    (tools / "xclip").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    result = ok(runner.invoke(app, ["shell", "-k", "1", *where], input="dropout\n:copy 1\n過学習\n"))
    assert "error: xclip could not copy it" in result.stderr and "Traceback" not in result.stderr
    assert "過学習 | Overfitting" in result.stdout  # the next question is answered


def test_the_shell_completes_term_names_and_commands() -> None:
    from semsearch.cli.shell import completer

    complete = completer(["ドロップアウト", "Dropout", "過学習", "Overfitting"])
    assert [complete("dro", i) for i in range(3)] == ["Dropout", None, None]
    assert complete("ド", 0) == "ドロップアウト"
    assert complete(":m", 0) == ":mode" and complete(":m", 1) == ":more"


def test_shell_json_lines(runner: CliRunner, where: list[str]) -> None:
    result = ok(runner.invoke(app, ["shell", "--json", *where], input="dropout\n:k 2\n:mode tfidf\n過学習\n:bogus\n"))
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(a["query"], a["mode"], len(a["hits"])) for a in answers] == [
        ("dropout", "hybrid", 5),
        ("過学習", "tfidf", 2),
    ]
    assert all(set(a) == ASK_KEYS for a in answers)
    assert result.stderr.splitlines()[:2] == ["k: 2", "mode: tfidf"]
    assert (
        result.stderr.splitlines()[2]
        == "error: unknown command ':bogus'; the commands are :mode, :k, :full, :show, :open, :copy, :more, :help, :q"
    )


# -- build, version, help, colour ---------------------------------------------------------------


def test_build_summary(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    index = tmp_path / "new-index"
    first = ok(runner.invoke(app, ["build", str(glossary), "--index", str(index)]))
    lines = first.stdout.splitlines()
    assert re.fullmatch(
        rf"built: {re.escape(str(index))}  2 files, 6 terms, 6 chunks \(6 embedded, 0 reused\) in \d+\.\d s", lines[0]
    )
    assert lines[1] == "encoder: fake/hashed-features-64, no prompts"
    again = ok(runner.invoke(app, ["build", str(glossary), "--index", str(index)]))
    assert again.stdout.startswith(f"up to date: {index}  2 files, 6 terms, 6 chunks (0 embedded, 6 reused)")


def test_build_json(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    index = tmp_path / "new-index"
    data = json.loads(ok(runner.invoke(app, ["build", str(glossary), "--index", str(index), "--json"])).stdout)
    seconds = data.pop("seconds")
    assert isinstance(seconds, float) and seconds >= 0
    assert data == {
        "index": str(index),
        "files": 2,
        "terms": 6,
        "chunks": 6,
        "embedded": 6,
        "reused": 0,
        "written": True,
        "encoder": "fake/hashed-features-64",
        "skipped": [],
        "skipped_files": 0,
        "skipped_terms": 0,
        "replaced": [],
        "warnings": [],
        "prompts": {"query": "", "passage": ""},
        "second": None,  # only the embedded encoder gets the second encoder's side
    }
    forced = json.loads(
        ok(runner.invoke(app, ["build", str(glossary), "--index", str(index), "--force", "--json"])).stdout
    )
    assert (forced["embedded"], forced["reused"], forced["written"]) == (6, 0, True)


def test_version(runner: CliRunner) -> None:
    assert ok(runner.invoke(app, ["--version"])).stdout == f"semsearch {semsearch.__version__}\n"


def test_help_lists_every_command_with_help_text(runner: CliRunner) -> None:
    result = ok(runner.invoke(app, ["--help"]))
    listed = re.findall(r"^  (\w+) +(\S.*)$", result.stdout.split("Commands:")[1], re.M)
    assert [name for name, _ in listed] == COMMANDS
    group = typer.main.get_command(app)
    assert sorted(group.commands) == sorted(COMMANDS)  # nothing registered but not listed
    for name, command in group.commands.items():
        assert command.help and command.help.strip(), name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts}"
        assert ok(runner.invoke(app, [name, "--help"])).stdout.startswith(f"Usage: root {name}")


@pytest.mark.slow
def test_no_color_is_respected_on_a_terminal(glossary: Path, tmp_path: Path) -> None:
    """On a real terminal (a pty) with NO_COLOR set: styles such as bold, but no colours."""
    pty = pytest.importorskip("pty")
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); import conftest; "  # registers the fake backend
        "from semsearch.cli import main; sys.argv[0] = 'semsearch'; main()"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    env.update(NO_COLOR="1", TERM="xterm-256color", COLUMNS="120")
    primary, secondary = pty.openpty()
    args = [
        sys.executable,
        "-c",
        code,
        str(ROOT / "tests"),
        "ask",
        "dropout",
        "-k",
        "2",
        "--index",
        str(tmp_path / "index"),
    ]
    with subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE, env=env) as process:
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not data:
                break
            chunks.append(data)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    os.close(primary)
    output = b"".join(chunks).decode("utf-8")
    assert "ドロップアウト | Dropout" in output
    assert "\x1b[1m" in output  # it is a terminal: bold is there
    sgr = re.findall(r"\x1b\[([0-9;]*)m", output)
    colours = [s for s in sgr if re.search(r"(^|;)(3[0-9]|4[0-9]|9[0-7]|10[0-7])(;|$)", s)]
    assert colours == []


def test_ask_min_score(runner: CliRunner, where: list[str]) -> None:
    data = json.loads(ok(runner.invoke(app, ["ask", "dropout", "--json", "--min-score", "1", *where])).stdout)
    assert [h["term"] for h in data["hits"]] == ["ドロップアウト"]  # named: scores 1
    result = runner.invoke(app, ["ask", "dropout", "--min-score", "2", *where])
    assert result.exit_code == 2 and "--min-score" in result.stderr


@pytest.mark.slow  # about a second: builds the larger glossary (with the fake encoder)
def test_terms_and_entries_agree_with_info_on_the_larger_glossary(
    runner: CliRunner, tech_glossary: Path, tmp_path: Path
) -> None:
    semsearch.build(tech_glossary, index_dir=tmp_path / "index", encoder=FakeEncoder())
    where = ["--index", str(tmp_path / "index")]
    counts = json.loads(ok(runner.invoke(app, ["info", "--json", *where])).stdout)["counts"]
    assert (counts["distinct_terms"], counts["terms"]) == (218, 293)  # 293 entries, 218 distinct terms
    for listing, expected in (([], counts["distinct_terms"]), (["--entries"], counts["terms"])):
        rows = ok(runner.invoke(app, ["terms", *listing, "--format", "jsonl", *where])).stdout.splitlines()
        assert len(rows) == expected
        assert ok(runner.invoke(app, ["terms", *listing, *where])).stdout.splitlines()[-1].startswith(f"{expected} ")
