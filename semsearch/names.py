"""Finding terms by name: exact (after normalisation), forgiving one typo, and by sound; and which
entries are one term.

The name tier of the query layer: a question that *is* a term's name or alias puts that term
first. Names compare by `text.name_key` (NFKC, case, width, katakana/hiragana, separators). A short
question that misses every name by about one character ("ハイパパラメータ", "backpropogation")
matches the single name whose character bigrams it shares most (Dice >= FUZZY_MIN_DICE). A katakana
question that sounds like an English name ("ディープラーニング" → "Deep Learning") matches it by
consonant skeleton (kana.py; Dice >= SOUND_MIN_DICE).

Entries that share a name (after normalisation) are one term: a glossary of several files often
defines 過学習 | Overfitting in two of them. `NameIndex.groups` joins them, transitively, unless
their other names conflict: `正規化 | Regularization` and `正規化 | Normalization` are two concepts
that share a Japanese name (homonyms), and stay two terms (`conflicting`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from .corpus import Term
from .kana import is_katakana_word, kana_key, latin_key
from .text import is_cjk, latin_words, name_key

__all__ = ["NameIndex", "conflicting", "FUZZY_MIN_DICE", "FUZZY_MAX_CHARS", "SLIP_CHARS", "SOUND_MIN_DICE"]

#: One wrong character in a 6-character name gives Dice 0.8 on character bigrams.
FUZZY_MIN_DICE = 0.8
#: Only name-like questions are matched fuzzily; longer ones are sentences, not misspelt names.
FUZZY_MAX_CHARS = 20
#: "Did you mean" offers names one edit away per this many characters: a slip, not a neighbour in meaning.
SLIP_CHARS = 5
#: Katakana against English skeletons: on the dev halves every katakana rendering of an English name
#: matched its skeleton exactly (1.0), and the nearest other name stayed below 0.75.
SOUND_MIN_DICE = 0.8


def _bigrams(key: str) -> set[str]:
    return {key[i : i + 2] for i in range(len(key) - 1)} or {key}


def _dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b))


def _edits(a: str, b: str) -> int:
    """Edits between two short strings: insertions, deletions, substitutions, and two neighbours
    swapped ("dropuot"), one each (optimal string alignment distance)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i]
        for j in range(1, len(b) + 1):
            cost = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cost = min(cost, rows[i - 2][j - 2] + 1)
            row.append(cost)
        rows.append(row)
    return rows[-1][-1]


def _latin(name: str) -> bool:
    """A name in Latin script (no Japanese in it): the names that tell two concepts apart."""
    return any("a" <= c <= "z" for c in name.lower()) and not any(is_cjk(c) for c in name)


def _initials(name: str) -> str:
    return "".join(word[0] for word in latin_words(name, stem=False))


def _compatible(a: str, b: str) -> bool:
    """Whether two Latin names may name one concept: one holds the other ("Speech Recognition",
    "Automatic Speech Recognition"), they share a word ("ROC Curve", "Receiver Operating
    Characteristic Curve"), one abbreviates the other ("SVM", "Support Vector Machine"), or they
    differ by a spelling slip."""
    ka, kb = name_key(a), name_key(b)
    if ka in kb or kb in ka:
        return True
    if set(latin_words(a)) & set(latin_words(b)):
        return True
    if ka in (_initials(b), _initials(b).rstrip("s")) or kb in (_initials(a), _initials(a).rstrip("s")):
        return True
    return _dice(_bigrams(ka), _bigrams(kb)) >= FUZZY_MIN_DICE


def conflicting(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two entries that share only Japanese names say by their Latin names that they are
    different concepts: each has a Latin name the other lacks, and none of those of one may name
    what one of the other's does (`_compatible`). A Japanese word often translates two English
    terms (正規化: Regularization, Normalization); a shared English name is specific enough to be
    one concept. Japanese names are not compared: spellings vary too freely (トークン化, トークナイゼーション)."""
    keys_a, keys_b = {name_key(n) for n in a}, {name_key(n) for n in b}
    shared = [n for n in a if name_key(n) in keys_b]
    if not shared or any(_latin(n) for n in shared):
        return False
    own_a = [n for n in a if _latin(n) and name_key(n) not in keys_b]
    own_b = [n for n in b if _latin(n) and name_key(n) not in keys_a]
    return bool(own_a and own_b) and not any(_compatible(x, y) for x in own_a for y in own_b)


class NameIndex:
    """Every name of every term, for exact, fuzzy and sound-alike lookup."""

    def __init__(self, terms: Sequence[Term]) -> None:
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._shown: dict[str, str] = {}  # key -> the name as first written
        for position, term in enumerate(terms):
            for name in term.names:
                self._exact[name_key(name)].append(position)
                self._shown.setdefault(name_key(name), name)
        self._grams: dict[str, set[str]] = {key: _bigrams(key) for key in self._exact if key}
        self._postings: dict[str, list[str]] = defaultdict(list)
        for key, grams in self._grams.items():
            for gram in grams:
                self._postings[gram].append(key)
        self._terms = terms
        self._sounds: dict[str, set[int]] | None = None  # built by the first katakana question
        self._sound_grams: dict[str, set[str]] = {}

    def groups(self) -> list[int]:
        """The term group of every entry: entries sharing a name (transitively) share a group,
        unless an entry of one group `conflicting`ly names another concept than an entry of the
        other (homonyms stay apart; a name shared by both then finds both).

        Groups are numbered in corpus order of their first entry.
        """
        parent = list(range(len(self._terms)))
        members = {position: [position] for position in parent}

        def root(position: int) -> int:
            while parent[position] != position:
                parent[position] = parent[parent[position]]
                position = parent[position]
            return position

        def join(a: int, b: int) -> None:
            a, b = sorted((root(a), root(b)))
            if a == b or any(
                conflicting(self._terms[x].names, self._terms[y].names) for x in members[a] for y in members[b]
            ):
                return
            parent[b] = a
            members[a] += members.pop(b)

        for key, positions in self._exact.items():
            if not key:  # a name that normalises to nothing joins nothing
                continue
            # Every pair that shares the name, earlier first: two entries that agree are joined even
            # when an earlier one conflicts with both (正規化 | Regularization, then Normalization twice).
            for i, other in enumerate(positions[1:], start=1):
                for earlier in positions[:i]:
                    join(earlier, other)
        numbers: dict[int, int] = {}
        return [numbers.setdefault(root(position), len(numbers)) for position in range(len(self._terms))]

    def exact(self, name: str) -> list[int]:
        """Positions of the terms with this name (in corpus order)."""
        return list(self._exact.get(name_key(name), []))

    def fuzzy(self, query: str) -> list[int]:
        """The terms of the one name a short query misses by about a character, else []."""
        key = name_key(query)
        if not key or len(key) > FUZZY_MAX_CHARS or key in self._exact:
            return []
        grams = _bigrams(key)
        shared: dict[str, int] = defaultdict(int)
        for gram in grams:
            for candidate in self._postings.get(gram, ()):
                shared[candidate] += 1
        scored = sorted(((2 * n / (len(grams) + len(self._grams[c])), c) for c, n in shared.items()), reverse=True)
        if not scored or scored[0][0] < FUZZY_MIN_DICE:
            return []
        if len(scored) > 1 and scored[1][0] == scored[0][0]:
            return []  # two names equally close: no tier, let the scores decide
        return list(self._exact[scored[0][1]])

    def near(self, query: str, n: int = 3) -> tuple[str, ...]:
        """Up to `n` names within a spelling slip of a short query, closest first, one per term:
        what "Did you mean" offers. A slip is an edit distance of one character in five (at least
        one) between the two keys; a name the query is (or that only holds it) is no slip."""
        key = name_key(query)
        if not key or len(key) > FUZZY_MAX_CHARS:
            return ()
        grams = _bigrams(key)
        shared: dict[str, int] = defaultdict(int)
        for gram in grams:
            for candidate in self._postings.get(gram, ()):
                shared[candidate] += 1
        scored = sorted(((_edits(key, c), -n, c) for c, n in shared.items() if c != key), key=lambda t: t[:2])
        out: list[str] = []
        seen: set[int] = set()
        for edits, _, candidate in scored:
            if edits > max(1, max(len(key), len(candidate)) // SLIP_CHARS) or len(out) == n:
                break
            if not seen & set(self._exact[candidate]):
                out.append(self._shown[candidate])
                seen.update(self._exact[candidate])
        return tuple(out)

    def sounds_like(self, query: str) -> list[int]:
        """The terms of the one English name a katakana question sounds like, else []."""
        if not is_katakana_word(query) or len(key := kana_key(query)) < 3:
            return []
        sounds = self._sound_index()
        grams = _bigrams(f"^{key}$")
        scored = sorted(((_dice(grams, other), name) for name, other in self._sound_grams.items()), reverse=True)
        if not scored or scored[0][0] < SOUND_MIN_DICE:
            return []
        if len(scored) > 1 and scored[1][0] == scored[0][0]:
            return []  # two skeletons equally close: no tier
        return sorted(sounds[scored[0][1]])

    def _sound_index(self) -> dict[str, set[int]]:
        """English names (three or more Latin letters) by the skeleton of their katakana rendering."""
        if self._sounds is None:
            sounds: dict[str, set[int]] = defaultdict(set)
            for position, term in enumerate(self._terms):
                for name in term.names:
                    if sum("a" <= c <= "z" for c in name.lower()) >= 3 and (key := latin_key(name)):
                        sounds[key].add(position)
            self._sound_grams = {key: _bigrams(f"^{key}$") for key in sounds}  # ^ $: the ends count
            self._sounds = sounds
        return self._sounds

    def tier(self, query: str) -> list[int]:
        """The terms a question names: exactly, else by one typo, else by sound."""
        return self.exact(query) or self.fuzzy(query) or self.sounds_like(query)
