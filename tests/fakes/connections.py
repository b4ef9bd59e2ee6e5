"""`FakeConnectionLookup`: `rankr_ghl.ports.ConnectionLookup` in memory, the one connection lookup fake
of the unit tests (the connection store with leases and pending pairs is
`tests/unit/connections/conn_fakes.MemoryConnectionStore`). `reads` counts the lookups."""

from __future__ import annotations

from collections.abc import Iterable

from rankr_ghl.connections.models import Connection, ConnectionStatus, UserType

ACCOUNT = "acct-1"


class FakeConnectionLookup:
    def __init__(self, connections: Iterable[Connection] = ()) -> None:
        self.items: dict[str, Connection] = {c.connection_id: c for c in connections}
        self.reads = 0

    def add(
        self,
        location_id: str,
        status: ConnectionStatus = ConnectionStatus.ACTIVE,
        account: str | None = ACCOUNT,
    ) -> Connection:
        """A location's connection, linked to Rankr `account`."""
        connection = Connection(
            connection_id=location_id,
            location_id=location_id,
            user_type=UserType.LOCATION,
            status=status,
            rankr_account_id=account,
        )
        self.items[location_id] = connection
        return connection

    def get(self, connection_id: str) -> Connection | None:
        self.reads += 1
        return self.items.get(connection_id)

    def list(self) -> list[Connection]:
        return list(self.items.values())
