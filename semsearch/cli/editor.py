"""The command line that opens a file at a line in the user's editor ($VISUAL, else $EDITOR), for
`semsearch show TERM --open`.

Most terminal editors take `+LINE FILE` (vi, vim, nvim, emacs, nano, micro, kak, joe, mg); VS Code
and its relatives take `--goto FILE:LINE`; Sublime Text, Zed and Helix take `FILE:LINE`. The
variables may hold options (`code --wait`, `emacsclient -t`): they are split as a shell would.

Standard library only; raises QueryError when no editor is set.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

from ..errors import QueryError

__all__ = ["editor_command"]

_GOTO = frozenset({"code", "code-insiders", "codium", "vscodium", "cursor", "windsurf"})
_COLON = frozenset({"subl", "sublime_text", "zed", "zeditor", "hx", "helix"})


def editor_command(env: Mapping[str, str], path: str, line: int) -> list[str]:
    """argv that opens `path` at `line` in $VISUAL (else $EDITOR)."""
    for variable in ("VISUAL", "EDITOR"):
        value = env.get(variable, "").strip()
        if value:
            break
    else:
        raise QueryError("no editor: set $VISUAL or $EDITOR (e.g. export EDITOR=vim)")
    try:
        words = shlex.split(value)
    except ValueError as error:
        raise QueryError(f"${variable} cannot be read as a command ({error})") from None
    name = os.path.basename(words[0]).lower().removesuffix(".exe")
    if name in _GOTO:
        return [*words, "--goto", f"{path}:{line}"]
    if name in _COLON:
        return [*words, f"{path}:{line}"]
    return [*words, f"+{line}", path]
