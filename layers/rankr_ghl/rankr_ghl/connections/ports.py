"""What the connections logic needs from storage and from GHL's OAuth endpoints.

AWS adapters: `rankr_ghl.aws.connections_store.DynamoConnectionStore` and
`rankr_ghl.aws.token_secrets.SecretsManagerTokenStore`. Unit tests use in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from rankr_ghl.connections.status import ConnectionStatus

if TYPE_CHECKING:
    # Types only: a path that builds no connection loads no record checks.
    from rankr_ghl.connections.models import Connection, TokenBundle


@dataclass(frozen=True)
class RecordState:
    """The part of a connection record that decides whether an install must (re)write it."""

    status: ConnectionStatus
    status_reason: str | None
    rankr_account_id: str | None


class ConnectionStore(Protocol):
    def get(self, connection_id: str) -> Connection | None: ...

    def save(self, connection: Connection) -> None:
        """Create or update the record's fields; never touches the refresh lease."""
        ...

    def save_all(self, connections: Iterable[Connection]) -> None:
        """All or nothing (per 100 records: one DynamoDB transaction)."""
        ...

    def list(self) -> Iterator[Connection]: ...

    def list_by_company(self, company_id: str) -> Iterator[Connection]: ...

    def set_status(self, connection_id: str, status: ConnectionStatus, reason: str | None = None) -> None: ...

    def record_refresh(
        self, connection_id: str, token_expires_at: datetime, refreshed_at: datetime
    ) -> None: ...

    def link_rankr_account(self, connection_id: str, rankr_account_id: str) -> None: ...

    def acquire_lease(self, connection_id: str, owner: str, ttl_s: float, now: float) -> bool:
        """Take (or extend, when `owner` already holds it) the refresh lease; False if someone else holds
        an unexpired one. Fails (False) for a connection that does not exist."""
        ...

    def release_lease(self, connection_id: str, owner: str) -> None:
        """Drop the lease only if `owner` still holds it."""
        ...

    def save_pending_token(self, connection_id: str, bundle: TokenBundle) -> None:
        """The second durable place for a rotated pair whose secret write failed: kept on the
        connection item unless a newer pending pair is already there. Raises on failure."""
        ...

    def read_pending_token(self, connection_id: str) -> TokenBundle | None: ...

    def claim_lifecycle_event(self, connection_id: str, event_ms: int, event_id: str) -> bool | None:
        """Mark an INSTALL/UNINSTALL as the newest applied: False if a newer one was applied already
        (the same event again is allowed: retries re-apply), None if there is no record."""
        ...

    def record_stale_lifecycle_event(
        self, connection_id: str, event_type: str, event_ms: int, event_id: str
    ) -> None: ...

    def clear_pending_token(self, connection_id: str, issued_at: float) -> None:
        """Remove the pending pair, only if it is still the one issued at `issued_at`."""
        ...


class TokenStore(Protocol):
    def read(self, connection_id: str, *, fresh: bool = False) -> TokenBundle | None:
        """The stored bundle, or None when there is none (or it is scheduled for deletion).
        `fresh` bypasses every cache (needed after another container may have rotated it)."""
        ...

    def write(self, connection_id: str, bundle: TokenBundle) -> None:
        """Create or replace the secret; never restores one scheduled for deletion
        (`ConnectionUninstalled`). Raises on failure; callers retry."""
        ...

    def install(self, connection_id: str, bundle: TokenBundle) -> None:
        """An install's write: create, replace, or restore a secret scheduled for deletion."""
        ...

    def replace(self, connection_id: str, bundle: TokenBundle) -> None:
        """A rotation's write: replace a live secret only; a missing or deleted one raises
        `ConnectionUninstalled` (an uninstalled location is never resurrected)."""
        ...

    def schedule_deletion(self, connection_id: str, recovery_window_days: int) -> None: ...

    def restore(self, connection_id: str, bundle: TokenBundle | None) -> None:
        """Compensation: put back `bundle`, or remove the secret at once when `bundle` is None."""
        ...


class TokenGrant(Protocol):
    """The fields of `rankr_ghl.ghl.models.TokenResponse` this package reads."""

    @property
    def access_token(self) -> str | None: ...

    @property
    def refresh_token(self) -> str | None: ...

    @property
    def expires_in(self) -> float | int | None: ...

    @property
    def scope(self) -> str | None: ...

    @property
    def user_type(self) -> str | None: ...

    @property
    def company_id(self) -> str | None: ...

    @property
    def location_id(self) -> str | None: ...


class InstalledLocationLike(Protocol):
    """`rankr_ghl.ghl.models.InstalledLocation`."""

    @property
    def id(self) -> str: ...

    @property
    def is_installed(self) -> bool | None: ...


class OAuthClient(Protocol):
    """The subset of `rankr_ghl.ghl.oauth.GHLOAuthClient` used here."""

    def exchange_code(self, code: str, user_type: str, redirect_uri: str) -> TokenGrant: ...

    def refresh(self, refresh_token: str, user_type: str) -> TokenGrant: ...

    def location_token(self, company_token: str, company_id: str, location_id: str) -> TokenGrant: ...

    def installed_locations(
        self, company_token: str, company_id: str, app_id: str
    ) -> Iterator[InstalledLocationLike]: ...

    def location_name(self, location_token: str, location_id: str) -> str | None: ...
