"""Property-based tests (hypothesis) for the parts that take outside input: the markdown parser,
query normalisation, the manifest reader, and the CLI's question handling. Whatever comes in, they
answer or refuse with semsearch's own errors; they never crash, and nothing printed can carry a
control character or forge a line."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import GLOSSARY, FakeEncoder
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import semsearch
from semsearch.cli import app
from semsearch.corpus import parse_markdown
from semsearch.errors import IndexStoreError
from semsearch.stores.files import read_index, read_manifest
from semsearch.text import clean_query, lexical_features, match_spans, name_key, normalize, safe_line, safe_text

# Modest budgets: the default test run stays fast; `--hypothesis-seed` replays a failure. No
# deadline and no "too slow" check: the machines running the tests are shared and often loaded.
RELAXED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=RELAXED)
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=RELAXED)

# Text with the characters that matter here over-represented: markdown syntax, name separators,
# line breaks of every kind, controls, bidi overrides, full-width and kana forms, surrogate-free.
SPECIAL = [
    *"#|｜`~-*_<>!\"'/\\ \t\r\n\x00\x1b\x7f\x85\x9b\u2028\u2029\u202e\u2066\u200fｱアあ過Ａ",
    "## ",
    "# ",
    "```",
    "~~~",
    "<!--",
    "-->",
    "<!-- 記事URL: http://x -->",
    '<a id="x"></a>',
    '<a href="#5YuV">',
    "</a>",
    "<br>",
    "とは",
    "って何",
    "what is ",
    "?",
]
TEXT = st.lists(st.one_of(st.sampled_from(SPECIAL), st.text(max_size=8)), max_size=40).map("".join)
LINE_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


# -- the markdown parser ---------------------------------------------------------------------------------


@pytest.mark.slow
@FAST
@given(TEXT)
def test_parse_markdown_takes_any_text(text: str) -> None:
    terms, skipped = parse_markdown(text, "g.md")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    previous = 0
    for term in terms:
        assert term.names, term
        for name in term.names:
            assert name and name == name.strip() and not set(name) & {"|", "｜"}
        assert len(set(term.names)) == len(term.names)
        assert previous < term.line <= len(lines)
        assert lines[term.line - 1].startswith("##")
        previous = term.line
    assert all(s.line is not None and 1 <= s.line <= len(lines) for s in skipped)


@pytest.mark.slow
@FAST
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), min_size=1, max_size=6))
def test_a_heading_gives_back_its_names(names: list[str]) -> None:
    heading = " | ".join(names)
    assume("\n" not in heading and "\r" not in heading and "<" not in heading)
    terms, skipped = parse_markdown(f"## {heading}\n- body\n", "g.md")
    expected = []
    for part in re.split("[|｜]", heading):
        name = part.strip().strip("*_`").strip()
        if name and name not in expected:
            expected.append(name)
    if expected:
        assert [t.names for t in terms] == [tuple(expected)]
    else:
        assert not terms and [s.line for s in skipped] == [1]


# -- query normalisation ---------------------------------------------------------------------------------


@pytest.mark.slow
@FAST
@given(TEXT)
def test_query_normalisation_takes_any_text(text: str) -> None:
    norm = normalize(text)
    assert norm == norm.strip() and "  " not in norm
    cleaned = clean_query(text)
    assert cleaned == cleaned.strip()
    assert bool(cleaned) == bool(norm)  # framing is stripped only while something is left
    assert isinstance(name_key(text), str)
    assert all(feature for feature in lexical_features(text))
    spans = match_spans(text, cleaned)
    assert all(0 <= a < b <= len(text) for a, b in spans)
    assert all(spans[i][1] < spans[i + 1][0] for i in range(len(spans) - 1))  # merged, ordered


@pytest.mark.slow
@FAST
@given(TEXT)
def test_printed_text_carries_no_controls(text: str) -> None:
    line = safe_line(text)
    assert not LINE_CONTROLS.search(line)
    assert len(line.splitlines()) <= 1
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", safe_text(text))
    assert safe_text(text).count("\n") == text.count("\n")


# -- the manifest reader -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("pristine")
    (work / "g").mkdir()
    (work / "g" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    semsearch.build(work / "g", work / "index", encoder=FakeEncoder())
    return work / "index"


def _copy(pristine: Path) -> Path:
    where = Path(tempfile.mkdtemp(prefix="semsearch-prop-")) / "index"
    shutil.copytree(pristine, where)
    return where


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
FIELDS = [
    "format",
    "format_version",
    "encoder",
    "chunking",
    "roots",
    "files",
    "counts",
    "ann",
    "data",
    "data_files",
    "skipped",
    "lexical",
    "built_at",
    "build_seconds",
]


def _refuses_cleanly(index: Path) -> None:
    """Loading either works or raises IndexStoreError; nothing else escapes."""
    try:
        read_index(index)
    except IndexStoreError as error:
        assert "\n" not in str(error)


@pytest.mark.slow
@SLOW
@given(data=st.one_of(JSON, st.binary(max_size=200)))
def test_any_manifest_content_is_read_or_refused(pristine: Path, data: object) -> None:
    index = _copy(pristine)
    try:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        (index / "manifest.json").write_bytes(raw)
        with pytest.raises(IndexStoreError):
            read_manifest(index)
    finally:
        shutil.rmtree(index.parent)


@pytest.mark.slow
@SLOW
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_any_manifest_field_value_is_read_or_refused(pristine: Path, field: str, value: object) -> None:
    index = _copy(pristine)
    try:
        manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
        manifest[field] = value
        (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        _refuses_cleanly(index)
    finally:
        shutil.rmtree(index.parent)


@pytest.mark.slow
@SLOW
@given(
    role=st.sampled_from(["terms", "chunks", "vectors", "dense", "lexical", "vocab"]),
    at=st.integers(min_value=0, max_value=1_000_000),
    patch=st.binary(min_size=1, max_size=16),
    truncate=st.booleans(),
)
def test_data_files_damaged_behind_a_matching_checksum_are_refused(
    pristine: Path, role: str, at: int, patch: bytes, truncate: bool
) -> None:
    index = _copy(pristine)
    try:
        manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
        path = index / manifest["data"] / manifest["data_files"][role]["path"]
        data = path.read_bytes()
        cut = at % (len(data) + 1)
        damaged = data[:cut] if truncate else data[:cut] + patch + data[cut + len(patch) :]
        path.write_bytes(damaged)
        manifest["data_files"][role].update(size=len(damaged), sha256=hashlib.sha256(damaged).hexdigest())
        (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        _refuses_cleanly(index)
    finally:
        shutil.rmtree(index.parent)


# -- the CLI's question handling -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("cli")
    (work / "g").mkdir()
    (work / "g" / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    semsearch.build(work / "g", work / "index", encoder=FakeEncoder())
    return work / "index"


PRINTED_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.slow
@SLOW
@given(question=st.one_of(TEXT, st.text(max_size=30)), command=st.sampled_from(["ask", "compare", "show"]))
def test_any_question_is_answered_or_refused_in_one_line(cli_index: Path, question: str, command: str) -> None:
    assume(not question.startswith("-"))  # an option, not a question
    result = CliRunner().invoke(app, [command, question, "--index", str(cli_index)])
    codes = (0, 1, 2) if command == "ask" else (0, 2)  # 1: no match
    assert result.exit_code in codes, (result.exit_code, result.output)
    if result.exit_code == 2:
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")
    assert not PRINTED_CONTROLS.search(result.stdout + result.stderr), result.output
    assert "\u2028" not in result.stderr and "\u2029" not in result.stderr


@pytest.mark.slow
@SLOW
@given(question=st.one_of(TEXT, st.text(max_size=30)))
def test_any_question_gives_one_json_object(cli_index: Path, question: str) -> None:
    assume(not question.startswith("-"))
    result = CliRunner().invoke(app, ["ask", question, "--json", "--index", str(cli_index)])
    assert result.exit_code in (0, 1, 2), result.output
    [line] = result.stdout.splitlines()
    data = json.loads(line)
    assert ("error" in data) == (result.exit_code == 2)
    if result.exit_code != 2:
        assert data["query"] == question
        assert (data["state"] == "no_match") == (result.exit_code == 1)  # the exit status follows the state
    assert not re.search("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]", line)
