"""`AccountConnections`: a `rankr_ghl.ports.ConnectionLookup` whose every location is connected to one
Rankr account (where lead push reads a lead that names only its location)."""

from __future__ import annotations

from rankr_ghl.connections.models import Connection, UserType


class AccountConnections:
    def __init__(self, rankr_account_id: str) -> None:
        self.rankr_account_id = rankr_account_id

    def get(self, connection_id: str) -> Connection | None:
        return Connection(
            connection_id=connection_id,
            location_id=connection_id,
            user_type=UserType.LOCATION,
            rankr_account_id=self.rankr_account_id,
        )
