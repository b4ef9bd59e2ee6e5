"""The pydantic-free value checks read and write what pydantic's lax mode reads and writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic import SecretStr as PydanticSecretStr
from rankr_ghl.wire_values import (
    Problems,
    SecretStr,
    WireFormatError,
    json_datetime,
    lax_bool,
    parse_datetime,
)


class _Reference(BaseModel):
    when: datetime | None = None
    flag: bool | None = None


class _StrictFlag(BaseModel):
    flag: bool


DATETIMES: list[Any] = [
    "2024-06-01T12:00:00.000Z",
    "2024-06-01T12:00:00.123Z",
    "2024-06-01T12:00:00.123456+02:00",
    "2024-06-01 12:00:00",
    "2024-06-01",
    "2024-06-01T12:00:00-05:30",
    1717243200,
    1717243200.5,
    1717243200123,
    "1717243200",
    "1717243200123",
    0,
    datetime(2024, 6, 1, 12, tzinfo=UTC),
    datetime(2024, 6, 1, 12),
    datetime(2024, 6, 1, 12, 0, 0, 1, tzinfo=timezone(timedelta(hours=3))),
]


@pytest.mark.parametrize("value", DATETIMES, ids=repr)
def test_datetimes_read_and_write_as_pydantic_does(value: Any) -> None:
    reference = _Reference(when=value)
    assert parse_datetime(value) == reference.when
    assert json_datetime(parse_datetime(value)) == reference.model_dump(mode="json")["when"]


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2024-13-01", "", None, True, [2024], "12:00", 1e20, "9" * 20, float("nan"), float("inf")],
    ids=repr,
)
def test_what_is_not_a_datetime_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="not a valid datetime"):
        parse_datetime(value)


BOOLS: list[Any] = [
    True,
    False,
    1,
    0,
    1.0,
    0.0,
    "true",
    "False",
    "YES",
    "no",
    "on",
    "off",
    "t",
    "f",
    "y",
    "n",
    "1",
    "0",
]


@pytest.mark.parametrize("value", BOOLS, ids=repr)
def test_booleans_read_as_pydantic_reads_them(value: Any) -> None:
    assert lax_bool(value) is _Reference(flag=value).flag


@pytest.mark.parametrize("value", [2, -1, 0.5, "2", "maybe", "", " yes ", None, [], {}], ids=repr)
def test_what_pydantic_refuses_as_a_boolean_is_refused(value: Any) -> None:
    with pytest.raises(ValidationError):
        _StrictFlag(flag=value)
    with pytest.raises(ValueError, match="not a valid boolean"):
        lax_bool(value)


def test_a_secret_never_shows_itself() -> None:
    secret = SecretStr("tok-123")
    assert "tok-123" not in repr(secret) and "tok-123" not in str(secret)
    assert "tok-123" not in repr([secret]) and "tok-123" not in f"{secret}"
    assert secret.get_secret_value() == "tok-123"
    assert secret == SecretStr("tok-123") and secret != SecretStr("other") and secret != "tok-123"
    assert len({secret, SecretStr("tok-123")}) == 1
    assert SecretStr.of(PydanticSecretStr("x")).get_secret_value() == "x"
    assert SecretStr.of(secret) is secret and SecretStr.of("y") == SecretStr("y")
    with pytest.raises(TypeError):
        SecretStr(42)  # type: ignore[arg-type]


def test_problems_are_reported_all_at_once_in_pydantics_shape() -> None:
    problems = Problems("Lead")
    problems.raise_if_any()  # nothing found: nothing raised
    problems.add(("email",), "not a valid e-mail address")
    problems.add(("tags", 2), "at most 100 characters")
    with pytest.raises(WireFormatError) as raised:
        problems.raise_if_any()
    assert raised.value.errors() == [
        {"loc": ("email",), "msg": "not a valid e-mail address", "type": "value_error"},
        {"loc": ("tags", 2), "msg": "at most 100 characters", "type": "value_error"},
    ]
    assert str(raised.value).splitlines() == [
        "2 validation errors for Lead",
        "email",
        "  not a valid e-mail address",
        "tags.2",
        "  at most 100 characters",
    ]
    assert isinstance(raised.value, ValueError)
