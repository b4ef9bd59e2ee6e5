"""OAuthCallbackFunction's service: the install redirect and the callback.

The redirect (the first request of every install) needs only the app config and the state signer;
the callback's stores, vault and OAuth client are built on the first callback, so the redirect's
cold start imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rankr_ghl.connections.oauth_flow import InstallResult, OAuthAppConfig, OAuthInstallService
    from rankr_ghl.connections.state import StateSigner
    from rankr_ghl.connections.status import UserType
    from rankr_ghl.wiring.infrastructure import Infrastructure


class InstallEndpoints(Protocol):
    def install_url(
        self,
        rankr_account_id: str | None = None,
        *,
        redirect_uri: str | None = None,
        user_type: UserType = ...,
    ) -> str: ...

    def complete_install(
        self,
        *,
        code: str | None,
        state: str | None,
        error: str | None = None,
        redirect_uri: str | None = None,
    ) -> InstallResult: ...


class OAuthEndpoints:
    """`InstallEndpoints` that builds the full install service on the first callback."""

    def __init__(
        self, app: OAuthAppConfig, signer: StateSigner, callback: Callable[[], OAuthInstallService]
    ) -> None:
        self._app = app
        self._signer = signer
        self._callback = callback

    def install_url(
        self,
        rankr_account_id: str | None = None,
        *,
        redirect_uri: str | None = None,
        user_type: UserType | None = None,
    ) -> str:
        from rankr_ghl.connections.oauth_flow import chooselocation_url
        from rankr_ghl.connections.status import UserType

        return chooselocation_url(
            self._app,
            self._signer,
            rankr_account_id,
            redirect_uri=redirect_uri,
            user_type=user_type or UserType.LOCATION,
        )

    def complete_install(
        self,
        *,
        code: str | None,
        state: str | None,
        error: str | None = None,
        redirect_uri: str | None = None,
    ) -> InstallResult:
        return self._callback().complete_install(
            code=code, state=state, error=error, redirect_uri=redirect_uri
        )


def build_oauth_endpoints(root: Infrastructure) -> OAuthEndpoints:
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
    signer = StateSigner(secret.state_signing_key.get_secret_value())
    built: list[OAuthInstallService] = []

    def callback_service() -> OAuthInstallService:
        if not built:
            built.append(
                OAuthInstallService(
                    app,
                    signer,
                    DeferredOAuthClient(root.ghl_oauth_client),
                    root.token_store(),
                    root.connection_store(),
                    vault=root.token_vault(),
                    used_states=root.sync_state().dedupe,
                )
            )
        return built[0]

    return OAuthEndpoints(app, signer, callback_service)
