"""manifest.json, the record that commits an index generation: its schema and its validation.

Pure data, standard library only: reading the file is stores/files.py's part. A damaged, hand-edited or
foreign manifest is refused here with the fix, rather than failing deep inside a query.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .confidence import estimates_problem
from .errors import IndexStoreError, IndexVersionError

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "FIX", "Manifest", "parse_manifest", "is_semsearch_manifest"]

FORMAT = "semsearch-index"
FORMAT_VERSION = 1
# No semsearch will reach this index format: a larger number is damage, not a newer semsearch.
MAX_PLAUSIBLE_FORMAT_VERSION = 1000
MANIFEST = "manifest.json"
FIX = "run `semsearch build --force` to rebuild it"

# What each manifest field must hold.
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "encoder": dict,
    "chunking": dict,
    "lexical": dict,
    "roots": (list, tuple),
    "files": dict,
    "counts": dict,
    "ann": dict,
    "data": str,
    "data_files": dict,
    "built_at": str,
    "build_seconds": (int, float),
    "semsearch_version": str,
    "skipped": (list, tuple),
    "second": dict,
    "warnings": (list, tuple),
}


def _field_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with the shape of a manifest's fields, or None."""
    for name, kind in _FIELD_TYPES.items():
        if name in data and not isinstance(data[name], kind):
            return f"field {name!r} has the wrong type"
    for name in ("files", "data_files"):
        if not all(isinstance(entry, dict) for entry in data.get(name, {}).values()):
            return f"field {name!r} has entries of the wrong type"
    if not all(isinstance(root, str) for root in data.get("roots", ())):
        return "field 'roots' has entries of the wrong type"
    for name in ("encoder", "second"):
        problem = estimates_problem(data.get(name, {}).get("estimate"))
        if problem:
            return f"field {name!r}: {problem}"
    return None


@dataclass(frozen=True)
class Manifest:
    """manifest.json, the record that commits an index generation."""

    encoder: dict[str, Any]
    chunking: dict[str, Any]
    roots: tuple[str, ...]
    files: dict[str, dict[str, Any]]  # corpus source -> {"sha256", "size", "mtime_ns"}
    counts: dict[str, int]
    ann: dict[str, Any]
    data: str  # generation folder name
    data_files: dict[str, dict[str, Any]]  # role -> {"path", "size", "sha256"}
    built_at: str = ""
    build_seconds: float = 0.0
    semsearch_version: str = ""
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    skipped: tuple[str, ...] = field(default=())
    # The warnings its build said (files skipped, entries cut short): a rebuild does not say them again.
    warnings: tuple[str, ...] = field(default=())
    lexical: dict[str, Any] = field(default_factory=dict)  # `lexical.lexical_spec()`; {}: before it
    # The second encoder's spec (encoders/use.py) when the index has its side (second.npz); {}: none.
    second: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, where: Path) -> Manifest:
        if not is_semsearch_manifest(data):
            # Not ours (some other tool's manifest.json): rebuilding would clobber it, so no FIX here.
            raise IndexStoreError(f"{where} is not a semsearch index manifest; choose another --index")
        version = data.get("format_version")
        if type(version) is not int or not 1 <= version <= MAX_PLAUSIBLE_FORMAT_VERSION:
            raise IndexStoreError(f"{where} has no valid format_version; {FIX}")
        if version > FORMAT_VERSION:
            raise IndexVersionError(
                f"{where} was written by a newer semsearch (index format {version}, this one reads "
                f"up to {FORMAT_VERSION}); upgrade semsearch or {FIX}"
            )
        required = [f.name for f in dataclasses.fields(cls) if f.default is f.default_factory is dataclasses.MISSING]
        missing = [name for name in required if name not in data]
        problem = f"missing {', '.join(map(repr, missing))}" if missing else _field_problem(data)
        if problem:
            raise IndexStoreError(f"{where} is damaged ({problem}); {FIX}")
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        fields["roots"] = tuple(fields["roots"])
        fields["skipped"] = tuple(fields.get("skipped", ()))
        fields["warnings"] = tuple(str(w) for w in fields.get("warnings", ()))
        return cls(**fields)


def is_semsearch_manifest(data: Any) -> bool:
    """Whether parsed JSON claims to be a semsearch manifest (of any version, valid or not)."""
    return isinstance(data, dict) and data.get("format") == FORMAT


def parse_manifest(raw: str, where: Path) -> Manifest:
    """The manifest in the JSON text `raw` (read from `where`). Raises IndexStoreError with the fix."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise IndexStoreError(f"{where} is not valid JSON ({error.msg} at line {error.lineno}); {FIX}") from None
    except (ValueError, RecursionError) as error:  # a 5,000-digit number; nesting deeper than the stack
        reason = "nested too deeply" if isinstance(error, RecursionError) else "a number too large"
        raise IndexStoreError(f"{where} is damaged ({reason}); {FIX}") from None
    return Manifest.from_dict(data, where)
