"""Connection states and ids: plain values.

Kept apart from `rankr_ghl.connections.models` (the records and their value checks) so that code
which only compares a status or builds an id (the reconcile planner, the connection store's updates)
loads nothing more. `rankr_ghl.connections.models` exports the same names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

COMPANY_PREFIX = "company:"


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # by an operator, or GHL said "Location is not active"
    NEEDS_REAUTH = "needs_reauth"  # invalid_grant: only a new install (or /oauth/reconnect) helps
    UNINSTALLED = "uninstalled"


class UserType(StrEnum):
    LOCATION = "Location"
    COMPANY = "Company"


class PauseReason(StrEnum):
    OPERATOR = "operator"
    LOCATION_INACTIVE = "location_inactive"
    # An agency install's fan-out wrote the record; its token secret follows (connections.agency_fanout).
    INSTALLING = "installing"


def company_connection_id(company_id: str) -> str:
    return f"{COMPANY_PREFIX}{company_id}"


def is_company_connection_id(connection_id: str) -> bool:
    return connection_id.startswith(COMPANY_PREFIX)


def company_id_of(connection_id: str) -> str:
    return connection_id.removeprefix(COMPANY_PREFIX)


def utcnow() -> datetime:
    return datetime.now(UTC)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
