"""kana.py: katakana loanwords and English spellings reduce to the same consonant skeleton."""

from __future__ import annotations

import pytest

from semsearch.kana import is_katakana_word, kana_key, latin_key


@pytest.mark.parametrize(
    ("katakana", "english"),
    [
        ("ディープラーニング", "Deep Learning"),  # ディ, long vowels, "r" after a vowel, l -> r
        ("センテンスピース", "SentencePiece"),  # soft c
        ("ミクスチャーオブエキスパーツ", "Mixture of Experts (MoE)"),  # x, "ture", "of", an aside
        ("ラージランゲージモデル", "Large Language Model"),  # soft g
        ("アテンション", "Attention"),  # -tion
        ("バックプロパゲーション", "Backpropagation"),  # ck, ッ
        ("ファインチューニング", "Fine-tuning"),  # ファ, "tu"
        ("オーバーフィッティング", "Overfitting"),  # v -> b
        ("コンピューター", "computer"),  # ン before p, small ュ
        ("ソフトウェア", "Software"),  # ウェ, final "re"
        ("スループット", "throughput"),  # th, gh
    ],
)
def test_a_loanword_and_its_english_name_share_a_skeleton(katakana: str, english: str) -> None:
    assert kana_key(katakana) == latin_key(english)


@pytest.mark.parametrize(
    ("katakana", "english"),
    [("トランスフォーマー", "Transfer Learning"), ("ドロップアウト", "Dropconnect"), ("プーリング", "Padding")],
)
def test_different_words_keep_different_skeletons(katakana: str, english: str) -> None:
    assert kana_key(katakana) != latin_key(english)


def test_hiragana_reads_like_katakana() -> None:
    assert kana_key("でぃーぷらーにんぐ") == kana_key("ディープラーニング")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ディープラーニング", True),
        ("ミクスチャー・オブ・エキスパーツ", True),
        ("ラージ ランゲージ モデル", True),
        ("ディープラーニングとは", False),  # a sentence around a loanword
        ("勾配消失", False),
        ("でぃーぷ", False),  # hiragana: Japanese words, not loanwords
        ("deep learning", False),
        ("ア", False),  # too short to say anything
    ],
)
def test_is_katakana_word(text: str, expected: bool) -> None:
    assert is_katakana_word(text) is expected
