"""OAuthCallbackFunction's service: the install redirect, the callback and the result page.

The redirect needs the app config, the signers and the single-use marker store; the callback's
stores, vault and OAuth client are built on the first callback, so the redirect's cold start imports
none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rankr_ghl.connections.install_links import InstallLinkIssuer, SignedTokens
    from rankr_ghl.connections.oauth_flow import (
        InstallResult,
        InstallStart,
        OAuthAppConfig,
        OAuthInstallService,
    )
    from rankr_ghl.connections.state import StateSigner
    from rankr_ghl.sync.ports import DedupeStore
    from rankr_ghl.wiring.infrastructure import Infrastructure


class OAuthEndpoints:
    """`InstallEndpoints` that builds the full install service on the first callback."""

    def __init__(
        self,
        app: OAuthAppConfig,
        signer: StateSigner,
        links: InstallLinkIssuer,
        *,
        results: SignedTokens,
        used_links: Callable[[], DedupeStore],
        callback: Callable[[], OAuthInstallService],
    ) -> None:
        self._app = app
        self._signer = signer
        self._links = links
        self._results = results
        self._used_links = used_links
        self._callback = callback

    def start_install(self, link: str | None, *, redirect_uri: str | None = None) -> InstallStart:
        from rankr_ghl.connections.oauth_flow import start_install

        return start_install(
            self._app, self._signer, self._links, self._used_links(), link, redirect_uri=redirect_uri
        )

    def complete_install(
        self,
        *,
        code: str | None,
        state: str | None,
        error: str | None = None,
        redirect_uri: str | None = None,
        browser_nonce: str | None = None,
    ) -> InstallResult:
        return self._callback().complete_install(
            code=code, state=state, error=error, redirect_uri=redirect_uri, browser_nonce=browser_nonce
        )

    def sign_result(self, result: dict[str, Any]) -> str:
        return self._results.sign(result)[0]

    def read_result(self, token: str | None) -> dict[str, Any]:
        return self._results.verify(token)


def build_install_links(root: Infrastructure) -> InstallLinkIssuer:
    """The install-link issuer (the control API mints, the install route reads)."""
    from rankr_ghl.connections.install_links import (
        LINK_TTL_S,
        InstallLinkIssuer,
        ReturnUrlPolicy,
        SignedTokens,
    )

    settings = root.settings
    secret = root.app_secret()
    secret.require("state_signing_key")
    tokens = SignedTokens(secret.state_signing_key.get_secret_value(), "install-link", ttl_s=LINK_TTL_S)
    return InstallLinkIssuer(
        tokens, settings.install_link_base, ReturnUrlPolicy(settings.allowed_return_urls)
    )


def build_oauth_endpoints(root: Infrastructure) -> OAuthEndpoints:
    from rankr_ghl.aws.install_claims import DynamoClaimCodeStore
    from rankr_ghl.connections.install_links import RESULT_TTL_S, SignedTokens
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
    signing_key = secret.state_signing_key.get_secret_value()
    signer = StateSigner(signing_key)
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
                    claims=DynamoClaimCodeStore(settings.sync_table, client_source=root.dynamodb),
                    agency_queue=root.agency_install_queue(),
                    agency_progress=root.connection_store(),
                )
            )
        return built[0]

    return OAuthEndpoints(
        app,
        signer,
        build_install_links(root),
        results=SignedTokens(signing_key, "install-result", ttl_s=RESULT_TTL_S),
        used_links=lambda: root.sync_state().dedupe,
        callback=callback_service,
    )
