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

import codecs
import io
import os
import sys
import time

from ..errors import EXIT_CODES as LOCAL_EXIT_CODES
from ..limits import QUESTION_LIMIT, STDIN_LIMIT
from ..modes import DEFAULT_MODE
from ..request import CONSOLE_ENV, FORMATS, THIN_PROTOCOL, Request

__all__ = [
    "CONSOLE_ENV",
    "EXIT_CODES",
    "ENV_SERVER",
    "FORMATS",
    "PROTOCOL",
    "run",
]  # the exchange's constants, from request.py

ENV_SERVER = "SEMSEARCH_SERVER"
CONNECT_SECONDS = 2.0
# For the whole exchange, not per read: a server under load, or rebuilding on two cores, can be
# slow, but one that drips its answer a byte at a time must not hold the command forever.
ANSWER_SECONDS = 60.0
# The most this client reads of an answer (an entry of a 64 MiB glossary file with --full fits),
# of its status line and headers, and how many headers it takes.
ANSWER_LIMIT = 64 << 20
HEAD_LIMIT = 64 << 10
HEADERS = 64
# The longest request target `semsearch serve` reads (http.server reads request lines of 65,536
# bytes, "GET " and " HTTP/1.1" included).
TARGET_LIMIT = 65536 - len("GET  HTTP/1.1\r\n")
# The exit codes a local `ask` has (docs/errors.md); a server that says another is not believed.
EXIT_CODES = frozenset(LOCAL_EXIT_CODES.values())
PROTOCOL = THIN_PROTOCOL
_VALUE_OPTIONS = {
    "-k": "k",
    "--top": "k",
    "--mode": "mode",
    "--min-score": "min_score",
    "--server": "server",
    "--format": "format",
}
_PATH_OPTIONS = {"--index": "index", "--corpus": "corpus"}
_FLAGS = {"--full": "full", "--json": "json", "--sure-only": "sure_only"}
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_NAME = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_IPV6 = frozenset("0123456789abcdefABCDEF:.%")
_HEX = frozenset("0123456789abcdefABCDEF")
_TOKEN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~")

# What the server's text may not carry to this terminal, as text.safe_line shows it (a test checks
# they agree; this module does not import `re`): C0 and C1 controls, DEL, bidi controls, line and
# paragraph separators. In an answer, newlines and tabs stay, and so do the colour (SGR) and
# hyperlink (OSC 8) sequences rich writes: `_terminal`.
_ESCAPED = {
    **{c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))},
    **{c: f"\\u{c:04x}" for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))},
    **{0x2028: "\\u2028", 0x2029: "\\u2029", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"},
}
_IN_ANSWER = {c: text for c, text in _ESCAPED.items() if c not in (0x0A, 0x09)}
_IN_JSON = {
    **{c: f"\\u{c:04x}" for c in _ESCAPED},
    **{0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x22: '\\"', 0x5C: "\\\\"},
}


class _Unreachable(Exception):
    """The server could not be asked, or did not answer in time (the reason, for the one-line notice)."""


class _Unusable(Exception):
    """The server answered, but not with an answer this client takes (the reason)."""


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
    if options["mode"] is not None:
        options["mode"] = options["mode"].lower()  # --mode is case-insensitive
    if options["format"] is not None:
        options["format"] = options["format"].lower()
    try:  # the checks every face runs (request.py); a QueryError is a ValueError
        Request(
            options["question"],
            k=int(options["k"]),
            mode=options["mode"] or DEFAULT_MODE,
            min_score=None if options["min_score"] is None else float(options["min_score"]),
            format=options["format"] or "text",
        )
    except ValueError:
        return False
    if options["json"] and options["format"] not in (None, "text", "json"):
        return False
    question = options["question"]
    return bool(question.strip()) and not any("\udc80" <= c <= "\udcff" for c in question)


def _quote(text: str) -> str:
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8", "surrogateescape"))


def _address(url: str) -> tuple[str, int, str]:
    """(host, port, path prefix) of an http:// URL. Raises _Unreachable for anything else: another
    scheme, a port that is not one, a host that is not a name or an address, a path that is not
    printable ASCII (it goes into the request line as it is)."""
    rest = url.strip()
    malformed = _Unreachable(f"{_line(repr(url))} is not a http://HOST:PORT address")
    if not rest.isascii() or not rest.isprintable() or " " in rest:
        raise malformed
    scheme, sep, tail = rest.partition("://")
    if sep:
        if scheme.lower() != "http":
            raise _Unreachable(f"{_line(scheme)}:// is not supported (only http://)")
        rest = tail
    hostport, slash, path = rest.partition("/")
    if hostport.startswith("["):  # [::1]:8765
        host, _, port_text = hostport[1:].partition("]")
        port_text = port_text.lstrip(":")
        name_ok = bool(host) and all(c in _IPV6 for c in host)
    else:
        host, _, port_text = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        labels = host.removesuffix(".").split(".")
        name_ok = len(host) <= 253 and all(0 < len(label) <= 63 and set(label) <= _NAME for label in labels)
    if not name_ok or not (port_text == "" or (port_text.isdigit() and len(port_text) <= 5)):
        raise malformed
    port = int(port_text) if port_text else 80
    if not 0 < port < 65536 or any(c in "?#%" for c in path):
        raise malformed
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
    """One HTTP/1.1 GET: (status, headers in lower case, body). The whole exchange (connecting,
    sending, every byte of the answer) takes at most ANSWER_SECONDS, and the answer at most
    ANSWER_LIMIT bytes. Raises _Unreachable when the server cannot be reached or does not answer in
    time, _Unusable when what it sends is not an answer this client takes (see `_answer`)."""
    import _socket

    deadline = time.monotonic() + ANSWER_SECONDS
    try:
        infos = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise _Unreachable(f"cannot resolve {host} ({_line(getattr(error, 'strerror', None) or str(error))})") from None
    reason = "no address"
    for family, kind, proto, _, address in infos:
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(max(0.001, min(CONNECT_SECONDS, deadline - time.monotonic())))
            sock.connect(address)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            sock.close()
            continue
        break
    else:
        raise _Unreachable(reason.lower() if reason[:1].isupper() else reason)
    data = bytearray()
    try:
        host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = f"GET {target} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n"
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sock.sendall(request.encode("ascii"))
        length = None  # the body's length, once the head is read
        while length is None or len(data) < length:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            chunk = sock.recv(min(1 << 20, HEAD_LIMIT + ANSWER_LIMIT + 1 - len(data)))
            if not chunk:
                break
            data += chunk
            if length is None:
                end = data.find(b"\r\n\r\n", 0, HEAD_LIMIT)
                if end >= 0:
                    status, headers = _head(bytes(data[:end]))
                    length = end + 4 + _content_length(headers)
                    data_head = (status, headers, end + 4)
                elif len(data) > HEAD_LIMIT:
                    raise _Unusable(f"its headers are longer than {HEAD_LIMIT} bytes")
    except (TimeoutError, _socket.timeout):
        raise _Unreachable(f"no answer within {ANSWER_SECONDS:g} s") from None
    except OSError as error:
        raise _Unreachable(f"no answer ({_line(error.strerror or type(error).__name__)})") from None
    finally:
        sock.close()
    if length is None:
        raise _Unusable("the answer is not HTTP" if data else "it closed the connection without answering")
    if len(data) < length:
        raise _Unusable("the answer was cut short")
    status, headers, start = data_head
    return status, headers, bytes(data[start:length])


def _head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and headers of an answer: `HTTP/1.x DDD reason`, then `Name: value` lines, at most
    HEADERS of them, none given twice. Raises _Unusable for anything else."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = parts[1] if len(parts) >= 2 else ""
    if parts[0] not in ("HTTP/1.0", "HTTP/1.1") or not (len(status) == 3 and status.isascii() and status.isdigit()):
        raise _Unusable("the answer is not HTTP")
    if len(lines) > HEADERS + 1:
        raise _Unusable(f"it sent more than {HEADERS} headers")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or not set(name) <= _TOKEN:
            raise _Unusable(f"a malformed header ({_line(line[:60])!r})")
        key = name.lower()
        if key in headers:
            raise _Unusable(f"the header {_line(name)} twice")
        headers[key] = value.strip(" \t")
    if "transfer-encoding" in headers:
        raise _Unusable("a Transfer-Encoding (semsearch serve sends a Content-Length)")
    return int(status), headers


def _content_length(headers: dict[str, str]) -> int:
    value = headers.get("content-length")
    if value is None:
        raise _Unusable("no Content-Length")
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        raise _Unusable(f"a Content-Length that is not a number ({_line(value[:40])!r})")
    if int(value) > ANSWER_LIMIT:
        raise _Unusable(f"an answer of {int(value)} bytes, more than the {ANSWER_LIMIT >> 20} MiB this client reads")
    return int(value)


def _target(prefix: str, options: dict) -> str:
    """The request target of a question. The question goes as the server reads it: its first
    QUESTION_LIMIT characters (one more, so that the server says it was cut, as a local `ask`
    does); COLUMNS and LINES only when they are numbers (a local `ask` ignores others)."""
    env = os.environ
    question = options["question"][: QUESTION_LIMIT + 1]
    params = [("v", PROTOCOL), ("q", question), ("k", str(int(options["k"])))]
    if options["mode"] is not None:
        params.append(("mode", options["mode"]))
    if options["min_score"] is not None:
        params.append(("min_score", options["min_score"]))
    params += [("full", "1" if options["full"] else "0"), ("json", "1" if options["json"] else "0")]
    params.append(("sure_only", "1" if options["sure_only"] else "0"))
    if options["format"] is not None:
        params.append(("format", options["format"]))
    # The index the question is meant for, when this command line or environment names one: the
    # server refuses to answer from another. (As cli/paths.py: the option, else the variable.)
    index = options["index"] or env.get("SEMSEARCH_INDEX")
    if index:  # a path, made absolute; a Qdrant URI (scheme://…) as it is
        params.append(("index", index if "://" in index else os.path.abspath(index)))
    corpus = options["corpus"] or [p for p in env.get("SEMSEARCH_CORPUS", "").split(os.pathsep) if p]
    params += [("corpus", os.path.abspath(path)) for path in corpus]
    params += [("out_tty", "1" if _isatty(sys.stdout) else "0"), ("err_tty", "1" if _isatty(sys.stderr) else "0")]
    params.append(("size", _terminal_size()))
    for name in CONSOLE_ENV:
        value = env.get(name)
        if value is not None and (name not in ("COLUMNS", "LINES") or _number(value)):
            params.append(("env", f"{name}={value}"))
    target = f"{prefix}/cli/ask?" + "&".join(f"{key}={_quote(value)}" for key, value in params)
    if len(target) > TARGET_LIMIT:
        raise _Unusable(f"the request would be {len(target)} bytes, more than a server reads ({TARGET_LIMIT})")
    return target


def _number(text: str) -> bool:
    """A whole number as the local command reads COLUMNS and LINES (cli/console.py): ASCII digits."""
    return text.strip().isascii() and text.strip().isdigit() and len(text.strip()) <= 5


def _utf8(stream: object) -> bool:
    encoding = str(getattr(stream, "encoding", "") or "").lower().replace("_", "-")
    return encoding in ("utf-8", "utf8")


def _line(text: str) -> str:
    """One line as the local command prints it (text.safe_line): every control escaped."""
    return text.translate(_ESCAPED)


def _terminal(text: str) -> str:
    """An answer as it may reach this terminal: the colour and hyperlink sequences a local `ask`
    writes, and newlines and tabs; every other control escaped (a clipboard write, a title, a
    cleared screen from a hostile server show as text). Linear in the answer's length: every
    search goes forward, and the end of a hyperlink is looked for once per stretch of text."""
    if "\x1b" not in text:
        return text.translate(_IN_ANSWER)
    out = []
    start = 0
    terminator = -2  # where the next ST (ESC \\) is, once looked for (-1: none left)
    while (at := text.find("\x1b", start)) >= 0:
        out.append(text[start:at].translate(_IN_ANSWER))
        size = 0
        if text.startswith("\x1b[", at):
            size = _sgr(text, at)
        elif text.startswith("\x1b]8;", at):
            if terminator != -1 and terminator < at + 4:
                terminator = text.find("\x1b\\", at + 4)
            size = _hyperlink(text, at, terminator)
        out.append(text[at : at + size] if size else "\\x1b")
        start = at + (size or 1)
    out.append(text[start:].translate(_IN_ANSWER))
    return "".join(out)


def _sgr(text: str, at: int) -> int:
    """The length of the colour sequence (SGR, `ESC [ 1;36 m`) at `at`, else 0."""
    end = at + 2
    while end < len(text) and end - at < 64 and text[end] in "0123456789;:":
        end += 1
    return end + 1 - at if text.startswith("m", end) else 0


def _hyperlink(text: str, at: int, end: int) -> int:
    """The length of the OSC 8 hyperlink (`ESC ] 8 ; id=N ; URI ESC \\`) at `at`, ending at `end`
    (the next ST), its URI free of controls and at most 8,192 characters; else 0."""
    if end < 0 or end - at > 8192:
        return 0
    params, semicolon, uri = text[at + 4 : end].partition(";")
    if semicolon and set(params) <= _NAME | {"=", ":"} and uri.translate(_ESCAPED) == uri:
        return end + 2 - at
    return 0


def _json_error(message: str) -> str:
    """The JSON error object a local `ask --json` prints (console.json_text), without importing json."""
    return '{"error": {"type": "IndexStoreError", "message": "' + message.translate(_IN_JSON) + '"}}\n'


def _say(message: str) -> None:
    try:
        sys.stderr.write(f"semsearch: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _names_an_index(options: dict) -> bool:
    """Whether this command line or environment names the index to answer from (then a local
    answer is from the same index as the server's would be)."""
    env = os.environ
    return bool(options["index"] or options["corpus"] or env.get("SEMSEARCH_INDEX") or env.get("SEMSEARCH_CORPUS"))


def _read_question(options: dict) -> bool:
    """A question on stdin, read as `ask` reads it: at most STDIN_LIMIT bytes, then handed back to
    the local command should the answer be local after all. False when it is not UTF-8 (the local
    command says so)."""
    data = sys.stdin.buffer.read(STDIN_LIMIT + 1)
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data[:STDIN_LIMIT], final=len(data) <= STDIN_LIMIT)
    except UnicodeDecodeError:
        return False
    # As `ask` reads it: without the newline `echo question |` ends it with.
    options["question"] = text.removesuffix("\n").removesuffix("\r")
    return True


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
    if options["question"] == "-" and not _read_question(options):
        return None
    if len([line for line in options["question"].splitlines() if line.strip()]) > 1:
        # Several questions, one per line: `ask` answers them in turn, here, from the index named here.
        if _names_an_index(options):
            return None
        sys.stderr.write(
            "error: several questions on stdin are answered by the local command, not through "
            f"{ENV_SERVER}; name the index (--index or --corpus) or ask them one at a time\n"
        )
        return LOCAL_EXIT_CODES["usage"]
    if not _valid(options) or not (_utf8(sys.stdout) and _utf8(sys.stderr)):
        return None  # the real command says what is wrong (or writes in this odd encoding itself)
    shown = _line(url.strip())
    try:
        host, port, prefix = _address(url)
        target = _target(prefix, options)
        status, headers, body = _request(host, port, target)
        if status == 409:  # it serves another index than the one this command line names
            _say(f"the server at {shown} serves another index ({_refusal(status, body)}); answering here")
            return None
        if status != 200:
            raise _Unusable(_refusal(status, body))
        code, stderr, stdout = _answer(headers, body)
    except _Unreachable as unreachable:
        _say(f"no semsearch server at {shown} ({unreachable}); answering here")
        return None
    except _Unusable as unusable:
        return _unusable(options, shown, str(unusable))
    except Exception as failure:  # whatever else a hostile answer provokes is as unusable
        return _unusable(options, shown, f"{type(failure).__name__}: {_line(str(failure)[:200])}")
    return _write(_terminal(stderr), _terminal(stdout), code)


def _unusable(options: dict, shown: str, reason: str) -> int | None:
    """The server answered, but not usably: answer here when this command line names the index
    (the same index the server would have answered from), else one line and exit 4. Without an
    index named here, a local answer would come from another glossary (./corpus, the bundled one)
    than the server's: an error, not a different answer."""
    if _names_an_index(options):
        _say(f"the server at {shown} gave no usable answer ({reason}); answering here")
        return None
    message = f"the semsearch server at {shown} gave no usable answer ({reason}); ask again, or without it: --server ''"
    if options["json"] or options["format"] in ("json", "jsonl"):
        return _write("", _json_error(message), 4)
    return _write(f"error: {_line(message)}\n", "", 4)


def _answer(headers: dict[str, str], body: bytes) -> tuple[int, str, str]:
    """(exit code, stderr, stdout) of a thin answer. Raises _Unusable unless its headers are the
    numbers they must be and its text is UTF-8."""
    code, split = headers.get("x-semsearch-exit", ""), headers.get("x-semsearch-stderr", "")
    if not (code.isascii() and code.isdigit() and len(code) <= 3 and int(code) in EXIT_CODES):
        raise _Unusable(f"an exit code that is not one of semsearch's ({_line(code[:40])!r})")
    if not (split.isascii() and split.isdigit() and len(split) <= 12 and int(split) <= len(body)):
        raise _Unusable(f"a stderr length that does not fit its answer ({_line(split[:40])!r})")
    try:
        stderr, stdout = body[: int(split)].decode("utf-8"), body[int(split) :].decode("utf-8")
    except UnicodeDecodeError:
        raise _Unusable("an answer that is not UTF-8") from None
    return int(code), stderr, stdout


def _write(stderr: str, stdout: str, code: int) -> int:
    try:
        if stderr:
            sys.stderr.write(stderr)
            sys.stderr.flush()
        sys.stdout.write(stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`semsearch ask ... | head -1`), as the local command handles it.
        try:  # noqa: SIM105 - not contextlib: this path imports as little as it can
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return LOCAL_EXIT_CODES["broken_pipe"]  # as the local command
    return code


def _refusal(status: int, body: bytes) -> str:
    """The server's error message when it sent one (one line, at most 300 characters), else the status."""
    text = body[:4096].decode("utf-8", "replace")
    marker = '"message": "'
    at = text.find(marker)
    if at < 0:
        return f"HTTP {status}"
    message: list[str] = []
    i = at + len(marker)
    while i < len(text) and text[i] != '"' and len(message) < 300:
        if text[i] == "\\" and i + 1 < len(text):
            escape = text[i + 1]
            if escape == "u" and i + 6 <= len(text):
                digits = text[i + 2 : i + 6]
                message.append(chr(int(digits, 16)) if set(digits) <= _HEX else "?")
                i += 6
                continue
            message.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(escape, escape))
            i += 2
            continue
        message.append(text[i])
        i += 1
    return _line("".join(message)) or f"HTTP {status}"
