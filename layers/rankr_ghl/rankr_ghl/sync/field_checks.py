"""Reading one JSON object field by field, with every problem worded as pydantic words it.

The lead-push request and the field-mapping document are read on the first event of a lead push and
of a webhook, where importing pydantic would cost more than a quarter of the cold-start budget
(`rankr_ghl.wire_values`). Their parsers use these checks instead; the messages are pydantic's, so a
per-lead error or a mapping problem reads the same as before, and the tests compare both parsers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from rankr_ghl.wire_values import Location, Problems, lax_bool

E = TypeVar("E", bound=StrEnum)

# What `str_strip_whitespace` strips (Rust's `str::trim`: Unicode White_Space), which differs from
# `str.strip()` on the ASCII separators U+001C..U+001F.
_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

EXTRA_FORBIDDEN = "Extra inputs are not permitted"
FIELD_REQUIRED = "Field required"


class Invalid(ValueError):
    """One value's problem (the message is what the record's reader reports for its location)."""


def strip_whitespace(text: str) -> str:
    return text.strip(_WHITESPACE)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def string(
    value: Any,
    *,
    strip: bool = False,
    min_length: int = 0,
    max_length: int | None = None,
    pattern: str | None = None,
    matches: Callable[[str], object] | None = None,
) -> str:
    """A string, stripped first when asked, then checked for length and pattern (`matches` is the
    compiled `pattern`'s `fullmatch`)."""
    if not isinstance(value, str):
        raise Invalid("Input should be a valid string")
    text = strip_whitespace(value) if strip else str(value)
    if len(text) < min_length:
        raise Invalid(f"String should have at least {_plural(min_length, 'character')}")
    if max_length is not None and len(text) > max_length:
        raise Invalid(f"String should have at most {_plural(max_length, 'character')}")
    if pattern is not None and matches is not None and not matches(text):
        raise Invalid(f"String should match pattern '{pattern}'")
    return text


def choice(value: Any, kind: type[E]) -> E:
    """One member of a string enum, given by its value."""
    try:
        return kind(value)
    except ValueError:
        names = [f"'{member.value}'" for member in kind]
        spelled = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise Invalid(f"Input should be {spelled}") from None


def boolean(value: Any) -> bool:
    """pydantic's lax boolean."""
    try:
        return lax_bool(value)
    except ValueError:
        if isinstance(value, str | int):
            raise Invalid("Input should be a valid boolean, unable to interpret input") from None
        raise Invalid("Input should be a valid boolean") from None


def items(value: Any, *, max_length: int | None = None) -> list[Any]:
    """The items of an array (pydantic's lax list: a list, tuple or set), at most `max_length`."""
    if not isinstance(value, list | tuple | set | frozenset):
        raise Invalid("Input should be a valid list")
    found = list(value)
    if max_length is not None and len(found) > max_length:
        raise Invalid(
            f"List should have at most {_plural(max_length, 'item')} after validation, not {len(found)}"
        )
    return found


class ObjectReader:
    """The fields of one object: each read once, in the model's field order, each problem kept under
    its location; `finish()` then reports the keys no field read, as pydantic's `extra="forbid"`."""

    def __init__(
        self,
        problems: Problems,
        location: Location,
        data: Mapping[str, Any],
        *,
        extra_message: str = EXTRA_FORBIDDEN,
    ) -> None:
        self.problems = problems
        self.location = location
        self.data = data
        self.given: set[str] = set()
        self.failed = False
        self._extra_message = extra_message

    def add(self, location: Location, message: str) -> None:
        self.problems.add(location, message)
        self.failed = True

    def _given(self, name: str, required: bool) -> bool:
        """Whether `name` is present (noted as given); a required one that is absent is a problem."""
        if name in self.data:
            self.given.add(name)
            return True
        if required:
            self.add((*self.location, name), FIELD_REQUIRED)
        return False

    def field(
        self,
        name: str,
        check: Callable[[Any], Any],
        *,
        default: Any = None,
        required: bool = False,
    ) -> Any:
        """The checked value of `name`, or `default` when the key is absent (`required`: a problem)."""
        if not self._given(name, required):
            return default
        try:
            return check(self.data[name])
        except Invalid as problem:
            self.add((*self.location, name), str(problem))
            return default

    def nested(
        self,
        name: str,
        parse: Callable[[Any, Problems, Location], Any],
        *,
        default: Any = None,
        required: bool = False,
    ) -> Any:
        """A field whose checker reports its own problems under deeper locations."""
        if not self._given(name, required):
            return default
        before = len(self.problems.found)
        value = parse(self.data[name], self.problems, (*self.location, name))
        if len(self.problems.found) > before:
            self.failed = True
            return default
        return value

    def finish(self, known: Iterable[str]) -> None:
        allowed = set(known)
        for key in self.data:
            if not isinstance(key, str):  # a YAML document's `yes:`, `1:` or `null:` key
                where = int(key) if isinstance(key, int) else str(key)
                self.add((*self.location, where), "Keys should be strings")
            elif key not in allowed:
                self.add((*self.location, key), self._extra_message)


def object_fields(
    value: Any,
    problems: Problems,
    location: Location,
    model_name: str,
    *,
    extra_message: str = EXTRA_FORBIDDEN,
) -> ObjectReader | None:
    """A reader of `value` when it is an object; else the problem pydantic reports for a model."""
    if not isinstance(value, Mapping):
        problems.add(location, f"Input should be a valid dictionary or instance of {model_name}")
        return None
    return ObjectReader(problems, location, value, extra_message=extra_message)
