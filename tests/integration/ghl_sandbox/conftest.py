"""Fixtures for the GHL sandbox tests: a fresh sandbox per test, API clients, a webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from ghl_sandbox_helpers import api_client
from rankr_ghl_tools.ghl_sandbox import GHLSandbox, SandboxConfig


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(webhook_retry_base_s=0.01, webhook_retry_max_delay_s=0.05)


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[GHLSandbox]:
    with GHLSandbox(sandbox_config) as sb:
        yield sb


@pytest.fixture
def location_client(sandbox: GHLSandbox) -> Callable[..., httpx.Client]:
    """location_client("L1", **location_settings) -> httpx.Client authorised for that location."""
    clients: list[httpx.Client] = []

    def make(location_id: str = "loc1", **settings: Any) -> httpx.Client:
        sandbox.admin.create_location(location_id, **settings)
        client = api_client(sandbox, sandbox.admin.tokens(location_id=location_id)["access_token"])
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # statuses to answer, consumed in order; 200 once exhausted
    script: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [r.body for r in self.received]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    state: dict[str, WebhookReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            rec = state["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.lock:
                rec.received.append(Received(body, {k.lower(): v for k, v in self.headers.items()}))
                status = rec.script.pop(0) if rec.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["r"] = WebhookReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state["r"]
    server.shutdown()
    server.server_close()
