"""GHL connections: OAuth install/callback, the token vault, INSTALL/UNINSTALL and operator actions.

Entry points:
- `OAuthInstallService.install_url / complete_install` (functions/oauth_callback)
- `TokenVault` (a `rankr_ghl.ghl.tokens.TokenSource` for `GHLClient`)
- `ConnectionLifecycle.handle_install / handle_uninstall / is_active / status_of / link / pause / resume`
Built once per container by `rankr_ghl.wiring`.
"""

from rankr_ghl.connections.errors import (
    CodeExchangeRejected,
    CompanyTokenNotStored,
    ConnectionNeedsReauth,
    ConnectionNotFound,
    ConnectionPaused,
    ConnectionsError,
    ConnectionUninstalled,
    GHLUnavailable,
    InstallDenied,
    InstallStorageFailed,
    InvalidState,
    MissingCode,
    OAuthError,
    StateExpired,
    TokenRefreshInProgress,
    TokenStorageError,
)
from rankr_ghl.connections.lifecycle import ConnectionLifecycle
from rankr_ghl.connections.models import (
    Connection,
    ConnectionStatus,
    PauseReason,
    TokenBundle,
    UserType,
    company_connection_id,
)
from rankr_ghl.connections.oauth_flow import InstallResult, OAuthAppConfig, OAuthInstallService
from rankr_ghl.connections.ports import ConnectionStore, TokenStore
from rankr_ghl.connections.state import InstallState, StateSigner
from rankr_ghl.connections.vault import TokenVault, VaultConfig

__all__ = [
    "CodeExchangeRejected",
    "CompanyTokenNotStored",
    "Connection",
    "ConnectionLifecycle",
    "ConnectionNeedsReauth",
    "ConnectionNotFound",
    "ConnectionPaused",
    "ConnectionStatus",
    "ConnectionStore",
    "ConnectionUninstalled",
    "ConnectionsError",
    "GHLUnavailable",
    "InstallDenied",
    "InstallResult",
    "InstallState",
    "InstallStorageFailed",
    "InvalidState",
    "MissingCode",
    "OAuthAppConfig",
    "OAuthError",
    "OAuthInstallService",
    "PauseReason",
    "StateExpired",
    "StateSigner",
    "TokenBundle",
    "TokenRefreshInProgress",
    "TokenStorageError",
    "TokenStore",
    "TokenVault",
    "UserType",
    "VaultConfig",
    "company_connection_id",
]
