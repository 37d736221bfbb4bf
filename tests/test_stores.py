"""stores/: one set of checks over every kind of store (the index directory, Qdrant's local mode,
Qdrant Edge where qdrant-edge-py installs, and a Qdrant server when $SEMSEARCH_TEST_QDRANT_URL names
one), each against the directory store as the reference: same hits, same scores, same related terms;
incremental builds that write only what changed; generations switched whole; the manifest checked
before answering. The fake encoder makes every ranking exact."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import GLOSSARY, FakeEncoder

import semsearch
from semsearch.chunking import ChunkSettings
from semsearch.errors import IndexMismatchError, IndexStoreError, IndexVersionError, QueryError
from semsearch.location import QdrantLocation, parse_location
from semsearch.search import Index, fuse
from semsearch.stores import open_store

MODES = ("dense", "tfidf", "hybrid")
QUESTIONS = (
    "勾配消失とは",
    "dropout",
    "過学習を防ぐには",
    "訓練データに適合しすぎる",
    "RAG",
    "retrieval augmented generation",
    "学習率 の 決め方",
    "chicken curry recipe",
    "Overfitting",
)
SERVER = os.environ.get("SEMSEARCH_TEST_QDRANT_URL", "").rstrip("/")
KINDS = ("directory", "local", "edge", "server")


def write_glossary(root: Path) -> Path:
    """The shared test glossary, plus entries that share names across files, one without a body (and
    a term with none: it ranks after every term that has one), and one long enough to be cut into
    several chunks."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dl.md").write_text(GLOSSARY + "## RAG\n", encoding="utf-8")
    long_body = "\n".join(f"- 項目{i}: 勾配とパラメータの更新について説明する文。" for i in range(12))
    (root / "ml.md").write_text(
        "## Overfitting\n- 訓練データに適合しすぎる。\n"
        "## 早期終了 | Early Stopping\n- 過学習を防ぐために訓練を止める。\n"
        f"## 最適化 | Optimization\n{long_body}\n",
        encoding="utf-8",
    )
    (root / "llm.md").write_text(
        "## RAG | Retrieval-Augmented Generation\n- 検索した文書を生成に使う。\n## 勾配ブースティング\n",
        encoding="utf-8",
    )
    return root


def location_of(kind: str, tmp_path: Path) -> str:
    if kind == "directory":
        return str(tmp_path / "index")
    if kind == "local":
        pytest.importorskip("qdrant_client")
        return f"qdrant+local://{tmp_path / 'store'}"
    if kind == "edge":
        pytest.importorskip("qdrant_edge")
        return f"qdrant+edge://{tmp_path / 'edge'}"
    if not SERVER:
        pytest.skip("no Qdrant server: set SEMSEARCH_TEST_QDRANT_URL=http://HOST:6333 to run these against one")
    pytest.importorskip("qdrant_client")
    scheme = "qdrants" if SERVER.startswith("https") else "qdrant"
    return f"{scheme}://{SERVER.split('://', 1)[1]}/semsearch-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=KINDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    location = location_of(request.param, tmp_path)
    yield location
    parsed = parse_location(location)
    if isinstance(parsed, QdrantLocation) and parsed.engine == "server":  # leave the server as it was
        engine = open_store(parsed).engine()
        client = engine.client  # type: ignore[attr-defined]
        if engine.current() is not None:
            client.delete_alias(parsed.name)
        for name in engine.generations():
            client.delete_collection(name)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_glossary(tmp_path / "glossary")


SETTINGS = ChunkSettings(max_tokens=64)  # so that 最適化 has several chunks


def build(corpus: Path, where: str, **options: object) -> Index:
    options.setdefault("encoder", FakeEncoder())
    return semsearch.build(corpus, index_dir=where, settings=SETTINGS, **options)


@pytest.fixture
def reference(corpus: Path, tmp_path: Path) -> Index:
    """The same glossary in an index directory."""
    return build(corpus, str(tmp_path / "reference"))


def same_hits(index: Index, reference: Index, question: str, mode: str, k: int = 8) -> None:
    got, want = (
        index.query(question, k=k, mode=mode, related=True),
        reference.query(question, k=k, mode=mode, related=True),
    )
    assert (got.mode, got.state, got.notices) == (want.mode, want.state, want.notices)
    fields = [(h.term, h.names, h.source, h.line, h.snippet, h.related, h.id, h.named, h.also_in) for h in got.hits]
    assert fields == [
        (h.term, h.names, h.source, h.line, h.snippet, h.related, h.id, h.named, h.also_in) for h in want.hits
    ], (question, mode)
    np.testing.assert_allclose([h.score for h in got.hits], [h.score for h in want.hits], atol=1e-5)


# -- what every store does alike ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_store_answers_as_the_directory_does(corpus: Path, where: str, reference: Index, mode: str) -> None:
    index = build(corpus, where)
    assert len(index) == len(reference) and index.scoring.chunk_counts() == reference.scoring.chunk_counts()
    assert max(reference.scoring.chunk_counts()) >= 2  # a term with several chunks is scored by its best one
    loaded = semsearch.load(where)
    for question in (*QUESTIONS, "勾配ブースティング とは 何"):
        same_hits(index, reference, question, mode)
        same_hits(loaded, reference, question, mode)
        same_hits(index, reference, question, mode, k=2)  # a term without a body is passed over, not cut


class FakeUse(FakeEncoder):
    """A second encoder as the ensemble has one (the Universal Sentence Encoder's place): hashed
    features as the fake e5, into other buckets and dimensions, with estimates that weigh the USE
    side, so that its scores move rankings and states."""

    DIM = 48
    hubness_beta = 0.3
    estimate = {  # noqa: RUF012 - the class attribute the encoder interface reads
        "use": {
            "right": {"weights": {"relevance": 20.0, "margin": 1.0}, "bias": -3.0},
            "match": {"weights": {"relevance": 30.0}, "bias": -10.5},
            "sure": 0.5,
            "none": 0.5,
        },
        "hybrid": {
            "right": {
                "weights": {"relevance": 20.0, "margin": 1.0, "dense_margin": 2.0, "use_margin": 2.0},
                "bias": -3.0,
            },
            "match": {"weights": {"relevance": 30.0, "use": 8.0}, "bias": -10.5},
            "sure": 0.5,
            "none": 0.5,
        },
    }

    @property
    def id(self) -> str:
        return "fake/use-48"

    def _vectors(self, texts):  # type: ignore[no-untyped-def]
        return super()._vectors([f"{text} {text[::-1]}" for text in texts])

    def install(self, *, force: bool = False) -> None:
        """Nothing to convert (the real one writes its converted weights once per user)."""


@pytest.fixture
def with_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake encoder's indexes get a USE side (FakeUse), as e5's get the real one."""
    import semsearch.embedding
    import semsearch.opening
    import semsearch.scoring

    def fake_use(primary: dict, weights: object = None) -> FakeUse | None:
        return FakeUse() if primary.get("backend") == FakeEncoder.backend else None

    for module in (semsearch.embedding, semsearch.opening, semsearch.scoring):
        monkeypatch.setattr(module, "use_encoder", fake_use)


@pytest.mark.slow  # two builds and an edit per store, about a second each in Qdrant
@pytest.mark.usefixtures("with_use")
def test_a_store_with_the_use_side_answers_as_the_directory_does(corpus: Path, where: str, tmp_path: Path) -> None:
    """The ensemble in every store: the USE side is in the store (a named vector in Qdrant), scored
    per entry as the directory scores it, fused by `fuse` and judged with the same sides: the same
    hits, scores and states in every mode."""
    reference = build(corpus, str(tmp_path / "reference"))
    index = build(corpus, where)
    assert "use" in reference.modes and "use" in index.modes
    for question in QUESTIONS:
        np.testing.assert_allclose(
            index.scoring.use_scores(question), reference.scoring.use_scores(question), atol=1e-5
        )
        for mode in ("use", "hybrid"):
            same_hits(index, reference, question, mode)
    states = {reference.query(q, mode="hybrid").state for q in QUESTIONS}
    assert len(states) >= 2  # the questions reach more than one state: the sides decide something
    # An edit: only the changed entry's pieces are embedded again, and the store still answers alike.
    text = (corpus / "dl.md").read_text(encoding="utf-8")
    (corpus / "dl.md").write_text(text.replace("正則化手法。", "正則化手法。部分網。"), encoding="utf-8")
    edited, want = build(corpus, where), build(corpus, str(tmp_path / "reference"))
    assert edited.build_report is not None and edited.build_report.use_embedded == 1
    for question in QUESTIONS:
        same_hits(edited, want, question, "hybrid")


def test_similarity_is_the_directory_cosine_of_each_pair(corpus: Path, where: str, reference: Index) -> None:
    """`similarity` (the cosine `related` ranks neighbours by; readme_check holds the README to it):
    the best chunk of a term with several chunks counts, an entry is nearest to itself."""
    index = build(corpus, where)
    long = next(p for p, count in enumerate(reference.scoring.chunk_counts()) if count >= 2)
    for position in (0, long):
        assert index.entries.similarity(position, position) == pytest.approx(1.0, abs=1e-5)
        got = [index.entries.similarity(position, other) for other in range(len(reference))]
        want = [reference.entries.similarity(position, other) for other in range(len(reference))]
        np.testing.assert_allclose(got, want, atol=1e-5)
        np.testing.assert_allclose(
            [reference.entries.similarity(other, position) for other in range(len(reference))],
            [index.entries.similarity(other, position) for other in range(len(reference))],
            atol=1e-5,
        )


def test_every_store_gives_the_sides_and_fuse_ranks_them(corpus: Path, where: str, reference: Index) -> None:
    """One scoring path: each side's score per entry from the store is the directory's, and the
    hybrid relevance is `fuse` of those sides, for every entry."""
    index = build(corpus, where)
    for question in QUESTIONS:
        dense, lexical = index.scoring.dense_scores(question), index.scoring.lexical_scores(question)
        np.testing.assert_allclose(dense, reference.scoring.dense_scores(question), atol=1e-5)
        np.testing.assert_allclose(lexical, reference.scoring.lexical_scores(question), atol=1e-6)
        want = fuse(reference.scoring.dense_scores(question), reference.scoring.lexical_scores(question))
        np.testing.assert_allclose(index.scoring.relevance(question, "hybrid"), want, atol=1e-5)


def test_an_edit_embeds_and_upserts_only_the_changed_chunk(corpus: Path, where: str, tmp_path: Path) -> None:
    build(corpus, where)
    text = (corpus / "dl.md").read_text(encoding="utf-8")
    (corpus / "dl.md").write_text(text.replace("正則化手法。", "正則化手法。部分網。"), encoding="utf-8")
    encoder = FakeEncoder()
    index = build(corpus, where, encoder=encoder)
    report = index.build_report
    assert report is not None and (report.written, report.embedded, encoder.passages_embedded) == (True, 1, 1)
    if not where.startswith("qdrant"):
        assert report.store == {}
    else:
        assert (report.store["new_generation"], report.store["upserted"], report.store["deleted"]) == (False, 1, 1)
        assert report.store["rewritten"] < len(index.terms) + index.manifest.counts["chunks"]
    assert index.search("部分網", k=1)[0].term == "ドロップアウト"
    reference = build(corpus, str(tmp_path / "after"))
    for question in ("部分網", *QUESTIONS[:4]):
        same_hits(semsearch.load(where), reference, question, "hybrid")


@pytest.mark.slow
def test_added_and_removed_terms(corpus: Path, where: str, tmp_path: Path) -> None:
    build(corpus, where)
    (corpus / "llm.md").unlink()
    (corpus / "new.md").write_text("## トークナイザ | Tokenizer\n- 文章をトークンに分割する。\n", encoding="utf-8")
    index = build(corpus, where)
    assert index.build_report is not None and index.build_report.embedded == 1
    assert "トークナイザ" in [t.name for t in semsearch.load(where).terms]
    reference = build(corpus, str(tmp_path / "after"))
    for question in ("トークンに分割", "RAG", *QUESTIONS[:3]):
        for mode in MODES:
            same_hits(semsearch.load(where), reference, question, mode)
    assert all(h.source != "llm.md" for h in semsearch.load(where).search("RAG", k=10))


def test_an_up_to_date_index_is_left_alone(corpus: Path, where: str) -> None:
    first = build(corpus, where)
    again = build(corpus, where)
    assert again.build_report is not None and (again.build_report.written, again.build_report.embedded) == (False, 0)
    assert again.manifest.data == first.manifest.data


def test_force_and_a_new_encoder_build_a_new_generation(corpus: Path, where: str) -> None:
    first = build(corpus, where)
    forced = build(corpus, where, force=True)
    assert forced.manifest.data != first.manifest.data
    if where.startswith("qdrant"):
        report = forced.build_report
        assert report is not None and report.store["new_generation"] is True
        store = open_store(where)
        current = forced.manifest.data
        assert store.engine().generations() == [current, f"{current}-meta"]  # the old generation is gone
    assert semsearch.load(where).search("dropout", k=1)[0].term == "ドロップアウト"


def test_the_manifest_is_checked_before_answering(corpus: Path, where: str, tmp_path: Path) -> None:
    build(corpus, where)
    other = write_glossary(tmp_path / "other")
    with pytest.raises(IndexMismatchError, match="was built from"):
        semsearch.open([other], where, encoder=FakeEncoder())
    assert semsearch.open(None, where).manifest.roots == (str(corpus.resolve()),)
    store = open_store(where)
    manifest = json.loads(store.read_manifest().to_json())
    manifest["format_version"] = 99
    rewrite_manifest(where, manifest)
    with pytest.raises(IndexVersionError, match="newer semsearch"):
        semsearch.load(where)


def rewrite_manifest(where: str, manifest: dict) -> None:
    location = parse_location(where)
    if isinstance(location, Path):
        (location / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        return
    from semsearch.stores.qdrant import MANIFEST_ID, meta_of
    from semsearch.stores.qdrant_engines import PointSpec

    store = open_store(location)
    engine, current = store.engine(), store.engine().current()
    assert current is not None
    payload = engine.retrieve(meta_of(current), [MANIFEST_ID])[MANIFEST_ID]
    engine.upsert(meta_of(current), [PointSpec(MANIFEST_ID, {**payload, "manifest": json.dumps(manifest)}, {})])


def test_a_stale_index_is_brought_up_to_date_when_opened(corpus: Path, where: str) -> None:
    build(corpus, where)
    (corpus / "new.md").write_text("## トークナイザ | Tokenizer\n- 文章をトークンに分割する。\n", encoding="utf-8")
    index = semsearch.open([corpus], where, encoder=FakeEncoder())
    assert index.build_report is not None and index.build_report.embedded == 1
    assert index.search("Tokenizer", k=1)[0].term == "トークナイザ"


def test_no_index_there(where: str, tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match=r"no index at .*build one with"):
        semsearch.load(where)
    location = parse_location(where)
    if isinstance(location, QdrantLocation) and location.path is not None:
        assert not location.path.exists()  # reading creates nothing


def test_describe_and_info(corpus: Path, where: str) -> None:
    index = build(corpus, where)
    described = index.describe().to_dict()
    assert described["stale"] is False and described["counts"]["terms"] == len(index)
    assert described["index"] == (where if where.startswith("qdrant") else str(Path(where).resolve()))


# -- Qdrant only --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["local", "edge"])
def test_a_folder_that_holds_other_things_is_never_written_into(kind: str, corpus: Path, tmp_path: Path) -> None:
    where = location_of(kind, tmp_path)
    folder = parse_location(where).path  # type: ignore[union-attr]
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(IndexStoreError, match=r"refusing to .* choose another --index"):
        build(corpus, where)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_a_damaged_qdrant_index_is_rebuilt_from_its_corpus(corpus: Path, tmp_path: Path) -> None:
    where = location_of("local", tmp_path)
    first = build(corpus, where)
    from semsearch.stores.qdrant import bucket_id, meta_of

    store = open_store(where)
    held_by = bucket_id("term", first.entries.term_id(0), first.manifest.ann["buckets"]["term"])
    store.engine().delete(meta_of(first.manifest.data), [held_by])
    with pytest.raises(IndexStoreError, match="term records"):
        semsearch.load(where)
    index = semsearch.open(None, where, encoder=FakeEncoder())
    assert index.manifest.data != first.manifest.data and len(index) == len(first)


def test_a_local_store_whose_files_are_damaged_is_an_index_error(corpus: Path, tmp_path: Path) -> None:
    # An adversarial try: random bytes over local mode's SQLite file were an internal error (exit 1).
    where = location_of("local", tmp_path)
    build(corpus, where)
    folder = parse_location(where).path  # type: ignore[union-attr]
    databases = sorted(folder.rglob("storage.sqlite"))
    assert databases
    databases[0].write_bytes(os.urandom(5000))
    from semsearch.stores import qdrant_engines

    for client in qdrant_engines._LOCAL_CLIENTS.values():  # a fresh process opens it
        client.close()
    qdrant_engines._LOCAL_CLIENTS.clear()
    with pytest.raises(IndexStoreError, match=r"is damaged and cannot be opened.*delete that folder"):
        semsearch.load(where)


def test_a_missing_engine_names_the_extra(monkeypatch: pytest.MonkeyPatch, corpus: Path, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "qdrant_client", None)
    monkeypatch.setitem(sys.modules, "qdrant_edge", None)
    (tmp_path / "store").mkdir()
    with pytest.raises(IndexStoreError, match=r"qdrant-client: pip install 'semsearch\[qdrant\]'"):
        semsearch.load(f"qdrant+local://{tmp_path / 'store'}")
    with pytest.raises(IndexStoreError, match=r"qdrant-edge-py: pip install 'semsearch\[qdrant-edge\]'"):
        semsearch.build(corpus, index_dir=f"qdrant+edge://{tmp_path / 'edge'}", encoder=FakeEncoder())


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("index", Path("index")),
        ("/tmp/x", Path("/tmp/x")),
        ("qdrant+local:///tmp/store", QdrantLocation("local", path=Path("/tmp/store"))),
        ("qdrant+local://store", QdrantLocation("local", path=Path("store"))),
        ("qdrant+edge:///tmp/e", QdrantLocation("edge", path=Path("/tmp/e"))),
        ("qdrant://db.example:6333/glossary", QdrantLocation("server", name="glossary", url="http://db.example:6333")),
        ("qdrants://db.example/glossary", QdrantLocation("server", name="glossary", url="https://db.example:6333")),
        ("qdrant://[::1]:7000/g", QdrantLocation("server", name="g", url="http://[::1]:7000")),
        (
            "qdrant://db.example:6333/g?shards=6&replicas=2",
            QdrantLocation("server", name="g", url="http://db.example:6333", shards=6, replicas=2),
        ),
    ],
)
def test_locations(text: str, parsed: object) -> None:
    assert parse_location(text) == parsed
    if isinstance(parsed, QdrantLocation):
        assert str(parsed) in (text, text.replace("db.example/", "db.example:6333/"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("s3://bucket/index", "unknown index location"),
        ("qdrant+local://", "names no folder"),
        ("qdrant://host:6333/", "needs an index name"),
        ("qdrant://host:6333/a/b", "needs an index name"),
        ("qdrant://user:secret@host/x", "QDRANT_API_KEY"),
        ("qdrant://host:99999/x", "invalid port"),
        ("qdrant:///x", "names no host"),
        ("qdrant://host/x?shards=0", "invalid option 'shards'"),
        ("qdrant://host/x?timeout=5", "invalid option 'timeout'"),
        ("qdrant://[::1/x", "not a valid URI"),
        ("qdrant+local:///tmp/x?shards=2", "takes no"),
        ("qdrant+edge:///tmp/x#frag", "takes no"),
    ],
)
def test_bad_locations(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_location(text)


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("semsearch.building.default_encoder", FakeEncoder)
    for name in ("SEMSEARCH_WAIT", "SEMSEARCH_CORPUS", "SEMSEARCH_INDEX", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("kind", ["local", "edge"])
def test_the_commands_take_a_qdrant_uri(
    kind: str, corpus: Path, tmp_path: Path, runner, cli_defaults: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semsearch.cli import app

    where = location_of(kind, tmp_path)
    built = runner.invoke(app, ["build", str(corpus), "--index", where, "--json"])
    assert built.exit_code == 0, built.stderr
    report = json.loads(built.stdout)
    assert (report["index"], report["terms"], report["store"]["new_generation"]) == (where, 10, True)
    asked = runner.invoke(app, ["ask", "dropout", "--index", where, "--json"])
    assert asked.exit_code == 0, asked.stderr
    assert json.loads(asked.stdout)["hits"][0]["term"] == "ドロップアウト"
    monkeypatch.setenv("SEMSEARCH_INDEX", where)  # a URI from the environment, the corpus from the index
    info = runner.invoke(app, ["info", "--json"])
    assert info.exit_code == 0, info.stderr
    described = json.loads(info.stdout)
    assert (described["index"], described["index_origin"], described["ann"]["kind"]) == (
        where,
        "$SEMSEARCH_INDEX",
        "qdrant",
    )
    shown = runner.invoke(app, ["show", "RAG", "--json"])
    assert shown.exit_code == 0, shown.stderr
    assert [e["source"] for e in json.loads(shown.stdout)["entries"]] == ["llm.md", "dl.md"]
    terms = runner.invoke(app, ["terms", "--json"])
    assert sum(t["chunks"] for t in json.loads(terms.stdout)["terms"]) == report["chunks"]


def test_the_command_line_says_what_is_wrong_with_a_location(
    runner, corpus: Path, tmp_path: Path, cli_defaults: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from semsearch.cli import app

    bad = runner.invoke(app, ["ask", "x", "--index", "s3://bucket/index"])
    assert (bad.exit_code, bad.stderr.count("\n")) == (2, 1) and "unknown index location" in bad.stderr
    missing = runner.invoke(app, ["ask", "x", "--index", f"qdrant+local://{tmp_path / 'none'}"])
    assert missing.exit_code == 4 and "no index at qdrant+local://" in missing.stderr
    monkeypatch.setitem(sys.modules, "qdrant_client", None)
    (tmp_path / "store").mkdir()
    absent = runner.invoke(app, ["build", str(corpus), "--index", f"qdrant+local://{tmp_path / 'store'}"])
    assert absent.exit_code == 4
    assert absent.stderr == "error: a Qdrant index needs qdrant-client: pip install 'semsearch[qdrant]'\n"


@pytest.mark.parametrize("kind", ["local", "edge"])
def test_a_store_laid_out_by_another_version_is_refused_with_the_fix(kind: str, corpus: Path, tmp_path: Path) -> None:
    """A store whose points an older (or newer) semsearch laid out (the manifest's `ann.layout`) is
    never ranked as if it were this version's (it may lack a side, as a store built before the
    second encoder's side would): it is refused, naming the rebuild, and a forced build answers."""
    where = location_of(kind, tmp_path)
    build(corpus, where)
    manifest = json.loads(open_store(where).read_manifest().to_json())
    manifest["ann"]["layout"] = 0
    rewrite_manifest(where, manifest)
    with pytest.raises(IndexStoreError, match=r"laid out by another semsearch version; .*--force"):
        semsearch.load(where)
    assert build(corpus, where, force=True).query("dropout", k=1).hits[0].term == "ドロップアウト"
