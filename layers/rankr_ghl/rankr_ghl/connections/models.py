"""Connection records (ConnectionsTable) and token bundles (one Secrets Manager secret each).

Tokens are `SecretStr` so that a repr, a log line or a validation error never shows them; only
`TokenBundle.to_secret_json` (the secret payload) reveals the values. The plain states and id helpers
live in `rankr_ghl.connections.status` (no pydantic) and are exported here too.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from rankr_ghl.connections.status import (
    COMPANY_PREFIX,
    ConnectionStatus,
    PauseReason,
    UserType,
    company_connection_id,
    company_id_of,
    from_epoch,
    is_company_connection_id,
    utcnow,
)

__all__ = [
    "COMPANY_PREFIX",
    "Connection",
    "ConnectionStatus",
    "PauseReason",
    "TokenBundle",
    "UserType",
    "company_connection_id",
    "company_id_of",
    "from_epoch",
    "is_company_connection_id",
    "utcnow",
]


class Connection(BaseModel):
    """One row of ConnectionsTable: a location, or an agency (`company:<companyId>`)."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    location_id: str | None = None
    company_id: str | None = None
    user_type: UserType
    scopes: tuple[str, ...] = ()
    status: ConnectionStatus = ConnectionStatus.ACTIVE
    status_reason: str | None = None
    installed_at: datetime = Field(default_factory=utcnow)
    token_expires_at: datetime | None = None
    last_refresh_at: datetime | None = None
    rankr_account_id: str | None = None
    # "location": its own OAuth grant (has a refresh token); "company": minted from the agency token.
    token_source: str = "location"
    updated_at: datetime = Field(default_factory=utcnow)
    # The newest INSTALL/UNINSTALL applied (event time in ms, then its webhookId): older ones are stale.
    lifecycle_event_ms: int | None = None
    lifecycle_event_id: str | None = None
    # An agency's install progress (company connections only; `AgencyInstallProgress.to_item`).
    agency_install: dict[str, Any] | None = None

    @property
    def is_company(self) -> bool:
        return is_company_connection_id(self.connection_id)

    def public_view(self) -> dict[str, Any]:
        """What operators may see: everything on the record (it never holds a token)."""
        return self.model_dump(mode="json")


class TokenBundle(BaseModel):
    """The contents of one token secret."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr | None = None  # None for location tokens minted from a company token
    expires_at: float  # epoch seconds
    scopes: tuple[str, ...] = ()
    user_type: UserType
    company_id: str | None = None
    location_id: str | None = None
    issued_at: float = 0.0

    @property
    def minted_from_company(self) -> bool:
        return self.user_type is UserType.LOCATION and self.refresh_token is None

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at - now <= seconds

    def to_secret_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token.get_secret_value(),
                "refresh_token": self.refresh_token.get_secret_value() if self.refresh_token else None,
                "expires_at": self.expires_at,
                "scopes": list(self.scopes),
                "user_type": self.user_type.value,
                "company_id": self.company_id,
                "location_id": self.location_id,
                "issued_at": self.issued_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_secret_json(cls, text: str) -> TokenBundle:
        return cls.model_validate(json.loads(text))
