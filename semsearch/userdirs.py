"""The per-user folders semsearch writes to when the user does not say: XDG base directories.

cache:  $XDG_CACHE_HOME/semsearch/indexes   the per-user cached indexes (cli/paths.py picks one per corpus)
models: $XDG_CACHE_HOME/semsearch/models    the converted encoder weights every index shares (encoders/weights.py)

Standard library only: the engine (the encoders) and the command (caches, paths) both use it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["cache_base", "user_dir", "weights_base"]


def _home(env: Mapping[str, str]) -> Path | None:
    """The user's home folder when it is usable: $HOME (an existing absolute folder), else, when
    $HOME is empty or unset, the account's home from the password database."""
    home = env.get("HOME", "")
    if not home:
        try:
            import pwd

            home = pwd.getpwuid(os.getuid()).pw_dir
        except (ImportError, KeyError, OSError):
            return None
    return Path(home) if os.path.isabs(home) and os.path.isdir(home) else None


def user_dir(variable: str, fallback: str, env: Mapping[str, str] = os.environ) -> Path | None:
    """An XDG base directory: $variable when it is an absolute path (the XDG spec says a relative
    one is ignored), else `fallback` under the home folder; None when there is no usable home
    (HOME=/nonexistent): semsearch then creates no tree there, nor at the root."""
    value = env.get(variable, "")
    if value and os.path.isabs(value):
        return Path(value)
    home = _home(env)
    return home / fallback if home is not None else None


def cache_base(env: Mapping[str, str] = os.environ) -> Path | None:
    """The folder of the per-user cached indexes, `$XDG_CACHE_HOME/semsearch/indexes`; None without
    a usable home folder."""
    cache = user_dir("XDG_CACHE_HOME", ".cache", env)
    return cache / "semsearch" / "indexes" if cache is not None else None


def weights_base(env: Mapping[str, str] = os.environ) -> Path | None:
    """The folder of the converted model weights every index of the user shares,
    `$XDG_CACHE_HOME/semsearch/models` (encoders/weights.py); None without a usable home folder."""
    cache = user_dir("XDG_CACHE_HOME", ".cache", env)
    return cache / "semsearch" / "models" if cache is not None else None
