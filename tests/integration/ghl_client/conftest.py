"""A GHL sandbox per test module (reset per test) and clients wired to it over loopback HTTP."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rankr_ghl.ghl.client import GHLClient
from rankr_ghl.ghl.ratelimit import RateLimiter
from rankr_ghl.ghl.tokens import StaticTokenSource
from rankr_ghl.observability import logger
from rankr_ghl_tools.ghl_sandbox import GHLSandbox, SandboxConfig

LOCATION = "locClientTest01"
FAST_WINDOW = {"max": 100, "intervalMs": 1000, "daily": 200000}


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[GHLSandbox]:
    with GHLSandbox(SandboxConfig(), host="127.0.0.1", port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_server: GHLSandbox) -> Iterator[GHLSandbox]:
    sandbox_server.admin.reset()
    sandbox_server.admin.clear_faults()
    yield sandbox_server
    sandbox_server.admin.clear_faults()


@pytest.fixture
def location(sandbox: GHLSandbox) -> str:
    sandbox.admin.create_location(LOCATION, rate_limit=FAST_WINDOW)
    return LOCATION


@pytest.fixture
def location_token(sandbox: GHLSandbox, location: str) -> str:
    return str(sandbox.admin.tokens(location_id=location)["access_token"])


@pytest.fixture
def make_client(sandbox: GHLSandbox, location_token: str) -> Iterator[Callable[..., GHLClient]]:
    """Build clients on the sandbox; each gets an isolated rate budget unless one is given."""
    made: list[GHLClient] = []

    def build(**kwargs: Any) -> GHLClient:
        kwargs.setdefault("rate_limiter", RateLimiter(isolated=True))
        kwargs.setdefault("timeout", 5.0)
        kwargs.setdefault("backoff_base_s", 0.01)
        kwargs.setdefault("backoff_max_s", 0.05)
        token_source = kwargs.pop("token_source", None) or StaticTokenSource(location_token)
        client = GHLClient(token_source, base_url=sandbox.url, **kwargs)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def ghl(make_client: Callable[..., GHLClient]) -> GHLClient:
    return make_client()


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
