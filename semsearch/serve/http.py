"""`semsearch serve`: the index kept warm behind a small HTTP JSON API (standard library only).

    GET /ask?q=...&k=5&mode=hybrid&min_score=0.3&full=1   the object `semsearch ask --json [--full]` prints
    GET /show?term=...&source=FILE                   the object `semsearch show --json` prints
    GET /terms?source=FILE&entries=1                 the object `semsearch terms --json [--entries]` prints
    GET /health                                      index, corpus, encoder, counts, built at, rebuilds
    GET /cli/ask?...                                 `semsearch ask` as printed, for the thin client
    GET /?q=...  /term/NAME  /static/FILE            the search page, for a person (page.py)

Errors are `{"error": {"type", "message"}}` with a 4xx status (a bad question or parameter, an
unknown path or method) or 500 (a bug: logged with its traceback, never sent). Each connection gets
a thread (`ThreadingHTTPServer`); questions run in parallel on the shared index (resident.py
says why that is safe). SIGINT and SIGTERM stop it: no new connections, the requests under way
finish (a few seconds at most), the port is released, exit 0.

The thin client (client.py) sends its terminal's settings (is it a terminal, its width,
the variables rich reads) and gets back exactly what a local `semsearch ask` would have written
on stdout and stderr, and its exit code, so it prints without importing rich or numpy.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .._version import __version__
from ..errors import IndexMismatchError, QueryError, SemsearchError, ServiceError
from ..location import location_text, parse_location, same_location
from ..modes import DEFAULT_MODE, check_mode
from ..present.messages import message as laid_out
from ..present.messages import width_of
from ..request import (
    CONSOLE_ENV,
    DEFAULT_K,
    JSON_FORMATS,
    THIN_PROTOCOL,
    Request,
    check_format,
    check_k,
    check_min_score,
)
from .resident import Resident

__all__ = ["serve", "make_server", "health_object", "THIN_PROTOCOL", "DEFAULT_PORT", "LOCAL_NAMES"]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# How long a stop waits for the requests under way.
DRAIN_SECONDS = 5.0
# An idle keep-alive connection is closed after this long (its thread ends).
IDLE_SECONDS = 30.0
# Connections the kernel queues while every thread is busy (socketserver's 5 made every ~7th of
# many quick connections wait a second for a retransmitted SYN).
BACKLOG = 128
#: The Host names a server answers for without --allow-host: this machine's names (a web page that
#: rebinds its own name to 127.0.0.1 sends its name, and is refused), besides the address it is bound to.
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

_PARAMS = {
    "/ask": ("q", "k", "mode", "min_score", "full"),
    "/show": ("term", "source"),
    "/terms": ("source", "entries"),
    "/health": (),
    "/cli/ask": tuple("v q k mode min_score full json sure_only format index corpus out_tty err_tty size env".split()),
}
_REPEATABLE = {"corpus", "env"}


class HTTPError(Exception):
    """A request semsearch refuses: the status, and the error object's type and message."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


# -- the JSON objects ---------------------------------------------------------------------------


def health_object(resident: Resident) -> dict[str, Any]:
    """What GET /health answers: which index, from which corpus, with which encoder, how big, built
    when, and what the background refresh is doing."""
    index = resident.index
    manifest = index.manifest
    encoder = index.scoring.loaded_encoder
    return {
        "status": "ok",
        "version": __version__,
        "pid": os.getpid(),
        "index": location_text(index.path),
        "corpus": list(manifest.roots),
        "encoder": index.scoring.encoder_id,
        "engine": getattr(encoder, "engine", None) if encoder is not None else None,
        "counts": dict(manifest.counts),
        "terms": len(index),
        "built_at": manifest.built_at,
        "generation": resident.generation,
        "rebuilding": resident.rebuilding,
        "last_rebuild": resident.last_rebuild.to_dict() if resident.last_rebuild else None,
    }


# -- parameters ---------------------------------------------------------------------------------


def parse_query(path: str, query: str, allowed: Sequence[str] | None = None) -> dict[str, list[str]]:
    """The query string's parameters, decoded as UTF-8 (raw bytes in the request line included).

    Refuses (400) undecodable text, parameters the path does not take (`allowed`, else the
    endpoint's own), and a parameter given twice.
    """
    params: dict[str, list[str]] = {}
    allowed = _PARAMS[path] if allowed is None else allowed
    for pair in query.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        try:
            # http.server decoded the request line as Latin-1: back to its bytes, then percent-decoding.
            key, value = (
                urllib.parse.unquote_to_bytes(part.replace("+", " ").encode("latin-1")).decode("utf-8")
                for part in (raw_key, raw_value)
            )
        except UnicodeError:
            raise HTTPError(400, "QueryError", "the query string is not valid UTF-8") from None
        if key not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise HTTPError(400, "QueryError", f"unknown parameter {key!r}; {path} takes {takes}")
        if key in params and key not in _REPEATABLE:
            raise HTTPError(400, "QueryError", f"parameter {key!r} given more than once")
        params.setdefault(key, []).append(value)
    return params


def _one(params: dict[str, list[str]], key: str) -> str | None:
    return params[key][0] if key in params else None


def _checked(check: Callable[..., Any], value: Any, *shown: str) -> Any:
    """`check(value)` (request.py: the one set of checks every face runs), its QueryError a 400."""
    try:
        return check(value, *shown)
    except QueryError as error:
        raise HTTPError(400, "QueryError", str(error)) from None


def _k(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_K
    return _checked(check_k, int(raw) if re.fullmatch(r"[0-9]{1,7}", raw) else -1, raw)


def _mode(raw: str | None) -> str:
    if raw is None:
        return DEFAULT_MODE
    return _checked(check_mode, raw)


def _min_score(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    return _checked(check_min_score, value, raw)


def _question(params: dict[str, list[str]]) -> str:
    question = _one(params, "q")
    if question is None:
        raise HTTPError(400, "QueryError", "missing parameter 'q' (the question)")
    return question


def _console_env(params: dict[str, list[str]]) -> dict[str, str]:
    """The client's console variables (`env=NAME=VALUE`): names rich reads, and COLUMNS and LINES
    numbers (the thin client sends no other; a local `ask` ignores them)."""
    env: dict[str, str] = {}
    for item in params.get("env", []):
        name, sep, value = item.partition("=")
        if not sep or name not in CONSOLE_ENV:
            raise HTTPError(400, "QueryError", f"env takes NAME=VALUE for one of {', '.join(CONSOLE_ENV)}")
        if name in ("COLUMNS", "LINES") and not re.fullmatch(r"[0-9]{1,5}", value.strip()):
            raise HTTPError(400, "QueryError", f"env {name} must be a whole number, not {value[:40]!r}")
        env[name] = value.strip() if name in ("COLUMNS", "LINES") else value
    return env


def _flag(params: dict[str, list[str]], key: str) -> bool:
    raw = _one(params, key)
    if raw not in (None, "", "0", "1"):
        raise HTTPError(400, "QueryError", f"{key} must be 0 or 1, not {raw!r}")
    return raw == "1"


# -- the thin client's answer -------------------------------------------------------------------


class _Screen(io.StringIO):
    """A rich Console's file standing in for the client's stdout or stderr."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def _console_size(env: dict[str, str], dumb: bool, fd_size: tuple[int, int] | None) -> tuple[int, int]:
    """The width and height rich's Console would find in the client's process (rich's own rules,
    Console.__init__ and Console.size, with the client's terminal size for the one it reads)."""
    columns, lines = env.get("COLUMNS", ""), env.get("LINES", "")
    width = int(columns) if columns.isascii() and columns.isdigit() else None
    height = int(lines) if lines.isascii() and lines.isdigit() else None
    if width is not None and height is not None:
        return width, height
    if dumb:
        return 80, 25
    found_w, found_h = fd_size or (0, 0)
    return (width if width is not None else found_w or 80), (height if height is not None else found_h or 25)


def _client_console(tty: bool, env: dict[str, str], fd_size: tuple[int, int] | None, **options: Any) -> Any:
    from rich.console import Console

    probe = Console(file=_Screen(tty), _environ=env, legacy_windows=False)
    width, height = _console_size(env, probe.is_dumb_terminal, fd_size)
    return Console(
        file=_Screen(tty), _environ=env, legacy_windows=False, width=width, height=height, highlight=False, **options
    )


class _WarningsOfThisThread(logging.Handler):
    """Collects the library's warnings logged by the thread answering a thin client, which a local
    `ask` would have printed as 'warning:' lines."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    @contextlib.contextmanager
    def collect(self) -> Iterator[list[str]]:
        messages: list[str] = []
        self._local.messages = messages
        try:
            yield messages
        finally:
            self._local.messages = None

    def emit(self, record: logging.LogRecord) -> None:
        messages = getattr(self._local, "messages", None)
        if messages is not None:
            messages.append(record.getMessage())


_warnings = _WarningsOfThisThread()


def _same_index(resident: Resident, params: dict[str, list[str]]) -> None:
    """The thin client named an index or corpus (--index, --corpus, $SEMSEARCH_INDEX or _CORPUS):
    refuse (409) when it is not the one served, so that the client answers locally instead."""
    from ..corpus import resolved_roots

    index = resident.index
    named = _one(params, "index")
    for value in [named or "", *params.get("corpus", [])]:
        if "\x00" in value:
            raise HTTPError(400, "QueryError", "index and corpus are paths or URIs, which hold no NUL character")
    if named and not same_location(parse_location(named), index.path):
        raise HTTPError(
            409, IndexMismatchError.__name__, f"this server answers from the index at {index.path}, not from {named}"
        )
    corpus = params.get("corpus")
    if corpus and resolved_roots(corpus) != tuple(index.manifest.roots):
        raise HTTPError(
            409,
            IndexMismatchError.__name__,
            f"this server answers from the index of {', '.join(index.manifest.roots)}, not of {', '.join(corpus)}",
        )


#: What lays out `semsearch ask`'s answer for the thin client: (answer, index, format, full) -> a rich
#: renderable or the text itself. The `serve` command hands over the terminal's own (cli/render.py's
#: `answer_output`), so both print the same and the service never imports the command.
Cards = Callable[[Any, Any, str, bool], Any]


def cli_ask(resident: Resident, params: dict[str, list[str]], cards: Cards | None) -> tuple[int, str, str]:
    """`semsearch ask` as a local run would print it, for the thin client: (exit code, stdout, stderr)."""
    from ..confidence import answered, unanswered_notice
    from ..errors import EXIT_CODES
    from .payloads import answer_object, json_text

    if _one(params, "v") != THIN_PROTOCOL:
        raise HTTPError(400, "QueryError", f"this server speaks version {THIN_PROTOCOL} of /cli/ask")
    _same_index(resident, params)
    question, k, mode = _question(params), _k(_one(params, "k")), _mode(_one(params, "mode"))
    min_score, full, as_json = _min_score(_one(params, "min_score")), _flag(params, "full"), _flag(params, "json")
    sure_only = _flag(params, "sure_only")
    fmt = _one(params, "format") or "text"
    _checked(check_format, fmt)
    fmt = "json" if as_json else fmt
    as_json = fmt in JSON_FORMATS  # as `ask`: its errors are JSON objects too
    env = _console_env(params)
    size = re.fullmatch(r"([0-9]{1,5})x([0-9]{1,5})", _one(params, "size") or "")
    fd_size = (int(size[1]), int(size[2])) if size else None
    out = _client_console(_flag(params, "out_tty"), env, fd_size, soft_wrap=True)  # as console.out
    err = _client_console(_flag(params, "err_tty"), env, fd_size)
    failure: SemsearchError | None = None
    with _warnings.collect() as warnings:
        try:
            index, answer = resident.ask(Request(question, k, mode, min_score, full, fmt, sure_only))
        except SemsearchError as error:
            failure = error
    # As cli/console.py's WarningHandler, `fail` and cli.ask print them, in the order a local run does.
    for message in warnings:
        err.print(laid_out(message, "warning", width=width_of(err)), soft_wrap=True)
    if failure is not None:
        if as_json:
            return (
                failure.exit_code,
                json_text({"error": {"type": type(failure).__name__, "message": str(failure)}}) + "\n",
                err.file.getvalue(),
            )
        err.print(laid_out(str(failure), "error", width=width_of(err)), soft_wrap=True)
        return failure.exit_code, "", err.file.getvalue()
    # As `ask` ends (cli.ask): exit 1 when the answer is no match (or, with --sure-only, not sure),
    # saying so on stderr when the output is not the text that says it.
    code = 0 if answered(answer.state, sure_only) else EXIT_CODES["no_match"]
    if code and fmt != "text":
        err.print(
            laid_out(unanswered_notice(answer.state, question, bool(answer.hits)), width=width_of(err)), soft_wrap=True
        )
    if fmt == "json":
        return code, json_text(answer_object(answer, index, full)) + "\n", err.file.getvalue()
    # As `ask` prints it (cli._print_answer): the same renderable, laid out for the client's terminal.
    if cards is None:
        raise HTTPError(404, "NotFound", "this server lays out no answers for the thin client; ask /ask")
    output = cards(answer, index, fmt, full)
    if isinstance(output, str):
        return code, output, err.file.getvalue()
    out.print(output)
    return code, out.file.getvalue(), err.file.getvalue()


# -- HTTP -------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    """One connection: GET requests routed to the index; everything else a JSON error."""

    server: SemsearchHTTPServer
    server_version = f"semsearch/{__version__}"
    protocol_version = "HTTP/1.1"  # keep-alive: a client asking many questions keeps its connection
    timeout = IDLE_SECONDS
    # Headers and body leave in two writes: with Nagle's algorithm the second waits for the client's
    # delayed ACK of the first, ~40 ms on Linux, more than a question takes (bench/RESULTS.md).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.server.track(+1)
        try:
            self._answer()
        finally:
            self.server.track(-1)

    def do_HEAD(self) -> None:
        """HEAD of a page (a browser or a link checker asks); the API answers GET only."""
        if _page_route(urllib.parse.urlsplit(self.path).path) is None:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED)
            return
        self.do_GET()

    def _answer(self) -> None:
        try:
            self._check_host()
            split = urllib.parse.urlsplit(self.path)
            route = _page_route(split.path)
            if route is not None:
                self._page(route, split.path, split.query)
                return
            path = split.path.rstrip("/") or "/"
            if path not in _PARAMS:
                raise HTTPError(
                    404,
                    "NotFound",
                    f"no such endpoint {path!r}; try {', '.join(sorted(_PARAMS))}, or / (the search page)",
                )
            params = parse_query(path, split.query)
            if path == "/cli/ask":
                code, stdout, stderr = cli_ask(self.server.resident, params, self.server.cards)
                self._send_thin(code, stdout, stderr)
                return
            self._send_json(200, self._route(path, params))
        except HTTPError as error:
            self._send_error(error.status, error.kind, error.message)
        except SemsearchError as error:
            status = 404 if isinstance(error, QueryError) and self._lookup() else 400 if error.exit_code == 2 else 500
            if status == 500:
                log.error("%s answering %s", error, self.path[:200])
            self._send_error(status, type(error).__name__, str(error))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away: nobody to answer
        except Exception as error:
            log.exception("internal error answering %s", self.path[:200])
            self._send_error(500, "InternalError", f"internal error: {type(error).__name__}: {error}")

    def _send_error(self, status: int, kind: str, message: str) -> None:
        """An error object, unless the client went away meanwhile (then nobody is told, and
        nothing is printed: it used to be a traceback on the server's stderr)."""
        try:
            self._send_json(status, {"error": {"type": kind, "message": message}})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _check_host(self) -> None:
        """Refuse (403) a request for another host than this one (DNS rebinding: a web page whose
        name now resolves to 127.0.0.1 asks with its own name in Host). A request without Host
        (HTTP/1.0) is answered; one with two is refused."""
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:
            raise HTTPError(400, "BadRequest", "more than one Host header")
        authority = urllib.parse.urlsplit(self.path).netloc  # an absolute-form target names the host itself
        if authority:
            hosts = [authority]
        if hosts and not self.server.allows(hosts[0]):
            raise HTTPError(
                403,
                "Forbidden",
                f"this server answers for {self.server.answers_for()}, not for Host {hosts[0][:100]!r}; "
                "`semsearch serve --allow-host NAME` answers for NAME too",
            )

    def _lookup(self) -> bool:
        """A request that looks something up by name (/show, /terms?source=): not found is a 404."""
        return self.path.startswith(("/show", "/terms"))

    def _route(self, path: str, params: dict[str, list[str]]) -> dict[str, Any]:
        from .payloads import answer_object, show_object, terms_object

        resident = self.server.resident
        if path == "/ask":
            request = Request(
                _question(params),
                _k(_one(params, "k")),
                _mode(_one(params, "mode")),
                _min_score(_one(params, "min_score")),
                _flag(params, "full"),
            )
            index, answer = resident.ask(request)
            return answer_object(answer, index, request.full)
        if path == "/show":
            term = _one(params, "term")
            if term is None or not term.strip():
                raise HTTPError(400, "QueryError", "missing parameter 'term' (any of the term's names)")
            index = resident.index
            with resident.guard(index):  # a name not found is answered with suggestions (a search)
                return show_object(index, term, _one(params, "source"))
        if path == "/terms":
            return terms_object(resident.index, _one(params, "source"), _flag(params, "entries"))
        return health_object(resident)

    # -- the page ---------------------------------------------------------------------------

    def _page(self, route: str, raw_path: str, query: str) -> None:
        """The search page (page.py): HTML for a person, errors as pages too."""
        from . import page

        try:
            params = parse_query(route, query, page.PAGE_PARAMS[route])
            if route == "/static":
                self._send_static(raw_path.removeprefix("/static/"), _one(params, "v"))
                return
            title, question, main = page.render(self.server.resident, route, _path_text(raw_path), params)
            status = 200
        except HTTPError as error:
            status, title, question, main = error.status, error.kind, "", page.message_html("error", error.message)
        except QueryError as error:
            status, title, question, main = 404, "Not found", "", page.message_html("error", str(error))
        except SemsearchError as error:  # the index or the model failing: a page too (page.js reads its <main>)
            status = 400 if error.exit_code == 2 else 500
            if status == 500:
                log.error("%s answering %s", error, self.path[:200])
            title, question, main = type(error).__name__, "", page.message_html("error", str(error))
        index_name = f"{len(self.server.resident.index)} terms"
        body = page.page_html(main, question, title, index_name).encode("utf-8")
        self._send(status, body, "text/html; charset=utf-8", {**page.HEADERS, "Cache-Control": "no-cache"})

    def _send_static(self, name: str, version: str | None) -> None:
        from . import page

        found = page.static_file(name)
        if found is None:
            raise HTTPError(404, "NotFound", f"no static file {name[:100]!r}")
        etag = f'"{found.version}"'
        # Under its version the file never changes (a new one has a new URL); otherwise ask again.
        cache = "public, max-age=31536000, immutable" if version == found.version else "no-cache"
        headers = {**page.HEADERS, "Cache-Control": cache, "ETag": etag}
        if etag in (self.headers.get("If-None-Match") or ""):
            self._send(304, b"", found.content_type, headers)
            return
        self._send(200, found.body, found.content_type, headers)

    # -- writing ------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status != HTTPStatus.NOT_MODIFIED:  # a 304's length would be the file's, not 0
            self.send_header("Content-Length", str(len(body)))
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", **(headers or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        from .payloads import json_text

        self._send(status, (json_text(data) + "\n").encode("utf-8"), "application/json; charset=utf-8", headers)

    def _send_thin(self, code: int, stdout: str, stderr: str) -> None:
        err = stderr.encode("utf-8")
        body = err + stdout.encode("utf-8")
        headers = {"X-Semsearch-Exit": str(code), "X-Semsearch-Stderr": str(len(err))}
        self._send(200, body, "application/octet-stream", headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, a header too long, a method it has
        no handler for) as JSON errors too; any method but GET is 405."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # an unparseable request line: still answer with a status
            self.request_version = "HTTP/1.0"
        known = code in HTTPStatus._value2member_map_
        status, kind = code, HTTPStatus(code).phrase.replace(" ", "") if known else "Error"
        headers = {}
        if code == HTTPStatus.NOT_IMPLEMENTED or (self.command and self.command != "GET" and code < 500):
            status, kind = 405, "MethodNotAllowed"
            message = f"method {self.command} not allowed; semsearch serve answers GET"
            headers["Allow"] = "GET, HEAD" if _page_route(urllib.parse.urlsplit(self.path or "").path) else "GET"
        text = message or (HTTPStatus(code).phrase if known else "error")
        with contextlib.suppress(OSError):  # the client may be gone already
            self._send_json(status, {"error": {"type": kind, "message": text}}, headers)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


# Every other method is refused the same way (http.server looks for do_<METHOD>; HEAD: do_HEAD above).
for _method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"):
    setattr(Handler, f"do_{_method}", lambda self: self.send_error(HTTPStatus.NOT_IMPLEMENTED))


def _page_route(path: str) -> str | None:
    """Which of the page's routes a path is ("/", "/term", "/static"), or None (the JSON API's)."""
    if path == "/":
        return "/"
    for route in ("/term/", "/static/"):
        if path.startswith(route) and len(path) > len(route):
            return route[:-1]
    return None


def _path_text(path: str) -> str:
    """A request path as text: percent-decoded as UTF-8 (a 400 when it is not)."""
    try:
        return urllib.parse.unquote_to_bytes(path.encode("latin-1")).decode("utf-8")
    except UnicodeError:
        raise HTTPError(400, "QueryError", "the path is not valid UTF-8") from None


class SemsearchHTTPServer(ThreadingHTTPServer):
    """A thread per connection, each a daemon (a stop does not wait for idle keep-alive connections,
    only, briefly, for the requests under way: `track`)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG

    resident: Resident  # set before `serve`
    cards: Cards | None = None  # how /cli/ask lays out an answer; without it, /cli/ask is not served

    def __init__(
        self, address: tuple[str, int], resident: Resident | None = None, allow_hosts: Sequence[str] = ()
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        if resident is not None:
            self.resident = resident
        self._busy = 0
        self._busy_lock = threading.Condition()
        super().__init__(address, Handler)
        bound = str(self.socket.getsockname()[0])
        self._any_host = "*" in allow_hosts
        self._hosts = LOCAL_NAMES | {_host_name(bound)} | {_host_name(h) for h in allow_hosts if h != "*"}

    def allows(self, host: str) -> bool:
        """Whether a request's Host header names this server (its port aside): a local name, the
        address it is bound to, or a name given with --allow-host."""
        name = _host_name(host)
        return self._any_host or name in self._hosts or name.endswith(".localhost")

    def answers_for(self) -> str:
        return ", ".join(sorted(self._hosts))

    @property
    def exposed(self) -> bool:
        """Whether it listens beyond this machine (any address but a loopback one)."""
        try:
            return not ipaddress.ip_address(str(self.socket.getsockname()[0]).split("%")[0]).is_loopback
        except ValueError:
            return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that fails outside a request's own handling: the client going away is
        nothing to report; anything else is logged with its traceback (not socketserver's print)."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %s", client_address, sys.exc_info()[1])
            return
        log.exception("internal error on a connection from %s", client_address)

    def track(self, delta: int) -> None:
        with self._busy_lock:
            self._busy += delta
            self._busy_lock.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until no request is being answered (at most `timeout` s)."""
        with self._busy_lock:
            return self._busy_lock.wait_for(lambda: self._busy == 0, timeout)

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]  # the bound address (the port chosen for port 0)
        return f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"


def _host_name(host: str) -> str:
    """The name part of a Host header or address, as compared: lower case, without the port, the
    brackets of an IPv6 address or a final dot."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.removesuffix(".")


def make_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    resident: Resident | None = None,
    allow_hosts: Sequence[str] = (),
    cards: Cards | None = None,
) -> SemsearchHTTPServer:
    """Bind the address (port 0: any free one); set `.resident` before `serve` when not given here.
    Requests are answered for the Host names in LOCAL_NAMES, the bound address and `allow_hosts`
    ("*": any). Raises ServiceError when the address cannot be bound (or is empty); warns (on the
    "semsearch" logger) when it is reachable from other machines. `cards` lays out the thin client's
    answers (/cli/ask): the `serve` command hands over the terminal's."""
    if not host.strip():
        raise ServiceError(
            "--host is empty; name the address to listen on: 127.0.0.1 (this machine), or 0.0.0.0 (every interface)"
        )
    try:
        server = SemsearchHTTPServer((host, port), resident, allow_hosts)
        server.cards = cards
    except OSError as error:
        reason = error.strerror or str(error)
        raise ServiceError(f"cannot listen on {host}:{port} ({reason}); choose another --port or --host") from None
    except OverflowError:
        raise ServiceError(f"port {port} is out of range (0-65535)") from None
    if server.exposed:
        log.warning(
            "listening on %s, not only on this machine: anyone who can reach it can read the glossary and the "
            "index's paths (there is no authentication); --host 127.0.0.1 keeps it to this machine",
            host,
        )
    return server


def serve(server: SemsearchHTTPServer, on_ready: Callable[[str], None] | None = None) -> None:
    """Answer requests until SIGINT or SIGTERM (or `server.shutdown()`), then stop cleanly: the
    requests under way finish, the port is released, the corpus watcher stops."""
    resident = server.resident
    logging.getLogger("semsearch").addHandler(_warnings)
    # An internal error is logged with its traceback on stderr (the client gets one JSON line).
    errors = logging.StreamHandler()
    errors.setLevel(logging.ERROR)
    errors.setFormatter(logging.Formatter("semsearch serve: %(asctime)s %(message)s"))
    log.addHandler(errors)
    log.propagate = False
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever to return: never from the thread running it.
            threading.Thread(target=server.shutdown, name="semsearch-stop", daemon=True).start()

    main_thread = threading.current_thread() is threading.main_thread()
    previous = {}
    if main_thread:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, stop)
    try:
        resident.start()
        if on_ready:
            on_ready(server.url)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()  # the listening socket: the port is free from here
        resident.stop()
        started = time.monotonic()
        server.drain(DRAIN_SECONDS)
        log.debug("drained in %.3f s", time.monotonic() - started)
        logging.getLogger("semsearch").removeHandler(_warnings)
        log.removeHandler(errors)
        log.propagate = True
        for sig, handler in previous.items():
            signal.signal(sig, handler)
