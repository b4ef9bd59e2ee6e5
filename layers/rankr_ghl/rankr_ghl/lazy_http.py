"""An httpx client built on its first request, shared by the GHL and Rankr API clients."""

from __future__ import annotations

import threading
from typing import Any

import httpx


class LazyHttpClient:
    """Building an `httpx.Client` loads the TLS trust store (~0.2 s of a cold start), which an
    invocation that never makes a request (unknown location, skipped event, bad input) should not
    pay. Thread-safe: the first caller builds it, the others wait for that one."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(**self._options)
                client = self._client
        return client

    def close(self) -> None:
        """Close the client if it was ever built (a later `get` builds a new one)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
