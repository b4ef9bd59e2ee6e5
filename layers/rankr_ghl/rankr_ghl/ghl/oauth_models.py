"""GHL OAuth payloads: token answers and installed locations."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from rankr_ghl.ghl.model_base import GHLDateTime, GHLModel


def _token_field(snake: str, camel: str, *, secret: bool = False) -> Any:
    return Field(
        None, validation_alias=AliasChoices(snake, camel), serialization_alias=snake, repr=not secret
    )


class TokenResponse(GHLModel):
    """GetAccessCodeSuccessfulResponseDto / GetLocationAccessTokenSuccessfulResponseDto.

    Every field accepts both spellings (v2 mixes ``access_token`` with ``userType``; v3 is
    camelCase). Tokens are hidden from ``repr`` so an accidental log line cannot leak them.
    """

    access_token: str | None = _token_field("access_token", "accessToken", secret=True)
    refresh_token: str | None = _token_field("refresh_token", "refreshToken", secret=True)
    token_type: str | None = _token_field("token_type", "tokenType")
    expires_in: float | None = _token_field("expires_in", "expiresIn")
    scope: str | None = None
    user_type: str | None = _token_field("userType", "user_type")
    location_id: str | None = _token_field("locationId", "location_id")
    company_id: str | None = _token_field("companyId", "company_id")
    user_id: str | None = _token_field("userId", "user_id")
    plan_id: str | None = _token_field("planId", "plan_id")
    app_id: str | None = _token_field("appId", "app_id")
    version_id: str | None = _token_field("versionId", "version_id")
    approved_locations: list[str] | None = _token_field("approvedLocations", "approved_locations")
    is_bulk_installation: bool | None = _token_field("isBulkInstallation", "is_bulk_installation")
    install_to_future_locations: bool | None = _token_field(
        "installToFutureLocations", "install_to_future_locations"
    )
    approve_all_locations: bool | None = _token_field("approveAllLocations", "approve_all_locations")
    trace_id: str | None = _token_field("traceId", "trace_id")

    @property
    def scopes(self) -> list[str]:
        return self.scope.split() if self.scope else []


class InstalledLocation(GHLModel):
    """InstalledLocationSchema (``_id`` on the wire)."""

    id: str = Field(validation_alias=AliasChoices("_id", "id"), serialization_alias="_id")
    name: str | None = None
    address: str | None = None
    is_installed: bool | None = None
    version_id: str | None = None
    installed_at: GHLDateTime | None = None


class InstalledLocationsResponse(GHLModel):
    """GetInstalledLocationsSuccessfulResponseDto."""

    locations: list[InstalledLocation] = Field(default_factory=list)
    count: float | None = None
    install_to_future_locations: bool | None = None
