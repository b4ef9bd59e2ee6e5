"""LazyHttpClient: no httpx client until the first request, one client for every thread, and a
close that frees it."""

from __future__ import annotations

import ssl
import threading

import httpx
import pytest
from rankr_ghl import lazy_http
from rankr_ghl.lazy_http import LazyHttpClient, TrustStore, shared_tls_context


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
    loads: list[ssl.SSLContext] = []

    def counting_create() -> ssl.SSLContext:
        context = httpx.create_ssl_context()
        loads.append(context)
        return context

    monkeypatch.setattr(lazy_http, "trust_store", TrustStore(counting_create))
    first, second = LazyHttpClient(base_url="https://ghl.test"), LazyHttpClient(base_url="https://rankr.test")
    try:
        first.get(), second.get()
        assert len(loads) == 1
        assert loads[0].verify_mode is ssl.CERT_REQUIRED and loads[0].check_hostname
    finally:
        first.close()
        second.close()


def test_an_injected_transport_loads_no_trust_store(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[int] = []
    monkeypatch.setattr(
        lazy_http, "trust_store", TrustStore(lambda: loads.append(1) or ssl.create_default_context())
    )
    mocked = LazyHttpClient(transport=httpx.MockTransport(lambda request: httpx.Response(204)))
    try:
        assert mocked.get().get("http://x.test/").status_code == 204
        assert loads == []
    finally:
        mocked.close()


def test_a_warm_up_loads_in_the_background_and_context_waits_for_it() -> None:
    release = threading.Event()
    loads: list[str] = []

    def slow_load() -> ssl.SSLContext:
        loads.append(threading.current_thread().name)
        assert release.wait(5)
        return ssl.create_default_context()

    store = TrustStore(slow_load)
    store.warm()
    store.warm()  # already loading: no second thread
    got: list[ssl.SSLContext] = []
    waiter = threading.Thread(target=lambda: got.append(store.context()))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # waits for the background load instead of loading again
    release.set()
    waiter.join(5)
    assert got and got[0] is store.context()
    assert loads == ["tls-trust-store"]
    store.warm()  # loaded: nothing to do
    assert len(loads) == 1


def test_a_failed_warm_up_fails_the_first_use_not_the_warm_up() -> None:
    attempts: list[int] = []

    def broken_load() -> ssl.SSLContext:
        attempts.append(1)
        raise ssl.SSLError("no trust store")

    store = TrustStore(broken_load)
    store.warm()
    with pytest.raises(ssl.SSLError, match="no trust store"):
        store.context()
    assert len(attempts) == 2


def test_shared_tls_context_is_the_module_trust_store() -> None:
    assert shared_tls_context() is lazy_http.trust_store.context()
