"""A per-container, short-lived cache of ACTIVE connections for the webhook worker.

Every queued event starts with its location's connection record; reading it from DynamoDB per event is
one round trip of ~10 per event. Only active, linked connections are cached, for `ttl_s` (default 30 s):

- a connection that becomes usable (install, resume, link) is seen at once: non-active records and
  absent connections are never cached, so no event is skipped because of a stale record;
- a connection that stops being usable (uninstall, pause, needs_reauth) or is re-linked to another Rankr
  account is seen by this container within `ttl_s`. Meanwhile its events are processed as if active: an
  uninstalled location has no token left (the GHL read fails and the event is retried), a paused one is
  mirrored as before the pause. An INSTALL/UNINSTALL handled in this container invalidates at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection

DEFAULT_CONNECTION_CACHE_TTL_S = 30.0


class _Lookup(Protocol):
    def get(self, connection_id: str) -> Connection | None: ...


class CachedConnectionLookup:
    """`ConnectionLookup` over another one, caching active linked connections for `ttl_s`."""

    def __init__(
        self,
        inner: _Lookup,
        *,
        ttl_s: float = DEFAULT_CONNECTION_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Connection]] = {}
        self._lock = threading.Lock()

    def get(self, connection_id: str) -> Connection | None:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(connection_id)
        if hit is not None and now < hit[0]:
            return hit[1]
        connection = self._inner.get(connection_id)
        with self._lock:
            if connection is not None and _cacheable(connection) and self._ttl_s > 0:
                self._cache[connection_id] = (now + self._ttl_s, connection)
            else:
                self._cache.pop(connection_id, None)
        return connection

    def invalidate(self, connection_id: str | None = None) -> None:
        """Forget one connection (or all): the next `get` reads the store."""
        with self._lock:
            if connection_id is None:
                self._cache.clear()
            else:
                self._cache.pop(connection_id, None)


def _cacheable(connection: Connection) -> bool:
    status = str(getattr(connection.status, "value", connection.status))
    return status == "active" and bool(connection.rankr_account_id)
