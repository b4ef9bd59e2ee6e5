"""The mapping document's structure: what `parse_document` reads before the meaning is checked.

Structure only: unknown settings, missing or mistyped values and unknown policy names are reported here,
every one of them at once; whether the fields exist and fit together is `mapping_checks`' part. The
default mapping is read on the first event of a lead push and of a webhook, so this is plain Python:
importing pydantic there would cost more than a quarter of the cold-start budget (`wire_values`). The
problems are worded as pydantic worded them, so an operator uploading a mapping reads the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from rankr_ghl.sync.field_checks import Invalid, ObjectReader, choice, items, object_fields, string
from rankr_ghl.sync.field_checks import boolean as lax_boolean
from rankr_ghl.sync.types import ConflictPolicy, DeletePolicy, Direction, Side
from rankr_ghl.wire_values import Location, Problems, WireFormatError

_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
_NAME_RE = re.compile(_NAME_PATTERN)
UNKNOWN_SETTING = "unknown setting (not part of the mapping format)"


def _as_json(value: Any) -> Any:
    if isinstance(value, _Spec):
        return {name: _as_json(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    return value.value if isinstance(value, StrEnum) else value


class _Spec:
    __dataclass_fields__: ClassVar[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """Every setting, defaults included, as JSON (what the digest and the control API use)."""
        out: dict[str, Any] = _as_json(self)
        return out


# Keyword-only, in the format's order: `to_json` writes the settings in this order.
@dataclass(frozen=True, kw_only=True)
class FieldSpec(_Spec):
    name: str
    ghl: str | None = None
    rankr: str | None = None
    direction: Direction = Direction.BOTH
    transforms: list[str] = field(default_factory=list)
    conflict: ConflictPolicy | None = None


@dataclass(frozen=True, kw_only=True)
class CustomFieldSpec(_Spec):
    name: str
    ghl_id: str | None = None
    ghl_key: str | None = None
    rankr: str
    direction: Direction = Direction.BOTH
    transforms: list[str] = field(default_factory=list)
    conflict: ConflictPolicy | None = None


@dataclass(frozen=True, kw_only=True)
class NameBinding(_Spec):
    first: str | None = None
    last: str | None = None
    full: str | None = None


@dataclass(frozen=True, kw_only=True)
class NameSpec(_Spec):
    direction: Direction = Direction.BOTH
    conflict: ConflictPolicy | None = None
    ghl: NameBinding
    rankr: NameBinding


@dataclass(frozen=True, kw_only=True)
class DeleteSpec(_Spec):
    ghl_to_rankr: DeletePolicy = DeletePolicy.SOFT
    rankr_to_ghl: DeletePolicy = DeletePolicy.IGNORE
    ghl_deleted_tag: str = "rankr:deleted"


@dataclass(frozen=True, kw_only=True)
class EntitySpec(_Spec):
    enabled: bool = True
    conflict: ConflictPolicy | None = None
    name: NameSpec | None = None
    fields: list[FieldSpec] = field(default_factory=list)
    custom_fields: list[CustomFieldSpec] = field(default_factory=list)
    delete: DeleteSpec = field(default_factory=DeleteSpec)


def _disabled() -> EntitySpec:
    return EntitySpec(enabled=False)


@dataclass(frozen=True, kw_only=True)
class MappingDocument(_Spec):
    version: int = 1
    description: str | None = None
    phone_default_country_code: str = "+1"
    conflict: ConflictPolicy = ConflictPolicy.NEWER_WINS
    tie_breaker: Side = Side.GHL
    contact: EntitySpec
    task: EntitySpec = field(default_factory=_disabled)
    note: EntitySpec = field(default_factory=_disabled)
    appointment: EntitySpec = field(default_factory=_disabled)


# --------------------------------------------------------------------------------------------------
# Reading


def parse_document(data: Any) -> MappingDocument:
    """The document's structure; raises `WireFormatError` with every problem (`document_problems`)."""
    problems = Problems("MappingDocument")
    reader = _object(data, problems, (), "MappingDocument")
    if reader is None:
        problems.raise_if_any()
    assert reader is not None
    values = {
        "version": reader.field("version", _version, default=1),
        "description": reader.field("description", _optional_string),
        "phone_default_country_code": reader.field("phone_default_country_code", string, default="+1"),
        "conflict": reader.field(
            "conflict", lambda v: choice(v, ConflictPolicy), default=ConflictPolicy.NEWER_WINS
        ),
        "tie_breaker": reader.field("tie_breaker", lambda v: choice(v, Side), default=Side.GHL),
        "contact": reader.nested("contact", _entity, required=True),
        "task": reader.nested("task", _entity, default=_disabled()),
        "note": reader.nested("note", _entity, default=_disabled()),
        "appointment": reader.nested("appointment", _entity, default=_disabled()),
    }
    reader.finish(values)
    problems.raise_if_any()
    return MappingDocument(**values)


def document_problems(error: WireFormatError) -> list[str]:
    """One readable line per problem: where (`contact.fields[0].name`) and what."""
    lines = []
    for location, message in error.problems:
        where = ""
        for part in location:
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        lines.append(f"{where or '(document)'}: {message}")
    return lines


def _object(value: Any, problems: Problems, location: Location, model: str) -> ObjectReader | None:
    return object_fields(value, problems, location, model, extra_message=UNKNOWN_SETTING)


def _version(value: Any) -> int:
    # As pydantic's `Literal[1]`: 1, 1.0 and true are 1; a string is not.
    if isinstance(value, int | float) and value == 1:
        return 1
    raise Invalid("Input should be 1")


def _optional_string(value: Any) -> str | None:
    return None if value is None else string(value)


def _optional_conflict(value: Any) -> ConflictPolicy | None:
    return None if value is None else choice(value, ConflictPolicy)


def _direction(value: Any) -> Direction:
    return choice(value, Direction)


def _spec_name(value: Any) -> str:
    return string(value, min_length=1, max_length=64, pattern=_NAME_PATTERN, matches=_NAME_RE.fullmatch)


def _transforms(value: Any, problems: Problems, location: Location) -> list[str]:
    return _list(value, problems, location, lambda v, p, at: _leaf(v, p, at, string))


def _leaf(value: Any, problems: Problems, location: Location, check: Callable[[Any], Any]) -> Any:
    try:
        return check(value)
    except Invalid as problem:
        problems.add(location, str(problem))
        return None


def _list(
    value: Any, problems: Problems, location: Location, parse: Callable[[Any, Problems, Location], Any]
) -> list[Any]:
    try:
        found = items(value)
    except Invalid as problem:
        problems.add(location, str(problem))
        return []
    return [parse(item, problems, (*location, index)) for index, item in enumerate(found)]


def _field(value: Any, problems: Problems, location: Location) -> FieldSpec | None:
    reader = _object(value, problems, location, "FieldSpec")
    if reader is None:
        return None
    values = {
        "name": reader.field("name", _spec_name, required=True),
        "ghl": reader.field("ghl", _optional_string),
        "rankr": reader.field("rankr", _optional_string),
        "direction": reader.field("direction", _direction, default=Direction.BOTH),
        "transforms": reader.nested("transforms", _transforms, default=[]),
        "conflict": reader.field("conflict", _optional_conflict),
    }
    reader.finish(values)
    return None if reader.failed else FieldSpec(**values)


def _custom_field(value: Any, problems: Problems, location: Location) -> CustomFieldSpec | None:
    reader = _object(value, problems, location, "CustomFieldSpec")
    if reader is None:
        return None
    values = {
        "name": reader.field("name", _spec_name, required=True),
        "ghl_id": reader.field("ghl_id", _optional_string),
        "ghl_key": reader.field("ghl_key", _optional_string),
        "rankr": reader.field("rankr", lambda v: string(v, min_length=1, max_length=100), required=True),
        "direction": reader.field("direction", _direction, default=Direction.BOTH),
        "transforms": reader.nested("transforms", _transforms, default=[]),
        "conflict": reader.field("conflict", _optional_conflict),
    }
    reader.finish(values)
    return None if reader.failed else CustomFieldSpec(**values)


def _binding(value: Any, problems: Problems, location: Location) -> NameBinding | None:
    reader = _object(value, problems, location, "NameBinding")
    if reader is None:
        return None
    values = {part: reader.field(part, _optional_string) for part in ("first", "last", "full")}
    reader.finish(values)
    return None if reader.failed else NameBinding(**values)


def _name(value: Any, problems: Problems, location: Location) -> NameSpec | None:
    if value is None:
        return None
    reader = _object(value, problems, location, "NameSpec")
    if reader is None:
        return None
    values = {
        "direction": reader.field("direction", _direction, default=Direction.BOTH),
        "conflict": reader.field("conflict", _optional_conflict),
        "ghl": reader.nested("ghl", _binding, required=True),
        "rankr": reader.nested("rankr", _binding, required=True),
    }
    reader.finish(values)
    return None if reader.failed else NameSpec(**values)


def _delete(value: Any, problems: Problems, location: Location) -> DeleteSpec | None:
    reader = _object(value, problems, location, "DeleteSpec")
    if reader is None:
        return None
    values = {
        "ghl_to_rankr": reader.field(
            "ghl_to_rankr", lambda v: choice(v, DeletePolicy), default=DeletePolicy.SOFT
        ),
        "rankr_to_ghl": reader.field(
            "rankr_to_ghl", lambda v: choice(v, DeletePolicy), default=DeletePolicy.IGNORE
        ),
        "ghl_deleted_tag": reader.field(
            "ghl_deleted_tag", lambda v: string(v, min_length=1, max_length=100), default="rankr:deleted"
        ),
    }
    reader.finish(values)
    return None if reader.failed else DeleteSpec(**values)


def _entity(value: Any, problems: Problems, location: Location) -> EntitySpec | None:
    reader = _object(value, problems, location, "EntitySpec")
    if reader is None:
        return None
    values = {
        "enabled": reader.field("enabled", lax_boolean, default=True),
        "conflict": reader.field("conflict", _optional_conflict),
        "name": reader.nested("name", _name),
        "fields": reader.nested("fields", lambda v, p, at: _list(v, p, at, _field), default=[]),
        "custom_fields": reader.nested(
            "custom_fields", lambda v, p, at: _list(v, p, at, _custom_field), default=[]
        ),
        "delete": reader.nested("delete", _delete, default=DeleteSpec()),
    }
    reader.finish(values)
    return None if reader.failed else EntitySpec(**values)
