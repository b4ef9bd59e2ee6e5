"""Which field mapping a location uses (`MappingResolver`), apart from `rankr_ghl.sync.mapping`.

A flow builds its resolver when its container is built, but reads a mapping only when it maps a record.
Keeping the resolver apart lets a path that maps nothing (a lead for a location that is not connected)
skip importing and compiling the mapping code: part of a cold start. The dependency runs one way:
this module loads `rankr_ghl.sync.mapping` when it first maps, never the reverse.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rankr_ghl.sync.mapping import FieldMapping


class MappingConfigSource(Protocol):
    """Where per-location / per-account mapping documents live (e.g. SyncStateTable)."""

    def get_mapping_document(self, location_id: str, account_id: str | None = None) -> dict[str, Any] | None:
        """The raw document for the location (first) or the account, or None for the default."""
        ...


class MappingResolver:
    """Finds the mapping of a location: its own document, else its account's, else the default.

    Documents are cached for `ttl_s` per container, so an operator's change applies within that time
    without a redeploy. A stored document that is invalid raises `MappingError` (never a silent fallback
    to the default, which could write fields the operator switched off).
    """

    def __init__(
        self,
        source: MappingConfigSource | None = None,
        *,
        default: FieldMapping | None = None,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._default = default
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str | None], tuple[float, FieldMapping]] = {}
        self._compiled: dict[str, FieldMapping] = {}
        self._lock = threading.Lock()

    def for_location(self, location_id: str, account_id: str | None = None) -> FieldMapping:
        key = (location_id, account_id)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self._ttl_s:
                return hit[1]
        mapping = self._load(location_id, account_id)
        with self._lock:
            self._cache[key] = (now, mapping)
        return mapping

    def is_cached(self, location_id: str, account_id: str | None = None) -> bool:
        """Whether `for_location` would answer from the cache (no read of the documents)."""
        with self._lock:
            hit = self._cache.get((location_id, account_id))
        return hit is not None and self._clock() - hit[0] < self._ttl_s

    def prime(self, location_id: str, account_id: str | None, document: dict[str, Any] | None) -> None:
        """Cache the location's document (`get_mapping_document`'s answer) that a caller read together
        with other items, one round trip fewer than `for_location` reading it apart."""
        now = self._clock()
        mapping = self._compile(location_id, document)
        with self._lock:
            self._cache[(location_id, account_id)] = (now, mapping)

    def invalidate(self, location_id: str | None = None) -> None:
        with self._lock:
            if location_id is None:
                self._cache.clear()
            else:
                self._cache = {k: v for k, v in self._cache.items() if k[0] != location_id}

    def _load(self, location_id: str, account_id: str | None) -> FieldMapping:
        document = self._source.get_mapping_document(location_id, account_id) if self._source else None
        return self._compile(location_id, document)

    def _compile(self, location_id: str, document: dict[str, Any] | None) -> FieldMapping:
        from rankr_ghl.sync.mapping import default_mapping, load_mapping

        if document is None:
            return self._default or default_mapping()
        fingerprint = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()
        with self._lock:
            cached = self._compiled.get(fingerprint)
        if cached is not None:
            return cached
        compiled = load_mapping(document, source=f"mapping of location {location_id}")
        with self._lock:
            self._compiled[fingerprint] = compiled
        return compiled
