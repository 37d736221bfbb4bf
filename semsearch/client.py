"""`semsearch ask` as a thin client of a running `semsearch serve` ($SEMSEARCH_SERVER or --server URL).

This runs before the command line is parsed by typer, so that asking a warm server costs a Python
start-up and one request: no typer, rich or numpy, no model. It takes only an `ask` command line it
understands completely and whose values are valid; anything else (a typo, --help, a bad -k, an empty
question, --debug) is left to the real command, which says what is wrong exactly as it always does,
before it would open an index. The server renders the answer for this terminal (width, colours,
whether stdout is a terminal) and returns what a local `ask` would have written on stdout and stderr
and its exit code; this module only writes them.

When the server cannot be reached, or answers from another index than the one named here (--index,
--corpus, $SEMSEARCH_INDEX, $SEMSEARCH_CORPUS), one line on stderr says so and the question is
answered locally.

Standard library only, and little of it: `_socket` (the C module; `socket` imports enum and more).
"""

from __future__ import annotations

import io
import os
import sys

__all__ = ["ENV_SERVER", "run"]

ENV_SERVER = "SEMSEARCH_SERVER"
CONNECT_SECONDS = 2.0
ANSWER_SECONDS = 60.0  # a server under load, or rebuilding on two cores, can be slow; never forever
PROTOCOL = "2"  # as server.THIN_PROTOCOL
# The variables rich reads for colours and width (as server.CONSOLE_ENV).
CONSOLE_ENV = ("TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES")
_VALUE_OPTIONS = {
    "-k": "k",
    "--top": "k",
    "--mode": "mode",
    "--min-score": "min_score",
    "--server": "server",
    "--format": "format",
}
FORMATS = ("text", "json", "jsonl", "tsv", "markdown")  # as formats.FORMATS
_PATH_OPTIONS = {"--index": "index", "--corpus": "corpus"}
_FLAGS = {"--full": "full", "--json": "json", "--sure-only": "sure_only"}
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class _Unreachable(Exception):
    """The server could not be asked (the reason, for the one-line notice)."""


def _parse(args: list[str]) -> dict | None:
    """The options of `ask ARGS` as typer would read them, or None for anything this client leaves
    to the real command (unknown or malformed options). The question's words are joined, as `ask`
    joins them; no word at all means stdin, "-" (as `ask` reads it when stdin is not a terminal)."""
    options: dict = {"k": "5", "mode": None, "min_score": None, "server": None, "index": None, "corpus": []}
    options["format"] = None
    options.update(full=False, json=False, sure_only=False)
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional += args[i:]
            break
        if arg == "-" or not arg.startswith("-"):
            positional.append(arg)
            continue
        name, has_value, value = arg.partition("=") if arg.startswith("--") else (arg, False, "")
        if name in _FLAGS and not has_value:
            options[_FLAGS[name]] = True
            continue
        if arg.startswith("-k") and len(arg) > 2 and not arg.startswith("--"):
            name, has_value, value = "-k", True, arg[2:]  # click's -k5
        key = _VALUE_OPTIONS.get(name) or _PATH_OPTIONS.get(name)
        if key is None:
            return None
        if not has_value:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        if key == "corpus":
            options["corpus"].append(value)
        else:
            options[key] = value
    if not positional:
        if _isatty(sys.stdin):
            return None  # the real command says the question is missing
        positional = ["-"]
    options["question"] = " ".join(positional)
    return options


def _valid(options: dict) -> bool:
    """Whether the values are ones the real command accepts (else it says what is wrong)."""
    from .modes import MODES

    try:
        k = int(options["k"])
        min_score = None if options["min_score"] is None else float(options["min_score"])
    except ValueError:
        return False
    if not 1 <= k <= 1000 or (min_score is not None and not 0.0 <= min_score <= 1.0):
        return False
    if options["mode"] is not None:
        options["mode"] = options["mode"].lower()  # --mode is case-insensitive
        if options["mode"] not in MODES:
            return False
    if options["format"] is not None:
        options["format"] = options["format"].lower()
        if options["format"] not in FORMATS or (options["json"] and options["format"] not in ("text", "json")):
            return False
    question = options["question"]
    return bool(question.strip()) and not any("\udc80" <= c <= "\udcff" for c in question)


def _quote(text: str) -> str:
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8", "surrogateescape"))


def _address(url: str) -> tuple[str, int, str]:
    """(host, port, path prefix) of an http:// URL. Raises _Unreachable for anything else."""
    rest = url.strip()
    scheme, sep, tail = rest.partition("://")
    if sep:
        if scheme.lower() != "http":
            raise _Unreachable(f"{scheme}:// is not supported (only http://)")
        rest = tail
    hostport, slash, path = rest.partition("/")
    if hostport.startswith("["):  # [::1]:8765
        host, _, port_text = hostport[1:].partition("]")
        port_text = port_text.lstrip(":")
    else:
        host, _, port_text = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    try:
        port = int(port_text) if port_text else 80
    except ValueError:
        raise _Unreachable(f"{url!r} is not a http://HOST:PORT address") from None
    if not host or not 0 < port < 65536:
        raise _Unreachable(f"{url!r} is not a http://HOST:PORT address")
    return host, port, ("/" + path).rstrip("/") if slash else ""


def _terminal_size() -> str:
    """The terminal size rich would find in this process (the first of stdin, stdout, stderr)."""
    for fd in (0, 1, 2):
        try:
            columns, lines = os.get_terminal_size(fd)
        except (AttributeError, ValueError, OSError):
            continue
        return f"{columns}x{lines}"
    return ""


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def _request(host: str, port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 GET; (status, headers in lower case, body)."""
    import _socket

    try:
        infos = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
    except OSError as error:
        raise _Unreachable(f"cannot resolve {host} ({error.strerror or error})") from None
    reason = "no address"
    for family, kind, proto, _, address in infos:
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(CONNECT_SECONDS)
            sock.connect(address)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            sock.close()
            continue
        break
    else:
        raise _Unreachable(reason.lower() if reason[:1].isupper() else reason)
    try:
        sock.settimeout(ANSWER_SECONDS)
        host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n".encode("ascii"))
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as error:
        raise _Unreachable(f"no answer ({error.strerror or type(error).__name__})") from None
    finally:
        sock.close()
    data = b"".join(chunks)
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise _Unreachable("the answer is not HTTP")
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = headers.get("content-length", "")
    if length.isdigit() and len(body) < int(length):
        raise _Unreachable("the answer was cut short")
    return int(parts[1]), headers, body[: int(length)] if length.isdigit() else body


def _target(prefix: str, options: dict) -> str:
    env = os.environ
    params = [("v", PROTOCOL), ("q", options["question"]), ("k", str(int(options["k"])))]
    if options["mode"] is not None:
        params.append(("mode", options["mode"]))
    if options["min_score"] is not None:
        params.append(("min_score", options["min_score"]))
    params += [("full", "1" if options["full"] else "0"), ("json", "1" if options["json"] else "0")]
    params.append(("sure_only", "1" if options["sure_only"] else "0"))
    if options["format"] is not None:
        params.append(("format", options["format"]))
    # The index the question is meant for, when this command line or environment names one: the
    # server refuses to answer from another. (As locate.py: the option, else the variable.)
    index = options["index"] or env.get("SEMSEARCH_INDEX")
    if index:  # a path, made absolute; a Qdrant URI (scheme://…) as it is
        params.append(("index", index if "://" in index else os.path.abspath(index)))
    corpus = options["corpus"] or [p for p in env.get("SEMSEARCH_CORPUS", "").split(os.pathsep) if p]
    params += [("corpus", os.path.abspath(path)) for path in corpus]
    params += [("out_tty", "1" if _isatty(sys.stdout) else "0"), ("err_tty", "1" if _isatty(sys.stderr) else "0")]
    params.append(("size", _terminal_size()))
    params += [("env", f"{name}={env[name]}") for name in CONSOLE_ENV if name in env]
    return f"{prefix}/cli/ask?" + "&".join(f"{key}={_quote(value)}" for key, value in params)


def _utf8(stream: object) -> bool:
    encoding = str(getattr(stream, "encoding", "") or "").lower().replace("_", "-")
    return encoding in ("utf-8", "utf8")


def _say(message: str) -> None:
    try:
        sys.stderr.write(f"semsearch: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def run(argv: list[str]) -> int | None:
    """Answer `semsearch ARGV` through the server when it is an `ask` for one: the exit code, or
    None to go on with the real command (it then answers locally)."""
    if not argv or argv[0] != "ask" or sys.platform == "win32":
        return None
    options = _parse(argv[1:])
    if options is None:
        return None
    url = options["server"] if options["server"] is not None else os.environ.get(ENV_SERVER, "")
    if not url.strip():
        return None
    # The local command must see what this one saw: a question on stdin is read once, here, and
    # handed back to it when the answer is local after all.
    if options["question"] == "-":
        data = sys.stdin.buffer.read()
        sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        try:
            # As `ask` reads it: without the newline `echo question |` ends it with.
            options["question"] = data.decode("utf-8").removesuffix("\n").removesuffix("\r")
        except UnicodeDecodeError:
            return None
    if not _valid(options) or not (_utf8(sys.stdout) and _utf8(sys.stderr)):
        return None  # the real command says what is wrong (or writes in this odd encoding itself)
    try:
        host, port, prefix = _address(url)
        status, headers, body = _request(host, port, _target(prefix, options))
    except _Unreachable as reason:
        _say(f"no semsearch server at {url.strip()} ({reason}); answering here")
        return None
    code, split = headers.get("x-semsearch-exit", ""), headers.get("x-semsearch-stderr", "")
    if status == 409:  # it serves another index than the one this command line names
        _say(f"the server at {url.strip()} serves another index ({_refusal(status, body)}); answering here")
        return None
    if status != 200 or not code.isdigit() or not split.isdigit():
        _say(f"the server at {url.strip()} did not answer ({_refusal(status, body)}); answering here")
        return None
    cut = int(split)
    try:
        if cut:
            sys.stderr.write(body[:cut].decode("utf-8"))
            sys.stderr.flush()
        sys.stdout.write(body[cut:].decode("utf-8"))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`semsearch ask ... | head -1`), as the local command handles it.
        try:  # noqa: SIM105 - not contextlib: this path imports as little as it can
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141  # as the local command (console.EXIT_CODES["broken_pipe"])
    return int(code)


def _refusal(status: int, body: bytes) -> str:
    """The server's error message when it sent one, else the status."""
    text = body.decode("utf-8", "replace")
    marker = '"message": "'
    if marker in text:
        return text.split(marker, 1)[1].split('"', 1)[0]
    return f"HTTP {status}"
