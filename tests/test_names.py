"""names.py: the name tier's lookup, exact (normalised) and forgiving one typo."""

from __future__ import annotations

import pytest

from semsearch.corpus import Term
from semsearch.names import FUZZY_MAX_CHARS, NameIndex


def index(*names: tuple[str, ...]) -> NameIndex:
    return NameIndex([Term(n, "", "g.md", i + 1) for i, n in enumerate(names)])


TERMS = index(
    ("ドロップアウト", "Dropout"),  # 0
    ("ハイパーパラメータ", "Hyperparameter"),  # 1
    ("誤差逆伝播法", "バックプロパゲーション", "Backpropagation"),  # 2
    ("ファインチューニング", "Fine-tuning"),  # 3
    ("Dropout",),  # 4: the same name in another entry
    ("学習率", "Learning Rate"),  # 5
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dropout", [0, 4]),
        ("ＤＲＯＰＯＵＴ", [0, 4]),
        ("どろっぷあうと", [0]),
        ("ﾄﾞﾛｯﾌﾟｱｳﾄ", [0]),
        ("fine tuning", [3]),
        ("ファイン・チューニング", [3]),
        ("  learning   rate ", [5]),
        ("バックプロパゲーション", [2]),
    ],
)
def test_exact_is_case_width_kana_and_separator_insensitive(query: str, expected: list[int]) -> None:
    assert TERMS.exact(query) == expected
    assert TERMS.tier(query) == expected


def test_exact_misses_partial_names() -> None:
    assert TERMS.exact("学習") == []
    assert TERMS.exact("drop") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ハイパパラメータ", [1]),  # one character missing
        ("backpropogation", [2]),  # one character wrong
        ("learning rat", [5]),
        ("Hyperparamter", [1]),
    ],
)
def test_one_typo_matches_fuzzily(query: str, expected: list[int]) -> None:
    assert TERMS.exact(query) == []
    assert TERMS.fuzzy(query) == expected
    assert TERMS.tier(query) == expected


def test_exact_wins_over_a_fuzzy_neighbour() -> None:
    names = index(("batch",), ("batchs",))
    assert names.tier("batch") == [0]
    assert names.tier("batchs") == [1]
    assert names.fuzzy("batch") == []  # an exact name is never also a fuzzy match


def test_equally_close_names_give_no_fuzzy_match() -> None:
    names = index(("abcdef",), ("abcdeg",))
    assert names.fuzzy("abcdex") == []  # Dice 0.8 to both: let the scores decide
    assert names.fuzzy("abcdeff") == [0]  # closer to one of them


def test_sentences_and_distant_words_are_not_fuzzy_matches() -> None:
    assert TERMS.fuzzy("what is the learning rate of the network") == []
    long_typo = "Backpropagation Algorithmm"
    long_names = index(("Backpropagation Algorithm",))
    assert len(long_typo) > FUZZY_MAX_CHARS
    assert long_names.fuzzy(long_typo) == []  # however close, a long question is not a misspelt name
    assert TERMS.fuzzy("dropuot") == []  # two wrong characters in seven: too far
    assert TERMS.fuzzy("RNN") == []
    assert TERMS.fuzzy("") == [] and TERMS.fuzzy("   ") == []


# -- by sound: katakana questions against English names ------------------------------------------

SOUNDS = index(
    ("深層学習", "Deep Learning"),  # 0
    ("転移学習", "Transfer Learning"),  # 1
    ("SentencePiece",),  # 2
    ("プーリング", "Pooling"),  # 3
    ("枝刈り", "Pruning"),  # 4: "pruning" and "pooling" sound alike once vowels are gone
    ("Deep Learning",),  # 5: the same name in another entry
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ディープラーニング", [0, 5]),
        ("ディープ・ラーニング", [0, 5]),
        ("センテンスピース", [2]),
        ("トランスファーラーニング", [1]),
    ],
)
def test_a_katakana_word_finds_the_english_name_it_sounds_like(query: str, expected: list[int]) -> None:
    assert SOUNDS.sounds_like(query) == expected
    assert SOUNDS.tier(query) == expected


def test_sound_alike_names_are_all_named() -> None:
    """ "プルーニング" sounds like both Pruning and Pooling here: both are named, the scores decide."""
    assert SOUNDS.sounds_like("プルーニング") == [3, 4]


@pytest.mark.parametrize(
    "query",
    [
        "ディープラーニングとは何か",  # a sentence, not a loanword
        "ふかいがくしゅう",  # hiragana: a Japanese word
        "クベルネテス",  # a loanword of a term the glossary does not have
        "deep learning",  # not katakana (the exact tier's business)
    ],
)
def test_other_questions_are_not_matched_by_sound(query: str) -> None:
    assert SOUNDS.sounds_like(query) == []


def test_exact_and_typo_tiers_come_before_sound() -> None:
    names = index(("ディープラーニング",), ("Deep Learning",))  # 0 is the katakana name itself
    assert names.tier("ディープラーニング") == [0]
