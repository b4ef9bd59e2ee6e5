"""Urllib3Transport against a real HTTP server on loopback: what arrives, what comes back, and each
failure as the httpx error the API clients' retry rules read."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from rankr_ghl import urllib3_transport
from rankr_ghl.lazy_http import LazyHttpClient, shared_tls_context
from rankr_ghl.urllib3_transport import Urllib3Transport

Behaviour = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour
    connections = 0
    seen: list[dict[str, object]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
        )
        self.server.behaviour(self)

    do_GET = do_POST = do_PUT = do_DELETE = _any

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.seen = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _client(srv: _Server, behaviour: Behaviour, timeout: float = 5.0) -> httpx.Client:
    srv.behaviour = behaviour
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    return httpx.Client(base_url=base, transport=Urllib3Transport(shared_tls_context()), timeout=timeout)


def _reply(status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> Behaviour:
    def behaviour(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in headers or []:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return behaviour


def test_a_request_and_its_answer_cross_unchanged(server: _Server) -> None:
    answer = _reply(
        201,
        b'{"ok":true}',
        [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
    )
    with _client(server, answer) as client:
        response = client.post("/things?q=1", json={"name": "x"}, headers={"Authorization": "Bearer t"})
    assert response.status_code == 201 and response.json() == {"ok": True}
    assert response.reason_phrase == "Created" and response.http_version == "HTTP/1.1"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    seen = server.seen[0]
    headers = {k.lower(): v for k, v in seen["headers"].items()}  # type: ignore[union-attr]
    assert seen["method"] == "POST" and seen["path"] == "/things?q=1"
    assert json.loads(seen["body"]) == {"name": "x"}  # type: ignore[arg-type]
    assert headers["authorization"] == "Bearer t" and headers["content-type"] == "application/json"
    assert headers["host"] == f"127.0.0.1:{server.server_address[1]}"
    assert headers["user-agent"].startswith("python-httpx/")


def test_a_compressed_answer_is_decoded_once(server: _Server) -> None:
    payload = json.dumps({"contacts": ["a"] * 50}).encode()
    answer = _reply(200, gzip.compress(payload), [("Content-Encoding", "gzip")])
    with _client(server, answer) as client:
        assert client.get("/c").content == payload


def test_connections_are_kept_alive_and_reused(server: _Server) -> None:
    with _client(server, _reply(200, b"{}")) as client:
        for _ in range(5):
            assert client.get("/x").status_code == 200
    assert server.connections == 1


def test_idle_connections_expire(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urllib3_transport, "KEEPALIVE_EXPIRY_S", 0.2)
    with _client(server, _reply(200, b"{}")) as client:
        assert client.get("/x").status_code == 200
        assert client.get("/x").status_code == 200
        time.sleep(0.4)
        assert client.get("/x").status_code == 200
    assert server.connections == 2


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        httpx.Client(transport=Urllib3Transport(shared_tls_context())) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(f"http://127.0.0.1:{port}/")


def test_a_slow_answer_is_a_read_timeout(server: _Server) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(1.0)
        _reply(200, b"{}")(handler)

    with _client(server, slow, timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
        client.get("/slow")


def test_a_hang_up_without_an_answer_is_a_remote_protocol_error(server: _Server) -> None:
    def hang_up(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    with _client(server, hang_up) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get("/gone")


def test_a_truncated_body_is_a_remote_protocol_error(server: _Server) -> None:
    def truncated(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.wfile.write(b'{"partial":')
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    with _client(server, truncated) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get("/cut")


def test_the_lazy_client_sends_through_it(server: _Server) -> None:
    server.behaviour = _reply(204, b"")
    lazy = LazyHttpClient(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    try:
        client = lazy.get()
        # X-Ray's instrumented client (tracing on) wraps the transport and keeps the original.
        assert isinstance(getattr(client, "_original_transport", client._transport), Urllib3Transport)
        assert client.get("/").status_code == 204
    finally:
        lazy.close()
