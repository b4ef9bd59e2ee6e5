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
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from rankr_ghl.aws.audit import DynamoAuditLog
    from rankr_ghl.aws.connections_store import DynamoConnectionStore
    from rankr_ghl.aws.sync_state import SyncStateTable
    from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore
    from rankr_ghl.connections.lifecycle import ConnectionLifecycle
    from rankr_ghl.connections.oauth_flow import OAuthInstallService
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
    """

    lead_push_records: Callable[[LeadRecords], LeadRecords] | None = None
    inbound_processor: Callable[[], InboundProcessor] | None = None
    oauth_install_service: Callable[[], OAuthInstallService] | None = None


class Infrastructure:
    def __init__(self, settings: Settings, *, overrides: Overrides | None = None) -> None:
        self.settings = settings
        self.overrides = overrides or Overrides()
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------ configuration
    def app_secret(self, *, force_fetch: bool = False) -> AppSecret:
        """Not cached here: Powertools Parameters caches it for 300 s, so a rotation is picked up."""
        return load_app_secret(self.settings.app_secret_id, force_fetch=force_fetch)

    def ghl_client_id(self) -> str:
        return self.settings.ghl_client_id or self.app_secret().client_id

    # ---------------------------------------------------------------------------------- AWS stores
    @cached_factory
    def dynamodb(self) -> DynamoDBClient:
        """The one DynamoDB client every store of this container shares (built on first use)."""
        from rankr_ghl.aws.dynamodb import new_dynamodb_client

        return new_dynamodb_client()

    @cached_factory
    def connection_store(self) -> DynamoConnectionStore:
        from rankr_ghl.aws.connections_store import DynamoConnectionStore

        return DynamoConnectionStore(self.settings.connections_table, client_source=self.dynamodb)

    @cached_factory
    def token_store(self) -> SecretsManagerTokenStore:
        from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore

        return SecretsManagerTokenStore(self.settings.token_secret_prefix)

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
        from rankr_ghl.ghl.ratelimit import RateLimiter

        return RateLimiter()

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
            rate_limiter=self.rate_limiter(),
        )

    @cached_factory
    def token_vault(self) -> TokenVault:
        from rankr_ghl.connections.vault import TokenVault

        # Only refreshes use the OAuth client, and building it reads the app secret.
        from rankr_ghl.invocation import invocation_deadline
        from rankr_ghl.wiring.deferred import DeferredOAuthClient

        oauth = DeferredOAuthClient(self.ghl_oauth_client)
        return TokenVault(
            self.token_store(), self.connection_store(), oauth, remaining_s=invocation_deadline.remaining_s
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
        )
