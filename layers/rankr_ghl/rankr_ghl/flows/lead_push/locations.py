"""The connected location a lead goes to, from the connections table."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rankr_ghl.connections.status import ConnectionStatus
from rankr_ghl.flows.lead_push.lead import Lead
from rankr_ghl.flows.lead_push.ports import ConnectionLookup
from rankr_ghl.flows.lead_push.results import ErrorCode, LeadPushFailure

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection


class ConnectionLocationResolver:
    """Finds the connected location of a lead: its `locationId`, or the one location linked to its
    `rankrAccountId` (GSI byRankrAccount). Both given: the location must belong to that account.
    Lookups are cached briefly per container (a batch names the same location 100 times)."""

    def __init__(
        self, store: ConnectionLookup, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self._ttl_s:
                return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def location_for(self, lead: Lead) -> str:
        if lead.rankrAccountId is not None:
            account = lead.rankrAccountId
            connections: list[Connection] = self._cached(
                ("account", account),
                lambda: [
                    c
                    for c in self._store.list_by_rankr_account(account)
                    if c.location_id and not c.is_company
                ],
            )
            if not connections:
                raise LeadPushFailure(
                    ErrorCode.UNKNOWN_ACCOUNT,
                    f"no GHL location is connected to Rankr account {account}",
                    retryable=False,
                )
            if lead.locationId is not None:
                chosen = [c for c in connections if c.location_id == lead.locationId]
                if not chosen:
                    raise LeadPushFailure(
                        ErrorCode.LOCATION_NOT_CONNECTED,
                        f"location {lead.locationId} is not connected to Rankr account {account}",
                        retryable=False,
                    )
            else:
                chosen = [c for c in connections if c.status is not ConnectionStatus.UNINSTALLED]
                if len(chosen) > 1:
                    raise LeadPushFailure(
                        ErrorCode.INVALID_LEAD,
                        f"Rankr account {account} is connected to {len(chosen)} locations; give locationId",
                        retryable=False,
                    )
                chosen = chosen or connections
            return _usable_location(chosen[0])
        assert lead.locationId is not None
        location_id = lead.locationId
        connection: Connection | None = self._cached(
            ("location", location_id), lambda: self._store.get(location_id)
        )
        if connection is None or connection.is_company:
            raise LeadPushFailure(
                ErrorCode.LOCATION_NOT_CONNECTED, f"location {location_id} is not connected", retryable=False
            )
        return _usable_location(connection)


def _usable_location(connection: Connection) -> str:
    location_id = connection.location_id or connection.connection_id
    if connection.status is ConnectionStatus.UNINSTALLED:
        raise LeadPushFailure(
            ErrorCode.LOCATION_NOT_CONNECTED,
            f"the app was uninstalled from location {location_id}",
            retryable=False,
        )
    if connection.status is ConnectionStatus.NEEDS_REAUTH:
        raise LeadPushFailure(
            ErrorCode.CONNECTION_UNAVAILABLE,
            f"the connection of location {location_id} needs to be re-authorised (install the app again)",
            retryable=False,
        )
    if connection.status is ConnectionStatus.PAUSED:
        raise LeadPushFailure(
            ErrorCode.CONNECTION_UNAVAILABLE,
            f"the connection of location {location_id} is paused",
            retryable=True,
        )
    return location_id
