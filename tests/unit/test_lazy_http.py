"""LazyHttpClient: no httpx client until the first request, one client for every thread, and a
close that frees it."""

from __future__ import annotations

import ssl
import threading
from typing import Any

import httpx
import pytest
from rankr_ghl.lazy_http import LazyHttpClient, shared_tls_context


def test_built_once_on_first_use_and_shared_by_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[httpx.Client] = []
    real_client = httpx.Client

    def counting_client(**options: object) -> httpx.Client:
        client = real_client(**options)  # type: ignore[arg-type]
        built.append(client)
        return client

    monkeypatch.setattr(httpx, "Client", counting_client)
    lazy = LazyHttpClient(base_url="http://127.0.0.1:9", timeout=1.0)
    assert built == []
    seen: list[httpx.Client] = []
    threads = [threading.Thread(target=lambda: seen.append(lazy.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and all(client is built[0] for client in seen)
    assert str(built[0].base_url) == "http://127.0.0.1:9"

    lazy.close()
    assert built[0].is_closed
    assert lazy.get() is not built[0] and len(built) == 2  # a later use builds a fresh client
    lazy.close()


def test_close_before_any_use_builds_nothing() -> None:
    lazy = LazyHttpClient()
    lazy.close()
    assert lazy._client is None


def test_clients_share_one_trust_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GHL and Rankr clients load the TLS trust store once per process, not once each."""
    loads: list[ssl.SSLContext] = []
    real_create = httpx.create_ssl_context

    def counting_create(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = real_create(*args, **kwargs)
        loads.append(context)
        return context

    monkeypatch.setattr(httpx, "create_ssl_context", counting_create)
    shared_tls_context.cache_clear()
    first, second = LazyHttpClient(base_url="https://ghl.test"), LazyHttpClient(base_url="https://rankr.test")
    try:
        first.get(), second.get()
        assert len(loads) == 1
        assert loads[0].verify_mode is ssl.CERT_REQUIRED and loads[0].check_hostname
    finally:
        first.close()
        second.close()
        shared_tls_context.cache_clear()


def test_an_injected_transport_loads_no_trust_store() -> None:
    shared_tls_context.cache_clear()
    mocked = LazyHttpClient(transport=httpx.MockTransport(lambda request: httpx.Response(204)))
    try:
        assert mocked.get().get("http://x.test/").status_code == 204
        assert shared_tls_context.cache_info().currsize == 0
    finally:
        mocked.close()
