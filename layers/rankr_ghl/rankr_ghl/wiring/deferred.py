"""The OAuth client as a dependency that is built on its first call.

The token vault, the lifecycle and the install service all hold the OAuth client, but only a token
refresh, an install or a location-token call uses it; building it reads the app secret and imports
the HTTP stack, most of a cold start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankr_ghl.connections.ports import InstalledLocationLike, OAuthClient, TokenGrant


class DeferredOAuthClient:
    """`OAuthClient` that builds the real one through `source` when first called."""

    def __init__(self, source: Callable[[], OAuthClient]) -> None:
        self._source = source

    def exchange_code(self, code: str, user_type: str, redirect_uri: str) -> TokenGrant:
        return self._source().exchange_code(code, user_type, redirect_uri)

    def refresh(self, refresh_token: str, user_type: str) -> TokenGrant:
        return self._source().refresh(refresh_token, user_type)

    def location_token(self, company_token: str, company_id: str, location_id: str) -> TokenGrant:
        return self._source().location_token(company_token, company_id, location_id)

    def installed_locations(
        self, company_token: str, company_id: str, app_id: str
    ) -> Iterator[InstalledLocationLike]:
        return self._source().installed_locations(company_token, company_id, app_id)

    def location_name(self, location_token: str, location_id: str) -> str | None:
        return self._source().location_name(location_token, location_id)
