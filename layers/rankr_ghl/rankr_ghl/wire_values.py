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

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

Location = tuple[str | int, ...]

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
# pydantic reads an epoch above this as milliseconds, below it as seconds.
_EPOCH_MS_THRESHOLD = 2e10
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    """A datetime from ISO 8601 (date, `T` or space separated, `Z` or an offset) or a Unix epoch in
    seconds or milliseconds (a number or a string of digits), as pydantic's lax mode reads it."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").replace(".", "", 1).isdigit():
            return _from_epoch(float(text))
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not a valid datetime") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(float(value))
    raise ValueError("not a valid datetime")


def _from_epoch(number: float) -> datetime:
    seconds = number / 1000 if abs(number) > _EPOCH_MS_THRESHOLD else number
    try:
        return _EPOCH + timedelta(seconds=seconds)
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
