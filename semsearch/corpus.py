"""Glossary markdown -> Term records.

A glossary is a folder of markdown files. Each `## ` heading starts a term whose names are separated
by `|` (or full-width `｜`); its body runs to the next heading of level 1 or 2. Both the plain
markdown and the GitHub-rendered form (`<a id>` anchors, `<a href>` cross-links, a `<!-- 記事URL: -->`
comment) are read. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from .errors import CorpusError

__all__ = [
    "Term",
    "SourceFile",
    "Skipped",
    "Corpus",
    "parse_markdown",
    "markdown_lines",
    "Line",
    "name_parts",
    "heading_text",
    "link_targets",
    "read_file",
    "ref_names",
    "Listing",
    "discover_files",
    "source_prefixes",
    "resolved_roots",
    "unique_roots",
    "read_corpus",
    "FileRead",
    "read_glossary_file",
    "recorded_skips",
    "NO_NAMES",
    "NO_HEADINGS",
    "MAX_FILE_BYTES",
]

log = logging.getLogger(__name__)

#: Files larger than this are skipped with a warning: a glossary file this size is almost surely a
#: mistake. `read_corpus(max_file_bytes=...)`, `semsearch build --max-file-mb` or $SEMSEARCH_MAX_FILE_MB
#: change it.
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Term:
    """One glossary entry."""

    names: tuple[str, ...]
    body: str
    source: str  # file path relative to the corpus root, with "/" separators
    line: int  # 1-based line of the heading
    refs: tuple[str, ...] = ()  # cross-reference targets from the entry's links
    url: str | None = None  # the file's source URL (`<!-- 記事URL: -->`), when given

    @property
    def name(self) -> str:
        """The first name: how the term is shown."""
        return self.names[0]


@dataclass(frozen=True)
class SourceFile:
    """A corpus file as read: where it is and what it held."""

    source: str
    path: str  # absolute path
    sha256: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    """A file or heading left out of the index, and why."""

    source: str
    reason: str
    line: int | None = None
    path: str = ""  # absolute path, for a whole file that could not be read

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.reason}"


#: Why a heading or a whole file that was read is skipped (the parser's two reasons).
NO_NAMES = "heading has no names"
NO_HEADINGS = "no '## ' headings, nothing to index"


def recorded_skips(texts: Sequence[str]) -> dict[str, list[Skipped]]:
    """By source, the parser's skips among `texts` (`str(Skipped)`, as an index records them): the
    headings without names and the files without headings. Other skips (files left out whole,
    folders) are not the parser's and are left out."""
    found: dict[str, list[Skipped]] = {}
    for text in texts:
        heading = re.fullmatch(rf"(.+):([1-9][0-9]*): {re.escape(NO_NAMES)}", text, re.S)
        if heading:
            found.setdefault(heading[1], []).append(Skipped(heading[1], NO_NAMES, int(heading[2])))
        elif text.endswith(f": {NO_HEADINGS}"):
            source = text.removesuffix(f": {NO_HEADINGS}")
            found.setdefault(source, []).append(Skipped(source, NO_HEADINGS))
    return found


@dataclass(frozen=True)
class FileRead:
    """What one corpus file gave: its record (None when it was skipped whole), its terms, and the
    headings (or the whole file) skipped."""

    file: SourceFile | None
    terms: tuple[Term, ...] = ()
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class Corpus:
    """Everything read from one or more corpus folders."""

    roots: tuple[str, ...]
    files: tuple[SourceFile, ...]
    terms: tuple[Term, ...]
    skipped: tuple[Skipped, ...] = ()


_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SOURCE_URL = re.compile(r"<!--\s*記事URL\s*[:：]\s*(\S+?)\s*-->")
_ANCHOR = re.compile(r"<a\s+(?:id|name)\s*=\s*\"[^\"]*\"\s*>\s*</a>", re.I)
_LINK = re.compile(r"<a\s+[^>]*?href\s*=\s*\"([^\"]*)\"[^>]*>(.*?)</a>", re.I | re.S)
_BR = re.compile(r"<br\s*/?>", re.I)
_HEADING = re.compile(r"^(#{1,2})(?:[ \t]+(.*?))?[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_NAME_SPLIT = re.compile(r"[|｜]")


def ref_names(ref: str) -> tuple[str, ...]:
    """The term names a cross-reference points at, when it points at a glossary heading.

    GitHub-rendered glossaries link to `<file>#<base64 of the heading text>`; a plain `#anchor`
    is taken as a name. Links elsewhere (articles, papers) name no term.
    """
    _, _, fragment = ref.partition("#")
    if not fragment:
        return ()
    try:
        padded = fragment + "=" * (-len(fragment) % 4)
        heading = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        heading = fragment if ref.startswith("#") else ""
    return _split_names(heading) if heading.isprintable() else ()


def link_targets(text: str) -> list[tuple[int, str]]:
    """Every `<a href>` link of a text as the parser reads links: (offset of its `<a`, target)."""
    return [(match.start(), match.group(1)) for match in _LINK.finditer(text)]


def _strip_html(text: str, refs: list[str]) -> str:
    """Drop anchors, turn links into their text (collecting targets), <br> into newlines."""
    text = _ANCHOR.sub("", text)

    def link(match: re.Match[str]) -> str:
        refs.append(match.group(1))
        return match.group(2)

    return _BR.sub("\n", _LINK.sub(link, text))


def _blank_comments(text: str) -> str:
    # Keep the newlines a comment spans so heading line numbers stay true. Text after a comment on
    # its line is not at the line's start (`<!-- c -->## x` is no heading, as in CommonMark).
    def blank(m: re.Match[str]) -> str:
        follows = m.end() < len(text) and text[m.end()] != "\n"
        return "\n" * m.group(0).count("\n") + (" " if follows else "")

    return _COMMENT.sub(blank, text)


def name_parts(heading: str) -> list[str]:
    """A heading's text cut at its name separators (`|`, `｜`), each part stripped as a name is,
    empty parts kept: what the names are made of (`semsearch lint` reports the empty ones)."""
    return [part.strip().strip("*_`").strip() for part in _NAME_SPLIT.split(heading)]


def heading_text(heading: str, refs: list[str] | None = None) -> str:
    """A heading's text as its names are read from it: anchors dropped, links as their text (their
    targets appended to `refs`)."""
    return _strip_html(heading, refs if refs is not None else [])


def _split_names(heading: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in name_parts(heading) if name))


@dataclass(frozen=True)
class Line:
    """One line of a glossary file as the parser sees it."""

    number: int  # 1-based
    text: str  # with HTML comments blanked (a comment's lines are empty)
    level: int = 0  # 1 or 2 for a heading the parser takes (`# `, `## `), else 0
    heading: str = ""  # a heading's text, after the `#`s
    code: bool = False  # a fence line, or a line inside a code fence


def markdown_lines(text: str) -> list[Line]:
    """Every line of a glossary file, with the structure `parse_markdown` reads: HTML comments
    blanked, code fences, and the level-1 and level-2 headings outside them."""
    lines = _blank_comments(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    out: list[Line] = []
    in_fence = False
    for number, line in enumerate(lines, start=1):
        fence = bool(_FENCE.match(line))
        if fence:
            in_fence = not in_fence
        heading = None if in_fence or fence else _HEADING.match(line)
        if heading:
            out.append(Line(number, line, len(heading.group(1)), heading.group(2) or ""))
        else:
            out.append(Line(number, line, code=fence or in_fence))
    return out


def parse_markdown(text: str, source: str) -> tuple[list[Term], list[Skipped]]:
    """Parse one glossary file into terms, and the headings skipped (no names).

    Text before the first `## ` heading is not a term. A `# ` heading ends the current term
    without starting one. Headings inside code fences are body text.
    """
    url_match = _SOURCE_URL.search(text)
    url = url_match.group(1) if url_match else None

    terms: list[Term] = []
    skipped: list[Skipped] = []
    current: tuple[str, int] | None = None  # (heading text, line)
    body: list[str] = []

    def close() -> None:
        if current is None:
            return
        heading, line = current
        refs: list[str] = []
        names = _split_names(_strip_html(heading, refs))
        content = _strip_html("\n".join(body), refs).strip("\n")
        if not names:
            skipped.append(Skipped(source, NO_NAMES, line))
            return
        terms.append(Term(names, content, source, line, tuple(dict.fromkeys(refs)), url))

    for line in markdown_lines(text):
        if line.level:
            close()
            body = []
            current = (line.heading, line.number) if line.level == 2 else None
        elif current is not None:
            body.append(line.text)
    close()
    return terms, skipped


def _source_label(root: Path, path: Path, prefix: str) -> str:
    return prefix + path.relative_to(root).as_posix()


def source_prefixes(roots: Sequence[str | os.PathLike[str]]) -> list[str]:
    """What each root's source labels start with: nothing for one root; with several, the root's
    folder name, or as many trailing folders as it takes to tell apart roots that share a name
    (`a/docs`, `b/docs`), so that no two files get the same label."""
    if len(roots) < 2:
        return [""] * len(roots)
    parts = [Path(r).expanduser().resolve().parts[1:] for r in roots]
    depth = 1
    while len({p[-depth:] for p in parts}) < len(parts) and depth < max(map(len, parts)):
        depth += 1
    return ["/".join(p[-depth:]) + "/" for p in parts]


#: What `discover_files` found: (source label, path) of every markdown file, and the folders skipped.
Listing = tuple[list[tuple[str, Path]], list[Skipped]]


def discover_files(roots: Sequence[str | os.PathLike[str]]) -> Listing:
    """Every `*.md` under the roots, recursively, as (source label, path), sorted; and loops skipped.

    A root may also be a single markdown file. Hidden folders are not entered; symlinked folders
    are followed once (a symlink loop is reported, not followed).
    """
    resolved = [Path(r).expanduser() for r in roots]
    for root in resolved:
        if not root.exists():
            raise CorpusError(f"corpus folder not found: {root}")
        if not (root.is_dir() or root.suffix.lower() == ".md"):
            raise CorpusError(f"corpus must be a folder or a .md file: {root}")
    prefixes = source_prefixes(resolved)  # with several roots, labels start with the root's name
    found: list[tuple[str, Path]] = []
    skipped: list[Skipped] = []
    for root, prefix in zip(resolved, prefixes, strict=True):
        if root.is_file():
            found.append((prefix + root.name, root))
            continue
        seen: set[str] = set()

        def unreadable(error: OSError, root: Path = root, prefix: str = prefix) -> None:
            folder = Path(error.filename or root)
            where = str(root) if folder == root else _source_label(root, folder, prefix)
            skipped.append(Skipped(where, f"folder not readable ({error.strerror or error})"))

        for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:
                skipped.append(Skipped(_source_label(root, Path(dirpath), prefix), "symlink loop, not followed"))
                dirnames.clear()
                continue
            seen.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.lower().endswith(".md") and not name.startswith("."):
                    path = Path(dirpath) / name
                    found.append((_source_label(root, path, prefix), path))
    found.sort(key=lambda item: item[0])
    return found, skipped


def _size_text(size: int) -> str:
    mib = size / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 and mib == int(mib) else f"{size} bytes"


def _utf16(data: bytes) -> str | None:
    """The codec of a UTF-16 file (Windows editors save "Unicode" so), or None. With a byte order
    mark, "utf-16" reads either byte order. Without one, every ASCII character of UTF-16 (the `## `,
    the `|`, the newlines) puts a NUL byte at the same parity of position and none at the other,
    which binary formats do not do across their first kilobytes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) and not data.startswith(b"\xff\xfe\x00\x00"):
        return "utf-16"
    head = data[:4096]
    if len(head) >= 16:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd >= 4 and not even:
            return "utf-16-le"
        if even >= 4 and not odd:
            return "utf-16-be"
    return None


def read_file(source: str, path: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[SourceFile, str] | Skipped:
    """One corpus file read as `read_corpus` reads it: its record and its text, or why it is skipped."""

    def skip(reason: str) -> Skipped:
        return Skipped(source, reason, path=str(path.absolute()))

    try:
        stat = path.stat()
        if not S_ISREG(stat.st_mode):  # a FIFO or device would block or never end
            return skip("not a regular file")
        if stat.st_size > max_bytes:
            return skip(
                f"larger than {_size_text(max_bytes)} ({stat.st_size} bytes; raise the limit with --max-file-mb)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        return skip("broken link or file vanished while reading")
    except PermissionError:
        return skip("not readable (permission denied)")
    except OSError as error:
        return skip(f"not readable ({error.strerror or error})")
    encoding = _utf16(data)
    if encoding is None and b"\x00" in data:
        return skip("binary file (contains NUL bytes)")
    try:
        text = data.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as error:
        if encoding:
            return skip(f"UTF-16 that does not decode (invalid bytes at offset {error.start}); save it as UTF-8")
        return skip(f"not UTF-8 (invalid byte at offset {error.start})")
    digest = hashlib.sha256(data).hexdigest()
    return SourceFile(source, str(path.resolve()), digest, len(data), stat.st_mtime_ns), text


def read_glossary_file(source: str, path: Path, max_bytes: int = MAX_FILE_BYTES) -> FileRead:
    """One corpus file read and parsed as `read_corpus` reads it."""
    result = read_file(source, path, max_bytes)
    if isinstance(result, Skipped):
        return FileRead(None, (), (result,))
    file, text = result
    terms, skipped = parse_markdown(text, source)
    if not terms and not skipped:
        skipped.append(Skipped(source, NO_HEADINGS))
    return FileRead(file, tuple(terms), tuple(skipped))


def read_corpus(
    roots: Sequence[str | os.PathLike[str]],
    *,
    strict: bool = False,
    listing: Listing | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    warn: Callable[[str, str], None] | None = None,
    reuse: Mapping[str, FileRead] | None = None,
) -> Corpus:
    """Read every glossary file under the roots (as `listing` found them, when given; files over
    `max_file_bytes` are skipped). `reuse`: what files known to be unchanged gave, by source (an
    index's record of them): those are neither read nor parsed.

    Files that cannot be read as UTF-8 markdown and headings without names are skipped with a
    warning (`warn(message, source)`, by default logged; and listed in `Corpus.skipped`); with
    `strict`, the first one raises.
    Raises CorpusError when a root is missing or nothing at all can be indexed.
    """
    if not roots:
        raise CorpusError("no corpus folder given")
    found, skipped = listing if listing is not None else discover_files(roots)
    skipped = list(skipped)  # the caller's listing stays as it was
    files: list[SourceFile] = []
    terms: list[Term] = []
    for source, path in found:
        read = (reuse or {}).get(source) or read_glossary_file(source, path, max_file_bytes)
        if read.file is not None:
            files.append(read.file)
        terms.extend(read.terms)
        skipped.extend(read.skipped)
    for problem in skipped:
        if strict:
            raise CorpusError(f"{problem} (refused under --strict)")
        message = f"skipped {problem}"
        if warn is not None:
            warn(message, problem.source)
        else:
            log.warning("%s", message)
    roots_text = ", ".join(str(r) for r in roots)
    if not found:
        raise CorpusError(f"no markdown files (*.md) in {roots_text}")
    if not terms:
        raise CorpusError(f"no glossary terms ('## ' headings) found in {roots_text}")
    return Corpus(resolved_roots(roots), tuple(files), tuple(terms), tuple(skipped))


def resolved_roots(roots: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    """The corpus folders as an index records them (its identity): absolute, links resolved, each
    once (`build ca ca` is `build ca`)."""
    return tuple(dict.fromkeys(str(Path(r).resolve()) for r in roots))


def unique_roots(roots: Sequence[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    """The roots as given, each folder once (the first spelling of it): a folder named twice is
    indexed once, and is the same corpus as that folder named once."""
    seen: set[str] = set()
    unique = []
    for root in roots:
        key = str(Path(root).resolve())
        if key not in seen:
            seen.add(key)
            unique.append(root)
    return unique
