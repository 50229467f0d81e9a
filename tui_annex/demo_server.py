"""A local HTTP server on 127.0.0.1 that serves generated files: for the demo, tests and benchmarks.

Sized files, throttling, errors, stalls, Range.

Routes (``size`` in bytes, ``rate`` in bytes per second):

- ``/file/NAME?size=N[&rate=R]``: N deterministic bytes, honouring ``Range``.
- ``/status/CODE/NAME``: answers with that status (404, 500, ...).
- ``/stall/NAME?size=N[&after=K]``: sends the headers and K bytes, then nothing
  until the test calls :meth:`LocalServer.release` or the server closes.
- ``/flaky/NAME?size=N&fail=K``: answers 503 to the first K requests for NAME,
  then serves the file.
- ``/gate/NAME?size=N``: waits until :meth:`LocalServer.open_gate` opens NAME,
  then sends the file; lets a test choose the order in which downloads finish.
- ``/silent/NAME``: accepts the connection and never answers (no headers).
- ``/drop/NAME?size=N&times=K``: the first K GETs get half the body, then the
  connection is cut; later ones (and Range requests) are served.

Every request is logged (:attr:`LocalServer.requests`), and
:meth:`LocalServer.wait_for` waits for a request matching a condition.
It never listens on anything but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

CHUNK = 16 * 1024


@dataclass(frozen=True)
class Request:
    """One request the server saw."""

    method: str
    path: str
    name: str
    range: str | None
    time: float


def content(name: str, size: int) -> bytes:
    """The bytes served for NAME at SIZE (deterministic, different per name)."""
    seed = hashlib.sha256(name.encode()).digest()
    block = b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(128))
    return (block * (size // len(block) + 1))[:size]


class LocalServer:
    """The server, its request log, and the switches tests and the demo use to steer it."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._log_changed = threading.Condition()
        self._closing = threading.Event()
        self._gates: dict[str, threading.Event] = {}
        self._stalls = threading.Event()
        self._gate_lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                server._handle(self, head=True)

            def do_GET(self) -> None:
                server._handle(self, head=False)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                # A client killed mid-download (a forced stop) is expected, not an error.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)  # type: ignore[arg-type]

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Release every stalled or gated request and stop serving."""
        self._closing.set()
        self._stalls.set()
        with self._gate_lock:
            for gate in self._gates.values():
                gate.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    # -- URLs ---------------------------------------------------------------------------

    def file(self, name: str, size: int, *, rate: int | None = None) -> str:
        """URL of a file of ``size`` bytes, sent at ``rate`` bytes/s if given."""
        query = f"size={size}" + (f"&rate={rate}" if rate else "")
        return f"{self.base}/file/{quote(name)}?{query}"

    def status(self, code: int, name: str = "x") -> str:
        """URL that answers with HTTP status ``code``."""
        return f"{self.base}/status/{code}/{quote(name)}"

    def stall(self, name: str, size: int = 1 << 20, *, after: int = 0) -> str:
        """URL that sends ``after`` bytes of ``size`` and then stalls until released."""
        return f"{self.base}/stall/{quote(name)}?size={size}&after={after}"

    def flaky(self, name: str, size: int = 1000, *, fail: int = 1) -> str:
        """URL that fails (503) ``fail`` times, then serves ``size`` bytes."""
        return f"{self.base}/flaky/{quote(name)}?size={size}&fail={fail}"

    def silent(self, name: str) -> str:
        """URL that is accepted and never answered (no headers), until :meth:`release`."""
        return f"{self.base}/silent/{quote(name)}"

    def drop(self, name: str, size: int = 100_000, *, times: int = 1) -> str:
        """URL whose first ``times`` GETs are cut off after half the body; Range works."""
        return f"{self.base}/drop/{quote(name)}?size={size}&times={times}"

    def gate(self, name: str, size: int = 1000) -> str:
        """URL whose body is held back until :meth:`open_gate` opens ``name``."""
        return f"{self.base}/gate/{quote(name)}?size={size}"

    # -- steering -----------------------------------------------------------------------

    def open_gate(self, name: str) -> None:
        """Let the gated download ``name`` proceed."""
        self._gate(name).set()

    def release(self) -> None:
        """Let every stalled download finish."""
        self._stalls.set()

    def wait_for(self, condition: Callable[[list[Request]], bool], timeout: float = 60) -> None:
        """Block until ``condition(requests)`` holds; AssertionError after ``timeout``."""
        with self._log_changed:
            if not self._log_changed.wait_for(lambda: condition(self.requests), timeout):
                raise AssertionError(f"server never saw the expected requests: {self.requests}")

    def gets(self, name: str | None = None) -> list[Request]:
        """The GET requests so far, optionally only those for ``name``."""
        return [r for r in self.requests if r.method == "GET" and name in (None, r.name)]

    def _gate(self, name: str) -> threading.Event:
        with self._gate_lock:
            gate = self._gates.get(name)
            if gate is None:
                gate = self._gates[name] = threading.Event()
                if self._closing.is_set():
                    gate.set()
            return gate

    # -- serving ------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, *, head: bool) -> None:
        url = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        match = re.fullmatch(r"/(file|status|stall|gate|flaky|silent|drop)/(.*)", url.path)
        kind, rest = (match.group(1), match.group(2)) if match else ("", url.path)
        name = rest.split("/", 1)[1] if kind == "status" and "/" in rest else rest
        with self._log_changed:
            self.requests.append(
                Request(
                    "HEAD" if head else "GET",
                    handler.path,
                    name,
                    handler.headers.get("Range"),
                    time.monotonic(),
                )
            )
            self._log_changed.notify_all()
        try:
            if kind == "status":
                code = int(rest.split("/", 1)[0])
                body = f"status {code}\n".encode()
                handler.send_response(code)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                if not head:
                    handler.wfile.write(body)
                return
            if not kind:
                handler.send_error(404)
                return
            if kind == "silent":
                # Accepts the connection, reads the request, and never answers.
                self._stalls.wait()
                return
            if kind == "drop" and not head:
                seen = sum(1 for r in self.requests if r.name == name and r.method == "GET")
                if seen <= int(query.get("times", "1")):
                    # Headers and half the body, then the connection is cut.
                    size = int(query.get("size", "1000"))
                    handler.send_response(200)
                    handler.send_header("Content-Length", str(size))
                    handler.send_header("Accept-Ranges", "bytes")
                    handler.end_headers()
                    handler.wfile.write(content(name, size)[: size // 2])
                    handler.wfile.flush()
                    handler.close_connection = True
                    return
            if kind == "flaky":
                seen = sum(
                    1 for r in self.requests if r.name == name and r.path.startswith("/flaky/")
                )
                if seen <= int(query.get("fail", "1")):
                    handler.send_response(503)
                    handler.send_header("Content-Length", "0")
                    handler.end_headers()
                    return
            size = int(query.get("size", "1000"))
            data = content(name, size)
            if kind == "gate" and not head:
                self._gate(name).wait()
            start, end = 0, size
            range_header = handler.headers.get("Range")
            ranged = False
            if range_header and kind in ("file", "gate", "stall", "drop"):
                found = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
                if found:
                    start = int(found.group(1))
                    end = int(found.group(2)) + 1 if found.group(2) else size
                    ranged = start < size
            if ranged:
                handler.send_response(206)
                handler.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
            else:
                start, end = 0, size
                handler.send_response(200)
            handler.send_header("Content-Length", str(end - start))
            handler.send_header("Accept-Ranges", "bytes")
            handler.send_header("Content-Type", "application/octet-stream")
            handler.end_headers()
            if head:
                return
            if kind == "stall":
                after = min(int(query.get("after", "0")), end - start)
                handler.wfile.write(data[start : start + after])
                handler.wfile.flush()
                self._stalls.wait()
                if self._closing.is_set():
                    return
                handler.wfile.write(data[start + after : end])
                return
            rate = int(query["rate"]) if "rate" in query else None
            self._send(handler, data[start:end], rate)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, handler: BaseHTTPRequestHandler, body: bytes, rate: int | None) -> None:
        step = CHUNK if rate is None else max(1, min(CHUNK, rate // 10))
        for offset in range(0, len(body), step):
            if self._closing.is_set():
                return
            handler.wfile.write(body[offset : offset + step])
            if rate:
                handler.wfile.flush()
                # Throttling is what this route is for: the server paces its sending.
                time.sleep(step / rate)


def main() -> None:
    """``python -m tui_annex.demo_server``: print the base URL, serve until stdin closes."""
    server = LocalServer().start()
    print(server.base, flush=True)
    try:
        sys.stdin.read()
    finally:
        server.close()


if __name__ == "__main__":
    main()
