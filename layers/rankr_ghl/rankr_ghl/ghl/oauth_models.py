"""GHL OAuth payloads: token answers and installed locations.

Plain frozen dataclasses read by `from_wire`, no pydantic: an agency install's first event reads
them, and importing pydantic costs more than a quarter of what a cold start may add
(`rankr_ghl.wire_values`). The reads take what GHL sends: both spellings of every token field, `_id`
or `id`, GHL's date spellings, values coerced as pydantic's lax mode does; unknown fields are kept in
`extra`. A bad field raises `WireFormatError` naming it, never showing its value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rankr_ghl.ghl.wire_dates import ghl_datetime
from rankr_ghl.wire_values import (
    Fields,
    Location,
    Problems,
    lax_bool,
    lax_float,
    lax_str,
    lax_str_tuple,
    nullable,
)

_text = nullable(lax_str)
_number = nullable(lax_float)
_flag = nullable(lax_bool)


def _strings(value: Any) -> list[str] | None:
    return None if value is None else list(lax_str_tuple(value))


def installed_at(value: Any) -> datetime | None:
    """GHL's date spellings; blank text is no date (an install GHL has not dated)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return ghl_datetime(value)


# (field, spellings in the order they are read, conversion)
_TOKEN_FIELDS: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    ("access_token", ("access_token", "accessToken"), _text),
    ("refresh_token", ("refresh_token", "refreshToken"), _text),
    ("token_type", ("token_type", "tokenType"), _text),
    ("expires_in", ("expires_in", "expiresIn"), _number),
    ("scope", ("scope",), _text),
    ("user_type", ("userType", "user_type"), _text),
    ("location_id", ("locationId", "location_id"), _text),
    ("company_id", ("companyId", "company_id"), _text),
    ("user_id", ("userId", "user_id"), _text),
    ("plan_id", ("planId", "plan_id"), _text),
    ("app_id", ("appId", "app_id"), _text),
    ("version_id", ("versionId", "version_id"), _text),
    ("approved_locations", ("approvedLocations", "approved_locations"), _strings),
    ("is_bulk_installation", ("isBulkInstallation", "is_bulk_installation"), _flag),
    ("install_to_future_locations", ("installToFutureLocations", "install_to_future_locations"), _flag),
    ("approve_all_locations", ("approveAllLocations", "approve_all_locations"), _flag),
    ("trace_id", ("traceId", "trace_id"), _text),
)


def _spellings(fields: Iterable[tuple[str, tuple[str, ...], Any]]) -> frozenset[str]:
    return frozenset(name for _, names, _ in fields for name in names)


@dataclass(frozen=True, kw_only=True)
class TokenResponse:
    """GetAccessCodeSuccessfulResponseDto / GetLocationAccessTokenSuccessfulResponseDto.

    Every field accepts both spellings (v2 mixes ``access_token`` with ``userType``; v3 is
    camelCase). Tokens are hidden from ``repr`` so an accidental log line cannot leak them.
    """

    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_type: str | None = None
    expires_in: float | None = None
    scope: str | None = None
    user_type: str | None = None
    location_id: str | None = None
    company_id: str | None = None
    user_id: str | None = None
    plan_id: str | None = None
    app_id: str | None = None
    version_id: str | None = None
    approved_locations: list[str] | None = None
    is_bulk_installation: bool | None = None
    install_to_future_locations: bool | None = None
    approve_all_locations: bool | None = None
    trace_id: str | None = None
    # Fields GHL added that are not declared here (never a token: both spellings are declared).
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, body: Any) -> TokenResponse:
        problems = Problems("TokenResponse")
        read = Fields(body, problems)
        values = {name: read.optional(names, convert, None) for name, names, convert in _TOKEN_FIELDS}
        extra = read.unknown(_TOKEN_SPELLINGS)
        problems.raise_if_any()
        return cls(**values, extra=extra)

    @property
    def scopes(self) -> list[str]:
        return self.scope.split() if self.scope else []


_TOKEN_SPELLINGS = _spellings(_TOKEN_FIELDS)


@dataclass(frozen=True, kw_only=True)
class InstalledLocation:
    """InstalledLocationSchema (``_id`` on the wire)."""

    id: str
    name: str | None = None
    address: str | None = None
    is_installed: bool | None = None
    version_id: str | None = None
    installed_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, body: Any, problems: Problems, where: Location = ()) -> InstalledLocation:
        """One location of a listing; its problems go to `problems` (under `where`)."""
        read = Fields(body, problems, where)
        return cls(
            id=read.required(("_id", "id"), lax_str),
            name=read.optional("name", _text, None),
            address=read.optional("address", _text, None),
            is_installed=read.optional(("isInstalled", "is_installed"), _flag, None),
            version_id=read.optional(("versionId", "version_id"), _text, None),
            installed_at=read.optional(("installedAt", "installed_at"), installed_at, None),
            extra=read.unknown(_LOCATION_SPELLINGS),
        )

    @classmethod
    def from_wire(cls, body: Any) -> InstalledLocation:
        problems = Problems("InstalledLocation")
        location = cls.read(body, problems)
        problems.raise_if_any()
        return location


_LOCATION_SPELLINGS = frozenset(
    {"_id", "id", "name", "address", "isInstalled", "is_installed", "versionId", "version_id"}
    | {"installedAt", "installed_at"}
)


@dataclass(frozen=True, kw_only=True)
class InstalledLocationsResponse:
    """GetInstalledLocationsSuccessfulResponseDto."""

    locations: list[InstalledLocation] = field(default_factory=list)
    count: float | None = None
    install_to_future_locations: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, body: Any) -> InstalledLocationsResponse:
        problems = Problems("InstalledLocationsResponse")
        read = Fields(body, problems)
        raw = read.optional("locations", _location_list, []) or []  # None: refused, in `problems`
        locations = [InstalledLocation.read(item, problems, ("locations", i)) for i, item in enumerate(raw)]
        response = cls(
            locations=locations,
            count=read.optional("count", _number, None),
            install_to_future_locations=read.optional(
                ("installToFutureLocations", "install_to_future_locations"), _flag, None
            ),
            extra=read.unknown(_LISTING_SPELLINGS),
        )
        problems.raise_if_any()
        return response


_LISTING_SPELLINGS = frozenset(
    {"locations", "count", "installToFutureLocations", "install_to_future_locations"}
)


def _location_list(value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ValueError("Input should be a valid list")
    return list(value)
