"""The entries of an opened index as the query layer groups them: which entries are one term
(entries sharing a name, names.py), the names a question names, an entry's names and file, its related
terms and how near two entries are (from the store's engine). `Index.entries` is one of these."""

from __future__ import annotations

from pathlib import Path

from .corpus import Term, ref_names, source_prefixes
from .manifest import Manifest
from .names import NameIndex
from .stores import EngineIndex
from .text import name_key

__all__ = ["Entries"]


class Entries:
    """The entries of an index (`terms`, in index order) grouped into terms, and what is asked of them."""

    def __init__(self, engine: EngineIndex) -> None:
        self._engine = engine
        self.terms: list[Term] = engine.terms
        self.names = NameIndex(engine.terms)
        self.group = self.names.groups()  # each entry's term
        self._members: list[list[int]] = [[] for _ in range(max(self.group, default=-1) + 1)]
        for position, group in enumerate(self.group):
            self._members[group].append(position)
        self._bodied = [any(self.terms[m].body.strip() for m in members) for members in self._members]

    @property
    def manifest(self) -> Manifest:
        return self._engine.manifest

    def members(self, group: int) -> list[int]:
        """The entries of the term `group`, in corpus order."""
        return self._members[group]

    def __len__(self) -> int:
        """How many terms (groups of entries)."""
        return len(self._members)

    def find(self, name: str, source: str | None = None) -> list[int]:
        """Positions of the terms one of whose names is `name` (case-, width-, kana-insensitive),
        optionally only those from the file `source`."""
        return [t for t in self.names.exact(name) if source is None or self.terms[t].source == source]

    def near_names(self, name: str) -> tuple[str, ...]:
        """Names within a spelling slip of `name` ("Did you mean"), closest first, one per term."""
        return self.names.near(name)

    def same_term(self, position: int) -> list[int]:
        """The entries of the term the entry at `position` belongs to (itself included), in corpus order."""
        return list(self._members[self.group[position]])

    def entry_groups(self) -> list[list[int]]:
        """The entries of each term (entries sharing a name are one term), in corpus order."""
        return [list(members) for members in self._members]

    def term_id(self, position: int) -> str:
        return self._engine.term_ids[position]

    def related(self, position: int, n: int = 3) -> tuple[str, ...]:
        """Up to `n` related terms (first names): the entry's own cross-references that name a term
        in the index, then its nearest neighbours among the vectors. An entry of the same term in
        another file (one sharing a name with it) is the term itself, not a related one."""
        names: list[str] = []
        seen = {self.group[position]}

        def add(other: int) -> None:
            if self.group[other] not in seen:
                names.append(self.terms[other].name)
                seen.add(self.group[other])

        for ref in self.terms[position].refs:
            for target in ref_names(ref)[:1]:
                for other in self.find(target)[:1]:
                    add(other)
        if len(names) < n:
            for other in self._engine.neighbours(position, 4 * n + 4):
                if len(names) < n:
                    add(other)
        return tuple(names[:n])

    def similarity(self, position: int, other: int) -> float:
        """How near the term of entry `other` is to the entry at `position`, as `related` ranks
        neighbours: the best cosine between the entry's first chunk and any chunk of that term."""
        return self._engine.similarity(position, self.same_term(other))

    def has_body(self, group: int) -> bool:
        """Whether any entry of the term (group) has a body."""
        return self._bodied[group]

    def source_path(self, term: Term) -> str:
        """The absolute path of the file a term came from, when it is still there ("" otherwise)."""
        roots = self.manifest.roots
        for root, prefix in zip(roots, source_prefixes(roots), strict=True):
            base = Path(root)
            if not term.source.startswith(prefix):
                continue
            candidate = base / term.source[len(prefix) :] if base.is_dir() else base
            if candidate.is_file():
                return str(candidate)
        return ""

    def term_names(self, position: int) -> tuple[str, ...]:
        """The names of the entry at `position`, then the other names its term has in other entries."""
        names = list(self.terms[position].names)
        keys = {name_key(name) for name in names}
        for other in self.same_term(position):
            for name in self.terms[other].names:
                if name_key(name) not in keys:
                    names.append(name)
                    keys.add(name_key(name))
        return tuple(names)
