"""INSTALL / UNINSTALL webhook logic, the "is this location live?" check, and operator actions.

INSTALL and UNINSTALL are applied in event order: each connection remembers the newest one applied
(event time in ms, then webhookId, `lifecycleEventMs`/`lifecycleEventId`); an older event (a GHL retry
or a replay that arrives after a reinstall) is skipped, counted (`LifecycleEventStale`) and audited on
the connection item (`lastStaleEvent`, `staleEventCount`). The OAuth callback stamps its install time.

Used by the webhook worker (INSTALL, UNINSTALL), the worker and reconcile (`status_of`/`is_active`
to skip and count traffic of paused, needs_reauth and uninstalled locations) and the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from rankr_ghl.connections.agency_job import AgencyInstallJob, AgencyInstallQueue
from rankr_ghl.connections.errors import (
    CompanyTokenNotStored,
    ConnectionNotFound,
    ConnectionsError,
    GHLUnavailable,
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
from rankr_ghl.connections.oauth_flow import store_all
from rankr_ghl.connections.ports import ConnectionStore, OAuthClient, TokenStore
from rankr_ghl.connections.vault import MetricSink, TokenVault, bundle_from_grant, powertools_metric
from rankr_ghl.ghl.errors import GHLError
from rankr_ghl.observability import logger

DEFAULT_RECOVERY_WINDOW_DAYS = 7  # Secrets Manager allows 7..30


class ConnectionLifecycle:
    def __init__(
        self,
        tokens: TokenStore,
        connections: ConnectionStore,
        oauth: OAuthClient,
        vault: TokenVault,
        *,
        app_id: str,
        recovery_window_days: int = DEFAULT_RECOVERY_WINDOW_DAYS,
        clock: Callable[[], float] = time.time,
        metric: MetricSink = powertools_metric,
        agency_queue: AgencyInstallQueue | None = None,
    ) -> None:
        """`agency_queue`: an agency-level INSTALL queues the agency's fan-out there
        (connections.agency_fanout) instead of minting every missing location in this invocation
        (None: minted here, for tools that run without the queue)."""
        self._agency_queue = agency_queue
        self._tokens = tokens
        self._connections = connections
        self._oauth = oauth
        self._vault = vault
        self._app_id = app_id
        self._recovery_window_days = recovery_window_days
        self._clock = clock
        self._metric = metric

    # ----------------------------------------------------------------- status checks
    def status_of(self, location_id: str) -> ConnectionStatus | None:
        connection = self._connections.get(location_id)
        return connection.status if connection else None

    def is_active(self, location_id: str) -> bool:
        return self.status_of(location_id) is ConnectionStatus.ACTIVE

    # ----------------------------------------------------------------- INSTALL
    def handle_install(
        self,
        *,
        location_id: str | None,
        company_id: str | None,
        event_ms: int | None = None,
        event_id: str | None = None,
    ) -> list[Connection]:
        """Make sure the installed location(s) have a stored token. Idempotent; skipped when older than
        the lifecycle event the connection last applied.

        Raises `CompanyTokenNotStored` (retryable) when the OAuth callback has not stored the token
        this needs yet: GHL can send INSTALL before the code exchange finishes (GHL docs #294).
        """
        order = (event_ms, event_id or "") if event_ms is not None else None
        target = location_id or (company_connection_id(company_id) if company_id else None)
        if order is not None and target is not None and self._is_stale(target, "INSTALL", order):
            return []
        if location_id:
            existing = self._live(location_id)
            if existing is not None:
                if order is not None:
                    self._connections.claim_lifecycle_event(location_id, *order)
                return [existing]
            if not company_id:
                raise CompanyTokenNotStored(
                    "location install seen before its OAuth callback stored a token",
                    connection_id=location_id,
                )
            return self._mint_locations(company_id, [location_id], order)
        if not company_id:
            raise ValueError("INSTALL event carries neither locationId nor companyId")
        company_token = self._company_token(company_id)
        if order is not None:
            self._connections.claim_lifecycle_event(company_connection_id(company_id), *order)
        if self._agency_queue is not None:
            # The fan-out skips what is connected: a second INSTALL creates nothing twice.
            requested_ms = event_ms if event_ms is not None else int(self._clock() * 1000)
            self._agency_queue.enqueue(AgencyInstallJob(company_id, requested_ms))
            self._metric("AgencyInstallQueued")
            logger.info("agency INSTALL: fan-out queued", extra={"company_id": company_id})
            return []
        try:
            ids = [
                loc.id
                for loc in self._oauth.installed_locations(company_token, company_id, self._app_id)
                if loc.is_installed is not False
            ]
        except GHLError as exc:
            raise GHLUnavailable(f"could not list installed locations (HTTP {exc.status})") from None
        missing = [i for i in ids if self._live(i) is None]
        return self._mint_locations(company_id, missing, order) if missing else []

    def _is_stale(self, connection_id: str, event_type: str, order: tuple[int, str]) -> bool:
        connection = self._connections.get(connection_id)
        if connection is None or connection.lifecycle_event_ms is None:
            return False
        applied = (connection.lifecycle_event_ms, connection.lifecycle_event_id or "")
        if order >= applied:
            return False
        self._record_stale(connection_id, event_type, order)
        return True

    def _record_stale(self, connection_id: str, event_type: str, order: tuple[int, str]) -> None:
        self._metric("LifecycleEventStale")
        logger.warning(
            "stale lifecycle event skipped: a newer one was applied",
            extra={"connection_id": connection_id, "event_type": event_type, "event_id": order[1]},
        )
        try:
            self._connections.record_stale_lifecycle_event(connection_id, event_type, *order)
        except ConnectionsError:
            logger.warning("could not audit the stale event", extra={"connection_id": connection_id})

    def _live(self, connection_id: str) -> Connection | None:
        connection = self._connections.get(connection_id)
        if connection is None or connection.status is ConnectionStatus.UNINSTALLED:
            return None
        if self._tokens.read(connection_id) is None:
            return None
        return connection

    def _company_token(self, company_id: str) -> str:
        company_cid = company_connection_id(company_id)
        try:
            return self._vault.get_token(company_cid)
        except ConnectionNotFound:
            raise CompanyTokenNotStored(
                "agency token not stored yet (INSTALL arrived before the OAuth callback finished)",
                connection_id=company_cid,
            ) from None

    def _mint_locations(
        self, company_id: str, location_ids: list[str], order: tuple[int, str] | None = None
    ) -> list[Connection]:
        company_token = self._company_token(company_id)
        company = self._connections.get(company_connection_id(company_id))
        account = company.rankr_account_id if company else None
        now = self._clock()
        bundles: dict[str, TokenBundle] = {}
        records: list[Connection] = []
        for location_id in location_ids:
            try:
                grant = self._oauth.location_token(company_token, company_id, location_id)
            except GHLError as exc:
                if exc.retryable:
                    raise GHLUnavailable(f"location token request failed (HTTP {exc.status})") from None
                raise
            bundle = bundle_from_grant(
                grant, now=now, user_type=UserType.LOCATION, company_id=company_id, location_id=location_id
            )
            existing = self._connections.get(location_id)
            bundles[location_id] = bundle
            records.append(
                Connection(
                    connection_id=location_id,
                    location_id=location_id,
                    company_id=company_id,
                    user_type=UserType.LOCATION,
                    scopes=bundle.scopes,
                    status=ConnectionStatus.ACTIVE,
                    installed_at=from_epoch(now),
                    token_expires_at=from_epoch(bundle.expires_at),
                    rankr_account_id=(existing.rankr_account_id if existing else None) or account,
                    token_source="company",
                    updated_at=from_epoch(now),
                    lifecycle_event_ms=order[0] if order else None,
                    lifecycle_event_id=order[1] if order else None,
                )
            )
        store_all(self._tokens, self._connections, bundles, records)
        for location_id in bundles:
            self._vault.invalidate(location_id)
        self._metric("ConnectionInstalled", len(records))
        logger.info(
            "locations installed via agency token", extra={"company_id": company_id, "count": len(records)}
        )
        return records

    # ----------------------------------------------------------------- UNINSTALL
    def handle_uninstall(
        self,
        *,
        location_id: str | None,
        company_id: str | None,
        event_ms: int | None = None,
        event_id: str | None = None,
    ) -> list[str]:
        """Schedule the token secret(s) for deletion and mark the connection(s) uninstalled. Idempotent.

        A location uninstall affects that location only. An agency uninstall affects the agency and the
        locations whose tokens were minted from it (own-grant location installs are left alone).
        """
        if location_id:
            targets = [location_id]
        elif company_id:
            company_cid = company_connection_id(company_id)
            targets = [company_cid] + [
                c.connection_id
                for c in self._connections.list_by_company(company_id)
                if c.connection_id != company_cid and c.token_source == "company"
            ]
        else:
            raise ValueError("UNINSTALL event carries neither locationId nor companyId")
        done: list[str] = []
        order = (event_ms, event_id or "") if event_ms is not None else None
        for connection_id in targets:
            if order is not None and self._connections.claim_lifecycle_event(connection_id, *order) is False:
                self._record_stale(connection_id, "UNINSTALL", order)
                continue
            self._tokens.schedule_deletion(connection_id, self._recovery_window_days)
            try:
                self._connections.set_status(connection_id, ConnectionStatus.UNINSTALLED, "uninstall_webhook")
            except ConnectionNotFound:
                logger.info("uninstall for an unknown connection", extra={"connection_id": connection_id})
            self._vault.invalidate(connection_id)
            done.append(connection_id)
        self._metric("ConnectionUninstalled", len(done))
        logger.info("connections uninstalled", extra={"connection_ids": done})
        return done

    # ----------------------------------------------------------------- operator actions
    def list(self) -> Iterator[Connection]:
        return self._connections.list()

    def show(self, connection_id: str) -> Connection:
        connection = self._connections.get(connection_id)
        if connection is None:
            raise ConnectionNotFound("no such connection", connection_id=connection_id)
        return connection

    def link(self, connection_id: str, rankr_account_id: str) -> Connection:
        if not rankr_account_id.strip():
            raise ValueError("rankr account id must not be empty")
        self.show(connection_id)
        self._connections.link_rankr_account(connection_id, rankr_account_id.strip())
        return self.show(connection_id)

    def pause(self, connection_id: str) -> Connection:
        connection = self.show(connection_id)
        if connection.status is not ConnectionStatus.ACTIVE:
            raise ConnectionsError(
                f"only an active connection can be paused (it is {connection.status.value})",
                connection_id=connection_id,
            )
        self._connections.set_status(connection_id, ConnectionStatus.PAUSED, PauseReason.OPERATOR.value)
        return self.show(connection_id)

    def resume(self, connection_id: str) -> Connection:
        connection = self.show(connection_id)
        if connection.status is not ConnectionStatus.PAUSED:
            raise ConnectionsError(
                f"only a paused connection can be resumed (it is {connection.status.value})",
                connection_id=connection_id,
            )
        self._connections.set_status(connection_id, ConnectionStatus.ACTIVE, None)
        self._vault.invalidate(connection_id)
        return self.show(connection_id)
