"""chunking.py: terms -> chunks whose text starts with the names, split to fit the encoder's window."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from semsearch.chunking import ChunkSettings, chunk_terms, embed_text, estimate_tokens, term_ids
from semsearch.corpus import Term


def term(names: tuple[str, ...], body: str, source: str = "g.md", line: int = 1) -> Term:
    return Term(names, body, source, line)


TERMS = [
    term(("勾配消失問題", "Vanishing Gradient Problem"), "- 深い層で勾配が小さくなる。\n- ReLU で緩和。", line=1),
    term(("ドロップアウト", "Dropout"), "- ユニットを無効化する。", line=5),
    term(("空",), "", line=8),
]

# Ten top-level bullets of ~70 estimated tokens each, every one with a nested bullet.
LONG_BODY = "\n".join(f"- 項目{i}: " + "説明文" * 20 + f"\n  - 詳細{i}" for i in range(10))


def test_every_chunk_starts_with_all_names_and_short_terms_are_one_chunk() -> None:
    chunks = chunk_terms(TERMS)
    assert [(c.id, c.term_position, c.part) for c in chunks] == [
        ("g.md::勾配消失問題#0", 0, 0),
        ("g.md::ドロップアウト#0", 1, 0),
        ("g.md::空#0", 2, 0),
    ]
    assert chunks[0].text == "勾配消失問題 | Vanishing Gradient Problem\n- 深い層で勾配が小さくなる。\n- ReLU で緩和。"
    assert chunks[2].text == "空"  # an empty body still gives the names a vector
    assert all(c.sha256 == hashlib.sha256(c.text.encode()).hexdigest() for c in chunks)


def test_embed_text_drops_urls_emphasis_and_blank_runs() -> None:
    body = "- **重要**: 詳細は https://example.com/x を参照\n\n\n- __次__"
    assert embed_text(body) == "- 重要: 詳細は  を参照\n- 次"
    [chunk] = chunk_terms([term(("T",), body)])
    assert chunk.text == "T\n- 重要: 詳細は  を参照\n- 次"


def test_long_body_splits_at_top_level_bullets_under_the_budget() -> None:
    long = term(("長い用語", "Long Term"), LONG_BODY)
    settings = ChunkSettings(max_tokens=128)
    chunks = chunk_terms([long], settings)
    assert [c.id for c in chunks] == [f"g.md::長い用語#{i}" for i in range(10)]
    for i, chunk in enumerate(chunks):
        header, _, piece = chunk.text.partition("\n")
        assert header == "長い用語 | Long Term"
        assert estimate_tokens(chunk.text) <= settings.max_tokens
        # Each piece is one top-level bullet with its nested bullet: never cut inside it.
        assert piece == f"- 項目{i}: " + "説明文" * 20 + f"\n  - 詳細{i}"


def test_pieces_are_packed_greedily_with_an_exact_counter() -> None:
    body = "\n".join(f"- b{i} " + "x" * 20 for i in range(6))  # 6 bullets of 25 characters
    chunks = chunk_terms([term(("N",), body)], ChunkSettings(max_tokens=60), count_tokens=len)
    # budget = 60 - len("N") - 2 = 57: two bullets and a newline (51 characters) fit, three (77) do not.
    assert [c.text.count("\n- b") for c in chunks] == [2, 2, 2]
    assert all(len(c.text) <= 60 for c in chunks)
    assert "".join(c.text.removeprefix("N\n") + "\n" for c in chunks).rstrip("\n") == body


def test_an_overlong_single_line_is_still_split() -> None:
    line = "あ" * 1000
    chunks = chunk_terms([term(("一行",), line)], ChunkSettings(max_tokens=128))
    assert len(chunks) > 1
    assert all(c.text.startswith("一行\n") and estimate_tokens(c.text) <= 128 for c in chunks)
    assert "".join(c.text.removeprefix("一行\n").replace("\n", "") for c in chunks) == line


def test_same_input_same_chunks() -> None:
    terms = [*TERMS, term(("長い用語",), LONG_BODY, line=10)]
    settings = ChunkSettings(max_tokens=128)
    assert chunk_terms(terms, settings) == chunk_terms(list(terms), settings)


def test_editing_one_term_changes_only_its_chunks() -> None:
    terms = [*TERMS, term(("長い用語",), LONG_BODY, line=10)]
    settings = ChunkSettings(max_tokens=128)
    before = chunk_terms(terms, settings)
    edited = list(terms)
    edited[1] = dataclasses.replace(terms[1], body="- ユニットをランダムに無効化する正則化。")
    after = chunk_terms(edited, settings)
    assert [c.id for c in before] == [c.id for c in after]
    changed = [a.id for a, b in zip(before, after, strict=True) if a.sha256 != b.sha256]
    assert changed == ["g.md::ドロップアウト#0"]


def test_moving_a_term_keeps_its_id_and_hash() -> None:
    # Ids name the term, not its position: reordering the file keeps every chunk reusable.
    swapped = [TERMS[1], TERMS[0], TERMS[2]]
    ids = {c.id: c.sha256 for c in chunk_terms(TERMS)}
    assert {c.id: c.sha256 for c in chunk_terms(swapped)} == ids


def test_term_ids_repeats_inside_one_file_and_across_files() -> None:
    terms = [
        term(("Dropout",), "a", "ml.md"),
        term(("Dropout", "ドロップアウト"), "b", "ml.md"),
        term(("Dropout",), "c", "dl.md"),
        term(("Dropout",), "d", "ml.md"),
    ]
    assert term_ids(terms) == ["ml.md::Dropout", "ml.md::Dropout~2", "dl.md::Dropout", "ml.md::Dropout~3"]
    assert [c.id for c in chunk_terms(terms)] == [
        "ml.md::Dropout#0",
        "ml.md::Dropout~2#0",
        "dl.md::Dropout#0",
        "ml.md::Dropout~3#0",
    ]


# -- runaway input (issue 16): hundreds of aliases, a whole book under one heading ---------------------

ALIASES = ("ドロップアウト", "Dropout", *(f"dropout variant {i} 別名{i}" for i in range(300)))
BODY = "\n".join(f"- 学習時にユニットをランダムに無効化する正則化手法 {i}。" for i in range(8))


def test_the_names_a_chunk_carries_are_bounded_and_the_body_stays_visible() -> None:
    settings = ChunkSettings(max_tokens=512)
    chunks = chunk_terms([term(ALIASES, BODY)], settings)
    assert len(chunks) == 1  # the body fits one window beside the bounded header
    header, _, piece = chunks[0].text.partition("\n")
    assert header.startswith("ドロップアウト | Dropout | dropout variant 0 別名0 | ")
    assert estimate_tokens(header) <= settings.max_tokens // 4
    assert piece == BODY
    assert estimate_tokens(chunks[0].text) <= settings.max_tokens


def test_a_thousand_aliases_do_not_multiply_the_chunks() -> None:
    many = ("過学習", *(f"別名{i}" for i in range(1000)))
    assert len(chunk_terms([term(many, BODY)])) == len(chunk_terms([term(("過学習",), BODY)]))


def test_a_single_name_longer_than_the_header_limit_is_cut() -> None:
    name = "とても長い名前" * 100
    [chunk] = chunk_terms([term((name,), "- 本文。")], ChunkSettings(max_tokens=128), count_tokens=len)
    header, _, piece = chunk.text.partition("\n")
    assert header == name[:32] and piece == "- 本文。"


def test_a_runaway_entry_is_embedded_only_as_far_as_max_chunks_with_a_warning(caplog) -> None:
    book = "\n".join(f"- 段落{i}: " + "説明文" * 30 for i in range(2000))
    with caplog.at_level("WARNING", logger="semsearch"):
        chunks = chunk_terms([term(("本",), book, line=7)], ChunkSettings(max_tokens=128, max_chunks=5))
    assert [c.part for c in chunks] == [0, 1, 2, 3, 4]
    assert chunks[0].text.startswith("本\n- 段落0: ")
    [record] = caplog.records
    assert record.getMessage().startswith("g.md:7: the entry '本' is too long: only its first 5 pieces are embedded")


def test_an_entry_within_max_chunks_gives_no_warning(caplog) -> None:
    with caplog.at_level("WARNING", logger="semsearch"):
        chunks = chunk_terms([term(("長い用語",), LONG_BODY)], ChunkSettings(max_tokens=128, max_chunks=10))
    assert len(chunks) == 10 and not caplog.records


@pytest.mark.slow
def test_a_50_mb_entry_is_never_tokenized_whole() -> None:
    longest = 0

    def count(text: str) -> int:
        nonlocal longest
        longest = max(longest, len(text))
        return estimate_tokens(text)

    huge = "- Dropout randomly zeroes units during training.\n" * 1_000_000  # 50 MB
    chunks = chunk_terms([term(("Huge",), huge)], ChunkSettings(max_tokens=512, max_chunks=32), count_tokens=count)
    assert len(chunks) == 32
    assert longest <= 32 * 512 * 8


def test_chunk_settings_refuse_nonsense() -> None:
    import pytest

    for bad in ({"max_chunks": 0}, {"max_tokens": -1}, {"max_chunks": "3"}):
        with pytest.raises(ValueError, match="must be a positive integer"):
            ChunkSettings(**bad)
