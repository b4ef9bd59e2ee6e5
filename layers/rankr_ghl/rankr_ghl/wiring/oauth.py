"""OAuthCallbackFunction's service: the install redirect and the callback."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankr_ghl.connections.oauth_flow import OAuthInstallService
    from rankr_ghl.wiring.infrastructure import Infrastructure


def build_oauth_install_service(root: Infrastructure) -> OAuthInstallService:
    from rankr_ghl.connections.oauth_flow import OAuthAppConfig, OAuthInstallService
    from rankr_ghl.connections.state import StateSigner
    from rankr_ghl.wiring.deferred import DeferredOAuthClient

    settings = root.settings
    secret = root.app_secret()
    secret.require("state_signing_key")
    app = OAuthAppConfig(
        client_id=root.ghl_client_id(),
        marketplace_url=settings.ghl_marketplace_url,
        scopes=settings.scopes,
        redirect_uri=settings.oauth_redirect_uri or None,
    )
    # The stores build their AWS clients on first use: the install redirect (the first request of
    # every install) never does.
    return OAuthInstallService(
        app,
        StateSigner(secret.state_signing_key.get_secret_value()),
        DeferredOAuthClient(root.ghl_oauth_client),
        root.token_store(),
        root.connection_store(),
        vault=root.token_vault(),
        used_states=root.sync_state().dedupe,
    )
