"""ray_embed.py and `build --ray`: the embedding as a Ray Data job gives the vectors a local build
gives, for the fake encoder (rebuilt in each actor) and, in one slow test, the embedded e5. Ray is
an optional extra (semsearch[ray], ~600 MB): these tests skip when it is not installed, except the
ones that check what happens then."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import BUNDLED, FakeEncoder

import semsearch
from semsearch.cli.app import _ray_option
from semsearch.errors import EncoderError
from semsearch.stores.files import read_index

pytestmark = pytest.mark.slow  # Ray starts worker processes: seconds per test


@pytest.fixture(scope="module")
def ray_here() -> Iterator[object]:
    """Ray on this machine's two cores, once for the module; the test encoder travels to its actors by value."""
    ray = pytest.importorskip("ray")
    import conftest

    ray.cloudpickle.register_pickle_by_value(conftest)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def vectors(index_dir: Path) -> np.ndarray:
    return read_index(index_dir).ann.vectors()


def test_a_ray_build_embeds_what_a_local_build_embeds(ray_here: object, glossary: Path, tmp_path: Path) -> None:
    local = semsearch.build(glossary, index_dir=tmp_path / "local", encoder=FakeEncoder())
    encoder = FakeEncoder()
    on_ray = semsearch.build(glossary, index_dir=tmp_path / "ray", encoder=encoder, ray="local")
    assert encoder.passages_embedded == 0  # every chunk went to the actors
    report = on_ray.build_report
    assert report is not None and (report.embedded, report.reused, report.chunks) == (6, 0, 6)
    np.testing.assert_array_equal(vectors(tmp_path / "ray"), vectors(tmp_path / "local"))
    assert [h.term for h in on_ray.search("勾配消失とは", k=3)] == [h.term for h in local.search("勾配消失とは", k=3)]


def test_a_ray_rebuild_sends_only_the_changed_chunks(ray_here: object, glossary: Path, tmp_path: Path) -> None:
    semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder(), ray="local")
    (glossary / "dl.md").write_text(
        (glossary / "dl.md").read_text(encoding="utf-8").replace("正則化手法。", "正則化手法。部分網。"),
        encoding="utf-8",
    )
    again = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder(), ray="local")
    assert again.build_report is not None and (again.build_report.embedded, again.build_report.reused) == (1, 5)
    local = semsearch.build(glossary, index_dir=tmp_path / "local", encoder=FakeEncoder())
    np.testing.assert_array_equal(vectors(tmp_path / "index"), vectors(tmp_path / "local"))
    assert local.search("部分網", k=1)[0].term == "ドロップアウト"


def test_embeddings_as_a_cache(ray_here: object, glossary: Path, tmp_path: Path) -> None:
    """The job's rows are an embedding cache: another build (here into a Qdrant store) reuses them."""
    from semsearch.chunking import chunk_terms
    from semsearch.corpus import read_corpus
    from semsearch.ray_embed import embed_on_ray

    chunks = chunk_terms(read_corpus([glossary]).terms)
    rows = embed_on_ray({c.sha256: c.text for c in chunks}, FakeEncoder())
    assert (rows.encoder, len(rows.sha256), rows.vectors.shape) == ("fake/hashed-features-64", 6, (6, 64))
    assert rows.by_hash("another/encoder") == {}
    encoder = FakeEncoder()
    index = semsearch.build(glossary, index_dir=tmp_path / "index", encoder=encoder, embeddings=rows)
    assert (encoder.passages_embedded, index.build_report.reused) == (0, 6)  # type: ignore[union-attr]


def test_build_dash_dash_ray_on_the_command_line(
    ray_here: object, glossary: Path, tmp_path: Path, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semsearch.cli import app

    monkeypatch.setattr("semsearch.building.default_encoder", FakeEncoder)
    result = runner.invoke(app, ["build", str(glossary), "--index", str(tmp_path / "index"), "--ray", "--json"])
    assert result.exit_code == 0, result.stderr
    assert (json.loads(result.stdout)["embedded"], result.stderr) == (6, "")


@pytest.mark.slow
def test_the_embedded_encoder_on_ray_gives_the_local_vectors(ray_here: object, e5, tmp_path: Path) -> None:
    semsearch.build(BUNDLED, index_dir=tmp_path / "local", encoder=e5)
    on_ray = semsearch.build(BUNDLED, index_dir=tmp_path / "ray", encoder=e5, ray="local")
    assert on_ray.build_report is not None and on_ray.build_report.embedded == on_ray.build_report.chunks
    # The actors batch the chunks as a local build does (longest first), on the same C engine.
    np.testing.assert_allclose(vectors(tmp_path / "ray"), vectors(tmp_path / "local"), atol=1e-6)


# -- without Ray, and the option -----------------------------------------------------------------


def test_without_ray_the_error_names_the_extra(glossary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EncoderError, match=r"^embedding on Ray needs ray: pip install 'semsearch\[ray\]'$"):
        semsearch.build(glossary, index_dir=tmp_path / "index", encoder=FakeEncoder(), ray="local")
    assert not (tmp_path / "index" / "manifest.json").exists()


@pytest.mark.parametrize(
    ("args", "parsed"),
    [
        (["build", "corpus", "--ray"], ["build", "corpus", "--ray=local"]),
        (["build", "--ray", "corpus"], ["build", "--ray=local", "corpus"]),
        (["build", "--ray", "--force"], ["build", "--ray=local", "--force"]),
        (["build", "--ray", "auto", "corpus"], ["build", "--ray", "auto", "corpus"]),
        (["build", "--ray", "ray://head:10001"], ["build", "--ray", "ray://head:10001"]),
        (["build", "--ray=head:6379"], ["build", "--ray=head:6379"]),
        (["ask", "--", "--ray"], ["ask", "--", "--ray"]),
    ],
)
def test_a_bare_dash_dash_ray_means_ray_here(args: list[str], parsed: list[str]) -> None:
    assert _ray_option(args) == parsed
