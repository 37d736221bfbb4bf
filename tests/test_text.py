"""text.py: the normalisation every comparison goes through."""

from __future__ import annotations

import pytest

from semsearch.text import (
    clean_query,
    fold_kana,
    has_content,
    lexical_features,
    match_spans,
    name_key,
    normalize,
    safe_text,
)


def test_normalize_nfkc_width_case_and_spaces() -> None:
    assert normalize("  Ｄｒｏｐ　ＯＵＴ\n\tx ") == "drop out x"
    assert normalize("ｶﾀｶﾅ") == "カタカナ"  # half-width katakana -> full-width
    assert normalize("Ｒｅｌｕ（１）") == "relu(1)"


def test_fold_kana_maps_katakana_to_hiragana_and_small_kana_to_full_size() -> None:
    assert fold_kana("カタカナ") == "かたかな"
    assert fold_kana("ドロップアウト") == fold_kana("ドロツプアウト") == "どろつぷあうと"
    assert fold_kana("ハルシネーション") == fold_kana("ハルシネーシヨン")  # an IME slip
    assert fold_kana("漢字 ABC ー") == "漢字 ABC ー"  # kanji, Latin and the long-vowel mark stay


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Fine-tuning", "fine tuning"),
        ("Fine-tuning", "ＦＩＮＥ＿ＴＵＮＩＮＧ"),
        ("ファイン・チューニング", "ふぁいんちゅーにんぐ"),
        ("ファインチューニング", "ﾌｧｲﾝﾁｭｰﾆﾝｸﾞ"),
        ("Self-supervised Learning", "self supervised learning"),
        ("「過学習」", "過学習"),
        ("ハルシネーション", "ハルシネーシヨン"),
    ],
)
def test_name_key_ignores_separators_width_case_and_kana(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


def test_name_key_keeps_different_names_apart() -> None:
    assert name_key("学習率") != name_key("学習")
    assert name_key("GAN") != name_key("GANs")


@pytest.mark.parametrize(
    ("query", "cleaned"),
    [
        ("勾配消失とは", "勾配消失"),
        ("勾配消失とは？", "勾配消失"),
        ("勾配消失って何", "勾配消失"),
        ("勾配消失って何？", "勾配消失"),
        ("勾配消失について教えて", "勾配消失"),
        ("コーパスって何のこと？", "コーパス"),
        ("勾配消失とは何ですか", "勾配消失"),
        ("過学習ってどういう意味ですか", "過学習"),
        ("ドロップアウトについて詳しく教えてください", "ドロップアウト"),
        ("学習率の意味を教えて", "学習率"),
        ("バッチサイズって何だっけ？", "バッチサイズ"),
        ("GANって一体何なの？", "gan"),
        ("転移学習は何ですか", "転移学習"),
        ("BERTを簡単に説明して", "bert"),
        ("can you explain dropout?", "dropout"),
        ("What do you mean by epoch?", "epoch"),
        ("What is dropout?", "dropout"),
        ("what is the learning rate?", "learning rate"),
        ("define overfitting", "overfitting"),
        ("Define Overfitting?", "overfitting"),
        ("学習率？", "学習率"),
        ("dropout?", "dropout"),
        ("  Ｄｒｏｐｏｕｔ  ", "dropout"),
    ],
)
def test_clean_query_strips_framing(query: str, cleaned: str) -> None:
    assert clean_query(query) == cleaned


def test_framed_and_bare_questions_clean_alike() -> None:
    assert clean_query("勾配消失とは") == clean_query("勾配消失") == "勾配消失"
    assert clean_query("What is Dropout?") == clean_query("dropout")


@pytest.mark.parametrize(
    ("query", "kept"), [("とは", "とは"), ("what is", "what is"), ("?", "?"), ("とはとは", "とは")]
)
def test_clean_query_keeps_the_query_when_nothing_would_be_left(query: str, kept: str) -> None:
    assert clean_query(query) == kept


def test_clean_query_keeps_meaningful_words() -> None:
    assert clean_query("how does backpropagation compute gradients") == "how does backpropagation compute gradients"
    assert clean_query("過学習を防ぐには") == "過学習を防ぐには"


def test_lexical_features_cjk_bigrams_latin_words_stopwords_plurals() -> None:
    assert lexical_features("勾配消失の問題 and Neural Networks of GANs, the policies ss class") == [
        "勾配", "配消", "消失", "失の", "の問", "問題",
        "neural", "network", "gan", "policy", "ss", "class",
    ]  # fmt: skip


def test_lexical_features_fold_kana_and_single_characters() -> None:
    assert lexical_features("ドロップアウト") == lexical_features("どろっぷあうと") == [
        "どろ", "ろつ", "つぷ", "ぷあ", "あう", "うと",
    ]  # fmt: skip
    assert lexical_features("学") == ["学"]  # a lone CJK character is its own feature
    assert lexical_features("ReLU関数") == ["relu", "関数"]  # mixed text: features in text order
    assert lexical_features("the of what is") == []


def test_match_spans_japanese_bigrams_and_latin_words() -> None:
    text = "勾配が小さくなる Dropout 手法"
    assert match_spans(text, "勾配の dropout") == [(0, 2), (9, 16)]
    assert [text[a:b] for a, b in match_spans(text, "勾配の dropout")] == ["勾配", "Dropout"]


def test_match_spans_merges_adjacent_bigrams_and_folds_kana() -> None:
    text = "学習時にドロップアウトを使う"
    spans = match_spans(text, "どろっぷあうと")
    assert [text[a:b] for a, b in spans] == ["ドロップアウト"]


def test_match_spans_single_character_query_and_no_match() -> None:
    assert match_spans("重みと勾配", "重") == [(0, 1)]
    assert match_spans("重みと勾配", "dropout") == []


def test_safe_text_replaces_escapes_keeps_tabs_and_newlines() -> None:
    assert safe_text("a\x1b[31mred\x07 b\tc\nd\x9bx") == "a\ufffd[31mred\ufffd b\tc\nd\ufffdx"
    assert "\x1b" not in safe_text("\x1b]8;;http://x\x1b\\")


@pytest.mark.parametrize(
    "question",
    ["x86", "what is x86", "C++", "C#", "F1", "L2", "H100", "5G", "3D", "S3", "k8s", "i18n", "α", "鍵", "型とは"],
)
def test_names_with_digits_signs_one_kanji_or_another_script_hold_something_to_search(question: str) -> None:
    assert has_content(question)


@pytest.mark.parametrize("question", ["^[a-z0-9._%+-]+@[a-z]+\\.[a-z]{2,}$", "ああああ", "q", "１２３４５"])
def test_a_range_of_a_regular_expression_or_one_kana_repeated_holds_nothing(question: str) -> None:
    assert not has_content(question)  # "z0" among symbols is a range's end, not a name as x86
