"""Per-container singletons, built lazily on first use (cold start stays small).

Handlers call e.g. `wiring.token_vault()` inside the handler, never at import time. Every factory is
`functools.cache`d; `reset()` clears them (tests, or after changing the environment).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

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
    from rankr_ghl.ghl.client import GHLClient
    from rankr_ghl.ghl.oauth import GHLOAuthClient
    from rankr_ghl.ghl.ratelimit import RateLimiter
    from rankr_ghl.rankr.client import RankrClient
    from rankr_ghl.sync.ports import DedupeStore


class _Deferred:
    """Stands in for a client until its first use, then builds it once (via its cached factory) and
    forwards to it. Paths that never call the client (an install redirect, a webhook for a location that
    is not connected, the reconcile planner) then skip its imports, its app-secret read and its boto3
    clients: most of a cold start."""

    __slots__ = ("_factory", "_lock", "_target")

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._target: object | None = None

    def _resolve(self) -> object:
        target = self._target
        if target is None:
            with self._lock:
                if self._target is None:
                    self._target = self._factory()
                target = self._target
        return target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resolve(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _Deferred.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self._resolve(), name, value)

    def __enter__(self) -> Any:
        return self._resolve().__enter__()  # type: ignore[attr-defined]

    def __exit__(self, *exc: object) -> Any:
        return self._resolve().__exit__(*exc)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<deferred {self._target!r}>" if self._target is not None else "<deferred, not built yet>"


@functools.cache
def settings() -> Settings:
    return Settings.from_env()


def app_secret(*, force_fetch: bool = False) -> AppSecret:
    """Not cached here: Powertools Parameters caches it for 300 s, so a rotation is picked up."""
    return load_app_secret(settings().app_secret_id, force_fetch=force_fetch)


def ghl_client_id() -> str:
    return settings().ghl_client_id or app_secret().client_id


@functools.cache
def dynamodb() -> DynamoDBClient:
    """The DynamoDB client the wiring's stores share (config as `aws.sync_state.dynamodb_client`)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        config=Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=5),
    )


def _shared_dynamodb() -> DynamoDBClient:
    # One client per container, created on its first call: each extra client costs cold start.
    return cast("DynamoDBClient", _Deferred(dynamodb))


@functools.cache
def connection_store() -> DynamoConnectionStore:
    from rankr_ghl.aws.connections_store import DynamoConnectionStore

    return DynamoConnectionStore(settings().connections_table, client=_shared_dynamodb())


@functools.cache
def token_store() -> SecretsManagerTokenStore:
    from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore

    return SecretsManagerTokenStore(settings().token_secret_prefix)


@functools.cache
def rate_limiter() -> RateLimiter:
    from rankr_ghl.ghl.ratelimit import RateLimiter

    return RateLimiter()


@functools.cache
def ghl_oauth_client() -> GHLOAuthClient:
    from rankr_ghl.ghl.oauth import GHLOAuthClient
    from rankr_ghl.observability import trace_http_clients

    trace_http_clients()  # before the client builds its httpx.Client
    secret = app_secret()
    secret.require("client_secret")
    return GHLOAuthClient(
        ghl_client_id(),
        secret.client_secret.get_secret_value(),
        base_url=settings().ghl_api_base_url,
        rate_limiter=rate_limiter(),
    )


def _deferred_ghl_oauth_client() -> GHLOAuthClient:
    """The OAuth client as a dependency: only token refreshes and installs use it, and building it
    reads the app secret and imports the HTTP stack."""
    return cast("GHLOAuthClient", _Deferred(ghl_oauth_client))


@functools.cache
def token_vault() -> TokenVault:
    from rankr_ghl.connections.vault import TokenVault

    return TokenVault(token_store(), connection_store(), _deferred_ghl_oauth_client())


@functools.cache
def ghl_client() -> GHLClient:
    """The GHL API client, built on its first call (see `_Deferred`)."""
    return cast("GHLClient", _Deferred(_built_ghl_client))


@functools.cache
def _built_ghl_client() -> GHLClient:
    import httpx

    from rankr_ghl.ghl.client import DEFAULT_TIMEOUT, GHLClient
    from rankr_ghl.observability import trace_http_clients

    trace_http_clients()  # before the client builds its httpx.Client
    read_s = settings().ghl_timeout_s
    timeout = httpx.Timeout(read_s, connect=min(5.0, read_s)) if read_s else DEFAULT_TIMEOUT
    return GHLClient(
        token_vault(), base_url=settings().ghl_api_base_url, rate_limiter=rate_limiter(), timeout=timeout
    )


def _deferred_used_states() -> DedupeStore:
    """The used install states as a dependency: only a callback marks one, and the store imports the
    sync-state table (the install redirect never needs it)."""
    return cast("DedupeStore", _Deferred(lambda: sync_state().dedupe))


@functools.cache
def oauth_install_service() -> OAuthInstallService:
    from rankr_ghl.connections.oauth_flow import OAuthAppConfig, OAuthInstallService
    from rankr_ghl.connections.state import StateSigner

    cfg = settings()
    secret = app_secret()
    secret.require("state_signing_key")
    app = OAuthAppConfig(
        client_id=ghl_client_id(),
        marketplace_url=cfg.ghl_marketplace_url,
        scopes=cfg.scopes,
        redirect_uri=cfg.oauth_redirect_uri or None,
    )
    # Stores and vault deferred like the OAuth client: only a callback uses them, the install redirect
    # (the first request of every install) never does, and building them imports their modules.
    return OAuthInstallService(
        app,
        StateSigner(secret.state_signing_key.get_secret_value()),
        _deferred_ghl_oauth_client(),
        cast("SecretsManagerTokenStore", _Deferred(token_store)),
        cast("DynamoConnectionStore", _Deferred(connection_store)),
        vault=cast("TokenVault", _Deferred(token_vault)),
        used_states=_deferred_used_states(),
    )


@functools.cache
def connection_lifecycle() -> ConnectionLifecycle:
    from rankr_ghl.connections.lifecycle import ConnectionLifecycle
    from rankr_ghl.ghl.oauth import app_id_from_client_id

    return ConnectionLifecycle(
        token_store(),
        connection_store(),
        _deferred_ghl_oauth_client(),
        token_vault(),
        app_id=app_id_from_client_id(ghl_client_id()),
    )


@functools.cache
def rankr_client() -> RankrClient:
    """The Rankr API client, built on its first call (see `_Deferred`)."""
    return cast("RankrClient", _Deferred(_built_rankr_client))


@functools.cache
def _built_rankr_client() -> RankrClient:
    from rankr_ghl.observability import trace_http_clients
    from rankr_ghl.rankr.client import RankrClient

    trace_http_clients()  # before the client builds its httpx.Client

    def api_key() -> str:
        # Read per request: a rotated key is picked up once Powertools' cache expires.
        return app_secret().rankr_api_key.get_secret_value()

    return RankrClient(settings().rankr_api_base_url, api_key)


@functools.cache
def sync_state() -> SyncStateTable:
    """Mappings, ledger, tombstones, checkpoints, dedupe and mapping config (SyncStateTable)."""
    from rankr_ghl.aws.sync_state import SyncStateTable

    return SyncStateTable(settings().sync_table, client=_shared_dynamodb())


@functools.cache
def audit_log() -> DynamoAuditLog:
    from rankr_ghl.aws.audit import DynamoAuditLog

    return DynamoAuditLog(settings().audit_table, client=_shared_dynamodb())


_FACTORIES = (
    settings,
    dynamodb,
    connection_store,
    token_store,
    rate_limiter,
    ghl_oauth_client,
    token_vault,
    ghl_client,
    _built_ghl_client,
    oauth_install_service,
    connection_lifecycle,
    rankr_client,
    _built_rankr_client,
    sync_state,
    audit_log,
)


# Variables that shape the singletons: a change (tests, several local stacks in one process) rebuilds.
_SHAPING_ENV = (
    "AWS_ENDPOINT_URL",
    "STAGE",
    "CONNECTIONS_TABLE",
    "SYNC_TABLE",
    "AUDIT_TABLE",
    "APP_SECRET_ID",
    "TOKEN_SECRET_PREFIX",
    "GHL_API_BASE_URL",
    "GHL_TIMEOUT_S",
    "GHL_CLIENT_ID",
    "GHL_MARKETPLACE_URL",
    "GHL_SCOPES",
    "OAUTH_REDIRECT_URI",
    "RANKR_API_BASE_URL",
)
_env_seen: tuple[str, ...] | None = None


def refresh_if_environment_changed() -> None:
    """Call at the start of an invocation; a no-op unless a shaping variable changed."""
    global _env_seen
    current = tuple(os.environ.get(name, "") for name in _SHAPING_ENV)
    if _env_seen is not None and current != _env_seen:
        reset()
    _env_seen = current


def reset() -> None:
    """Forget every singleton (and Powertools' cached parameters)."""
    from aws_lambda_powertools.utilities import parameters

    for factory in _FACTORIES:
        factory.cache_clear()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
