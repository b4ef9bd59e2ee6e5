"""GHL connections: OAuth install/callback, the token vault, INSTALL/UNINSTALL and operator actions.

Entry points:
- `OAuthInstallService.install_url / complete_install` (functions/oauth_callback)
- `TokenVault` (a `rankr_ghl.ghl.tokens.TokenSource` for `GHLClient`)
- `ConnectionLifecycle.handle_install / handle_uninstall / is_active / status_of / link / pause / resume`
Built once per container by `rankr_ghl.wiring`.
"""

# Exports load on first access (PEP 562), so importing one submodule (e.g. `.errors`) does not pull in
# the rest of the package and its dependencies at cold start.
from __future__ import annotations

from typing import TYPE_CHECKING

from rankr_ghl.lazy_exports import lazy_exports

if TYPE_CHECKING:
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
        StateReused,
        TokenRefreshInProgress,
        TokenStorageError,
    )
    from rankr_ghl.connections.lifecycle import ConnectionLifecycle
    from rankr_ghl.connections.models import Connection, TokenBundle
    from rankr_ghl.connections.oauth_flow import InstallResult, OAuthAppConfig, OAuthInstallService
    from rankr_ghl.connections.ports import ConnectionStore, TokenStore
    from rankr_ghl.connections.state import InstallState, StateSigner
    from rankr_ghl.connections.status import ConnectionStatus, PauseReason, UserType, company_connection_id
    from rankr_ghl.connections.vault import TokenVault, VaultConfig

_EXPORTS = {
    "CodeExchangeRejected": "rankr_ghl.connections.errors",
    "CompanyTokenNotStored": "rankr_ghl.connections.errors",
    "Connection": "rankr_ghl.connections.models",
    "ConnectionLifecycle": "rankr_ghl.connections.lifecycle",
    "ConnectionNeedsReauth": "rankr_ghl.connections.errors",
    "ConnectionNotFound": "rankr_ghl.connections.errors",
    "ConnectionPaused": "rankr_ghl.connections.errors",
    "ConnectionStatus": "rankr_ghl.connections.status",
    "ConnectionStore": "rankr_ghl.connections.ports",
    "ConnectionUninstalled": "rankr_ghl.connections.errors",
    "ConnectionsError": "rankr_ghl.connections.errors",
    "GHLUnavailable": "rankr_ghl.connections.errors",
    "InstallDenied": "rankr_ghl.connections.errors",
    "InstallResult": "rankr_ghl.connections.oauth_flow",
    "InstallState": "rankr_ghl.connections.state",
    "InstallStorageFailed": "rankr_ghl.connections.errors",
    "InvalidState": "rankr_ghl.connections.errors",
    "MissingCode": "rankr_ghl.connections.errors",
    "OAuthAppConfig": "rankr_ghl.connections.oauth_flow",
    "OAuthError": "rankr_ghl.connections.errors",
    "OAuthInstallService": "rankr_ghl.connections.oauth_flow",
    "PauseReason": "rankr_ghl.connections.status",
    "StateExpired": "rankr_ghl.connections.errors",
    "StateReused": "rankr_ghl.connections.errors",
    "StateSigner": "rankr_ghl.connections.state",
    "TokenBundle": "rankr_ghl.connections.models",
    "TokenRefreshInProgress": "rankr_ghl.connections.errors",
    "TokenStorageError": "rankr_ghl.connections.errors",
    "TokenStore": "rankr_ghl.connections.ports",
    "TokenVault": "rankr_ghl.connections.vault",
    "UserType": "rankr_ghl.connections.status",
    "VaultConfig": "rankr_ghl.connections.vault",
    "company_connection_id": "rankr_ghl.connections.status",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
    "StateReused",
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
