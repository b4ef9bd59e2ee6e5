"""An httpx client built on its first request, shared by the GHL and Rankr API clients."""

from __future__ import annotations

import functools
import ssl
import threading
from typing import Any

import httpx


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """The process's one verifying TLS context, as httpx builds by default (certifi's bundle, or
    SSL_CERT_FILE / SSL_CERT_DIR). Loading a trust store takes tens of milliseconds; without this each
    client (GHL, Rankr) loaded its own on the first event. An SSLContext is safe to share between
    clients and threads."""
    return httpx.create_ssl_context()


class LazyHttpClient:
    """Building an `httpx.Client` loads the TLS trust store (~0.2 s of a cold start), which an
    invocation that never makes a request (unknown location, skipped event, bad input) should not
    pay. Thread-safe: the first caller builds it, the others wait for that one. Every client built
    here sends through `Urllib3Transport` and verifies with `shared_tls_context`, unless its options
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
