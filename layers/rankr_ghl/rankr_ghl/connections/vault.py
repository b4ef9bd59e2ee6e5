"""Token vault: hands the GHL client a valid access token per location (or `company:<id>`).

Protocol (docs/token-refresh.md):
- per-container cache, reloaded from Secrets Manager when older than `cache_ttl_s`;
- refresh when the token expires within `refresh_margin_s`, or once on the client's 401 report;
- single-flight: threads of a container queue on a per-connection lock; containers compete for a
  DynamoDB lease (conditional write with owner + expiry). Losers poll the secret until the winner
  publishes the new pair; a dead winner's lease simply expires;
- a refresh starts only when the invocation has time left to store its result (`TokenRefreshDeferred`);
- a rotated pair is written before it is used, retried for as long as the invocation's time allows.
  If the secret still cannot be written, the pair goes to the connection item's pending-token slot
  (a second durable place, encrypted at rest with the table), which every later refresh reconciles
  first. Only when that fails too does the pair stay in memory with the lease held (so nobody refreshes
  with the spent refresh token), every later call retries the write, and `TokenWriteFailed` is emitted;
- `invalid_grant` on the latest known pair -> connection needs_reauth, remembered so callers fail fast
  without calling GHL; saving a valid pair later clears it;
  "Location is not active" -> connection paused and retried after `inactive_retry_s`;
- location tokens minted from an agency token (no refresh token) are renewed via /oauth/locationToken.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from rankr_ghl.connections.errors import (
    ConnectionNeedsReauth,
    ConnectionNotFound,
    ConnectionPaused,
    ConnectionsError,
    ConnectionUninstalled,
    TokenRefreshDeferred,
    TokenRefreshInProgress,
)
from rankr_ghl.connections.models import (
    Connection,
    ConnectionStatus,
    PauseReason,
    TokenBundle,
    UserType,
    company_connection_id,
    from_epoch,
)
from rankr_ghl.connections.ports import ConnectionStore, OAuthClient, TokenGrant, TokenStore
from rankr_ghl.connections.vault_writes import DurableWrites, MetricSink, VaultConfig, _Entry
from rankr_ghl.wire_values import SecretStr

__all__ = ["MetricSink", "TokenVault", "VaultConfig", "bundle_from_grant", "powertools_metric"]
from rankr_ghl.ghl.errors import GHLBadRequest, GHLInvalidGrant, GHLLocationInactive, GHLUnauthorized
from rankr_ghl.observability import logger


def powertools_metric(name: str, value: float = 1) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    from rankr_ghl.observability import metrics

    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def bundle_from_grant(
    grant: TokenGrant,
    *,
    now: float,
    user_type: UserType,
    company_id: str | None,
    location_id: str | None,
    fallback_scopes: tuple[str, ...] = (),
) -> TokenBundle:
    if not grant.access_token:
        raise GHLBadRequest("GHL token response carries no access token")
    expires_in = float(grant.expires_in) if grant.expires_in else 86399.0
    scopes = tuple(grant.scope.split()) if grant.scope else fallback_scopes
    return TokenBundle(
        access_token=SecretStr(grant.access_token),
        refresh_token=SecretStr(grant.refresh_token) if grant.refresh_token else None,
        expires_at=now + expires_in,
        scopes=scopes,
        user_type=user_type,
        company_id=grant.company_id or company_id,
        location_id=grant.location_id or location_id,
        issued_at=now,
    )


@dataclass
class _Block:
    until: float
    error: ConnectionsError


@dataclass
class _PerConnection:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_forced_refresh: float = float("-inf")


class TokenVault(DurableWrites):
    """Implements `rankr_ghl.ghl.tokens.TokenSource`."""

    def __init__(
        self,
        tokens: TokenStore,
        connections: ConnectionStore,
        oauth: OAuthClient,
        *,
        config: VaultConfig | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        metric: MetricSink = powertools_metric,
        owner: str | None = None,
        remaining_s: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._tokens = tokens
        self._connections = connections
        self._oauth = oauth
        self._cfg = config or VaultConfig()
        self._clock = clock
        self._sleep = sleep
        self._metric = metric
        self._remaining_s = remaining_s
        self.owner = owner or f"vault-{uuid.uuid4().hex}"
        self._cache: dict[str, _Entry] = {}
        self._blocked: dict[str, _Block] = {}
        self._per: dict[str, _PerConnection] = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenVault(owner={self.owner!r}, cached={len(self._cache)})"

    # ----------------------------------------------------------------- TokenSource
    def get_token(self, resource_id: str) -> str:
        self._fail_fast(resource_id)
        entry = self._cache.get(resource_id)
        if entry is not None and not entry.unsaved and self._serveable(entry, self._clock()):
            return entry.bundle.access_token.get_secret_value()
        with self._state(resource_id).lock:
            return self._get_token_locked(resource_id)

    def report_unauthorized(self, resource_id: str, rejected_token: str) -> str | None:
        self._fail_fast(resource_id)
        state = self._state(resource_id)
        with state.lock:
            entry = self._cache.get(resource_id)
            now = self._clock()
            if entry is not None and self._usable(entry.bundle, now, rejected_token):
                return entry.bundle.access_token.get_secret_value()  # someone already replaced it
            if now - state.last_forced_refresh < self._cfg.forced_refresh_min_interval_s:
                # A token refreshed moments ago is rejected too: refreshing again will not help.
                logger.warning("401 again right after a forced refresh", extra={"connection_id": resource_id})
                return None
            state.last_forced_refresh = now
            self._metric("TokenRejected")
            return self._refresh_single_flight(resource_id, rejected_token)

    # ----------------------------------------------------------------- other API
    def invalidate(self, connection_id: str) -> None:
        """Forget cached state (after an install or uninstall changed the secret)."""
        with self._guard:
            entry = self._cache.get(connection_id)
            if entry is None or not entry.unsaved:
                self._cache.pop(connection_id, None)
            self._blocked.pop(connection_id, None)

    def has_unsaved_tokens(self) -> bool:
        return any(e.unsaved for e in self._cache.values())

    # ----------------------------------------------------------------- internals
    def _state(self, connection_id: str) -> _PerConnection:
        with self._guard:
            state = self._per.get(connection_id)
            if state is None:
                state = self._per[connection_id] = _PerConnection()
            return state

    def _serveable(self, entry: _Entry, now: float) -> bool:
        return now - entry.loaded_at < self._cfg.cache_ttl_s and not entry.bundle.expires_within(
            self._cfg.refresh_margin_s, now
        )

    def _usable(self, bundle: TokenBundle, now: float, rejected: str | None) -> bool:
        return (
            not bundle.expires_within(self._cfg.refresh_margin_s, now)
            and bundle.access_token.get_secret_value() != rejected
        )

    def _fail_fast(self, connection_id: str) -> None:
        block = self._blocked.get(connection_id)
        if block is None:
            return
        if self._clock() < block.until:
            raise block.error
        with self._guard:
            self._blocked.pop(connection_id, None)

    def _block(self, connection_id: str, error: ConnectionsError, seconds: float) -> ConnectionsError:
        with self._guard:
            self._blocked[connection_id] = _Block(self._clock() + seconds, error)
        return error

    def _get_token_locked(self, connection_id: str) -> str:
        now = self._clock()
        entry = self._cache.get(connection_id)
        if entry is not None and entry.unsaved:
            self._retry_unsaved(connection_id, entry)
            if not entry.bundle.expires_within(self._cfg.refresh_margin_s, now):
                return entry.bundle.access_token.get_secret_value()
            return self._refresh_single_flight(connection_id, None)
        if entry is not None and self._serveable(entry, now):
            return entry.bundle.access_token.get_secret_value()
        bundle = self._tokens.read(connection_id, fresh=True)
        if bundle is None:
            self._cache.pop(connection_id, None)
            raise self._missing_error(connection_id)
        self._cache[connection_id] = _Entry(bundle, now)
        if not bundle.expires_within(self._cfg.refresh_margin_s, now):
            return bundle.access_token.get_secret_value()
        return self._refresh_single_flight(connection_id, None)

    def _missing_error(self, connection_id: str) -> ConnectionsError:
        connection = self._connections.get(connection_id)
        if connection is not None and connection.status is ConnectionStatus.UNINSTALLED:
            return ConnectionUninstalled("the app was uninstalled", connection_id=connection_id)
        return ConnectionNotFound("no stored token for this connection", connection_id=connection_id)

    def _refresh_single_flight(self, connection_id: str, rejected: str | None) -> str:
        deadline = self._clock() + self._cfg.lease_wait_s
        waited = False
        while True:
            if self._connections.acquire_lease(
                connection_id, self.owner, self._cfg.lease_ttl_s, self._clock()
            ):
                try:
                    return self._refresh_under_lease(connection_id, rejected)
                finally:
                    entry = self._cache.get(connection_id)
                    if entry is None or not entry.unsaved:
                        self._release(connection_id)
            if not waited:
                waited = True
                self._metric("TokenRefreshWaited")
                logger.info(
                    "token refresh in progress elsewhere; waiting", extra={"connection_id": connection_id}
                )
            # Someone else refreshes (or the record is gone / blocked): look, then wait for their pair.
            self._check_blocked(connection_id, self._connections.get(connection_id))
            self._sleep(self._cfg.poll_interval_s)
            bundle = self._latest_stored(connection_id, reconcile=False)
            now = self._clock()
            if bundle is not None and self._usable(bundle, now, rejected):
                self._cache[connection_id] = _Entry(bundle, now)
                return bundle.access_token.get_secret_value()
            if now >= deadline:
                raise TokenRefreshInProgress(
                    "another worker is refreshing this connection's token", connection_id=connection_id
                )

    def _check_blocked(self, connection_id: str, connection: Connection | None) -> None:
        if connection is None:
            raise ConnectionNotFound("no connection record", connection_id=connection_id)
        if connection.status is ConnectionStatus.UNINSTALLED:
            raise self._block(
                connection_id,
                ConnectionUninstalled("the app was uninstalled", connection_id=connection_id),
                self._cfg.reauth_memo_s,
            )
        if connection.status is ConnectionStatus.NEEDS_REAUTH:
            raise self._block(connection_id, self._reauth_error(connection_id), self._cfg.reauth_memo_s)
        if (
            connection.status is ConnectionStatus.PAUSED
            and connection.status_reason == PauseReason.LOCATION_INACTIVE
            and self._clock() - connection.updated_at.timestamp() < self._cfg.inactive_retry_s
        ):
            raise self._block(connection_id, self._inactive_error(connection_id), self._cfg.inactive_retry_s)

    @staticmethod
    def _reauth_error(connection_id: str) -> ConnectionNeedsReauth:
        return ConnectionNeedsReauth(
            "GHL rejected the refresh token; the app must be reinstalled for this location",
            connection_id=connection_id,
        )

    @staticmethod
    def _inactive_error(connection_id: str) -> ConnectionPaused:
        return ConnectionPaused(
            "GHL reports the location is not active; retrying later", connection_id=connection_id
        )

    def _refresh_under_lease(self, connection_id: str, rejected: str | None) -> str:
        now = self._clock()
        entry = self._cache.get(connection_id)
        if entry is not None and entry.unsaved:
            current = entry.bundle  # the store holds a spent refresh token; ours is the live one
        else:
            stored = self._latest_stored(connection_id, reconcile=True)
            if stored is None:
                raise self._missing_error(connection_id)
            current = stored
            if self._usable(current, now, rejected):  # another container refreshed meanwhile
                self._cache[connection_id] = _Entry(current, now)
                return current.access_token.get_secret_value()
        connection = self._connections.get(connection_id)
        self._check_blocked(connection_id, connection)
        assert connection is not None
        remaining = self._remaining_s()
        if remaining is not None and remaining < self._cfg.refresh_min_remaining_s:
            # GHL's new pair could not be stored safely before the invocation ends.
            self._metric("TokenRefreshDeferred")
            if now < current.expires_at and current.access_token.get_secret_value() != rejected:
                return current.access_token.get_secret_value()
            raise TokenRefreshDeferred(
                "too little time left in this invocation to refresh the token", connection_id=connection_id
            )
        new = self._renew(connection_id, current, connection)
        if new is None:  # invalid_grant, but a newer pair than the one sent had been stored meanwhile
            latest = self._latest_stored(connection_id, reconcile=True)
            if latest is None:
                raise self._missing_error(connection_id)
            self._cache[connection_id] = _Entry(latest, self._clock())
            return latest.access_token.get_secret_value()
        self._persist_new(connection_id, current, new)
        self._after_refresh(connection, new)
        return new.access_token.get_secret_value()

    def _renew(self, connection_id: str, current: TokenBundle, connection: Connection) -> TokenBundle | None:
        """GHL's new pair; None when GHL rejected a pair that another writer had replaced meanwhile."""
        now = self._clock()
        try:
            if current.refresh_token is not None:
                try:
                    grant = self._oauth.refresh(
                        current.refresh_token.get_secret_value(), current.user_type.value
                    )
                except GHLInvalidGrant:
                    if not (current.user_type is UserType.LOCATION and current.company_id):
                        raise
                    # Same fallback as GHL's SDKs: a location under an agency install can be re-minted.
                    try:
                        grant = self._mint_via_company(current, connection_id)
                    except ConnectionsError:
                        raise GHLInvalidGrant(
                            "refresh token rejected and no agency token to mint from"
                        ) from None
                    self._metric("TokenReauthAvoidedViaCompany")
                    return bundle_from_grant(
                        grant,
                        now=now,
                        user_type=UserType.LOCATION,
                        company_id=current.company_id,
                        location_id=current.location_id,
                        fallback_scopes=current.scopes,
                    )
                self._metric("TokenRefreshed")
            else:
                grant = self._mint_via_company(current, connection_id)
                self._metric("TokenMinted")
        except GHLInvalidGrant:
            if not self._is_latest(connection_id, current):
                self._metric("TokenInvalidGrantSuperseded")
                logger.warning(
                    "refresh token rejected, but a newer pair was stored meanwhile; using it",
                    extra={"connection_id": connection_id},
                )
                return None
            self._metric("TokenNeedsReauth")
            logger.error(
                "refresh token rejected; connection needs re-auth", extra={"connection_id": connection_id}
            )
            self._set_status(connection_id, ConnectionStatus.NEEDS_REAUTH, "invalid_grant")
            raise self._block(
                connection_id, self._reauth_error(connection_id), self._cfg.reauth_memo_s
            ) from None
        except GHLLocationInactive:
            self._metric("TokenLocationInactive")
            logger.warning("GHL reports location not active; pausing", extra={"connection_id": connection_id})
            self._set_status(connection_id, ConnectionStatus.PAUSED, PauseReason.LOCATION_INACTIVE.value)
            raise self._block(
                connection_id, self._inactive_error(connection_id), self._cfg.inactive_retry_s
            ) from None
        return bundle_from_grant(
            grant,
            now=now,
            user_type=current.user_type,
            company_id=current.company_id,
            location_id=current.location_id,
            fallback_scopes=current.scopes,
        )

    def _mint_via_company(self, current: TokenBundle, connection_id: str) -> TokenGrant:
        if not current.company_id or not current.location_id:
            raise ConnectionNeedsReauth(
                "token has no refresh token and no agency to mint from", connection_id=connection_id
            )
        company_cid = company_connection_id(current.company_id)
        company_token = self.get_token(company_cid)
        try:
            return self._oauth.location_token(company_token, current.company_id, current.location_id)
        except GHLUnauthorized:
            retry_token = self.report_unauthorized(company_cid, company_token)
            if retry_token is None:
                raise
            return self._oauth.location_token(retry_token, current.company_id, current.location_id)

    def _set_status(self, connection_id: str, status: ConnectionStatus, reason: str | None) -> None:
        try:
            self._connections.set_status(connection_id, status, reason)
        except Exception:
            logger.exception("could not record connection status", extra={"connection_id": connection_id})

    def _after_refresh(self, connection: Connection, new: TokenBundle) -> None:
        try:
            self._connections.record_refresh(
                connection.connection_id, from_epoch(new.expires_at), from_epoch(new.issued_at)
            )
            if (
                connection.status is ConnectionStatus.PAUSED
                and connection.status_reason == PauseReason.LOCATION_INACTIVE
            ):
                self._connections.set_status(connection.connection_id, ConnectionStatus.ACTIVE, None)
            else:
                # Another container may have marked it needs_reauth while this write was stalled.
                self._heal(connection.connection_id)
        except Exception:  # bookkeeping only: the token itself is safe in the secret
            logger.exception(
                "could not record refresh on the connection",
                extra={"connection_id": connection.connection_id},
            )
        logger.info(
            "token renewed",
            extra={"connection_id": connection.connection_id, "expires_at": int(new.expires_at)},
        )
