"""Connection records (ConnectionsTable) and token bundles (one Secrets Manager secret each).

Plain frozen dataclasses, no pydantic: every lead push, webhook and agency install reads them on its
first event, and importing pydantic would cost more than a quarter of what a cold start may add
(`rankr_ghl.wire_values`). Code builds them with typed values; what a store hands in (a DynamoDB item,
a secret's JSON) is read by `Connection.from_stored` and `TokenBundle.from_secret_dict`, which coerce
as pydantic's lax mode does (enums from their values, datetimes from ISO text or epochs, tuples from
lists), so what any version of the connector stored reads alike, and report every bad field at once
(`WireFormatError`).

Tokens are `SecretStr` so that a repr, a log line or an error never shows them; only
`TokenBundle.to_secret_json` (the secret payload) reveals the values. The plain states and id helpers
live in `rankr_ghl.connections.status` and are exported here too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import Any

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
from rankr_ghl.wire_values import (
    Fields,
    Problems,
    SecretStr,
    json_datetime,
    lax_dict,
    lax_enum,
    lax_float,
    lax_int,
    lax_str,
    lax_str_tuple,
    nullable,
    parse_datetime,
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

_optional_str = nullable(lax_str)
_optional_datetime = nullable(parse_datetime)


def _user_type(value: Any) -> UserType:
    return lax_enum(UserType, value)


def _status(value: Any) -> ConnectionStatus:
    return lax_enum(ConnectionStatus, value)


def _secret(value: Any) -> SecretStr:
    """A token from its text, or from a secret of either kind (ours or pydantic's)."""
    if hasattr(value, "get_secret_value"):
        return SecretStr.of(value)
    return SecretStr(lax_str(value))


def _json_value(value: Any) -> Any:
    """A value as JSON holds it (pydantic's JSON mode): datetimes as ISO text, enums as their values,
    tuples and sets as lists, mappings walked."""
    if isinstance(value, datetime):
        return json_datetime(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(item) for item in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Connection:
    """One row of ConnectionsTable: a location, or an agency (`company:<companyId>`)."""

    connection_id: str
    location_id: str | None = None
    company_id: str | None = None
    user_type: UserType
    scopes: tuple[str, ...] = ()
    status: ConnectionStatus = ConnectionStatus.ACTIVE
    status_reason: str | None = None
    installed_at: datetime = field(default_factory=utcnow)
    token_expires_at: datetime | None = None
    last_refresh_at: datetime | None = None
    rankr_account_id: str | None = None
    # "location": its own OAuth grant (has a refresh token); "company": minted from the agency token.
    token_source: str = "location"
    updated_at: datetime = field(default_factory=utcnow)
    # The newest INSTALL/UNINSTALL applied (event time in ms, then its webhookId): older ones are stale.
    lifecycle_event_ms: int | None = None
    lifecycle_event_id: str | None = None
    # An agency's install progress (company connections only; `AgencyInstallProgress.to_item`).
    agency_install: dict[str, Any] | None = None

    @classmethod
    def from_stored(cls, values: Mapping[str, Any]) -> Connection:
        """A connection from stored values named as its fields (unknown names ignored), coerced as
        pydantic's lax mode does; a `WireFormatError` names every bad or missing field."""
        problems = Problems("Connection")
        read = Fields(values, problems)
        now = utcnow()
        connection = cls(
            connection_id=read.required("connection_id", lax_str),
            location_id=read.optional("location_id", _optional_str, None),
            company_id=read.optional("company_id", _optional_str, None),
            user_type=read.required("user_type", _user_type),
            scopes=read.optional("scopes", lax_str_tuple, ()),
            status=read.optional("status", _status, ConnectionStatus.ACTIVE),
            status_reason=read.optional("status_reason", _optional_str, None),
            installed_at=read.optional("installed_at", parse_datetime, now),
            token_expires_at=read.optional("token_expires_at", _optional_datetime, None),
            last_refresh_at=read.optional("last_refresh_at", _optional_datetime, None),
            rankr_account_id=read.optional("rankr_account_id", _optional_str, None),
            token_source=read.optional("token_source", lax_str, "location"),
            updated_at=read.optional("updated_at", parse_datetime, now),
            lifecycle_event_ms=read.optional("lifecycle_event_ms", nullable(lax_int), None),
            lifecycle_event_id=read.optional("lifecycle_event_id", _optional_str, None),
            agency_install=read.optional("agency_install", nullable(lax_dict), None),
        )
        problems.raise_if_any()
        return connection

    @property
    def is_company(self) -> bool:
        return is_company_connection_id(self.connection_id)

    def to_json_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready: datetimes as ISO 8601 (`Z` for UTC), enums as their values."""
        return {item.name: _json_value(getattr(self, item.name)) for item in fields(self)}

    def public_view(self) -> dict[str, Any]:
        """What operators may see: everything on the record (it never holds a token)."""
        return self.to_json_dict()


@dataclass(frozen=True, kw_only=True)
class TokenBundle:
    """The contents of one token secret."""

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
    def from_secret_dict(cls, values: Any) -> TokenBundle:
        """A bundle from a secret's parsed JSON (unknown keys ignored, values coerced as pydantic's
        lax mode does); a `WireFormatError` names every bad or missing field and never shows a value."""
        problems = Problems("TokenBundle")
        read = Fields(values, problems)
        bundle = cls(
            access_token=read.required("access_token", _secret),
            refresh_token=read.optional("refresh_token", nullable(_secret), None),
            expires_at=read.required("expires_at", lax_float),
            scopes=read.optional("scopes", lax_str_tuple, ()),
            user_type=read.required("user_type", _user_type),
            company_id=read.optional("company_id", _optional_str, None),
            location_id=read.optional("location_id", _optional_str, None),
            issued_at=read.optional("issued_at", lax_float, 0.0),
        )
        problems.raise_if_any()
        return bundle

    @classmethod
    def from_secret_json(cls, text: str) -> TokenBundle:
        return cls.from_secret_dict(json.loads(text))
