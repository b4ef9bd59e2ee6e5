"""Rankr contacts on the wire, checked without pydantic.

A contact webhook reads, creates or updates one Rankr contact on its first event; building the pydantic
contact models for that would import pydantic, which costs a cold start more than the rest of the event
(bench/cold_start.py). These functions give the records adapter the same results as the typed models:

- `contact_record` is `Contact.model_validate(body).model_dump(mode="json", by_alias=True)`;
- `contact_page` is `ContactPage.model_validate(body)` with its items dumped the same way;
- `contact_write_body` is `ContactCreate` / `ContactUpdate.model_validate(body).to_json(partial=...)`.

As in the models, keys are Rankr's camelCase names (the snake_case attribute names are accepted too, the
camelCase one winning when both are given), a response ignores unknown fields, a request refuses them,
timestamps must carry an offset and are written in Rankr's format. Errors name the field, never its value.
The typed models stay for the other users of the client; tests/unit/rankr/test_rankr_contact_wire.py keeps the
two in step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from rankr_ghl.rankr.timestamps import format_timestamp, parse_timestamp
from rankr_ghl.wire_values import Location, Problems, lax_str

# The longest text Rankr accepts in each contact field (docs/rankr-api.yaml), in the models' order.
CONTACT_TEXT_LIMITS: dict[str, int] = {
    "firstName": 255,
    "lastName": 255,
    "email": 320,
    "phone": 50,
    "company": 255,
    "source": 255,
}
TAG_LIMIT = 100
RECORD_TIMESTAMPS = ("createdAt", "updatedAt", "deletedAt")
CONTACT_WRITE_FIELDS = (*CONTACT_TEXT_LIMITS, "tags", "customFields")
CONTACT_RECORD_FIELDS = (*RECORD_TIMESTAMPS, "id", *CONTACT_WRITE_FIELDS)
CONTACT_PAGE_FIELDS = ("items", "nextCursor")

_NOT_LIST = "Input should be a valid list"
_NOT_DICT = "Input should be a valid dictionary"
_MISSING_FIELD = "Field required"
_NOT_TIMESTAMP = "Input should be a valid datetime with timezone info"
_SEQUENCES = (list, tuple, set, frozenset)
_ABSENT = object()
_CAPITAL = re.compile(r"(?<!^)(?=[A-Z])")


class ContactRecords(NamedTuple):
    """One page of contacts, each as `contact_record` returns it."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def attribute_name(wire_name: str) -> str:
    """The model attribute of a wire name (`firstName` -> `first_name`), also accepted as a key."""
    return _CAPITAL.sub("_", wire_name).lower()


def contact_record(body: Any) -> dict[str, Any]:
    """A Rankr contact answer, checked and normalized (see the module docstring); WireFormatError
    names every bad field."""
    problems = Problems("Contact")
    record = _read_contact(body, problems, ())
    problems.raise_if_any()
    return record


def contact_page(body: Any) -> ContactRecords:
    """A page of Rankr contacts (`items`, `nextCursor`), each item as `contact_record` returns it."""
    problems = Problems("ContactPage")
    if not isinstance(body, Mapping):
        problems.add((), _NOT_DICT)
        problems.raise_if_any()
    items: list[dict[str, Any]] = []
    key, raw_items = _entry(body, "items")
    if raw_items is _ABSENT:
        problems.add((key,), _MISSING_FIELD)
    elif not isinstance(raw_items, _SEQUENCES):
        problems.add((key,), _NOT_LIST)
    else:
        items = [_read_contact(item, problems, (key, index)) for index, item in enumerate(raw_items)]
    key, raw_cursor = _entry(body, "nextCursor")
    cursor = None if raw_cursor is _ABSENT else _optional_text(raw_cursor, problems, (key,))
    problems.raise_if_any()
    return ContactRecords(items, cursor)


def contact_write_body(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """The JSON body of a contact create (`partial=False`: fields given as None are left out) or a
    PATCH (`partial=True`: only the fields given, None clears one; a None custom field value removes
    that custom field). Unknown fields and over-long values are refused here, before Rankr sees them."""
    problems = Problems("ContactUpdate" if partial else "ContactCreate")
    if not isinstance(body, Mapping):
        problems.add((), _NOT_DICT)
        problems.raise_if_any()
    for key in body:
        if not _is_write_key(key, body):
            problems.add((key,), "Extra inputs are not permitted")
    wire: dict[str, Any] = {}
    for name in CONTACT_WRITE_FIELDS:
        key, raw = _entry(body, name)
        if raw is _ABSENT or (raw is None and not partial):
            continue
        if raw is None:
            wire[name] = None
        elif name == "tags":
            wire[name] = _tags(raw, problems, (key,), limit=TAG_LIMIT)
        elif name == "customFields":
            wire[name] = _custom_fields(raw, problems, (key,))
        else:
            wire[name] = _bounded_text(raw, problems, (key,), CONTACT_TEXT_LIMITS[name])
    problems.raise_if_any()
    return wire


def _is_write_key(key: Any, body: Mapping[str, Any]) -> bool:
    if key in CONTACT_WRITE_FIELDS:
        return True
    # The attribute name is accepted only when the wire name is absent: given both, the model reads
    # the wire name and counts the other as an unknown field.
    wire_names = [name for name in CONTACT_WRITE_FIELDS if attribute_name(name) == key]
    return bool(wire_names) and wire_names[0] not in body


def _entry(body: Mapping[str, Any], wire_name: str) -> tuple[str, Any]:
    """The key a field was given under (its wire name first, else its attribute name) and its value,
    or (wire name, _ABSENT). Problems are reported under the key given, as the models report them."""
    if wire_name in body:
        return wire_name, body[wire_name]
    attribute = attribute_name(wire_name)
    if attribute in body:
        return attribute, body[attribute]
    return wire_name, _ABSENT


def _read_contact(body: Any, problems: Problems, at: Location) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        problems.add(at, _NOT_DICT)
        return {}
    record: dict[str, Any] = {}
    for name in RECORD_TIMESTAMPS:
        key, raw = _entry(body, name)
        if raw is _ABSENT or raw is None:
            if name != "deletedAt":  # the only timestamp a record may lack
                problems.add((*at, key), _MISSING_FIELD if raw is _ABSENT else _NOT_TIMESTAMP)
            record[name] = None
        else:
            record[name] = _timestamp(raw, problems, (*at, key))
    key, raw = _entry(body, "id")
    if raw is _ABSENT:
        problems.add((*at, key), _MISSING_FIELD)
    else:
        record["id"] = _text(raw, problems, (*at, key))
    for name in CONTACT_TEXT_LIMITS:
        key, raw = _entry(body, name)
        record[name] = None if raw is _ABSENT else _optional_text(raw, problems, (*at, key))
    key, raw = _entry(body, "tags")
    record["tags"] = [] if raw is _ABSENT else _tags(raw, problems, (*at, key))
    key, raw = _entry(body, "customFields")
    record["customFields"] = {} if raw is _ABSENT else _custom_fields(raw, problems, (*at, key))
    return record


def _timestamp(raw: Any, problems: Problems, at: Location) -> str:
    try:
        return format_timestamp(parse_timestamp(raw))
    except (ValueError, OverflowError):
        problems.add(at, _NOT_TIMESTAMP)
        return ""


def _text(raw: Any, problems: Problems, at: Location) -> str:
    """A string as pydantic's lax `str` reads it (`lax_str`). A problem leaves an empty string in
    place: the record is refused once every field is checked."""
    try:
        return lax_str(raw)
    except ValueError as problem:
        problems.add(at, str(problem))
        return ""


def _optional_text(raw: Any, problems: Problems, at: Location) -> str | None:
    return None if raw is None else _text(raw, problems, at)


def _bounded_text(raw: Any, problems: Problems, at: Location, limit: int) -> str:
    text = _text(raw, problems, at)
    if len(text) > limit:
        problems.add(at, f"String should have at most {limit} characters")
    return text


def _text_list(raw: Any, problems: Problems, at: Location) -> list[str]:
    if not isinstance(raw, _SEQUENCES):
        problems.add(at, _NOT_LIST)
        return []
    return [_text(item, problems, (*at, index)) for index, item in enumerate(raw)]


def _tags(raw: Any, problems: Problems, at: Location, *, limit: int | None = None) -> list[str]:
    if limit is not None and isinstance(raw, _SEQUENCES) and len(raw) > limit:
        # Too many tags is the one problem reported for the list, as the model reports it.
        problems.add(at, f"List should have at most {limit} items, not {len(raw)}")
        return []
    return _text_list(raw, problems, at)


def _custom_fields(raw: Any, problems: Problems, at: Location) -> dict[str, Any]:
    """Custom field values keep their JSON kind (string, boolean, integer, number, list of strings or
    null), as the models' union of exact types does."""
    if not isinstance(raw, Mapping):
        problems.add(at, _NOT_DICT)
        return {}
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        name = _text(key, problems, (*at, key))
        fields[name] = _custom_value(value, problems, (*at, key))
    return fields


def _custom_value(value: Any, problems: Problems, at: Location) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str | bytes | bytearray):
        return _text(value, problems, at)
    if isinstance(value, _SEQUENCES):
        return _text_list(value, problems, at)
    problems.add(at, "Input should be a string, boolean, number, list of strings or null")
    return None
