"""An httpx client built on its first request, shared by the GHL and Rankr API clients."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from typing import Any

import httpx


class TrustStore:
    """The process's one verifying TLS context, as httpx builds by default (certifi's bundle, or
    SSL_CERT_FILE / SSL_CERT_DIR). An SSLContext is safe to share between clients and threads.

    Loading a trust store takes tens of milliseconds of a cold start; without sharing, each client
    (GHL, Rankr) loaded its own on the first event. `warm` starts the load on a thread of its own:
    OpenSSL parses the bundle without holding the GIL, so the load overlaps with whatever the
    first event does before its first GHL call (imports, AWS round trips). `context` waits for that
    load rather than starting a second one."""

    def __init__(self, load: Callable[[], ssl.SSLContext] | None = None) -> None:
        self._load = load or httpx.create_ssl_context
        self._context: ssl.SSLContext | None = None
        self._loader: threading.Thread | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Start loading in the background, unless it is loaded or loading already."""
        with self._lock:
            if self._context is not None or self._loader is not None:
                return
            self._loader = threading.Thread(
                target=self._load_in_background, name="tls-trust-store", daemon=True
            )
            self._loader.start()

    def context(self) -> ssl.SSLContext:
        context = self._context
        if context is not None:
            return context
        loader = self._loader
        if loader is not None:
            loader.join()
        with self._lock:
            if self._context is None:
                self._context = self._load()
            return self._context

    def _load_in_background(self) -> None:
        try:
            context = self._load()
        except Exception:  # `context` loads again and raises where a caller handles it
            return
        with self._lock:
            if self._context is None:
                self._context = context


trust_store = TrustStore()


def shared_tls_context() -> ssl.SSLContext:
    return trust_store.context()


class LazyHttpClient:
    """Building an `httpx.Client` loads the TLS trust store (~0.2 s of a cold start), which an
    invocation that never makes a request (unknown location, skipped event, bad input) should not
    pay. Thread-safe: the first caller builds it, the others wait for that one. Every client built
    here sends through `Urllib3Transport` and verifies with the shared `trust_store`, unless its options
    bring their own transport or `verify` (then httpx builds its own transport)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    options = dict(self._options)
                    if options.get("transport") is None and "verify" not in options:
                        from rankr_ghl.urllib3_transport import Urllib3Transport

                        options["transport"] = Urllib3Transport(shared_tls_context())
                    self._client = httpx.Client(**options)
                client = self._client
        return client

    def close(self) -> None:
        """Close the client if it was ever built (a later `get` builds a new one)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
