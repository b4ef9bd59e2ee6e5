"""Connection and TokenBundle read and write exactly what their pydantic models did.

The references below are the pydantic models these dataclasses replace (as they were), so every
stored item and token secret already written reads the same, and what is written now reads the same
on a container still running the old code.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic import SecretStr as PydanticSecretStr
from rankr_ghl.aws.connections_store import DynamoConnectionStore, plain_numbers
from rankr_ghl.connections.models import (
    Connection,
    ConnectionStatus,
    TokenBundle,
    UserType,
    utcnow,
)
from rankr_ghl.wire_values import SecretStr, WireFormatError

ACCESS = "at-SECRET-access-0123"
REFRESH = "rt-SECRET-refresh-4567"


class ReferenceConnection(BaseModel):
    model_config = ConfigDict(frozen=True)

    connection_id: str
    location_id: str | None = None
    company_id: str | None = None
    user_type: UserType
    scopes: tuple[str, ...] = ()
    status: ConnectionStatus = ConnectionStatus.ACTIVE
    status_reason: str | None = None
    installed_at: datetime = Field(default_factory=utcnow)
    token_expires_at: datetime | None = None
    last_refresh_at: datetime | None = None
    rankr_account_id: str | None = None
    token_source: str = "location"
    updated_at: datetime = Field(default_factory=utcnow)
    lifecycle_event_ms: int | None = None
    lifecycle_event_id: str | None = None
    agency_install: dict[str, Any] | None = None


class ReferenceTokenBundle(BaseModel):
    model_config = ConfigDict(frozen=True)

    access_token: PydanticSecretStr
    refresh_token: PydanticSecretStr | None = None
    expires_at: float
    scopes: tuple[str, ...] = ()
    user_type: UserType
    company_id: str | None = None
    location_id: str | None = None
    issued_at: float = 0.0

    def to_secret_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token.get_secret_value(),
                "refresh_token": self.refresh_token.get_secret_value() if self.refresh_token else None,
                "expires_at": self.expires_at,
                "scopes": list(self.scopes),
                "user_type": self.user_type.value,
                "company_id": self.company_id,
                "location_id": self.location_id,
                "issued_at": self.issued_at,
            },
            separators=(",", ":"),
        )


FULL: dict[str, Any] = {
    "connection_id": "loc1",
    "location_id": "loc1",
    "company_id": "co1",
    "user_type": "Location",
    "scopes": ["contacts.readonly", "contacts.write"],
    "status": "paused",
    "status_reason": "operator",
    "installed_at": "2024-06-01T12:00:00+00:00",
    "token_expires_at": "2024-06-02T12:00:00.123456+00:00",
    "last_refresh_at": "2024-06-01T13:00:00Z",
    "rankr_account_id": "acct-1",
    "token_source": "company",
    "updated_at": "2024-06-01T14:00:00+02:00",
    "lifecycle_event_ms": Decimal("1717243200123"),
    "lifecycle_event_id": "wh-1",
    "agency_install": {"status": "running", "chunks": 3, "locations": ["a", "b"]},
}
STAMPS = {"installed_at": "2024-06-01T12:00:00Z", "updated_at": "2024-06-01T12:00:00Z"}
ACCEPTED_CONNECTIONS: list[dict[str, Any]] = [
    FULL,
    {"connection_id": "loc2", "user_type": "Location", **STAMPS},
    {"connection_id": "company:co1", "company_id": "co1", "user_type": "Company", **STAMPS},
    {**FULL, "user_type": UserType.COMPANY, "status": ConnectionStatus.NEEDS_REAUTH},
    {**FULL, "scopes": ("a",), "installed_at": 1717243200, "updated_at": 1717243200123},
    {**FULL, "scopes": {"only"}, "installed_at": "1717243200", "updated_at": "2024-06-01 12:00:00"},
    {**FULL, "scopes": [], "token_expires_at": None, "last_refresh_at": None, "agency_install": None},
    {**FULL, "installed_at": datetime(2024, 6, 1, tzinfo=UTC), "updated_at": "2024-06-01"},
    {**FULL, "lifecycle_event_ms": "1717243200123", "lifecycle_event_id": ""},
    {**FULL, "lifecycle_event_ms": 1717243200123.0, "rankr_account_id": None},
    {**FULL, "status": "uninstalled", "status_reason": None, "token_source": "location"},
    {**FULL, "leaseOwner": "someone", "pendingToken": "{}", "unknown": 1},  # ignored, as pydantic did
]
REFUSED_CONNECTIONS: list[dict[str, Any]] = [
    {"user_type": "Location", **STAMPS},
    {"connection_id": "loc1", **STAMPS},
    {**FULL, "user_type": "location"},
    {**FULL, "status": "gone"},
    {**FULL, "status": None},
    {**FULL, "connection_id": 42},
    {**FULL, "location_id": 42, "company_id": ["co1"]},
    {**FULL, "scopes": "contacts.readonly"},
    {**FULL, "scopes": ["ok", 3]},
    {**FULL, "installed_at": "yesterday", "updated_at": None},
    {**FULL, "token_expires_at": "2024-13-01"},
    {**FULL, "lifecycle_event_ms": 1.5},
    {**FULL, "lifecycle_event_ms": "soon"},
    {**FULL, "agency_install": ["not", "a", "mapping"]},
    {**FULL, "token_source": None},
    {**FULL, "user_type": "Agency", "status": "off", "scopes": 7, "connection_id": None},
]


def _same_connection(new: Connection, reference: ReferenceConnection) -> None:
    assert new.to_json_dict() == reference.model_dump(mode="json")
    assert new.public_view() == reference.model_dump(mode="json")
    for item in dataclasses.fields(new):
        got, want = getattr(new, item.name), getattr(reference, item.name)
        assert got == want and type(got) is type(want), item.name


@pytest.mark.parametrize("values", ACCEPTED_CONNECTIONS)
def test_stored_connection_values_read_as_the_pydantic_model_read_them(values: dict[str, Any]) -> None:
    _same_connection(Connection.from_stored(values), ReferenceConnection.model_validate(values))


@pytest.mark.parametrize("values", REFUSED_CONNECTIONS)
def test_what_the_pydantic_model_refused_is_refused_naming_the_same_fields(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as reference:
        ReferenceConnection.model_validate(values)
    with pytest.raises(WireFormatError) as raised:
        Connection.from_stored(values)
    assert {e["loc"] for e in raised.value.errors()} == {e["loc"] for e in reference.value.errors()}
    assert str(raised.value).startswith(f"{len(reference.value.errors())} validation error")


def test_missing_stamps_default_to_now_as_before() -> None:
    before = utcnow()
    connection = Connection.from_stored({"connection_id": "loc1", "user_type": "Location"})
    assert before <= connection.installed_at <= utcnow() and connection.installed_at.tzinfo is UTC
    assert connection.updated_at == connection.installed_at
    built = Connection(connection_id="loc1", user_type=UserType.LOCATION)
    assert built.installed_at.tzinfo is UTC and built.scopes == () and built.status is ConnectionStatus.ACTIVE


def test_a_connection_is_immutable_and_copied_with_changes() -> None:
    connection = Connection.from_stored(FULL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        connection.status = ConnectionStatus.ACTIVE  # type: ignore[misc]
    changed = dataclasses.replace(connection, status=ConnectionStatus.ACTIVE, status_reason=None)
    reference = ReferenceConnection.model_validate(FULL).model_copy(
        update={"status": ConnectionStatus.ACTIVE, "status_reason": None}
    )
    _same_connection(changed, reference)
    assert connection.status is ConnectionStatus.PAUSED and changed != connection
    assert changed == dataclasses.replace(connection, status=ConnectionStatus.ACTIVE, status_reason=None)


# ------------------------------------------------------------------ the connections table's items

_SER = TypeSerializer()


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _SER.serialize(value) for key, value in values.items()}


def _reference_from_item(plain: dict[str, Any]) -> ReferenceConnection:
    """`DynamoConnectionStore.from_item` as it was, building the pydantic model."""
    return ReferenceConnection(
        connection_id=plain["connectionId"],
        location_id=plain.get("locationId"),
        company_id=plain.get("companyId"),
        user_type=plain["userType"],
        scopes=tuple(plain.get("scopes") or ()),
        status=plain.get("status", ConnectionStatus.ACTIVE.value),
        status_reason=plain.get("statusReason"),
        installed_at=plain["installedAt"],
        token_expires_at=plain.get("tokenExpiresAt"),
        last_refresh_at=plain.get("lastRefreshAt"),
        rankr_account_id=plain.get("rankrAccountId"),
        token_source=plain.get("tokenSource", "location"),
        updated_at=plain.get("updatedAt") or plain["installedAt"],
        lifecycle_event_ms=int(plain["lifecycleEventMs"]) if "lifecycleEventMs" in plain else None,
        lifecycle_event_id=plain.get("lifecycleEventId"),
        agency_install=plain_numbers(plain["agencyInstall"]) if "agencyInstall" in plain else None,
    )


ITEMS: list[dict[str, Any]] = [
    # What `put_all`/`save` write today.
    {
        "connectionId": "loc1",
        "locationId": "loc1",
        "companyId": "co1",
        "userType": "Location",
        "scopes": ["contacts.readonly"],
        "status": "active",
        "installedAt": "2024-06-01T12:00:00+00:00",
        "tokenExpiresAt": "2024-06-02T12:00:00+00:00",
        "tokenSource": "company",
        "updatedAt": "2024-06-01T12:00:00.5+00:00",
        "lifecycleEventMs": Decimal("1717243200000"),
        "lifecycleEventId": "",
        "rankrAccountId": "acct-1",
    },
    # Older items: no status, token source, update stamp or lifecycle order; scopes as a string set.
    {"connectionId": "loc2", "userType": "Location", "installedAt": "2023-01-01T00:00:00+00:00"},
    {
        "connectionId": "loc3",
        "userType": "Location",
        "scopes": {"contacts.readonly"},
        "installedAt": "2023-01-01T00:00:00+00:00",
        "updatedAt": "",
        "statusReason": "invalid_grant",
        "status": "needs_reauth",
        "lastRefreshAt": "2023-01-02T00:00:00+00:00",
    },
    # An agency with its install progress (numbers come back as Decimal) and attributes not read.
    {
        "connectionId": "company:co1",
        "companyId": "co1",
        "userType": "Company",
        "installedAt": "2024-06-01T12:00:00+00:00",
        "agencyInstall": {"status": "running", "chunks": Decimal(4), "share": Decimal("0.5"), "error": None},
        "leaseOwner": "owner-1",
        "leaseExpiresAt": Decimal("1717243300.25"),
        "pendingToken": '{"access_token": "at-SECRET"}',
        "staleEventCount": Decimal(2),
    },
]


@pytest.mark.parametrize("values", ITEMS)
def test_stored_items_of_every_shape_read_as_before(values: dict[str, Any]) -> None:
    # The reference reads the values the deserializer hands back: the same as those serialized.
    _same_connection(DynamoConnectionStore.from_item(_item(values)), _reference_from_item(values))


@pytest.mark.parametrize("values", ACCEPTED_CONNECTIONS)
def test_items_are_written_as_before(values: dict[str, Any]) -> None:
    """`to_item_values` of the dataclass equals what it made of the pydantic model's `model_dump()`."""
    reference = ReferenceConnection.model_validate(values).model_dump()
    expected: dict[str, Any] = {}
    for field, attr in (
        ("location_id", "locationId"),
        ("company_id", "companyId"),
        ("user_type", "userType"),
        ("scopes", "scopes"),
        ("status", "status"),
        ("status_reason", "statusReason"),
        ("installed_at", "installedAt"),
        ("token_expires_at", "tokenExpiresAt"),
        ("last_refresh_at", "lastRefreshAt"),
        ("rankr_account_id", "rankrAccountId"),
        ("token_source", "tokenSource"),
        ("updated_at", "updatedAt"),
        ("lifecycle_event_ms", "lifecycleEventMs"),
        ("lifecycle_event_id", "lifecycleEventId"),
    ):
        value = reference[field]
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        elif hasattr(value, "value"):
            value = value.value
        expected[attr] = value
    written = DynamoConnectionStore.to_item_values(Connection.from_stored(values))
    assert written == expected
    again = DynamoConnectionStore.from_item(_item({"connectionId": values["connection_id"], **written}))
    assert DynamoConnectionStore.to_item_values(again) == written


# ------------------------------------------------------------------ token secrets

SECRETS: list[dict[str, Any]] = [
    # What `to_secret_json` writes.
    {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "expires_at": 1717329599.25,
        "scopes": ["contacts.readonly", "contacts.write"],
        "user_type": "Location",
        "company_id": "co1",
        "location_id": "loc1",
        "issued_at": 1717243200.0,
    },
    # A location token minted from its agency's: no refresh token.
    {"access_token": ACCESS, "refresh_token": None, "expires_at": 1717329599, "user_type": "Location"},
    # Older secrets: no scopes or issue time; numbers as text; unknown keys.
    {"access_token": ACCESS, "expires_at": "1717329599", "user_type": "Company", "company_id": "co1"},
    {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "expires_at": 1717329599,
        "issued_at": "1717243200.5",
        "user_type": "Location",
        "token_type": "Bearer",
        "scopes": [],
    },
    {"access_token": "", "refresh_token": "", "expires_at": 0, "user_type": "Location"},
]
BAD_SECRETS: list[Any] = [
    {"refresh_token": REFRESH, "expires_at": 1, "user_type": "Location"},
    {"access_token": ACCESS, "user_type": "Location"},
    {"access_token": ACCESS, "expires_at": 1},
    {"access_token": None, "expires_at": 1, "user_type": "Location"},
    {"access_token": 12345, "refresh_token": [REFRESH], "expires_at": 1, "user_type": "Location"},
    {"access_token": ACCESS, "refresh_token": REFRESH, "expires_at": "tomorrow", "user_type": "Location"},
    {"access_token": ACCESS, "expires_at": None, "user_type": "Location", "scopes": "contacts.readonly"},
    {"access_token": ACCESS, "expires_at": 1, "user_type": "location", "issued_at": None},
    {"access_token": ACCESS, "expires_at": 1, "user_type": "Location", "company_id": 7},
    [ACCESS, REFRESH],
    ACCESS,
    None,
]


def _same_bundle(new: TokenBundle, reference: ReferenceTokenBundle) -> None:
    assert new.to_secret_json() == reference.to_secret_json()
    assert new.access_token.get_secret_value() == reference.access_token.get_secret_value()
    assert (new.refresh_token is None) == (reference.refresh_token is None)
    for name in ("expires_at", "scopes", "user_type", "company_id", "location_id", "issued_at"):
        got, want = getattr(new, name), getattr(reference, name)
        assert got == want and type(got) is type(want), name
    assert new.minted_from_company == (
        reference.user_type is UserType.LOCATION and reference.refresh_token is None
    )


@pytest.mark.parametrize("document", SECRETS)
def test_token_secrets_read_and_write_as_before(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    reference = ReferenceTokenBundle.model_validate(json.loads(text))
    bundle = TokenBundle.from_secret_json(text)
    _same_bundle(bundle, reference)
    # What is written now is read back the same by either side.
    written = bundle.to_secret_json()
    reread = ReferenceTokenBundle.model_validate(json.loads(reference.to_secret_json()))
    _same_bundle(TokenBundle.from_secret_json(written), reread)
    _same_bundle(
        TokenBundle.from_secret_json(written), ReferenceTokenBundle.model_validate(json.loads(written))
    )


@pytest.mark.parametrize("document", BAD_SECRETS)
def test_bad_secrets_are_refused_naming_the_fields_and_never_a_token(document: Any) -> None:
    with pytest.raises(ValidationError) as reference:
        ReferenceTokenBundle.model_validate(document)
    with pytest.raises(WireFormatError) as raised:
        TokenBundle.from_secret_json(json.dumps(document))
    expected = {e["loc"] for e in reference.value.errors()}
    assert {e["loc"] for e in raised.value.errors()} == expected
    shown = str(raised.value) + repr(raised.value.errors()) + repr(raised.value)
    assert ACCESS not in shown and REFRESH not in shown and "12345" not in shown


def test_tokens_never_show_in_a_repr_or_str() -> None:
    bundle = TokenBundle.from_secret_json(json.dumps(SECRETS[0]))
    for shown in (repr(bundle), str(bundle), f"{bundle}", repr([bundle]), repr(dataclasses.asdict(bundle))):
        assert ACCESS not in shown and REFRESH not in shown
    assert bundle.access_token == SecretStr(ACCESS) and bundle.refresh_token == SecretStr(REFRESH)


def test_built_bundles_take_either_kind_of_secret_and_compare_by_value() -> None:
    first = TokenBundle.from_secret_dict(
        {"access_token": PydanticSecretStr(ACCESS), "expires_at": 5, "user_type": UserType.LOCATION}
    )
    second = TokenBundle(access_token=SecretStr(ACCESS), expires_at=5.0, user_type=UserType.LOCATION)
    assert first == second and first.minted_from_company
    assert first.expires_within(10, now=0) and not first.expires_within(4, now=0)


def test_reading_connections_tokens_and_oauth_answers_loads_no_pydantic() -> None:
    """A lead push, a webhook and an agency install read these on their first event: pydantic's
    import alone costs more than a quarter of what a cold start may add."""
    code = (
        "import sys\n"
        "from rankr_ghl.aws.connections_store import DynamoConnectionStore\n"
        "from rankr_ghl.aws.token_secrets import SecretsManagerTokenStore\n"
        "from rankr_ghl.connections.models import TokenBundle\n"
        "from rankr_ghl.connections.vault import bundle_from_grant\n"
        "from rankr_ghl.ghl.oauth import GHLOAuthClient\n"
        "from rankr_ghl.ghl.oauth_models import InstalledLocationsResponse, TokenResponse\n"
        "item = {'connectionId': {'S': 'loc1'}, 'userType': {'S': 'Location'},\n"
        "        'installedAt': {'S': '2024-06-01T12:00:00+00:00'}, 'scopes': {'L': [{'S': 'a'}]}}\n"
        "connection = DynamoConnectionStore.from_item(item)\n"
        "DynamoConnectionStore.to_item_values(connection)\n"
        "grant = TokenResponse.from_wire({'access_token': 'a', 'expires_in': 5, 'userType': 'Location'})\n"
        "bundle = bundle_from_grant(grant, now=1.0, user_type=connection.user_type, company_id=None,\n"
        "                           location_id='loc1')\n"
        "TokenBundle.from_secret_json(bundle.to_secret_json())\n"
        "InstalledLocationsResponse.from_wire({'locations': [{'_id': 'loc1', 'installedAt': 1}]})\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'pydantic', 'pydantic_core'})\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
