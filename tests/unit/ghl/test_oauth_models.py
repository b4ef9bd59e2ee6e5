"""The OAuth payloads read GHL's answers exactly as their pydantic models did.

The references are the pydantic models these dataclasses replace (as they were): both spellings of
every token field, `_id`/`id`, GHL's date spellings, unknown fields kept. A token never shows in a
repr or in the error of an answer we cannot read.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from ghl_openapi_examples import SpecExamples
from pydantic import AliasChoices, Field, ValidationError
from rankr_ghl.ghl import errors
from rankr_ghl.ghl.model_base import GHLDateTime, GHLModel
from rankr_ghl.ghl.oauth import GHLOAuthClient
from rankr_ghl.ghl.oauth_models import (
    InstalledLocation,
    InstalledLocationsResponse,
    TokenResponse,
    installed_at,
)
from rankr_ghl.wire_values import WireFormatError

ACCESS = "at-SECRET-0123456789"
REFRESH = "rt-SECRET-9876543210"


def _token_field(snake: str, camel: str, *, secret: bool = False) -> Any:
    return Field(
        None, validation_alias=AliasChoices(snake, camel), serialization_alias=snake, repr=not secret
    )


class ReferenceTokenResponse(GHLModel):
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


class ReferenceInstalledLocation(GHLModel):
    id: str = Field(validation_alias=AliasChoices("_id", "id"), serialization_alias="_id")
    name: str | None = None
    address: str | None = None
    is_installed: bool | None = None
    version_id: str | None = None
    installed_at: GHLDateTime | None = None


class ReferenceInstalledLocationsResponse(GHLModel):
    locations: list[ReferenceInstalledLocation] = Field(default_factory=list)
    count: float | None = None
    install_to_future_locations: bool | None = None


def _same(new: Any, reference: Any, spellings: set[str]) -> None:
    """Every declared field equal (nested locations too); the unknown fields kept alike, except a
    second spelling of a declared field, which pydantic kept as unknown and `extra` never holds."""
    for item in dataclasses.fields(new):
        if item.name == "extra":
            continue
        got, want = getattr(new, item.name), getattr(reference, item.name)
        if item.name == "locations":
            assert len(got) == len(want)
            for location, expected in zip(got, want, strict=True):
                _same(location, expected, LOCATION_SPELLINGS)
            continue
        assert got == want and type(got) is type(want), item.name
    assert new.extra == {k: v for k, v in (reference.model_extra or {}).items() if k not in spellings}


def _spellings_of(name: str, info: Any) -> list[str]:
    alias = info.validation_alias
    return list(alias.choices) if isinstance(alias, AliasChoices) else [alias or name]


TOKEN_SPELLINGS = {
    spelling
    for name, info in ReferenceTokenResponse.model_fields.items()
    for spelling in _spellings_of(name, info)
}
LOCATION_SPELLINGS = {
    "_id",
    "id",
    "name",
    "address",
    "isInstalled",
    "is_installed",
    "versionId",
    "version_id",
} | {
    "installedAt",
    "installed_at",
}

TOKEN_BODIES: list[dict[str, Any]] = [
    # v2: snake_case tokens, camelCase ids.
    {
        "access_token": ACCESS,
        "token_type": "Bearer",
        "expires_in": 86399,
        "refresh_token": REFRESH,
        "scope": "contacts.readonly contacts.write",
        "userType": "Location",
        "locationId": "loc1",
        "companyId": "co1",
        "userId": "u1",
        "approvedLocations": ["loc1", "loc2"],
        "planId": "p1",
        "isBulkInstallation": "true",
    },
    # v3: camelCase everywhere.
    {
        "accessToken": ACCESS,
        "refreshToken": REFRESH,
        "tokenType": "Bearer",
        "expiresIn": "86399.5",
        "userType": "Company",
        "companyId": "co1",
        "installToFutureLocations": 1,
        "approveAllLocations": False,
        "appId": "app1",
        "versionId": "v1",
        "traceId": "tr-1",
    },
    # snake_case ids; both spellings at once (the first listed wins); unknown fields.
    {
        "access_token": ACCESS,
        "accessToken": "the-other-" + ACCESS,
        "user_type": "Company",
        "userType": "Location",
        "location_id": "loc9",
        "company_id": "co9",
        "user_id": "u9",
        "is_bulk_installation": None,
        "brandNewField": {"nested": [1, 2]},
        "hashedCompanyId": "abc",
    },
    # The locationToken answer: no refresh token; and an empty answer.
    {
        "access_token": ACCESS,
        "token_type": "Bearer",
        "expires_in": 86399,
        "scope": "",
        "userType": "Location",
    },
    {},
    {"expires_in": None, "approvedLocations": [], "scope": None},
]
BAD_TOKEN_BODIES: list[Any] = [
    {"access_token": 12345, "expires_in": "soon"},
    {"access_token": ACCESS, "refresh_token": [REFRESH]},
    {"access_token": ACCESS, "userType": 1, "isBulkInstallation": "maybe"},
    {"access_token": ACCESS, "approvedLocations": "loc1"},
    {"access_token": ACCESS, "approvedLocations": ["loc1", 2]},
    {"access_token": ACCESS, "expiresIn": {"s": 1}},
    [ACCESS],
    ACCESS,
]


@pytest.mark.parametrize("body", TOKEN_BODIES)
def test_token_answers_read_as_the_pydantic_model_read_them(body: dict[str, Any]) -> None:
    token = TokenResponse.from_wire(body)
    reference = ReferenceTokenResponse.model_validate(body)
    _same(token, reference, TOKEN_SPELLINGS)
    assert token.scopes == (reference.scope.split() if reference.scope else [])
    assert ACCESS not in repr(token) and REFRESH not in repr(token) and ACCESS not in str(token)


@pytest.mark.parametrize("body", BAD_TOKEN_BODIES)
def test_bad_token_answers_are_refused_naming_the_fields_never_a_token(body: Any) -> None:
    with pytest.raises(ValidationError) as reference:
        ReferenceTokenResponse.model_validate(body)
    with pytest.raises(WireFormatError) as raised:
        TokenResponse.from_wire(body)
    assert {e["loc"] for e in raised.value.errors()} == {e["loc"] for e in reference.value.errors()}
    shown = str(raised.value) + repr(raised.value.errors())
    assert ACCESS not in shown and REFRESH not in shown and "12345" not in shown


LOCATION_BODIES: list[dict[str, Any]] = [
    {
        "_id": "loc1",
        "name": "Main St",
        "address": "1 Main St",
        "isInstalled": True,
        "installedAt": 1717243200123,
    },
    {"id": "loc2", "is_installed": "false", "version_id": "v1", "installed_at": "1717243200123"},
    {"_id": "loc3", "id": "other", "installedAt": "2024-06-01T12:00:00.000Z", "extraThing": [1]},
    {"_id": "loc4", "installedAt": "2024-06-01 12:00:00"},
    {"_id": "loc5", "installedAt": "2024-06-01"},
    {"_id": "loc6", "installedAt": "1717243200.5", "name": None},
    {"_id": "loc7", "installedAt": 1.7172432e12, "versionId": "v2"},
    {"_id": "loc8", "installedAt": None},
    {"_id": "loc9", "installedAt": datetime(2024, 6, 1, tzinfo=UTC)},
]
BAD_LOCATION_BODIES: list[Any] = [
    {"name": "no id"},
    {"_id": 7},
    {"_id": "loc1", "installedAt": "yesterday"},
    {"_id": "loc1", "installedAt": True},
    {"_id": "loc1", "isInstalled": "perhaps", "name": 3},
    ["loc1"],
]


@pytest.mark.parametrize("body", LOCATION_BODIES)
def test_installed_locations_read_as_the_pydantic_model_read_them(body: dict[str, Any]) -> None:
    _same(
        InstalledLocation.from_wire(body), ReferenceInstalledLocation.model_validate(body), LOCATION_SPELLINGS
    )
    listing = {"locations": [body, body], "count": 2, "installToFutureLocations": "yes", "skipped": 0}
    _same(
        InstalledLocationsResponse.from_wire(listing),
        ReferenceInstalledLocationsResponse.model_validate(listing),
        {"locations", "count", "installToFutureLocations", "install_to_future_locations"},
    )


@pytest.mark.parametrize("body", BAD_LOCATION_BODIES)
def test_bad_installed_locations_are_refused_naming_the_same_fields(body: Any) -> None:
    listing = {"locations": [{"_id": "fine"}, body], "count": 2}
    with pytest.raises(ValidationError) as reference:
        ReferenceInstalledLocationsResponse.model_validate(listing)
    with pytest.raises(WireFormatError) as raised:
        InstalledLocationsResponse.from_wire(listing)
    assert {e["loc"] for e in raised.value.errors()} == {e["loc"] for e in reference.value.errors()}


@pytest.mark.parametrize(
    "listing",
    [{"locations": None}, {"locations": "loc1"}, {"count": "many"}, {"installToFutureLocations": 2}],
)
def test_bad_listings_are_refused_naming_the_same_fields(listing: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as reference:
        ReferenceInstalledLocationsResponse.model_validate(listing)
    with pytest.raises(WireFormatError) as raised:
        InstalledLocationsResponse.from_wire(listing)
    assert {e["loc"] for e in raised.value.errors()} == {e["loc"] for e in reference.value.errors()}


def test_an_empty_install_date_is_no_date() -> None:
    """GHLDateTime meant empty text as no date, but its optional union refused it (and with it the
    whole listing); read as no date."""
    for blank in ("", " "):
        with pytest.raises(ValidationError):
            ReferenceInstalledLocation.model_validate({"_id": "loc1", "installedAt": blank})
        assert InstalledLocation.from_wire({"_id": "loc1", "installedAt": blank}).installed_at is None
        assert installed_at(blank) is None
    assert installed_at(None) is None


@pytest.mark.parametrize("installed_at", [10**30, "9" * 30, 1e300])
def test_an_install_date_out_of_range_is_refused_by_name(installed_at: Any) -> None:
    """The pydantic model let the OverflowError of such a date escape; it is a refused field now."""
    with pytest.raises(OverflowError):
        ReferenceInstalledLocation.model_validate({"_id": "loc1", "installedAt": installed_at})
    with pytest.raises(WireFormatError) as raised:
        InstalledLocationsResponse.from_wire({"locations": [{"_id": "loc1", "installedAt": installed_at}]})
    assert [e["loc"] for e in raised.value.errors()] == [("locations", 0, "installedAt")]


@pytest.mark.parametrize("spec_path", ["/oauth/token", "/oauth/locationToken"])
def test_documented_token_examples_read_alike(ghl_contract: dict[str, Any], spec_path: str) -> None:
    example = SpecExamples(ghl_contract).response_example("oauth.json", "POST", spec_path, "200")
    _same(TokenResponse.from_wire(example), ReferenceTokenResponse.model_validate(example), TOKEN_SPELLINGS)


def test_documented_installed_locations_example_reads_alike(ghl_contract: dict[str, Any]) -> None:
    example = SpecExamples(ghl_contract).response_example(
        "oauth.json", "GET", "/oauth/installedLocations", "200"
    )
    _same(
        InstalledLocationsResponse.from_wire(example),
        ReferenceInstalledLocationsResponse.model_validate(example),
        set(),
    )


def test_the_declared_fields_match_the_models_they_replace() -> None:
    for new, reference in (
        (TokenResponse, ReferenceTokenResponse),
        (InstalledLocation, ReferenceInstalledLocation),
        (InstalledLocationsResponse, ReferenceInstalledLocationsResponse),
    ):
        assert {f.name for f in dataclasses.fields(new)} - {"extra"} == set(reference.model_fields)


def test_an_unreadable_token_answer_is_a_ghl_error_that_shows_no_token() -> None:
    body = {"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": "soon", "userType": ["Location"]}
    oauth = GHLOAuthClient(
        "app-x",
        "CLIENT-SECRET",
        base_url="https://ghl.test",
        transport=httpx.MockTransport(lambda _request: httpx.Response(200, json=body)),
    )
    with pytest.raises(errors.GHLError) as raised:
        oauth.refresh("RT-old", "Location")
    assert "TokenResponse: 2 error(s)" in str(raised.value)
    assert isinstance(raised.value.__cause__, WireFormatError)
    shown = str(raised.value) + repr(raised.value) + str(raised.value.__cause__)
    assert ACCESS not in shown and REFRESH not in shown and "CLIENT-SECRET" not in shown


def test_an_empty_answer_reads_as_an_answer_with_no_fields() -> None:
    oauth = GHLOAuthClient(
        "app-x",
        "CLIENT-SECRET",
        base_url="https://ghl.test",
        transport=httpx.MockTransport(lambda _request: httpx.Response(200)),
    )
    assert oauth.refresh("RT-old", "Location") == TokenResponse()
    assert oauth.installed_locations_page("CT", "co1").locations == []
    assert list(oauth.installed_locations("CT", "co1")) == []
