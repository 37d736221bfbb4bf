"""Bad corpora, damaged indexes and hostile index files: every case is refused or skipped with a clear
message naming the fix, and never answered wrongly. (Killed and concurrent builds: test_atomicity.py.)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import GLOSSARY, FakeEncoder
from typer.testing import CliRunner

import semsearch
from semsearch import corpus as corpus_module
from semsearch.cli import app
from semsearch.corpus import read_corpus
from semsearch.errors import CorpusError, IndexLockedError, IndexStoreError, IndexVersionError
from semsearch.manifest import FORMAT_VERSION
from semsearch.staleness import stale_reason
from semsearch.stores import files as store

FIX = "run `semsearch build --force` to rebuild it"
ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("fake_default_encoder")


def build(corpus: Path, index: Path, **options) -> semsearch.Index:
    return semsearch.build(corpus, index, encoder=FakeEncoder(), **options)


def manifest(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(index: Path, data: object) -> None:
    (index / "manifest.json").write_text(json.dumps(data), encoding="utf-8")


def data_file(index: Path, role: str) -> Path:
    m = manifest(index)
    return index / m["data"] / m["data_files"][role]["path"]


def replace_data_file(index: Path, role: str, data: bytes) -> None:
    """Swap a data file for other bytes *and* fix up the manifest's size and checksum, so that only the
    loader's own checks stand between the bytes and an answer."""
    m = manifest(index)
    (index / m["data"] / m["data_files"][role]["path"]).write_bytes(data)
    m["data_files"][role].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    write_manifest(index, m)


# -- bad corpora ----------------------------------------------------------------------------------


def test_missing_corpus_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"^corpus folder not found: .*nowhere$"):
        read_corpus([tmp_path / "nowhere"])


def test_corpus_that_is_neither_folder_nor_markdown(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("## x\n")
    with pytest.raises(CorpusError, match=r"corpus must be a folder or a \.md file"):
        read_corpus([tmp_path / "notes.txt"])


def test_empty_corpus_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=r"^no markdown files \(\*\.md\) in "):
        read_corpus([tmp_path / "empty"])


def test_files_without_headings(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    root.mkdir()
    (root / "a.md").write_text("# Title only\n\nprose, no terms\n", encoding="utf-8")
    (root / "b.md").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"no glossary terms \('## ' headings\) found"):
        read_corpus([root])


def build_cli(runner: CliRunner, corpus: Path, index: Path, *more: str):
    return runner.invoke(app, ["build", str(corpus), "--index", str(index), *more])


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """One good file and one of every skippable problem."""
    root = tmp_path / "messy"
    (root / "sub").mkdir(parents=True)
    (root / "good.md").write_text(GLOSSARY, encoding="utf-8")
    (root / "latin1.md").write_bytes("## Café | Coffee\n- body\n".encode("latin-1"))
    (root / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (root / "noheads.md").write_text("just prose\n", encoding="utf-8")
    (root / "names.md").write_text("## | |\n- orphan body\n\n## ** **\n- another\n\n## Kept | 残す\n- fine\n")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "dangling.md").symlink_to(root / "missing-target.md")
    (root / "self-a.md").symlink_to(root / "self-b.md")
    (root / "self-b.md").symlink_to(root / "self-a.md")
    os.mkfifo(root / "pipe.md")
    return root


EXPECTED_SKIPS = {
    "binary.md: binary file (contains NUL bytes)",
    "dangling.md: broken link or file vanished while reading",
    "latin1.md: not UTF-8 (invalid byte at offset 6)",
    "names.md:1: heading has no names",
    "names.md:4: heading has no names",
    "noheads.md: no '## ' headings, nothing to index",
    "pipe.md: not a regular file",
    "self-a.md: not readable (Too many levels of symbolic links)",
    "self-b.md: not readable (Too many levels of symbolic links)",
    "sub/loop: symlink loop, not followed",
}


def test_skippable_problems_are_warned_about_and_counted(runner: CliRunner, messy: Path, tmp_path: Path) -> None:
    result = build_cli(runner, messy, tmp_path / "index")
    assert result.exit_code == 0, result.stderr
    warnings = set(result.stderr.splitlines())
    assert warnings == {f"warning: skipped {skip}" for skip in EXPECTED_SKIPS}
    assert "3 files, 5 terms" in result.stdout  # good.md (4 terms), names.md ("Kept"), noheads.md (none)
    assert "skipped: 8 files, 2 headings (see the warnings above)" in result.stdout
    report = json.loads(build_cli(runner, messy, tmp_path / "index2", "--json").stdout)
    assert (report["skipped_files"], report["skipped_terms"], report["terms"]) == (8, 2, 5)
    assert set(report["skipped"]) == EXPECTED_SKIPS
    index = semsearch.load(tmp_path / "index")
    assert sorted(t.name for t in index.terms if t.source == "names.md") == ["Kept"]


def test_strict_turns_the_first_skip_into_an_error(runner: CliRunner, messy: Path, tmp_path: Path) -> None:
    result = build_cli(runner, messy, tmp_path / "index", "--strict")
    assert result.exit_code == 3
    assert re.fullmatch(r"error: .+ \(refused under --strict\)\n", result.stderr)
    assert not (tmp_path / "index").exists(), "a refused build writes nothing"


def test_strict_accepts_a_clean_corpus(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    assert build_cli(runner, glossary, tmp_path / "index", "--strict").exit_code == 0


def test_skipped_files_do_not_make_the_index_look_stale(runner: CliRunner, messy: Path, tmp_path: Path) -> None:
    build(messy, tmp_path / "index")
    result = runner.invoke(app, ["ask", "dropout", "--corpus", str(messy), "--index", str(tmp_path / "index")])
    assert result.exit_code == 0
    assert "stale" not in result.stderr and "rebuild" not in result.stderr


def test_fixing_a_skipped_file_makes_the_index_stale(messy: Path, tmp_path: Path) -> None:
    build(messy, tmp_path / "index")
    (messy / "latin1.md").write_text("## Café | Coffee\n- body\n", encoding="utf-8")
    reason = stale_reason(store.read_manifest(tmp_path / "index"), [messy])
    assert reason == "latin1.md changed"


def test_unreadable_file_is_skipped(monkeypatch: pytest.MonkeyPatch, glossary: Path) -> None:
    """Runs everywhere (root ignores chmod): the read itself is made to fail as a chmod 000 would."""
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "dl.md":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = read_corpus([glossary])
    assert [str(s) for s in result.skipped] == ["dl.md: not readable (permission denied)"]
    assert {t.source for t in result.terms} == {"sub/more.md"}


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_and_folder_for_real(glossary: Path) -> None:
    (glossary / "dl.md").chmod(0)
    locked = glossary / "locked"
    locked.mkdir()
    (locked / "x.md").write_text("## X\n")
    locked.chmod(0)
    try:
        result = read_corpus([glossary])
    finally:
        (glossary / "dl.md").chmod(0o644)
        locked.chmod(0o755)
    assert {str(s) for s in result.skipped} == {
        "dl.md: not readable (permission denied)",
        "locked: folder not readable (Permission denied)",
    }


def test_very_large_file_is_skipped(glossary: Path) -> None:
    big = glossary / "huge.md"
    with open(big, "wb") as f:  # sparse: costs no disk and no time
        f.truncate(corpus_module.MAX_FILE_BYTES + 1)
    result = read_corpus([glossary])
    assert [str(s) for s in result.skipped] == [
        f"huge.md: larger than 64 MiB ({corpus_module.MAX_FILE_BYTES + 1} bytes; raise the limit with --max-file-mb)"
    ]
    assert len(result.terms) == 6


@pytest.mark.slow
def test_large_file_within_the_limit_is_indexed(tmp_path: Path) -> None:
    root = tmp_path / "large"
    root.mkdir()
    terms = "".join(f"## 用語{i} | Term {i}\n- 説明 {i}: gradient {i % 97} 学習\n\n" for i in range(1000))
    (root / "big.md").write_text(terms + "## 最後 | Last\n" + "- 長い本文の行\n" * 1000, encoding="utf-8")
    index = build(root, tmp_path / "index")
    assert len(index) == 1001
    assert index.search("Term 999", k=1)[0].term == "用語999"
    assert index.search("Last", k=1)[0].term == "最後"


def test_several_problems_and_nothing_left(tmp_path: Path) -> None:
    root = tmp_path / "hopeless"
    root.mkdir()
    (root / "a.md").write_bytes(b"\x00\x01")
    (root / "b.md").write_text("## |\n")
    with pytest.raises(CorpusError, match="no glossary terms"):
        read_corpus([root])


# -- bad indexes ----------------------------------------------------------------------------------


@pytest.fixture
def index(glossary: Path, tmp_path: Path) -> Path:
    path = tmp_path / "index"
    build(glossary, path)
    return path


def truncate_vectors(index: Path) -> None:
    path = data_file(index, "vectors")
    path.write_bytes(path.read_bytes()[:100])


def garble_vectors_consistently(index: Path) -> None:
    data = data_file(index, "vectors").read_bytes()
    replace_data_file(index, "vectors", data[: len(data) // 2])


def drop_a_chunk(index: Path) -> None:
    lines = data_file(index, "chunks").read_bytes().splitlines(keepends=True)
    replace_data_file(index, "chunks", b"".join(lines[:-1]))


def newer_format(index: Path) -> None:
    write_manifest(index, {**manifest(index), "format_version": FORMAT_VERSION + 1})


def wrong_field_type(index: Path) -> None:
    write_manifest(index, {**manifest(index), "data_files": "everything"})


def missing_field(index: Path) -> None:
    m = manifest(index)
    del m["data"]
    write_manifest(index, m)


def chunk_term_out_of_range(index: Path) -> None:
    rows = [json.loads(line) for line in data_file(index, "chunks").read_text().splitlines()]
    rows[0]["term"] = 99
    replace_data_file(index, "chunks", "".join(json.dumps(r) + "\n" for r in rows).encode())


def chunk_term_not_a_number(index: Path) -> None:
    rows = [json.loads(line) for line in data_file(index, "chunks").read_text().splitlines()]
    rows[0]["term"] = "0"
    replace_data_file(index, "chunks", "".join(json.dumps(r) + "\n" for r in rows).encode())


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing data file": (lambda i: data_file(i, "terms").unlink(), r"terms\.jsonl is missing or unreadable"),
    "missing generation": (lambda i: shutil.rmtree(i / manifest(i)["data"]), r"is missing or unreadable"),
    "truncated FAISS file": (truncate_vectors, r"vectors\.faiss is truncated or damaged \(size differs\)"),
    "flipped byte": (
        lambda i: data_file(i, "lexical").write_bytes(b"X" + data_file(i, "lexical").read_bytes()[1:]),
        r"lexical\.npz is damaged \(checksum differs\)",
    ),
    "garbled FAISS file, checksums fixed up": (garble_vectors_consistently, r"is damaged \(RuntimeError: "),
    "invalid manifest JSON": (
        lambda i: (i / "manifest.json").write_text('{"format": "semsearch-index", '),
        r"manifest\.json is not valid JSON \(",
    ),
    "empty manifest": (lambda i: (i / "manifest.json").write_bytes(b""), r"manifest\.json is not valid JSON"),
    "manifest not UTF-8": (lambda i: (i / "manifest.json").write_bytes(b"\xff\xfe{}"), r"cannot read .*manifest\.json"),
    "newer format version": (
        newer_format,
        r"was written by a newer semsearch \(index format 2, this one reads up to 1\)",
    ),
    "manifest field of the wrong type": (wrong_field_type, r"is damaged \(field 'data_files' has the wrong type\)"),
    "manifest field missing": (missing_field, r"is damaged \(missing 'data'\)"),
    "vector/chunk count mismatch": (drop_a_chunk, r"has 6 vectors for 5 chunks"),
    "chunk naming a term that does not exist": (chunk_term_out_of_range, r"has chunks and terms that disagree"),
    "chunk with a non-numeric term": (chunk_term_not_a_number, r"has chunks and terms that disagree"),
    "dimension mismatch": (
        lambda i: write_manifest(i, {**manifest(i), "encoder": {**manifest(i)["encoder"], "dim": 32}}),
        r"has vectors of the wrong dimension",
    ),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_damaged_index_is_refused_with_the_fix(index: Path, case: str) -> None:
    damage, message = DAMAGE[case]
    damage(index)
    with pytest.raises(IndexStoreError, match=message) as caught:
        semsearch.load(index)
    assert str(caught.value).endswith(FIX)


@pytest.mark.parametrize("case", DAMAGE)
def test_damaged_index_cli_without_corpus_rebuilds_from_its_own_corpus_or_refuses(
    runner: CliRunner, index: Path, glossary: Path, case: str
) -> None:
    """`ask --index X` names no corpus: a damaged index is rebuilt from the folders its manifest names,
    or, when the manifest itself is unreadable, refused with the fix (never rebuilt from another corpus)."""
    damage, message = DAMAGE[case]
    damage(index)
    result = runner.invoke(app, ["ask", "dropout", "--index", str(index), "--json"])
    try:
        roots = store.read_manifest(index).roots
    except IndexStoreError:
        roots = None
    if roots:
        assert result.exit_code == 0, result.stdout
        assert json.loads(result.stdout)["hits"][0]["term"] == "ドロップアウト"
        warning = result.stderr.splitlines()[0]
        assert warning.startswith(f"warning: index at {index} is unusable (")
        assert warning.endswith(f"); rebuilding it from {glossary}")
        assert FIX not in warning
    else:
        assert result.exit_code == 4
        error = json.loads(result.stdout)["error"]
        assert error["type"] in ("IndexStoreError", "IndexVersionError")
        assert re.search(message, error["message"]) and "semsearch build --force" in error["message"]
        assert (index / "manifest.json").exists(), "the damaged index is left for the user to inspect"


@pytest.mark.parametrize("case", [c for c in DAMAGE if c != "newer format version"])
def test_damaged_index_ask_with_corpus_rebuilds_and_says_so(
    runner: CliRunner, index: Path, glossary: Path, case: str
) -> None:
    DAMAGE[case][0](index)
    result = runner.invoke(app, ["ask", "dropout", "--index", str(index), "--corpus", str(glossary)])
    assert result.exit_code == 0, result.stderr
    assert "ドロップアウト" in result.stdout
    assert one_line(result.stderr).startswith(f"warning: index at {index} is unusable (")
    semsearch.load(index)  # repaired


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("case", DAMAGE)
def test_build_force_repairs_every_damaged_index(runner: CliRunner, index: Path, glossary: Path, case: str) -> None:
    DAMAGE[case][0](index)
    result = build_cli(runner, glossary, index, "--force")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"built: {index}")
    assert len(semsearch.load(index)) == 6
    leftovers = sorted(p.name for p in index.iterdir())
    assert leftovers == [".lock", manifest(index)["data"], "manifest.json"]


def test_newer_index_is_never_replaced_implicitly(runner: CliRunner, index: Path, glossary: Path) -> None:
    newer_format(index)
    before = (index / "manifest.json").read_bytes()
    for args in (
        ["ask", "dropout", "--index", str(index), "--corpus", str(glossary)],
        ["build", str(glossary), "--index", str(index)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 4
        assert one_line(result.stderr) == (
            f"error: {index / 'manifest.json'} was written by a newer semsearch (index format 2, this one reads up "
            f"to 1); upgrade semsearch or {FIX}"
        )
    assert (index / "manifest.json").read_bytes() == before
    with pytest.raises(IndexVersionError):
        semsearch.load(index)


def test_stale_index_is_rebuilt_and_says_why(runner: CliRunner, index: Path, glossary: Path) -> None:
    (glossary / "dl.md").write_text(GLOSSARY + "\n## 正則化 | Regularization\n- 過学習を抑える工夫。\n")
    result = runner.invoke(app, ["ask", "regularization", "--index", str(index), "--corpus", str(glossary)])
    assert result.exit_code == 0
    assert one_line(result.stderr) == f"index at {index} is stale: dl.md changed; rebuilding"
    assert "正則化" in result.stdout


# -- directories that are not indexes ---------------------------------------------------------------


def test_build_refuses_a_foreign_directory(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("precious")
    for more in ([], ["--force"]):
        result = build_cli(runner, glossary, thesis, *more)
        assert result.exit_code == 4
        assert one_line(result.stderr) == (
            f"error: {thesis} is not empty and is not a semsearch index (it holds 'chapter1.tex'); "
            "refusing to overwrite it: choose another --index or empty it"
        )
    assert sorted(p.name for p in thesis.iterdir()) == ["chapter1.tex"]


def test_build_refuses_a_directory_with_someone_elses_manifest(
    runner: CliRunner, glossary: Path, tmp_path: Path
) -> None:
    webapp = tmp_path / "webapp"
    webapp.mkdir()
    (webapp / "manifest.json").write_text('{"name": "my app", "icons": []}')
    result = build_cli(runner, glossary, webapp, "--force")
    assert result.exit_code == 4
    assert "is not a semsearch index (it holds a manifest.json that is not semsearch's)" in result.stderr
    assert (webapp / "manifest.json").read_text() == '{"name": "my app", "icons": []}'
    result = runner.invoke(app, ["ask", "x", "--index", str(webapp)])
    assert result.exit_code == 4
    assert one_line(result.stderr) == (
        f"error: {webapp / 'manifest.json'} is not a semsearch index manifest; choose another --index"
    )


def test_ask_refuses_a_foreign_directory_without_announcing_a_build(
    runner: CliRunner, glossary: Path, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"\xff\xd8")
    result = runner.invoke(app, ["ask", "x", "--index", str(photos), "--corpus", str(glossary)])
    assert result.exit_code == 4
    assert one_line(result.stderr).startswith(f"error: {photos} is not empty and is not a semsearch index")


def test_index_path_that_is_a_file(runner: CliRunner, glossary: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = build_cli(runner, glossary, tmp_path / "file")
    assert result.exit_code == 4
    assert (
        one_line(result.stderr) == f"error: {tmp_path / 'file'} exists and is not a directory; choose another --index"
    )


def test_load_of_a_missing_or_empty_index(tmp_path: Path) -> None:
    with pytest.raises(
        IndexStoreError, match=r"^no index at (.*); build one with `semsearch build CORPUS --index \1`$"
    ):
        semsearch.load(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        IndexStoreError,
        match=r"^no index at (.*) \(no manifest\.json\); build one with `semsearch build CORPUS --index \1`$",
    ):
        semsearch.load(tmp_path / "empty")


def test_leftovers_of_a_killed_first_build_are_not_foreign(glossary: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    (index / ".tmp-1234abcd").mkdir(parents=True)
    (index / "data-20260101T000000-deadbeef").mkdir()
    (index / ".lock").touch()
    build(glossary, index)
    assert sorted(p.name for p in index.iterdir()) == [".lock", manifest(index)["data"], "manifest.json"]


# -- the build lock -------------------------------------------------------------------------------


@pytest.mark.slow
def test_build_waits_then_times_out_clearly(runner: CliRunner, index: Path, glossary: Path) -> None:
    with store.build_lock(index):  # as if another build were writing
        result = build_cli(runner, glossary, index, "--force", "--wait", "0.3")
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        f"another build is writing {index}; waiting up to 0.3 s for it to finish",
        f"error: another semsearch build is writing {index} and did not finish within 0.3 s; try again later, "
        "or wait longer (`--wait SECONDS` or $SEMSEARCH_WAIT)",
    ]
    with store.build_lock(index), pytest.raises(IndexLockedError):
        build(glossary, index, force=True, lock_timeout=0.1)
    assert len(semsearch.load(index)) == 6  # untouched


def test_ask_rebuild_honours_the_wait_variable(
    runner: CliRunner, index: Path, glossary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (glossary / "dl.md").write_text(GLOSSARY + "\n## 正則化 | Regularization\n- 過学習を抑える。\n")
    monkeypatch.setenv("SEMSEARCH_WAIT", "0.2")
    with store.build_lock(index):
        result = runner.invoke(app, ["ask", "x", "--index", str(index), "--corpus", str(glossary), "--json"])
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["type"] == "IndexLockedError"
    assert "waiting up to 0.2 s" in result.stderr


# -- safety ---------------------------------------------------------------------------------------


def test_no_pickle_eval_or_exec_in_the_package() -> None:
    risky = re.compile(r"\bimport pickle\b|\bpickle\.|allow_pickle\s*=\s*True|\beval\(|\bexec\(|torch\.load\(")
    for path in sorted((ROOT / "semsearch").glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            assert not risky.search(line), f"{path.name}:{number}: {line.strip()}"


class Exploit:
    """Unpickling this writes a file: proof that a loader unpickled index data."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def test_a_pickled_payload_in_the_index_is_never_unpickled(index: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    payload = np.array([Exploit(marker)], dtype=object)
    np.savez(buffer, idf=payload, indptr=payload, docs=payload, weights=payload, n_docs=payload)
    replace_data_file(index, "lexical", buffer.getvalue())
    with pytest.raises(IndexStoreError, match="allow_pickle=False"):
        semsearch.load(index)
    assert not marker.exists()


@pytest.mark.parametrize("where", ["relative", "absolute", "data file", "symlink"])
def test_manifest_paths_cannot_leave_the_index_directory(
    runner: CliRunner, index: Path, glossary: Path, tmp_path: Path, where: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(index / manifest(index)["data"], elsewhere)  # a perfectly valid generation, outside
    m = manifest(index)
    if where == "relative":
        m["data"] = "../elsewhere"
    elif where == "absolute":
        m["data"] = str(elsewhere)
    elif where == "data file":
        m["data_files"]["terms"]["path"] = "../../elsewhere/terms.jsonl"
    else:
        (index / "data-20990101T000000-00000000").symlink_to(elsewhere, target_is_directory=True)
        m["data"] = "data-20990101T000000-00000000"
    write_manifest(index, m)
    # A generation folder that is a link is refused as such, before anything resolves it.
    refusal = "is a symbolic link, which semsearch never writes" if where == "symlink" else "points outside the index"
    with pytest.raises(IndexStoreError, match=f"{refusal}.*; run `semsearch build --force`"):
        semsearch.load(index)
    result = build_cli(runner, glossary, index, "--force")
    assert result.exit_code == 0, result.stderr
    assert refusal in result.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == sorted(
        ["chunks.jsonl", "dense.npz", "lexical-vocab.json", "lexical.npz", "terms.jsonl", "vectors.faiss"]
    ), "a rebuild never deletes outside the index directory"
