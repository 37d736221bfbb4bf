"""A glossary's lint settings: `.semsearch.toml` (a `[lint]` table) or `pyproject.toml` (a
`[tool.semsearch.lint]` table) in a corpus folder, or a `LintConfig` given to `lint`.

    [tool.semsearch.lint]
    ignore = ["one-language"]          # rules off (select = [...]: only these rules)

    [tool.semsearch.lint.near-duplicate]
    threshold = 0.8                    # a rule's settings: its own table

Everything not given keeps the default measured on the larger glossary (docs/lint.md). A file that
is not valid TOML, an unknown rule or setting, or a value of the wrong kind is a ConfigError that
names the file and the setting.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .findings import RULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the standard library's tomllib from 3.11 on
    import tomli as tomllib

__all__ = [
    "LintConfig",
    "CONFIG_FILES",
    "SHORT_TOKENS",
    "MIN_BILINGUAL",
    "MAX_NAME_WIDTH",
    "read_config",
    "glossary_config",
]

#: Where a glossary keeps its settings, looked for in this order in each corpus folder.
CONFIG_FILES = (".semsearch.toml", "pyproject.toml")
#: A body under this many tokens (chunking.estimate_tokens: about a character of Japanese, three of
#: English) is "short": fewer than about 20 Japanese characters or 60 English ones (docs/lint.md).
SHORT_TOKENS = 20
#: one-language is on by default when at least this share of the glossary's terms give both languages.
MIN_BILINGUAL = 0.5
#: A name wider than this (in terminal columns: a Japanese character takes two) is longer than a line.
MAX_NAME_WIDTH = 80


@dataclass(frozen=True)
class LintConfig:
    """Which rules run and their settings. `select` None: every rule (one-language only when most
    terms are bilingual); thresholds None: the ones measured for the index's encoders."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    near_duplicate: float | None = None  # a pair at or above this similarity is reported
    homonym: float | None = None  # two entries of one name below this similarity are reported
    short_tokens: int = SHORT_TOKENS
    min_bilingual: float = MIN_BILINGUAL
    max_name_width: int = MAX_NAME_WIDTH
    max_pieces: int | None = None  # None: the --max-chunks the index was built with
    source: str = ""  # the file the settings were read from ("" when given in code or defaulted)

    def __post_init__(self) -> None:
        for rule in (*(self.select or ()), *self.ignore):
            _check_rule(rule, "a rule")
        for name in ("near_duplicate", "homonym"):
            value = getattr(self, name)
            if value is not None and not (_number(value) and -1.0 <= value <= 1.0):
                raise ConfigError(f"{_where(self.source)}{_key(name)} must be a number from -1 to 1, not {value!r}")
        if not (_number(self.min_bilingual) and 0.0 <= self.min_bilingual <= 1.0):
            raise ConfigError(f"{_where(self.source)}{_key('min_bilingual')} must be from 0 to 1")
        for name in ("short_tokens", "max_name_width", "max_pieces"):
            value = getattr(self, name)
            if value is not None and not (type(value) is int and value >= 1):
                raise ConfigError(f"{_where(self.source)}{_key(name)} must be a whole number from 1, not {value!r}")


# The TOML spelling of each setting: (rule table, key) -> LintConfig field.
_SETTINGS = {
    ("near-duplicate", "threshold"): "near_duplicate",
    ("homonym", "threshold"): "homonym",
    ("short", "min-tokens"): "short_tokens",
    ("one-language", "min-bilingual"): "min_bilingual",
    ("parse", "max-name-width"): "max_name_width",
    ("oversized", "max-pieces"): "max_pieces",
}
_TOML_KEY = {field: f"{table}.{key}" for (table, key), field in _SETTINGS.items()}


def _key(field: str) -> str:
    return _TOML_KEY.get(field, field)


def _where(source: str) -> str:
    return f"{source}: " if source else ""


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_rule(rule: object, what: str) -> str:
    if not isinstance(rule, str) or rule not in RULES:
        raise ConfigError(f"unknown rule {rule!r} in {what}; the rules are {', '.join(RULES)}")
    return rule


def _rules(value: object, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f'{where}{key} must be a list of rules, such as ["one-language"]')
    try:
        return tuple(_check_rule(rule, key) for rule in value)
    except ConfigError as error:
        raise ConfigError(f"{where}{error}") from None


def config_from_table(table: Mapping[str, Any], source: str = "") -> LintConfig:
    """The settings of one `[lint]` table (its keys as TOML spells them)."""
    where = _where(source)
    values: dict[str, Any] = {"source": source}
    for key, value in table.items():
        if key in ("select", "ignore"):
            values[key] = _rules(value, key, where)
        elif key in RULES and isinstance(value, Mapping):
            for name, setting in value.items():
                field = _SETTINGS.get((key, name))
                if field is None:
                    known = [k for (table_name, k) in _SETTINGS if table_name == key]
                    hint = f"; {key} takes {', '.join(known)}" if known else f"; {key} has no settings"
                    raise ConfigError(f"{where}unknown setting {key}.{name}{hint}")
                values[field] = setting
        else:
            tables = sorted({table_name for table_name, _ in _SETTINGS})
            raise ConfigError(
                f"{where}unknown setting {key!r}; the settings are select, ignore, and the tables {', '.join(tables)}"
            )
    return LintConfig(**values)


def read_config(path: str | Path) -> LintConfig:
    """The settings in a `.semsearch.toml` (its `[lint]` table, or `[tool.semsearch.lint]`) or a
    `pyproject.toml` (`[tool.semsearch.lint]`); the defaults when the file has no such table."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path} ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 (invalid byte at offset {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML ({error})") from None
    table = _table(data, path)
    return config_from_table(table, str(path)) if table is not None else LintConfig()


def _table(data: Mapping[str, Any], path: Path) -> Mapping[str, Any] | None:
    tool = data.get("tool", {})
    nested = tool.get("semsearch", {}).get("lint") if isinstance(tool, Mapping) else None
    if path.name != "pyproject.toml" and "lint" in data:
        nested = data["lint"]
    if nested is not None and not isinstance(nested, Mapping):
        raise ConfigError(f"{path}: the lint settings must be a table")
    return nested


def glossary_config(roots: Sequence[str | Path]) -> LintConfig:
    """The settings of a glossary: those of its first corpus folder that has any (a folder's
    `.semsearch.toml`, else a `pyproject.toml` with a `[tool.semsearch.lint]` table); the defaults
    when none has."""
    for root in roots:
        folder = Path(root)
        if not folder.is_dir():
            folder = folder.parent
        for name in CONFIG_FILES:
            candidate = folder / name
            if candidate.is_file():
                config = read_config(candidate)
                if config.source or name != "pyproject.toml":
                    return config
    return LintConfig()
