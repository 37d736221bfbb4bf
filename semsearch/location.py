"""Where an index lives: a directory (a path, the default) or a Qdrant store (a URI).

    index/, /path/to/index          an index directory (stores/files.py)
    qdrant+local:///path/to/store   Qdrant's local mode: qdrant-client's in-process emulation, for
                                    tests and small stores (one process at a time)
    qdrant+edge:///path/to/store    Qdrant Edge: Qdrant's Rust engine in-process (qdrant-edge-py)
    qdrant://host:6333/name         a Qdrant server or cluster, the index behind the alias `name`
    qdrants://host:6333/name        the same over HTTPS; the API key comes from $QDRANT_API_KEY
    qdrant://host:6333/name?shards=6&replicas=2
                                    how a cluster spreads the collections a build creates

Anything without `scheme://` is a path. Standard library only: a location is parsed on every
command, and `semsearch ask` on a directory never imports an engine client.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .errors import QueryError

__all__ = ["QdrantLocation", "IndexLocation", "parse_location", "location_text", "same_location", "ENV_QDRANT_API_KEY"]

ENV_QDRANT_API_KEY = "QDRANT_API_KEY"
DEFAULT_PORT = 6333
#: The alias of the index inside a local or Edge store (a server names it in the URI).
LOCAL_NAME = "semsearch"
SCHEMES = ("qdrant+local", "qdrant+edge", "qdrant", "qdrants")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_FORMS = "qdrant+local:///PATH, qdrant+edge:///PATH, qdrant://HOST:PORT/NAME or qdrants://HOST:PORT/NAME"


@dataclass(frozen=True)
class QdrantLocation:
    """An index kept by Qdrant: `engine` is "local" (qdrant-client's local mode), "edge" (Qdrant
    Edge) or "server"; `path` for the first two, `url` for a server; `name` is the index's alias."""

    engine: str
    name: str = LOCAL_NAME
    path: Path | None = None
    url: str | None = None
    shards: int = 0  # a new collection's shards on a cluster (0: the server's default)
    replicas: int = 0  # and its replication factor (0: the server's default)

    def __str__(self) -> str:
        if self.engine == "server":
            assert self.url is not None
            scheme, rest = self.url.split("://", 1)
            options = "&".join(f"{k}={v}" for k, v in (("shards", self.shards), ("replicas", self.replicas)) if v)
            return f"{'qdrants' if scheme == 'https' else 'qdrant'}://{rest}/{self.name}" + (
                f"?{options}" if options else ""
            )
        return f"qdrant+{self.engine}://{self.path}"

    @property
    def extra(self) -> str:
        """The optional dependency this engine needs (`pip install 'semsearch[EXTRA]'`)."""
        return "qdrant-edge" if self.engine == "edge" else "qdrant"


IndexLocation = Path | QdrantLocation


def parse_location(value: str | os.PathLike[str] | QdrantLocation) -> IndexLocation:
    """A path, or the Qdrant store a URI names. Raises QueryError for a URI semsearch cannot use."""
    if isinstance(value, QdrantLocation):
        return value
    if not isinstance(value, str):
        return Path(value)
    match = _SCHEME.match(value)
    if not match:
        return Path(value)
    scheme = match.group(1).lower()
    rest = value[match.end() :]
    if scheme in ("qdrant+local", "qdrant+edge"):
        if not rest or rest == "/":
            raise QueryError(f"index location {value!r} names no folder; write {scheme}:///PATH")
        if "?" in rest or "#" in rest:
            raise QueryError(f"index location {value!r}: a {scheme} folder takes no ?options or #fragment")
        return QdrantLocation(scheme.split("+")[1], path=Path(rest))
    if scheme in ("qdrant", "qdrants"):
        return _server(value, scheme)
    raise QueryError(f"unknown index location {value!r}; an index is a directory, or one of {_FORMS}")


def _server(value: str, scheme: str) -> QdrantLocation:
    try:
        parts = urlsplit(value)
    except ValueError as error:  # an unclosed IPv6 bracket
        raise QueryError(f"index location {value!r} is not a valid URI ({error})") from None
    if parts.username or parts.password:
        raise QueryError(f"put no credentials in {scheme}:// URIs; set ${ENV_QDRANT_API_KEY} instead")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise QueryError(f"index location {value!r} has an invalid port") from None
    if not parts.hostname:
        raise QueryError(f"index location {value!r} names no host; write {scheme}://HOST:PORT/NAME")
    name = parts.path.strip("/")
    if not _NAME.match(name):
        raise QueryError(
            f"index location {value!r} needs an index name of letters, digits, '_', '-', '.' "
            f"after the host; write {scheme}://HOST:PORT/NAME"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    http = "https" if scheme == "qdrants" else "http"
    options = {"shards": 0, "replicas": 0}
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        number = values[0] if len(values) == 1 and values[0].isascii() and values[0].isdigit() else ""
        if key not in options or not number or len(number) > 4 or not 0 < int(number) <= 1000:
            raise QueryError(
                f"index location {value!r}: unknown or invalid option {key!r}; a server URI takes "
                "?shards=N&replicas=N (whole numbers from 1)"
            )
        options[key] = int(values[0])
    return QdrantLocation(
        "server", name=name, url=f"{http}://{host}:{port}", shards=options["shards"], replicas=options["replicas"]
    )


def same_location(a: IndexLocation, b: IndexLocation) -> bool:
    """Whether two locations name the same index (paths compared resolved)."""
    if isinstance(a, Path) and isinstance(b, Path):
        return a.resolve() == b.resolve()
    return a == b


def location_text(location: IndexLocation) -> str:
    """How a location is shown (`info`, `build --json`): a directory as an absolute path."""
    return str(location.resolve()) if isinstance(location, Path) else str(location)
