"""CachedConnectionLookup: active linked connections are cached for the TTL, nothing else is."""

from __future__ import annotations

from datetime import UTC, datetime

from fakes.connections import FakeConnectionLookup
from rankr_ghl.connections.models import Connection, ConnectionStatus, UserType
from rankr_ghl.flows.connection_cache import CachedConnectionLookup


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _connection(
    status: ConnectionStatus = ConnectionStatus.ACTIVE, account: str | None = "acct-1"
) -> Connection:
    return Connection(
        connection_id="loc1",
        location_id="loc1",
        user_type=UserType.LOCATION,
        installed_at=datetime(2025, 1, 1, tzinfo=UTC),
        rankr_account_id=account,
        status=status,
    )


def test_an_active_connection_is_read_once_per_ttl_and_a_pause_shows_after_it() -> None:
    store, clock = FakeConnectionLookup(), _Clock()
    store.items["loc1"] = _connection()
    cache = CachedConnectionLookup(store, ttl_s=30, clock=clock)
    assert cache.get("loc1") == store.items["loc1"]
    store.items["loc1"] = _connection(ConnectionStatus.PAUSED)
    clock.now += 29.9
    assert cache.get("loc1").status is ConnectionStatus.ACTIVE  # within the documented TTL
    assert store.reads == 1
    clock.now += 0.2
    assert cache.get("loc1").status is ConnectionStatus.PAUSED
    assert cache.get("loc1").status is ConnectionStatus.PAUSED  # never cached: read again
    assert store.reads == 3


def test_absent_inactive_or_unlinked_connections_are_never_cached() -> None:
    store, clock = FakeConnectionLookup(), _Clock()
    cache = CachedConnectionLookup(store, ttl_s=30, clock=clock)
    assert cache.get("loc1") is None
    store.items["loc1"] = _connection(account=None)
    assert cache.get("loc1").rankr_account_id is None
    store.items["loc1"] = _connection()  # installed and linked: seen at once
    assert cache.get("loc1").rankr_account_id == "acct-1"
    assert store.reads == 3


def test_invalidate_forgets_and_a_zero_ttl_disables_caching() -> None:
    store, clock = FakeConnectionLookup(), _Clock()
    store.items["loc1"] = _connection()
    cache = CachedConnectionLookup(store, ttl_s=30, clock=clock)
    cache.get("loc1")
    cache.invalidate("loc1")
    cache.get("loc1")
    cache.invalidate()
    cache.get("loc1")
    assert store.reads == 3
    uncached = CachedConnectionLookup(store, ttl_s=0, clock=clock)
    uncached.get("loc1")
    uncached.get("loc1")
    assert store.reads == 5
