"""Text normalisation shared by parsing, indexing, querying and evaluation.

Everything that compares strings goes through here, so that "Ｄｒｏｐｏｕｔ", "dropout" and
"ドロップアウト"/"どろっぷあうと" are compared the same way everywhere.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "plain",
    "normalize",
    "fold_kana",
    "name_key",
    "clean_query",
    "has_content",
    "lexical_features",
    "latin_words",
    "is_cjk",
    "safe_text",
    "safe_line",
    "match_spans",
]

_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width, compatibility forms), case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


# Small kana as their full-size forms, after katakana -> hiragana: an IME slip writes シヨン for ション.
_SMALL_KANA = str.maketrans("ぁぃぅぇぉっゃゅょゎゕゖ", "あいうえおつやゆよわかけ")


def fold_kana(text: str) -> str:
    """Katakana -> hiragana and small kana -> full size: カタカナ and かたかな compare equal, and so
    do ション and シヨン."""
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text).translate(_SMALL_KANA)


# Separators people write or omit at will inside names: "Fine-tuning", "fine tuning", "ファイン・チューニング".
_NAME_NOISE = re.compile(r"[\s\-_‐‑–—・･/.,()（）「」『』\"'`]+")


def name_key(text: str) -> str:
    """The key under which two names count as the same name (name tier, `show`, eval gold)."""
    return _NAME_NOISE.sub("", fold_kana(normalize(text)))


# Question framing that carries no meaning. Applied to normalised text (NFKC, case-folded),
# repeatedly, and only while something is left. Japanese framing is a suffix built from a few parts
# that people combine freely: "って何", "って何のことですか", "とはどういう意味", "について教えてください".
_JA_PLEASE = r"(?:ください|くれ|ほしい|欲しい|下さい)?"
# Endings repeated ("何ですかですか") are matched a few at a time and stripped pass after pass, so
# that no match is longer than _JA_SUFFIX_WIDTH characters: a pass then looks at the end of the
# text only, and cleaning stays linear in the question's length (tests/test_linear_text.py).
_JA_MORE = "{0,4}"
_JA_SUFFIX = re.compile(
    r"(?:"
    r"(?:って|とは|は)(?:一体)?(?:何|なに|なん)(?:のこと|の事|だっけ|ですか|でしょうか|でしょう|なの|なのか|か|だ)"
    + _JA_MORE
    + r"|(?:って|とは)(?:どういう|どんな)(?:意味|こと|もの)(?:ですか|でしょうか|なの|か|だ)"
    + _JA_MORE
    + r"|の(?:意味|定義|説明)(?:を(?:教えて|おしえて)"
    + _JA_PLEASE
    + r"|は|とは)?"
    r"|(?:について|を)(?:詳しく|簡単に)?(?:教えて|おしえて|知りたい|説明して)" + _JA_PLEASE + r"|について|とは|ですか"
    r")$"
)
#: The longest text _JA_SUFFIX matches (a test checks it against the pattern).
_JA_SUFFIX_WIDTH = 28
_JA_PREFIXES = ("教えて", "おしえて")
_EN_PREFIXES = (
    "what exactly is ",
    "what is meant by ",
    "what is an ",
    "what is a ",
    "what is the ",
    "what is ",
    "what's an ",
    "what's a ",
    "what's the ",
    "what's ",
    "whats ",
    "what are ",
    "what does ",
    "what do you mean by ",
    "can you explain ",
    "could you explain ",
    "please explain ",
    "explain to me ",
    "definition of ",
    "define ",
    "meaning of ",
    "explain ",
    "tell me about ",
    "i want to know about ",
    "describe ",
)
_EN_SUFFIXES = (" mean", " stand for", " means")
_TRAILING_PUNCT = "?？!！。．.、,，:： "


def clean_query(query: str) -> str:
    """Strip question framing ("とは", "って何", "what is", "?") from a normalised query.

    Returns the normalised query with framing removed; if nothing would be left, the
    normalised query itself. Linear in the length of the query: each pass strips some framing
    and looks only at what it strips (the text is cut once, at the end).
    """
    text = normalize(query)
    start, end = 0, len(text)
    while True:
        s, e = start, _rstrip(text, start, end)
        # The leftmost framing suffix that ends the text: it starts within its last _JA_SUFFIX_WIDTH characters.
        match = _JA_SUFFIX.search(text, max(s, e - _JA_SUFFIX_WIDTH), e)
        if match and match.start() > s:
            e = _rstrip(text, s, match.start())
        for prefix in _PREFIXES.get(text[s : s + 1], ()):
            if e - s > len(prefix) and text.startswith(prefix, s, e):
                s = _lstrip(text, s + len(prefix), e)
                break
        for suffix in _SUFFIXES.get(text[e - 1 : e], ()):
            if e - s > len(suffix) and text.endswith(suffix, s, e):
                e = _rstrip(text, s, e - len(suffix))
                break
        if s >= e or (s, e) == (start, end):  # nothing left would be left, or nothing more to strip
            return text[start:end]
        start, end = s, e


def _by_char(words: tuple[str, ...], at: int) -> dict[str, tuple[str, ...]]:
    """`words` by their first (at=0) or last (at=-1) character, in their order: a pass tries only those."""
    grouped: dict[str, tuple[str, ...]] = {}
    for word in words:
        grouped[word[at]] = (*grouped.get(word[at], ()), word)
    return grouped


_PREFIXES = _by_char(_JA_PREFIXES + _EN_PREFIXES, 0)
_SUFFIXES = _by_char(_EN_SUFFIXES, -1)


def _rstrip(text: str, start: int, end: int) -> int:
    """The end of `text[start:end]` with trailing punctuation and spaces stripped."""
    while end > start and text[end - 1] in _TRAILING_PUNCT:
        end -= 1
    return end


def _lstrip(text: str, start: int, end: int) -> int:
    """The start of `text[start:end]` with leading punctuation and spaces stripped."""
    while start < end and text[start] in _TRAILING_PUNCT:
        start += 1
    return start


def has_content(query: str) -> bool:
    """Whether a question holds anything to search for, once its framing is stripped: a kanji (鍵),
    a word of two different kana, a letter of another script (α), or a Latin token that is a word
    (two different letters, not letter soup: `_soup`; an upper-case acronym always is), a name with
    digits in it (x86, F1, H100, 5G, k8s) or a language (C++, C#). Punctuation, symbols, emoji, a
    bare number, one letter repeated ("aaaa"), single letters among symbols (a regular expression:
    ".*+?[](){}^$|\\d", where even "z0" is a range's end), keyboard runs ("asdfghjkl") or a framing
    word alone ("とは", "what is") hold nothing."""
    text = clean_query(query).rstrip(_TRAILING_PUNCT)
    if _JA_SUFFIX.fullmatch(text) or text in _JA_PREFIXES or f"{text} " in _EN_PREFIXES:
        return False
    letters = {c for c in text if c.isalpha()}
    if any(is_cjk(c) for c in letters):
        return len(letters) >= 2 or any(_ideograph(c) for c in letters)
    if any(not _latin_letter(c) for c in letters):
        return True
    acronyms = {w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", query)) if w.isupper()}
    symbols = sum(not c.isalnum() and not c.isspace() for c in text)
    alnum = sum(c.isalnum() for c in text)
    return any(_word_like(token, acronyms, symbols > alnum) for token in _TOKEN.findall(text))


# A word, in any alphabet but Japanese (letters only).
_WORD = re.compile(r"[^\W\d_]+")
# A Latin token: letters and digits, and the "++" or "#" of a language's name.
_TOKEN = re.compile(r"[^\W_]+(?:\+\+|#)?")


def _ideograph(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def _latin_letter(char: str) -> bool:
    return char.isascii() or unicodedata.name(char, "").startswith("LATIN")


def _word_like(token: str, acronyms: set[str], among_symbols: bool) -> bool:
    """Whether one Latin token (case-folded) is something to search for (`has_content`)."""
    if token.endswith(("++", "#")):
        return any(c.isalpha() for c in token)
    letters = [c for c in token if c.isalpha()]
    if not letters:
        return False
    if len(letters) < len(token):  # digits in it: a name such as x86, H100, k8s, unless a regex range
        return len(token) >= 2 and not among_symbols
    return len(set(letters)) >= 2 and (token in acronyms or not _soup(token))


_VOWELS = frozenset("aeiouyàáâäèéêëìíîïòóôöùúûüÿ")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _soup(word: str) -> bool:
    """Whether a lower-case word is letter soup rather than a word: five or more letters with seven
    consonants in a row, a run of five along a keyboard row, or a short pattern repeated
    ("abcabcabc"). Upper-case acronyms are the caller's to spare ("HTTPS", "SGD")."""
    if len(word) < 5:
        return False
    run = longest = 0
    for char in word:
        run = run + 1 if char.isascii() and char not in _VOWELS else 0
        longest = max(longest, run)
    if longest >= 7:
        return True
    if any(
        word[i : i + 5] in row or word[i : i + 5] in row[::-1] for row in _KEYBOARD_ROWS for i in range(len(word) - 4)
    ):
        return True
    return len(word) >= 6 and any(word == (word[:p] * (len(word) // p + 1))[: len(word)] for p in (1, 2, 3))


def is_cjk(char: str) -> bool:
    """Han, hiragana, katakana (incl. the long-vowel mark) and CJK symbols."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # CJK ext A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x31F0 <= code <= 0x31FF  # katakana phonetic extensions
    )


_LATIN_WORD = re.compile(r"[0-9a-z\u00c0-\u024f]+")
_STOPWORDS = frozenset(
    "a an the of to in on for and or is are was be by with as at it its this that what how why "
    "when which do does i my me we you can should from into".split()
)


def _stem(word: str) -> str:
    # Light plural folding only: "networks" ~ "network", "gans" ~ "gan"; no stemmer dependency.
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def lexical_features(text: str) -> list[str]:
    """Features for the TF-IDF side: Latin words and CJK character bigrams.

    Char bigrams because Japanese has no spaces and we want no tokenizer dependency;
    katakana is folded to hiragana so both spellings share features.
    """
    norm = fold_kana(normalize(text))
    features: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) == 1:
            features.append(run[0])
        else:
            features.extend(run[i] + run[i + 1] for i in range(len(run) - 1))
        run.clear()

    latin_start = 0
    for i, char in enumerate(norm):
        if is_cjk(char):
            if i > latin_start:
                features.extend(_latin_words(norm[latin_start:i]))
            run.append(char)
            latin_start = i + 1
        elif run:
            flush()
    if run:
        flush()
    features.extend(_latin_words(norm[latin_start:]))
    return features


def _latin_words(text: str) -> list[str]:
    return [_stem(w) for w in _LATIN_WORD.findall(text) if w not in _STOPWORDS]


def latin_words(text: str, stem: bool = True) -> list[str]:
    """The Latin words of a text as the TF-IDF side sees them (normalised, stop words out, plurals
    folded unless `stem` is false)."""
    words = [w for w in _LATIN_WORD.findall(normalize(text)) if w not in _STOPWORDS]
    return [_stem(w) for w in words] if stem else words


# Characters that reorder what a terminal shows (bidi embeddings, overrides, isolates and marks):
# U+202E makes "evil\u202egpj.md" look like "evilmd.jpg".
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# C0/C1 control characters and the escape sequences they start; kept out of anything printed.
_CONTROL = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")
# In one line (a name, a path, a question, a message) newlines and tabs are controls too.
_LINE_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029{_BIDI}]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def safe_text(text: str) -> str:
    """Text with control characters (terminal escapes, bidi overrides) replaced, for printing the
    body of an entry: newlines and tabs stay."""
    return _CONTROL.sub("\ufffd", text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def safe_line(text: str) -> str:
    """One line as it may be printed: every control character (newlines and tabs included) and
    every bidi control shown as its escape (`\\n`, `\\x1b`, `\\u202e`), so that a file named
    "evil\\nerror: fake.md" cannot forge a line of output, nor reorder one."""
    return _LINE_CONTROL.sub(_escape, text)


def _char_key(char: str) -> str:
    return fold_kana(normalize(char)) if char.strip() else ""


def match_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Character spans of `text` that match the query: shared CJK character bigrams (or a shared
    single CJK character when the query has only one) and shared Latin words. Spans are merged."""
    features = set(lexical_features(query))
    marked = [False] * len(text)
    keys = [_char_key(c) for c in text]
    for i in range(len(text)):
        if not keys[i] or not is_cjk(keys[i][0]):
            continue
        if i + 1 < len(text) and keys[i + 1] and keys[i] + keys[i + 1] in features:
            marked[i] = marked[i + 1] = True
        elif keys[i] in features:
            marked[i] = True
    for match in re.finditer(r"[0-9A-Za-z\u00c0-\u024f\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+", text):
        words = _latin_words(normalize(match.group(0)))
        if words and words[0] in features:
            marked[match.start() : match.end()] = [True] * (match.end() - match.start())
    spans: list[tuple[int, int]] = []
    for i, on in enumerate(marked):
        if on and spans and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + 1)
        elif on:
            spans.append((i, i + 1))
    return spans


def plain(message: str) -> str:
    """A message as one line of console text: control and bidi characters escaped, no markup."""
    return safe_line(message).replace("[", "\\[")
