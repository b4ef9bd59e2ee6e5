"""`Infrastructure`: the container's AWS stores and API clients, each built once on first use from one
`Settings`; `Root` (wiring.root) adds one service per function on top."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from rankr_ghl.config import AppSecret, Settings, load_app_secret

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from rankr_ghl.aws.agency_install_queue import SqsAgencyInstallQueue
    from rankr_ghl.aws.audit import DynamoAuditLog
    from rankr_ghl.aws.connections_store import DynamoConnectionStore
    from rankr_ghl.aws.sync_state import SyncStateTable
    from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore
    from rankr_ghl.connections.lifecycle import ConnectionLifecycle
    from rankr_ghl.connections.oauth_flow import InstallEndpoints
    from rankr_ghl.connections.ports import TokenStore
    from rankr_ghl.connections.vault import TokenVault
    from rankr_ghl.flows.inbound import InboundProcessor
    from rankr_ghl.flows.lead_push import LeadRecords
    from rankr_ghl.ghl.client import GHLClient
    from rankr_ghl.ghl.oauth import GHLOAuthClient
    from rankr_ghl.ghl.ratelimit import RateLimiter
    from rankr_ghl.rankr.client import RankrClient

T = TypeVar("T")
InfraT = TypeVar("InfraT", bound="Infrastructure")


def cached_factory(factory: Callable[[InfraT], T]) -> Callable[[InfraT], T]:
    """Cache a Root factory per instance (thread-safe: lead push builds clients from worker threads)."""
    name = factory.__name__

    @functools.wraps(factory)
    def cached(self: InfraT) -> T:
        built = self._built
        if name not in built:
            with self._lock:
                if name not in built:
                    built[name] = factory(self)
        value: T = built[name]
        return value

    return cached


@dataclass(frozen=True)
class Overrides:
    """What a test or the local runtime swaps into an otherwise production root.

    `lead_push_records`: wraps lead push's records port (devtools' fault injection crashes there).
    `inbound_processor` / `oauth_install_service`: replace the webhook worker's processor and the
    OAuth service with ones built over fakes.
    `agency_install_tokens`: wraps the agency fan-out's token store (devtools' crash injection).
    """

    lead_push_records: Callable[[LeadRecords], LeadRecords] | None = None
    inbound_processor: Callable[[], InboundProcessor] | None = None
    oauth_install_service: Callable[[], InstallEndpoints] | None = None
    agency_install_tokens: Callable[[TokenStore], TokenStore] | None = None


class Infrastructure:
    def __init__(self, settings: Settings, *, overrides: Overrides | None = None) -> None:
        self.settings = settings
        self.overrides = overrides or Overrides()
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------ configuration
    def app_secret(self, *, force_fetch: bool = False) -> AppSecret:
        """Not cached here: Powertools Parameters caches it for 300 s, so a rotation is picked up."""
        return load_app_secret(
            self.settings.app_secret_id,
            force_fetch=force_fetch,
            client_source=lambda: self.aws_client("secretsmanager"),
        )

    def ghl_client_id(self) -> str:
        return self.settings.ghl_client_id or self.app_secret().client_id

    def warm_http(self) -> None:
        """Start loading the TLS trust store on a thread of its own (`lazy_http.TrustStore`): called
        first by the services whose events call GHL or Rankr, so the load overlaps with building
        them and with the AWS round trips before the first request."""
        from rankr_ghl import lazy_http

        lazy_http.trust_store.warm()

    # ---------------------------------------------------------------------------------- AWS clients
    def aws_client_config(self) -> Config:
        """Timeouts and retries of every boto3 client, sized to this function's Timeout.

        botocore's defaults (60 s connect and read, legacy retries) outlast a 10 s Lambda: a stalled
        call would kill the invocation mid-flow instead of failing it cleanly. One call's worst case,
        attempts x (connect + read) plus backoff, stays well inside the function's timeout, so the
        caller still has time to answer (the intake a 503, the worker a batch item failure).
        """
        from botocore.config import Config

        from rankr_ghl.aws.dynamodb import MAX_POOL_CONNECTIONS

        timeout_s = self.settings.timeout_s
        return Config(
            connect_timeout=min(3.0, max(1.0, timeout_s / 20)),
            read_timeout=min(10.0, max(2.0, timeout_s / 10)),
            retries={"mode": "standard", "max_attempts": 2 if timeout_s < 60 else 3},
            max_pool_connections=MAX_POOL_CONNECTIONS,
        )

    def aws_client(self, service: str) -> Any:
        """The container's one boto3 client for `service`, built on first use with `aws_client_config`."""
        built = self._built
        name = f"aws_client:{service}"
        if name not in built:
            with self._lock:
                if name not in built:
                    import boto3

                    endpoint = self.settings.aws_endpoint_url_lambda if service == "lambda" else ""
                    built[name] = boto3.client(  # type: ignore[call-overload]
                        service, config=self.aws_client_config(), endpoint_url=endpoint or None
                    )
        return built[name]

    # ---------------------------------------------------------------------------------- AWS stores
    def dynamodb(self) -> DynamoDBClient:
        """The one DynamoDB client every store of this container shares (built on first use)."""
        client: DynamoDBClient = self.aws_client("dynamodb")
        return client

    @cached_factory
    def connection_store(self) -> DynamoConnectionStore:
        from rankr_ghl.aws.connections_store import DynamoConnectionStore

        return DynamoConnectionStore(self.settings.connections_table, client_source=self.dynamodb)

    @cached_factory
    def token_store(self) -> SecretsManagerTokenStore:
        from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore

        return SecretsManagerTokenStore(
            self.settings.token_secret_prefix, client=self.aws_client("secretsmanager")
        )

    @cached_factory
    def sync_state(self) -> SyncStateTable:
        from rankr_ghl.aws.sync_state import SyncStateTable

        return SyncStateTable(self.settings.sync_table, client_source=self.dynamodb)

    @cached_factory
    def audit_log(self) -> DynamoAuditLog:
        from rankr_ghl.aws.audit import DynamoAuditLog

        return DynamoAuditLog(
            self.settings.audit_table,
            client_source=self.dynamodb,
            retention_days=self.settings.audit_retention_days,
        )

    # ------------------------------------------------------------------------------ GHL and Rankr
    @cached_factory
    def rate_limiter(self) -> RateLimiter:
        """The API client's limiter: this process's pacing plus, unless switched off, the budget
        every container shares through the sync-state table (docs/rate-budget.md)."""
        from rankr_ghl.ghl.budget import SharedBudget
        from rankr_ghl.ghl.budget_record import Priority
        from rankr_ghl.ghl.ratelimit import RateLimiter

        shared = None
        if self.settings.ghl_shared_budget:
            from rankr_ghl.aws.rate_budget import DynamoBudgetStore

            store = DynamoBudgetStore(self.settings.sync_table, client_source=self.dynamodb)
            settings = self.settings
            shared = SharedBudget(
                store,
                priority=Priority(settings.ghl_budget_priority),
                slice_share=settings.ghl_budget_slice_share or SharedBudget.DEFAULT_SLICE_SHARE,
                report_horizon_factor=(
                    settings.ghl_budget_report_horizons or SharedBudget.DEFAULT_REPORT_HORIZONS
                ),
            )
        return RateLimiter(daily_reset_offset_s=self.settings.daily_reset_offset_s, shared=shared)

    @cached_factory
    def oauth_rate_limiter(self) -> RateLimiter:
        """The OAuth client's limiter (company and token calls, from the install callback too):
        this process's budget only, so the callback needs no access to the shared record."""
        from rankr_ghl.ghl.ratelimit import RateLimiter

        return RateLimiter(daily_reset_offset_s=self.settings.daily_reset_offset_s)

    @cached_factory
    def ghl_oauth_client(self) -> GHLOAuthClient:
        from rankr_ghl.ghl.oauth import GHLOAuthClient
        from rankr_ghl.observability import trace_http_clients

        trace_http_clients()  # before the client builds its httpx.Client
        secret = self.app_secret()
        secret.require("client_secret")
        return GHLOAuthClient(
            self.ghl_client_id(),
            secret.client_secret.get_secret_value(),
            base_url=self.settings.ghl_api_base_url,
            rate_limiter=self.oauth_rate_limiter(),
        )

    @cached_factory
    def token_vault(self) -> TokenVault:
        from rankr_ghl import deadlines
        from rankr_ghl.connections.vault import TokenVault
        from rankr_ghl.wiring.deferred import DeferredOAuthClient

        # Only refreshes use the OAuth client, and building it reads the app secret.
        oauth = DeferredOAuthClient(self.ghl_oauth_client)
        return TokenVault(
            self.token_store(), self.connection_store(), oauth, remaining_s=deadlines.invocation.remaining_s
        )

    @cached_factory
    def ghl_client(self) -> GHLClient:
        import httpx

        from rankr_ghl.ghl.client import DEFAULT_TIMEOUT, GHLClient
        from rankr_ghl.observability import trace_http_clients

        trace_http_clients()  # before the client builds its httpx.Client
        read_s = self.settings.ghl_timeout_s
        timeout = httpx.Timeout(read_s, connect=min(5.0, read_s)) if read_s else DEFAULT_TIMEOUT
        return GHLClient(
            self.token_vault(),
            base_url=self.settings.ghl_api_base_url,
            rate_limiter=self.rate_limiter(),
            timeout=timeout,
        )

    @cached_factory
    def rankr_client(self) -> RankrClient:
        from rankr_ghl.observability import trace_http_clients
        from rankr_ghl.rankr.client import RankrClient

        trace_http_clients()  # before the client builds its httpx.Client

        def api_key() -> str:
            # Read per request: a rotated key is picked up once Powertools' cache expires.
            return self.app_secret().rankr_api_key.get_secret_value()

        return RankrClient(self.settings.rankr_api_base_url, api_key)

    @cached_factory
    def agency_install_queue(self) -> SqsAgencyInstallQueue | None:
        """Where agency install fan-outs are queued; None where the function has no
        AGENCY_INSTALL_QUEUE_URL (it takes no agency installs)."""
        from rankr_ghl.aws.agency_install_queue import SqsAgencyInstallQueue

        url = self.settings.agency_install_queue_url
        return SqsAgencyInstallQueue(url, client_source=lambda: self.aws_client("sqs")) if url else None

    @cached_factory
    def connection_lifecycle(self) -> ConnectionLifecycle:
        from rankr_ghl.connections.lifecycle import ConnectionLifecycle
        from rankr_ghl.ghl.oauth import app_id_from_client_id
        from rankr_ghl.wiring.deferred import DeferredOAuthClient

        return ConnectionLifecycle(
            self.token_store(),
            self.connection_store(),
            DeferredOAuthClient(self.ghl_oauth_client),
            self.token_vault(),
            app_id=app_id_from_client_id(self.ghl_client_id()),
            agency_queue=self.agency_install_queue(),
        )
