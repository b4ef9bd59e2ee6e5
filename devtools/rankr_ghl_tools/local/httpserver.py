"""A small threaded HTTP/1.1 server shared by the gateway, the Lambda Invoke API and both sandboxes.

Requests are read fully (Content-Length or chunked) into `HttpRequest` and handed to a dispatch
function; its `HttpResponse` is written back with a Content-Length, so keep-alive clients work.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

MAX_BODY_BYTES = 20 * 1024 * 1024


@dataclass
class HttpRequest:
    method: str
    target: str  # raw request target: path + optional ?query, still percent-encoded
    headers: list[tuple[str, str]]  # in arrival order, original case
    body: bytes
    client_ip: str
    protocol: str

    def header(self, name: str) -> str | None:
        name = name.lower()
        values = [v for k, v in self.headers if k.lower() == name]
        return ",".join(values) if values else None


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # Close the connection without answering (a sandbox's "dropped connection" fault).
    drop_connection: bool = False


Dispatch = Callable[[HttpRequest], HttpResponse]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return  # request logs would drown the scenario output

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > self.server.max_body_bytes:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.server.max_body_bytes:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            too_large = b'{"message":"Request Entity Too Large"}'
            self._send(HttpResponse(413, [("Content-Type", "application/json")], too_large))
            self.close_connection = True
            return
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            client_ip=self.client_address[0],
            protocol=self.request_version,
        )
        self.server.in_flight_add(1)
        try:
            response = self.server.dispatch(request)
        except Exception:  # the dispatcher failed, not the handler: answer like a broken gateway
            response = HttpResponse(502, [("Content-Type", "application/json")], b'{"message":"Bad Gateway"}')
            import traceback

            traceback.print_exc()
        finally:
            self.server.in_flight_add(-1)
        self._send(response)

    def _send(self, response: HttpResponse) -> None:
        if response.drop_connection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            self.send_response(response.status)
            names = {k.lower() for k, _ in response.headers}
            for key, value in response.headers:
                self.send_header(key, value)
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # TIME_WAIT after a restart is fine; a live listener still fails (Linux)
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatch: Dispatch, max_body_bytes: int) -> None:
        self.dispatch = dispatch
        self.max_body_bytes = max_body_bytes
        self._in_flight = 0
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def in_flight_add(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    @property
    def in_flight(self) -> int:
        return self._in_flight


class LocalHttpServer:
    """Serve `dispatch` on host:port in a background thread; falls back to a free port if taken."""

    def __init__(
        self,
        dispatch: Dispatch,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "http",
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.requested_port = port
        self.name = name
        try:
            self._server = _Server((host, port), dispatch, max_body_bytes)
            self.port_was_taken = False
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES) or port == 0:
                raise
            self._server = _Server((host, 0), dispatch, max_body_bytes)
            self.port_was_taken = True
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # sandboxes start and stop per test: answer shutdown() fast
            name=f"{name}-server",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def in_flight(self) -> int:
        return self._server.in_flight

    def start(self) -> LocalHttpServer:
        self._thread.start()
        return self

    def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Stop accepting, let requests in progress finish (bounded), then close."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        deadline = time.monotonic() + drain_timeout_s
        while self._server.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class ServedOverHttp:
    """A service answered by one `LocalHttpServer` (`self.server`, bound by the subclass): its address,
    start and stop."""

    server: LocalHttpServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
