"""GHL OAuth 2.0 endpoints (v2 forms): token exchange/refresh, agency location tokens, installs.

Retry rules differ from resource calls because of what each grant does to GHL's state:
- ``authorization_code``: a code works once. Never repeated once it may have reached GHL; the
  error carries ``may_have_been_applied=True`` (the install must be restarted or the stored
  tokens checked).
- ``refresh_token``: refresh tokens rotate, but GHL returns the same new pair to repeats of the same
  refresh token within 30 s. The client repeats a refresh only while the first send is younger
  than ``refresh_replay_window_s`` (default 20 s); later it raises with ``may_have_been_applied``
  so the token vault can decide (it must not lose the rotated pair).
- ``/oauth/locationToken`` mints a token without invalidating others, and installedLocations is a
  read: both are retried like GETs. They spend the company's rate budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import httpx

from rankr_ghl.ghl.oauth_models import InstalledLocation, InstalledLocationsResponse, TokenResponse
from rankr_ghl.ghl.ratelimit import RateLimiter
from rankr_ghl.ghl.responses import Replay, parse_wire_response
from rankr_ghl.ghl.transport import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    VERSION_CONTACTS,
    HttpCore,
    HttpCoreOwner,
)

UserType = Literal["Location", "Company"]
TOKEN_PATH = "/oauth/token"
LOCATION_TOKEN_PATH = "/oauth/locationToken"
INSTALLED_LOCATIONS_PATH = "/oauth/installedLocations"
LOCATION_PATH = "/locations/{locationId}"
MAX_NAME_LENGTH = 200


def _record(body: Any) -> Any:
    """An empty 2xx body reads as an empty record (an answer with no fields), not a wrong shape."""
    return body if body is not None else {}


def app_id_from_client_id(client_id: str) -> str:
    """GHL client ids look like ``<appId>-<suffix>``."""
    return client_id.split("-", 1)[0]


class GHLOAuthClient(HttpCoreOwner):
    """OAuth client; like GHLClient, create one per container and reuse it (it owns a pool)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str | Callable[[], str],
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        rate_limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 4.0,
        refresh_replay_window_s: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        event_hooks: dict[str, list[Callable[..., Any]]] | None = None,
    ) -> None:
        """`client_secret`: the app's secret, or a source of it called on the first token grant (an
        agency fan-out mints location tokens with the company token and may never need it, so it does
        not read the app secret on its first event)."""
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.client_id = client_id
        self._client_secret_source = client_secret
        self._client_secret: str | None = client_secret if isinstance(client_secret, str) else None
        self.refresh_replay_window_s = refresh_replay_window_s
        self._core = HttpCore(
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limiter=rate_limiter,
            transport=transport,
            token_source=None,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            rate_limit_max_wait_s=None,
            sleep=sleep,
            event_hooks=event_hooks,
        )

    @property
    def app_id(self) -> str:
        return app_id_from_client_id(self.client_id)

    def __repr__(self) -> str:  # the secret never appears
        return f"GHLOAuthClient(client_id={self.client_id!r})"

    def _secret(self) -> str:
        if self._client_secret is None:
            source = self._client_secret_source
            secret = source() if callable(source) else source
            if not secret:
                raise ValueError("client_secret is required")
            self._client_secret = secret
        return self._client_secret

    def _token_grant(
        self, form: dict[str, str], replay: Replay, replay_window_s: float | None = None
    ) -> TokenResponse:
        body = self._core.request(
            "POST",
            TOKEN_PATH,
            resource_id=None,
            version=None,
            replay=replay,
            form=form,
            replay_window_s=replay_window_s,
        )
        return parse_wire_response(TokenResponse.from_wire, _record(body), method="POST", path=TOKEN_PATH)

    def exchange_code(
        self, code: str, user_type: UserType | str = "Location", redirect_uri: str | None = None
    ) -> TokenResponse:
        """POST /oauth/token, grant_type=authorization_code (form-encoded, snake_case)."""
        if not code:
            raise ValueError("code is required")
        form = {
            "client_id": self.client_id,
            "client_secret": self._secret(),
            "grant_type": "authorization_code",
            "code": code,
            "user_type": user_type,
        }
        if redirect_uri:
            form["redirect_uri"] = redirect_uri
        return self._token_grant(form, Replay.NEVER)

    def refresh(self, refresh_token: str, user_type: UserType | str = "Location") -> TokenResponse:
        """POST /oauth/token, grant_type=refresh_token. Store BOTH returned tokens: the old refresh
        token is spent. Raises GHLInvalidGrant (re-auth needed) or GHLLocationInactive (later)."""
        if not refresh_token:
            raise ValueError("refresh_token is required")
        form = {
            "client_id": self.client_id,
            "client_secret": self._secret(),
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "user_type": user_type,
        }
        return self._token_grant(form, Replay.SAFE, replay_window_s=self.refresh_replay_window_s)

    def location_token(self, company_token: str, company_id: str, location_id: str) -> TokenResponse:
        """POST /oauth/locationToken: mint a location token from an agency (company) token.
        The response has no refresh token; renew by calling this again."""
        if not company_token or not company_id or not location_id:
            raise ValueError("company_token, company_id and location_id are required")
        body = self._core.request(
            "POST",
            LOCATION_TOKEN_PATH,
            resource_id=company_id,
            version=VERSION_CONTACTS,
            replay=Replay.SAFE,
            form={"companyId": company_id, "locationId": location_id},
            token=company_token,
        )
        return parse_wire_response(
            TokenResponse.from_wire, _record(body), method="POST", path=LOCATION_TOKEN_PATH
        )

    def location_name(self, location_token: str, location_id: str) -> str | None:
        """GET /locations/{locationId} (scope `locations.readonly`): the location's name, for the
        install's outcome page; None when GHL names none. Bound its time with `deadlines`."""
        body = self._core.request(
            "GET",
            LOCATION_PATH,
            path_params={"locationId": location_id},
            resource_id=location_id,
            version=VERSION_CONTACTS,
            replay=Replay.SAFE,
            token=location_token,
        )
        location = body.get("location") if isinstance(body, dict) else None
        name = location.get("name") if isinstance(location, dict) else None
        return (name.strip()[:MAX_NAME_LENGTH] or None) if isinstance(name, str) else None

    def installed_locations_page(
        self,
        company_token: str,
        company_id: str,
        app_id: str | None = None,
        *,
        skip: int = 0,
        limit: int = 100,
        is_installed: bool | None = True,
    ) -> InstalledLocationsResponse:
        """One page of GET /oauth/installedLocations."""
        params: dict[str, Any] = {
            "companyId": company_id,
            "appId": app_id or self.app_id,
            "skip": str(skip),
            "limit": str(limit),
        }
        if is_installed is not None:
            params["isInstalled"] = "true" if is_installed else "false"
        body = self._core.request(
            "GET",
            INSTALLED_LOCATIONS_PATH,
            resource_id=company_id,
            version=VERSION_CONTACTS,
            replay=Replay.SAFE,
            params=params,
            token=company_token,
        )
        return parse_wire_response(
            InstalledLocationsResponse.from_wire, _record(body), method="GET", path=INSTALLED_LOCATIONS_PATH
        )

    def installed_locations(
        self,
        company_token: str,
        company_id: str,
        app_id: str | None = None,
        *,
        page_size: int = 100,
        is_installed: bool | None = True,
    ) -> Iterator[InstalledLocation]:
        """Every location where the app is installed under ``company_id`` (skip/limit paging).

        Correct whether GHL caps ``limit`` below ``page_size`` and whether ``count`` is the total or the
        page's size (both undocumented): a short page ends the listing only when it is shorter than a
        page already seen (a cap is constant), ``count`` ends it only once it has shown itself to be a
        total (larger than a page), otherwise an empty page does. Ids are de-duplicated, and a page
        with no new id ends it (a server ignoring ``skip`` cannot loop us).
        """
        skip = 0
        largest_page = 0
        total: int | None = None
        seen: set[str] = set()
        while True:
            page = self.installed_locations_page(
                company_token, company_id, app_id, skip=skip, limit=page_size, is_installed=is_installed
            )
            fresh = [loc for loc in page.locations if loc.id not in seen]
            seen.update(loc.id for loc in fresh)
            yield from fresh
            size = len(page.locations)
            skip += size
            if page.count is not None and page.count > size:
                total = int(page.count)
            if not fresh or size < largest_page or (total is not None and skip >= total):
                return
            largest_page = max(largest_page, size)
