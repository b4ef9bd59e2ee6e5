"""Value checks for the records every first event reads, without pydantic.

Importing pydantic costs about 120 ms of CPU before the first model is built, more than a quarter of
what a cold start may add to its floor (docs/architecture.md, "Cold start"). The records that a lead
push, a webhook or an agency install reads on its first event (connections, token bundles, GHL and
Rankr contacts, the lead request, the field mapping) are therefore checked with these helpers; the
typed client models, the control API and the operator contract keep pydantic.

The coercions follow pydantic's lax mode, so a record reads the same whichever side parses it:
`lax_bool` accepts pydantic's spellings, `parse_datetime` its ISO 8601 and epoch forms, and
`json_datetime` writes what `model_dump(mode="json")` writes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, cast

Location = tuple[str | int, ...]
T = TypeVar("T")
E = TypeVar("E", bound=Enum)

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
# pydantic reads an epoch above this as milliseconds, below it as seconds.
_EPOCH_MS_THRESHOLD = 2e10
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The ISO 8601 spellings pydantic reads (see `parse_datetime`).
_ISO_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt _](?P<hm>\d{2}:\d{2})(?::(?P<s>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>[0-5]\d))?)?",
    re.ASCII,
)
# A Unix epoch written as text, as pydantic reads it: "1738324800", "+1", "0.", ".5".
_EPOCH_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)", re.ASCII)


class WireFormatError(ValueError):
    """One or more fields of a record are missing or of the wrong kind.

    `errors()` has pydantic's shape (`loc`, `msg`, `type`), so a per-item error reads the same
    whichever parser found it.
    """

    def __init__(self, title: str, problems: Iterable[tuple[Location, str]]) -> None:
        self.title = title
        self.problems: list[tuple[Location, str]] = list(problems)
        super().__init__(self._message())

    def _message(self) -> str:
        count = len(self.problems)
        lines = [f"{count} validation error{'s' if count != 1 else ''} for {self.title}"]
        for location, message in self.problems:
            lines.append(".".join(str(part) for part in location) or "(record)")
            lines.append(f"  {message}")
        return "\n".join(lines)

    def errors(self) -> list[dict[str, Any]]:
        return [
            {"loc": location, "msg": message, "type": "value_error"} for location, message in self.problems
        ]


class Problems:
    """Collects every problem of a record before raising, as pydantic reports them all at once."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.found: list[tuple[Location, str]] = []

    def add(self, location: Location, message: str) -> None:
        self.found.append((location, message))

    def raise_if_any(self) -> None:
        if self.found:
            raise WireFormatError(self.title, self.found)


def lax_bool(value: Any) -> bool:
    """pydantic's lax boolean: True/False, 1/0 and the usual words; anything else is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError("not a valid boolean")


def parse_datetime(value: Any) -> datetime:
    """A datetime exactly as pydantic's lax mode reads one: a datetime; an ISO 8601 date, alone or with
    a time (`T`, `t`, space or `_` between; seconds and a fraction optional, `.` or `,`, digits past
    microseconds dropped) and an offset (`Z`, `+HH:MM`, `+HHMM`); or a Unix epoch in seconds or
    milliseconds, as a number or as text (`"1717243200"`, `"+1"`, `".5"`). No surrounding spaces, no
    basic (`20240601T1200`) or week forms, nothing beyond year 9999. ValueError otherwise."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        if _EPOCH_TEXT.fullmatch(value):
            return _from_epoch(float(value) if "." in value else int(value))
        return _from_iso(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value)
    raise ValueError("not a valid datetime")


def _from_iso(text: str) -> datetime:
    match = _ISO_DATETIME.fullmatch(text)
    if match is None:
        raise ValueError("not a valid datetime")
    iso = f"{match['date']}T{match['hm'] or '00:00'}:{match['s'] or '00'}"
    if match["fraction"]:
        iso += "." + match["fraction"][:6].ljust(6, "0")
    if match["utc"]:
        iso += "+00:00"
    elif match["sign"]:
        iso += f"{match['sign']}{match['oh']}:{match['om']}"
    try:
        return datetime.fromisoformat(iso)
    except ValueError:  # a day, an hour or a minute out of range
        raise ValueError("not a valid datetime") from None


def _from_epoch(number: float) -> datetime:
    """Whole numbers are counted exactly (a float would lose the last millisecond of a 13-digit epoch)."""
    milliseconds = abs(number) > _EPOCH_MS_THRESHOLD
    try:
        if isinstance(number, int):
            return _EPOCH + (timedelta(milliseconds=number) if milliseconds else timedelta(seconds=number))
        return _EPOCH + timedelta(seconds=number / 1000 if milliseconds else number)
    except (OverflowError, ValueError):  # beyond datetime's years 1..9999, or not a number
        raise ValueError("not a valid datetime") from None


def json_datetime(value: datetime) -> str:
    """ISO 8601 as `model_dump(mode="json")` writes it: `Z` for UTC, microseconds only when set."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class SecretStr:
    """A string that never shows in a repr, a log line or an error message (the API of pydantic's
    `SecretStr`: `get_secret_value()`)."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        if not isinstance(value, str):
            raise TypeError("a secret is a string")
        self._value = value

    @classmethod
    def of(cls, value: Any) -> SecretStr:
        """A secret from a string, or from a secret of any kind that reveals itself on request."""
        if isinstance(value, SecretStr):
            return value
        reveal = getattr(value, "get_secret_value", None)
        return cls(reveal() if callable(reveal) else value)

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')" if self._value else "SecretStr('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)


def lax_str(value: Any) -> str:
    """pydantic's lax string: a string (a subclass, such as a str enum, gives a plain str) or UTF-8
    bytes; never a number. Its messages are pydantic's."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            raise ValueError(
                "Input should be a valid string, unable to parse raw data as a unicode string"
            ) from None
    raise ValueError("Input should be a valid string")


def lax_float(value: Any) -> float:
    """pydantic's lax number: a number, a boolean, or a string (or bytes) that spells one."""
    if isinstance(value, int | float | Decimal):  # bool is an int
        return float(value)
    if isinstance(value, str | bytes):
        try:
            return float(value)
        except ValueError:
            raise ValueError("Input should be a valid number, unable to parse string as a number") from None
    raise ValueError("Input should be a valid number")


def lax_int(value: Any) -> int:
    """pydantic's lax integer: an int, a boolean, a whole float or Decimal, or a string spelling one."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str | bytes):
        try:
            return int(value)
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                raise ValueError(
                    "Input should be a valid integer, unable to parse string as an integer"
                ) from None
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise ValueError("Input should be a finite number")
        if value != int(value):
            raise ValueError("Input should be a valid integer, got a number with a fractional part")
        return int(value)
    raise ValueError("Input should be a valid integer")


class ItemError(ValueError):
    """A problem with one item of a collection: `location` within the collection (its index)."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(message)
        self.location = location


def lax_str_tuple(value: Any) -> tuple[str, ...]:
    """pydantic's lax `tuple[str, ...]`: a list, tuple, set or iterator of strings (not one string)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValueError("Input should be a valid tuple")
    items: list[str] = []
    for index, item in enumerate(value):
        try:
            items.append(lax_str(item))
        except ValueError as exc:
            raise ItemError((index,), str(exc)) from None
    return tuple(items)


def lax_enum(kind: type[E], value: Any) -> E:
    """A member of `kind` from itself or its value (bytes decoded), as pydantic reads an enum."""
    if isinstance(value, kind):
        return value
    try:
        return kind(value.decode() if isinstance(value, bytes) else value)
    except (ValueError, UnicodeDecodeError):
        choices = " or ".join(repr(member.value) for member in kind)
        raise ValueError(f"Input should be {choices}") from None


def lax_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("Input should be a valid dictionary")
    return dict(value)


def nullable(convert: Callable[[Any], T]) -> Callable[[Any], T | None]:
    """`convert`, letting None through (an optional field given null)."""
    return lambda value: None if value is None else convert(value)


_REQUIRED: Any = object()


class Fields:
    """Reads the fields of one record with lax conversions, collecting every problem in `problems`.

    A field may have several spellings (the first present one is read, as pydantic's alias
    choices); a missing required field or a failed conversion is recorded under its name, and the
    message never shows the value (it may be a token or personal data).
    """

    def __init__(self, data: Any, problems: Problems, where: Location = ()) -> None:
        # Not a record at all: that one problem, not one per field.
        self.is_record = isinstance(data, Mapping)
        if not self.is_record:
            problems.add(where, "Input should be a valid dictionary")
        self.data: Mapping[str, Any] = data if self.is_record else {}
        self.problems = problems
        self.where = where

    def _spelling(self, names: str | tuple[str, ...]) -> str | None:
        for name in (names,) if isinstance(names, str) else names:
            if name in self.data:
                return name
        return None

    def required(self, names: str | tuple[str, ...], convert: Callable[[Any], T]) -> T:
        """The converted value; when missing or wrong, a problem (and a placeholder never used,
        because the caller raises the problems before building anything)."""
        return self.optional(names, convert, _REQUIRED)

    def optional(self, names: str | tuple[str, ...], convert: Callable[[Any], T], default: Any) -> T:
        name = self._spelling(names)
        if name is None:
            if default is not _REQUIRED:
                return cast(T, default)
            if self.is_record:
                first = names if isinstance(names, str) else names[0]
                self.problems.add((*self.where, first), "Field required")
            return cast(T, None)
        try:
            return convert(self.data[name])
        except (ValueError, TypeError, ArithmeticError) as exc:  # ArithmeticError: a date out of range
            inner = exc.location if isinstance(exc, ItemError) else ()
            self.problems.add((*self.where, name, *inner), str(exc) or "Input is not valid")
            return cast(T, None)

    def unknown(self, known: Iterable[str]) -> dict[str, Any]:
        """The fields not among `known` (kept as they came: GHL adds fields without notice)."""
        names = set(known)
        return {key: value for key, value in self.data.items() if key not in names}
