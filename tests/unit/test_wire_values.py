"""The pydantic-free value checks read and write what pydantic's lax mode reads and writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic import SecretStr as PydanticSecretStr
from rankr_ghl.wire_values import (
    Fields,
    Problems,
    SecretStr,
    WireFormatError,
    json_datetime,
    lax_bool,
    lax_dict,
    lax_enum,
    lax_float,
    lax_int,
    lax_str,
    lax_str_tuple,
    nullable,
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
    "2024-06-01_12:00:00",
    "2024-06-01t12:00z",
    "2024-06-01T12:00:00,5Z",
    "2024-06-01T12:00:00.1234567Z",
    "2024-06-01T12:00:00+0130",
    "2024-06-01T12:00",
    "+1",
    ".5",
    "0.",
    "-1.5",
    "1717243200123.5",
    1738324800123,
    -1717243200123,
    "9999-12-31T23:59:59.999999Z",
]


@pytest.mark.parametrize(
    "value",
    [
        "2024-06-01T12",
        "2024-06-01T12:00+01",
        "20240601T120000Z",
        "2024-W22-6",
        " 2024-06-01",
        "2024-06-01 ",
        "1e3",
        "2024-06-01T24:00:00",
        "2024-06-01T12:00:00+01:75",
        "2024-02-30",
        "١٧١٧٢٤٣٢٠٠",
        "2024-06-01Z",
        "--1",
    ],
    ids=repr,
)
def test_what_pydantic_refuses_as_a_datetime_is_refused(value: Any) -> None:
    with pytest.raises(ValidationError):
        _Reference(when=value)
    with pytest.raises(ValueError, match="not a valid datetime"):
        parse_datetime(value)


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


class _Kind(StrEnum):
    LOCATION = "Location"
    COMPANY = "Company"


class _Lax(BaseModel):
    text: str | None = None
    number: float | None = None
    whole: int | None = None
    words: tuple[str, ...] | None = None
    kind: _Kind | None = None
    table: dict[str, Any] | None = None


LAX_CASES: list[tuple[str, Any, Callable[[Any], Any]]] = [
    *[
        ("text", v, lax_str)
        for v in ["a", "", " x ", _Kind.LOCATION, b"bytes", 1, 1.5, True, [], {}, b"\xff"]
    ],
    *[
        ("number", v, lax_float)
        for v in [1, 1.5, True, "2.5", " 3 ", "1e3", "1_000", b"4", Decimal("1.25"), "0x1", "one", [], {}]
    ],
    *[
        ("whole", v, lax_int)
        for v in [1, True, 2.0, 2.5, "3", " 4 ", "5.0", "5.5", "-3", b"7", Decimal("5"), Decimal("5.5")]
        + ["x", float("inf"), float("nan"), [], {}]
    ],
    *[
        ("words", v, lax_str_tuple)
        for v in [["a"], ("a", "b"), {"a"}, frozenset({"a"}), [_Kind.COMPANY], "ab", [1], {"a": 1}, 3, []]
    ],
    *[
        ("kind", v, lambda v: lax_enum(_Kind, v))
        for v in ["Location", "location", _Kind.COMPANY, b"Company", 1]
    ],
    *[("table", v, lax_dict) for v in [{}, {"a": 1}, [], "x", [("a", 1)]]],
]


@pytest.mark.parametrize(("field", "value", "convert"), LAX_CASES, ids=repr)
def test_lax_conversions_accept_and_refuse_what_pydantic_does(
    field: str, value: Any, convert: Callable[[Any], Any]
) -> None:
    try:
        expected = getattr(_Lax.model_validate({field: value}), field)
    except ValidationError:
        with pytest.raises(ValueError):
            convert(value)
        return
    got = convert(value)
    assert got == expected and type(got) is type(expected)


def test_fields_read_spellings_defaults_and_report_every_problem_without_values() -> None:
    problems = Problems("Record")
    fields = Fields({"accessToken": "tok-secret", "n": "x", "kept": 1, "nothing": None}, problems)
    assert fields.required(("access_token", "accessToken"), lax_str) == "tok-secret"
    assert fields.optional("absent", lax_float, 0.5) == 0.5
    assert fields.optional("nothing", nullable(lax_float), 0.5) is None
    fields.required("n", lax_int)
    fields.required(("must", "Must"), lax_str)
    fields.optional("nothing", lax_float, 0.0)
    fields.optional("kept", lambda value: parse_datetime(10**30), None)  # out of range: a problem
    assert fields.unknown(["accessToken", "n"]) == {"kept": 1, "nothing": None}
    with pytest.raises(WireFormatError) as raised:
        problems.raise_if_any()
    assert [e["loc"] for e in raised.value.errors()] == [("n",), ("must",), ("nothing",), ("kept",)]
    assert "Field required" in str(raised.value) and "tok-secret" not in str(raised.value)
    assert "x" not in [e["msg"] for e in raised.value.errors()]


def test_fields_of_what_is_not_a_mapping_is_one_problem() -> None:
    problems = Problems("Record")
    Fields(["not", "a", "mapping"], problems, where=("body",))
    assert problems.found == [(("body",), "Input should be a valid dictionary")]
