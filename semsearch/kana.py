"""Katakana loanwords against English names: "ディープラーニング" sounds like "Deep Learning".

Japanese users write English terms in katakana as often as in English, and a glossary rarely lists
every katakana form. Both spellings are reduced to a rough consonant skeleton in one alphabet:
katakana by the consonant of each mora, English by a handful of spelling rules for how Japanese
renders English sounds (l → r, v → b, th → s, "tion" → ション, a non-final "r" after a vowel is a long
vowel: "learning" → ラーニング). Vowels are dropped: katakana adds them, English spells them
unpredictably. Two skeletons are compared by Dice on symbol bigrams (see names.py).
"""

from __future__ import annotations

import re

__all__ = ["is_katakana_word", "kana_key", "latin_key"]

# Consonant symbol per kana (hiragana is folded to katakana first). "S" = sh, "C" = ch.
_ROWS = {
    "": "アイウエオァィゥェォヲヰヱー・ッ",
    "k": "カキクケコヵヶ",
    "g": "ガギグゲゴ",
    "s": "サスセソザズゼゾヅ",
    "S": "シ",
    "j": "ジヂ",
    "t": "タテト",
    "C": "チ",
    "d": "ダデド",
    "n": "ナニヌネノン",
    "h": "ハヒヘホ",
    "f": "フ",
    "b": "バビブベボヴ",
    "p": "パピプペポ",
    "m": "マミムメモ",
    "y": "ヤユヨ",
    "r": "ラリルレロ",
    "w": "ワ",
}
_KANA = {kana: symbol for symbol, row in _ROWS.items() for kana in row}
_KANA["ツ"] = "ts"
_SMALL_Y = set("ャュョ")  # after a consonant: キャ is "k", not "ky" (コンピューター ~ computer)
_SMALL_VOWELS = set("ァィゥェォ")
_KATAKANA_WORD = re.compile(r"[\u30a1-\u30fa\u30fc\u30fb\s]+")


def is_katakana_word(text: str) -> bool:
    """Katakana only (with ー, ・ and spaces): the shape of a loanword, not a sentence."""
    return bool(_KATAKANA_WORD.fullmatch(text)) and len(text.strip()) >= 3


def _to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)


def kana_key(text: str) -> str:
    """The consonant skeleton of a katakana (or hiragana) word."""
    kana = [c for c in _to_katakana(text) if not c.isspace()]
    out: list[str] = []
    for i, c in enumerate(kana):
        following = kana[i + 1] if i + 1 < len(kana) else ""
        if c == "ウ" and following in _SMALL_VOWELS:
            out.append("w")  # ウィ, ウェ, ウォ: wi, we, wo
        elif c == "ン" and following and _KANA.get(following, "") in ("p", "b", "m"):
            out.append("m")  # ジャンプ ~ jump
        elif c in _SMALL_Y:
            if i == 0 or _KANA.get(kana[i - 1], "") == "":
                out.append("y")
        else:
            out.append(_KANA.get(c, ""))
    return _collapse("".join(out))


# English spelling -> the same symbols, longest match first. Applied to lowercase letters only.
_LATIN_RULES = [
    ("tion", "Sn"),
    ("sion", "Sn"),
    ("tch", "C"),
    ("dge", "j"),
    ("sh", "S"),
    ("ch", "C"),
    ("ph", "f"),
    ("th", "s"),
    ("ck", "k"),
    ("qu", "kw"),
    ("wh", "w"),
    ("gh", ""),  # through, high
    ("tu", "C"),  # feature, mixture, tutorial: チャー, チュー
    ("x", "ks"),
]
_RULES_BY_LETTER: dict[str, list[tuple[str, str]]] = {}
for _spelling, _symbols in _LATIN_RULES:
    _RULES_BY_LETTER.setdefault(_spelling[0], []).append((_spelling, _symbols))
_VOWELS = set("aeiouy")


def latin_key(text: str) -> str:
    """The consonant skeleton of an English word or phrase, as Japanese would render it."""
    text = re.sub(r"\([^)]*\)", " ", text.lower())  # "Mixture of Experts (MoE)": the parenthesis is an aside
    return _collapse("".join(_word_key(word) for word in re.findall(r"[a-z]+", text)))


def _word_key(s: str) -> str:
    if s == "of":
        return "b"  # オブ
    if len(s) > 3 and s.endswith("re") and s[-3] in _VOWELS:
        s = s[:-2]  # mixture, hardware, core: チャー, ウェア, コア
    out: list[str] = []
    i = 0
    while i < len(s):
        for spelling, symbols in _RULES_BY_LETTER.get(s[i], ()):
            if s.startswith(spelling, i):
                out.append(symbols)
                i += len(spelling)
                break
        else:
            c = s[i]
            after = s[i + 1] if i + 1 < len(s) else ""
            before = s[i - 1] if i else ""
            if c in _VOWELS:
                pass
            elif c == "r" and before in _VOWELS and after not in _VOWELS:
                pass  # "learning", "expert", "transformer": a long vowel in katakana
            elif c in "wh" and before in _VOWELS:
                pass  # "low", "ah"
            elif c == "c":
                out.append("s" if after in "eiy" and after else "k")
            elif c == "g" and after in "eiy" and after:
                out.append("j")  # generative, engine, large
            else:
                out.append({"l": "r", "v": "b", "z": "s", "q": "k"}.get(c, c))
            i += 1
    return "".join(out)


def _collapse(key: str) -> str:
    """Doubled symbols once: "ll", "ss", ッ-doubled consonants and "nn" (ン + ナ) say the same."""
    return re.sub(r"(.)\1+", r"\1", key)
