"""Declarative field mapping between GHL and Rankr records, validated when loaded.

A mapping document (JSON, or YAML when PyYAML is importable) names canonical fields and, per field,
where the value lives on each side, which way it flows, how it is normalised and which side wins a
conflict. Loading compiles it into `FieldMapping`, which turns a raw record of either side into a
*canonical* dict (canonical field name -> normalised value) and a canonical dict into a Rankr or GHL
request body. A bad document fails at load with `MappingError.problems`: one message per problem.
See docs/field-mapping.md.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rankr_ghl.sync import transforms as tf
from rankr_ghl.sync.transforms import FieldKind, TransformOptions
from rankr_ghl.sync.types import (
    Canonical,
    ConflictPolicy,
    DeleteAction,
    DeletePolicy,
    Direction,
    Entity,
    Side,
)

if TYPE_CHECKING:
    # The document's pydantic models live apart: only loading a document needs them (cold start).
    from rankr_ghl.sync.mapping_document import (
        DeleteSpec,
        EntitySpec,
        FieldSpec,
        MappingDocument,
        NameBinding,
        NameSpec,
    )

# --------------------------------------------------------------------------------------------------
# What each side's records contain (the fields a mapping may name)


@dataclass(frozen=True)
class SideField:
    kind: FieldKind
    on_create: bool = True  # may be sent in a create body
    on_update: bool = True  # may be sent in an update body


_S = SideField(FieldKind.STRING)
_RO = SideField(FieldKind.STRING, on_create=False, on_update=False)
_DT = SideField(FieldKind.DATETIME)
_DT_RO = SideField(FieldKind.DATETIME, on_create=False, on_update=False)

GHL_FIELDS: dict[Entity, dict[str, SideField]] = {
    Entity.CONTACT: {
        "firstName": _S,
        "lastName": _S,
        "name": _S,
        "email": _S,
        "phone": _S,
        # UpdateContactDto has no companyName: it can only be set when the contact is created.
        "companyName": SideField(FieldKind.STRING, on_update=False),
        "tags": SideField(FieldKind.LIST),
        "source": _S,
        "address1": _S,
        "city": _S,
        "state": _S,
        "country": _S,
        "postalCode": _S,
        "website": _S,
        "timezone": _S,
        "dateOfBirth": _S,
        "assignedTo": _S,
        "dnd": SideField(FieldKind.BOOL),
        "type": _RO,
        "dateAdded": _DT_RO,
        "dateUpdated": _DT_RO,
    },
    Entity.TASK: {
        "title": _S,
        "body": _S,
        "dueDate": _DT,
        "completed": SideField(FieldKind.BOOL),
        "assignedTo": _S,
    },
    Entity.NOTE: {"body": _S, "title": _S, "userId": _S, "dateAdded": _DT_RO},
    # The connector holds calendars/events.readonly only: appointments are never written to GHL.
    Entity.APPOINTMENT: {
        "title": _RO,
        "appointmentStatus": _RO,
        "startTime": _DT_RO,
        "endTime": _DT_RO,
        "calendarId": _RO,
        "assignedUserId": _RO,
        "address": _RO,
        "notes": _RO,
        "dateAdded": _DT_RO,
        "dateUpdated": _DT_RO,
    },
}

RANKR_FIELDS: dict[Entity, dict[str, SideField]] = {
    Entity.CONTACT: {
        "firstName": _S,
        "lastName": _S,
        "email": _S,
        "phone": _S,
        "company": _S,
        "source": _S,
        "tags": SideField(FieldKind.LIST),
        "createdAt": _DT_RO,
        "updatedAt": _DT_RO,
    },
    Entity.TASK: {
        "title": _S,
        "body": _S,
        "dueDate": _DT,
        "completed": SideField(FieldKind.BOOL),
        "assignee": _S,
        "createdAt": _DT_RO,
        "updatedAt": _DT_RO,
    },
    Entity.NOTE: {"title": _S, "body": _S, "createdAt": _DT_RO, "updatedAt": _DT_RO},
    Entity.APPOINTMENT: {
        "status": _S,
        "startTime": _DT,
        "endTime": _DT,
        "title": _S,
        "calendarId": _S,
        "createdAt": _DT_RO,
        "updatedAt": _DT_RO,
    },
}

# Record-level "last modified" attribute per side, used by the newer_wins policy. GHL tasks and
# notes carry none, so newer_wins falls back to the tie breaker for them.
TIMESTAMP_FIELDS: dict[Side, dict[Entity, str | None]] = {
    Side.GHL: {
        Entity.CONTACT: "dateUpdated",
        Entity.TASK: None,
        Entity.NOTE: None,
        Entity.APPOINTMENT: "dateUpdated",
    },
    Side.RANKR: dict.fromkeys(Entity, "updatedAt"),
}

GHL_CUSTOM_FIELDS_ATTR = "customFields"
RANKR_CUSTOM_FIELDS_ATTR = "customFields"


class MappingError(ValueError):
    """An invalid mapping document; `problems` holds one readable message per problem."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        summary = f"invalid field mapping{where}: {len(self.problems)} problem(s)"
        super().__init__(summary + "".join(f"\n  - {p}" for p in self.problems))


# --------------------------------------------------------------------------------------------------
# Compiled form


@dataclass(frozen=True)
class _Path:
    """A top-level attribute of a record."""

    attr: str

    def read(self, record: AbcMapping[str, Any]) -> Any:
        return record.get(self.attr)


@dataclass(frozen=True)
class _NamePart:
    """First or last name, split from the full name when the side has no separate parts."""

    binding: NameBinding
    part: Literal["first", "last"]

    def read(self, record: AbcMapping[str, Any]) -> Any:
        first = record.get(self.binding.first) if self.binding.first else None
        last = record.get(self.binding.last) if self.binding.last else None
        if tf.trim(first) is None and tf.trim(last) is None and self.binding.full:
            first, last = tf.split_full_name(record.get(self.binding.full))
        return first if self.part == "first" else last


@dataclass(frozen=True)
class _GhlCustom:
    field_id: str | None
    key: str | None

    def read(self, record: AbcMapping[str, Any]) -> Any:
        items = record.get(GHL_CUSTOM_FIELDS_ATTR) or []
        if isinstance(items, AbcMapping):  # tolerate an {id: value} object
            return items.get(self.field_id or "") if self.field_id else items.get(self.key or "")
        for item in items:
            if not isinstance(item, AbcMapping):
                continue
            if (self.field_id and item.get("id") == self.field_id) or (
                self.key and item.get("key") in {self.key, self.key.removeprefix("contact.")}
            ):
                return item.get("value", item.get("field_value"))
        return None


@dataclass(frozen=True)
class _RankrCustom:
    key: str

    def read(self, record: AbcMapping[str, Any]) -> Any:
        values = record.get(RANKR_CUSTOM_FIELDS_ATTR) or {}
        return values.get(self.key) if isinstance(values, AbcMapping) else None


_Accessor = _Path | _NamePart | _GhlCustom | _RankrCustom


@dataclass(frozen=True)
class MappedField:
    name: str
    kind: FieldKind
    direction: Direction
    conflict: ConflictPolicy
    transforms: tuple[str, ...]
    ghl: _Accessor | None
    rankr: _Accessor | None

    def accessor(self, side: Side) -> _Accessor | None:
        return self.ghl if side is Side.GHL else self.rankr

    def flows_from(self, side: Side) -> bool:
        return self.direction.allows(side) and self.ghl is not None and self.rankr is not None


@dataclass
class GhlWrite:
    """A GHL request body plus the tag changes that go through the tags endpoints (never the body)."""

    body: dict[str, Any]
    tags_to_add: list[str] = field(default_factory=list)
    tags_to_remove: list[str] = field(default_factory=list)
    # update with `current` known: the complete tag set the contact ends with (for a one-request replace)
    tags_replacement: list[str] | None = None
    # canonical fields that were asked for but that GHL does not accept in this kind of request
    not_writable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EntityMapping:
    entity: Entity
    enabled: bool
    fields: tuple[MappedField, ...]
    delete: DeleteSpec
    tie_breaker: Side
    options: TransformOptions

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> MappedField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def fields_on(self, side: Side) -> tuple[MappedField, ...]:
        """Fields that exist on `side` (part of its canonical projection)."""
        return tuple(f for f in self.fields if f.accessor(side) is not None)

    def fields_flowing(self, from_side: Side) -> tuple[str, ...]:
        """Canonical names of the fields whose direction lets values go from `from_side` to the other."""
        return tuple(f.name for f in self.fields if f.flows_from(from_side))

    def can_write(self, name: str, to_side: Side, mode: Literal["create", "update"]) -> bool:
        """Whether `to_side` accepts this field in a create/update (GHL: no companyName on update)."""
        f = self.field(name)
        accessor = f.accessor(to_side)
        if accessor is None or not f.flows_from(to_side.other):
            return False
        if isinstance(accessor, _Path):
            catalogue = (GHL_FIELDS if to_side is Side.GHL else RANKR_FIELDS)[self.entity]
            spec = catalogue.get(accessor.attr)
            return spec is not None and (spec.on_create if mode == "create" else spec.on_update)
        return True

    # -- reading -------------------------------------------------------------------------------
    def canonical(self, side: Side, record: AbcMapping[str, Any]) -> Canonical:
        """The normalised projection of a raw record of `side`: every mapped field present there."""
        result: Canonical = {}
        for f in self.fields:
            accessor = f.accessor(side)
            if accessor is None:
                continue
            result[f.name] = tf.apply(f.transforms, accessor.read(record), self.options)
        return result

    def from_ghl(self, record: AbcMapping[str, Any]) -> Canonical:
        return self.canonical(Side.GHL, record)

    def from_rankr(self, record: AbcMapping[str, Any]) -> Canonical:
        return self.canonical(Side.RANKR, record)

    def timestamp(self, side: Side, record: AbcMapping[str, Any]) -> datetime | None:
        attr = TIMESTAMP_FIELDS[side][self.entity]
        if not attr:
            return None
        text = tf.iso_datetime(record.get(attr))
        if not isinstance(text, str) or "T" not in text:
            return None
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None

    # -- writing -------------------------------------------------------------------------------
    def _selected(self, to_side: Side, only: Iterable[str] | None) -> list[MappedField]:
        wanted = set(only) if only is not None else None
        return [
            f for f in self.fields if f.flows_from(to_side.other) and (wanted is None or f.name in wanted)
        ]

    def to_rankr(
        self, canonical: AbcMapping[str, Any], *, only: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Rankr create/PATCH body for the fields that may flow GHL -> Rankr (`only` narrows them).

        `canonical` should be the complete canonical record of the source side, so a full name can
        be joined from both parts even when only one of them changed.
        """
        body: dict[str, Any] = {}
        for f in self._selected(Side.RANKR, only):
            _write(body, f.rankr, f.name, canonical, RANKR_CUSTOM_FIELDS_ATTR, ghl=False)
        return body

    def to_ghl(
        self,
        canonical: AbcMapping[str, Any],
        *,
        only: Iterable[str] | None = None,
        mode: Literal["create", "update"] = "update",
        current: AbcMapping[str, Any] | None = None,
    ) -> GhlWrite:
        """GHL create/update body for the fields that may flow Rankr -> GHL (`only` narrows them).

        Tags never go in an update body (it would replace every tag): they come back as
        `tags_to_add`/`tags_to_remove`, computed against `current` (the contact's canonical GHL
        form) when given. On create they are part of the body. None values are left out of a create.
        """
        catalogue = GHL_FIELDS[self.entity]
        out = GhlWrite(body={})
        for f in self._selected(Side.GHL, only):
            accessor = f.ghl
            if isinstance(accessor, _Path):
                spec = catalogue.get(accessor.attr)
                allowed = spec is not None and (spec.on_create if mode == "create" else spec.on_update)
                if accessor.attr == "tags" and spec is not None:
                    desired = tf.normalise_tags(canonical.get(f.name))
                    if mode == "create":
                        if desired:
                            out.body["tags"] = desired
                    else:
                        existing = tf.normalise_tags(current.get(f.name)) if current is not None else []
                        out.tags_to_add = sorted(set(desired) - set(existing))
                        out.tags_to_remove = (
                            sorted(set(existing) - set(desired)) if current is not None else []
                        )
                        out.tags_replacement = desired if current is not None else None
                    continue
                if not allowed:
                    out.not_writable.append(f.name)
                    continue
            _write(out.body, accessor, f.name, canonical, GHL_CUSTOM_FIELDS_ATTR, ghl=True)
        if mode == "create":
            out.body = {k: v for k, v in out.body.items() if v is not None and v != []}
        return out

    def delete_action(self, from_side: Side) -> DeleteAction:
        """What to do on the other side when `from_side` deleted a record."""
        if from_side is Side.GHL:
            policy = self.delete.ghl_to_rankr
            # Rankr's contract has only a soft delete, so "propagate" and "soft" are the same call.
            return DeleteAction.NONE if policy is DeletePolicy.IGNORE else DeleteAction.SOFT_DELETE
        policy = self.delete.rankr_to_ghl
        if policy is DeletePolicy.PROPAGATE:
            return DeleteAction.DELETE
        if policy is DeletePolicy.SOFT:
            return DeleteAction.TAG
        return DeleteAction.NONE

    @property
    def deleted_tag(self) -> str:
        return self.delete.ghl_deleted_tag


def _write(
    body: dict[str, Any],
    accessor: _Accessor | None,
    name: str,
    canonical: AbcMapping[str, Any],
    custom_attr: str,
    *,
    ghl: bool,
) -> None:
    value = canonical.get(name)
    if isinstance(accessor, _Path):
        body[accessor.attr] = value
    elif isinstance(accessor, _NamePart):
        part_attr = accessor.binding.first if accessor.part == "first" else accessor.binding.last
        if part_attr:
            body[part_attr] = value
        elif accessor.binding.full:
            # The side cannot hold this part on its own: write the joined full name instead. (A side
            # with both parts never gets `full` from us: a joined value could go stale there.)
            body[accessor.binding.full] = tf.join_name(
                canonical.get("first_name"), canonical.get("last_name")
            )
    elif isinstance(accessor, _GhlCustom) and ghl:
        item: dict[str, Any] = {"id": accessor.field_id} if accessor.field_id else {"key": accessor.key}
        item["field_value"] = value
        body.setdefault(custom_attr, []).append(item)
    elif isinstance(accessor, _RankrCustom):
        body.setdefault(custom_attr, {})[accessor.key] = value


@dataclass(frozen=True)
class FieldMapping:
    """A whole compiled mapping: one `EntityMapping` per entity."""

    document: MappingDocument
    entities: dict[Entity, EntityMapping]
    digest: str  # identifies the document (cache key, audit)

    def for_entity(self, entity: Entity | str) -> EntityMapping:
        return self.entities[Entity(entity)]

    @property
    def contact(self) -> EntityMapping:
        return self.entities[Entity.CONTACT]

    def with_custom_field_ids(self, key_to_id: AbcMapping[str, str]) -> FieldMapping:
        """Resolve custom fields configured by GHL key only (reads carry ids, not keys)."""
        raw = self.document.model_dump(mode="json")
        for entity_name in ("contact", "task", "note", "appointment"):
            for spec in raw[entity_name]["custom_fields"]:
                key = spec.get("ghl_key")
                if not spec.get("ghl_id") and key:
                    resolved = key_to_id.get(key) or key_to_id.get(key.removeprefix("contact."))
                    if resolved:
                        spec["ghl_id"] = resolved
        return load_mapping(raw)


# --------------------------------------------------------------------------------------------------
# Loading and validation


def _known(catalogue: AbcMapping[str, SideField]) -> str:
    return ", ".join(sorted(catalogue))


class _Checker:
    def __init__(self, doc: MappingDocument) -> None:
        self.doc = doc
        self.problems: list[str] = []

    def run(self) -> None:
        if not tf.is_country_code(self.doc.phone_default_country_code):
            self.problems.append(
                f"phone_default_country_code: {self.doc.phone_default_country_code!r} is not a country "
                "calling code like '+1' or '+44'"
            )
        for entity in Entity:
            self.entity(entity, getattr(self.doc, entity.value))

    def entity(self, entity: Entity, spec: EntitySpec) -> None:
        where = entity.value
        names: dict[str, str] = {}
        writers: dict[tuple[Side, str], str] = {}

        def claim_name(name: str, loc: str) -> None:
            if name in names:
                self.problems.append(f"{loc}: canonical field name {name!r} is already used by {names[name]}")
            else:
                names[name] = loc

        def claim_target(side: Side, target: str, loc: str, direction: Direction) -> None:
            if not direction.allows(side.other):
                return
            key = (side, target)
            if key in writers:
                self.problems.append(
                    f"{loc}: direction conflict: {side.value} field {target!r} is already written by "
                    f"{writers[key]}; one target can have one source only"
                )
            else:
                writers[key] = loc

        if spec.name is not None:
            self.name_spec(entity, spec.name, f"{where}.name")
            claim_name("first_name", f"{where}.name")
            claim_name("last_name", f"{where}.name")
            for side, binding in ((Side.GHL, spec.name.ghl), (Side.RANKR, spec.name.rankr)):
                for attr in (binding.first, binding.last, binding.full):
                    if attr:
                        claim_target(side, attr, f"{where}.name", spec.name.direction)
        for i, f in enumerate(spec.fields):
            loc = f"{where}.fields[{i}] ({f.name})"
            claim_name(f.name, loc)
            self.field_spec(entity, f, loc)
            for side, attr in ((Side.GHL, f.ghl), (Side.RANKR, f.rankr)):
                if attr:
                    claim_target(side, attr, loc, f.direction)
        for i, c in enumerate(spec.custom_fields):
            loc = f"{where}.custom_fields[{i}] ({c.name})"
            claim_name(c.name, loc)
            if entity is not Entity.CONTACT:
                self.problems.append(f"{loc}: custom fields exist on contacts only, not on {entity.value}s")
                continue
            if not c.ghl_id and not c.ghl_key:
                self.problems.append(f"{loc}: give the GHL custom field's 'ghl_id' or 'ghl_key'")
            self.transforms(c.transforms, FieldKind.ANY, loc)
            if c.ghl_id:
                claim_target(Side.GHL, f"customFields#{c.ghl_id}", loc, c.direction)
            if c.ghl_key:
                claim_target(Side.GHL, f"customFields#{c.ghl_key}", loc, c.direction)
            claim_target(Side.RANKR, f"customFields.{c.rankr}", loc, c.direction)
        self.delete_spec(entity, spec.delete, f"{where}.delete")

    def name_spec(self, entity: Entity, spec: NameSpec, loc: str) -> None:
        if entity is not Entity.CONTACT:
            self.problems.append(f"{loc}: a name mapping exists for contacts only")
            return
        for side, binding in ((Side.GHL, spec.ghl), (Side.RANKR, spec.rankr)):
            catalogue = (GHL_FIELDS if side is Side.GHL else RANKR_FIELDS)[entity]
            if not (binding.first or binding.last or binding.full):
                self.problems.append(f"{loc}.{side.value}: map at least one of first, last, full")
            for part in ("first", "last", "full"):
                attr = getattr(binding, part)
                if attr and attr not in catalogue:
                    self.problems.append(
                        f"{loc}.{side.value}.{part}: unknown {side.value.upper()} {entity.value} field "
                        f"{attr!r}; known: {_known(catalogue)}"
                    )
                elif attr and spec.direction.allows(side.other) and not catalogue[attr].on_create:
                    self.problems.append(
                        f"{loc}.{side.value}.{part}: direction conflict: {side.value} field {attr!r} is "
                        f"read-only but direction {spec.direction.value!r} writes it"
                    )

    def field_spec(self, entity: Entity, f: FieldSpec, loc: str) -> None:
        kinds: list[FieldKind] = []
        for side, attr in ((Side.GHL, f.ghl), (Side.RANKR, f.rankr)):
            catalogue = (GHL_FIELDS if side is Side.GHL else RANKR_FIELDS)[entity]
            if attr is None:
                role = "writes to" if f.direction.allows(side.other) else "reads from"
                self.problems.append(
                    f"{loc}: direction {f.direction.value!r} {role} {side.value} but no {side.value!r} "
                    "attribute is given"
                )
                continue
            if attr in (GHL_CUSTOM_FIELDS_ATTR, RANKR_CUSTOM_FIELDS_ATTR):
                self.problems.append(f"{loc}: map custom fields under 'custom_fields', not as {attr!r}")
                continue
            spec = catalogue.get(attr)
            if spec is None:
                self.problems.append(
                    f"{loc}: unknown {side.value.upper()} {entity.value} field {attr!r}; "
                    f"known: {_known(catalogue)}"
                )
                continue
            kinds.append(spec.kind)
            if f.direction.allows(side.other) and not (spec.on_create or spec.on_update):
                self.problems.append(
                    f"{loc}: direction conflict: {side.value} field {attr!r} is read-only but direction "
                    f"{f.direction.value!r} writes it"
                )
        if len(set(kinds)) > 1:
            self.problems.append(
                f"{loc}: the two sides hold different kinds of value ({kinds[0].value} vs {kinds[1].value})"
            )
        self.transforms(f.transforms, kinds[0] if kinds else FieldKind.ANY, loc)

    def transforms(self, names: list[str], kind: FieldKind, loc: str) -> None:
        for name in names:
            if name not in tf.TRANSFORMS:
                self.problems.append(
                    f"{loc}: unknown transform {name!r}; known: {', '.join(sorted(tf.TRANSFORMS))}"
                )
            elif kind not in tf.TRANSFORMS[name][1]:
                self.problems.append(f"{loc}: transform {name!r} does not apply to a {kind.value} field")

    def delete_spec(self, entity: Entity, spec: DeleteSpec, loc: str) -> None:
        if entity is not Entity.CONTACT and spec.rankr_to_ghl is DeletePolicy.SOFT:
            self.problems.append(
                f"{loc}.rankr_to_ghl: 'soft' means tagging the GHL record, and only contacts have tags; "
                "use 'propagate' or 'ignore'"
            )
        if entity is Entity.APPOINTMENT and spec.rankr_to_ghl is DeletePolicy.PROPAGATE:
            self.problems.append(f"{loc}.rankr_to_ghl: GHL appointments are read-only for the connector")


def _compile_entity(doc: MappingDocument, entity: Entity, spec: EntitySpec) -> EntityMapping:
    ghl_catalogue, rankr_catalogue = GHL_FIELDS[entity], RANKR_FIELDS[entity]
    default_conflict = spec.conflict or doc.conflict
    compiled: list[MappedField] = []

    def transforms_for(kind: FieldKind, extra: list[str]) -> tuple[str, ...]:
        base = tf.BASE_TRANSFORMS[kind]
        return base + tuple(t for t in extra if t not in base)

    if spec.name is not None:
        name_parts: tuple[tuple[str, _NamePart, _NamePart], ...] = (
            ("first_name", _NamePart(spec.name.ghl, "first"), _NamePart(spec.name.rankr, "first")),
            ("last_name", _NamePart(spec.name.ghl, "last"), _NamePart(spec.name.rankr, "last")),
        )
        for name, ghl_part, rankr_part in name_parts:
            compiled.append(
                MappedField(
                    name=name,
                    kind=FieldKind.STRING,
                    direction=spec.name.direction,
                    conflict=spec.name.conflict or default_conflict,
                    transforms=transforms_for(FieldKind.STRING, []),
                    ghl=ghl_part,
                    rankr=rankr_part,
                )
            )
    for f in spec.fields:
        kind = (
            ghl_catalogue.get(f.ghl or "") or rankr_catalogue.get(f.rankr or "") or SideField(FieldKind.ANY)
        ).kind
        compiled.append(
            MappedField(
                name=f.name,
                kind=kind,
                direction=f.direction,
                conflict=f.conflict or default_conflict,
                transforms=transforms_for(kind, f.transforms),
                ghl=_Path(f.ghl) if f.ghl else None,
                rankr=_Path(f.rankr) if f.rankr else None,
            )
        )
    for c in spec.custom_fields:
        compiled.append(
            MappedField(
                name=c.name,
                kind=FieldKind.ANY,
                direction=c.direction,
                conflict=c.conflict or default_conflict,
                transforms=transforms_for(FieldKind.ANY, c.transforms),
                ghl=_GhlCustom(c.ghl_id, c.ghl_key),
                rankr=_RankrCustom(c.rankr),
            )
        )
    return EntityMapping(
        entity=entity,
        enabled=spec.enabled,
        fields=tuple(compiled),
        delete=spec.delete,
        tie_breaker=doc.tie_breaker,
        options=TransformOptions(doc.phone_default_country_code),
    )


def load_mapping(data: AbcMapping[str, Any] | MappingDocument, *, source: str | None = None) -> FieldMapping:
    """Validate and compile a mapping document. Raises `MappingError` listing every problem."""
    from pydantic import ValidationError

    from rankr_ghl.sync.mapping_document import MappingDocument, pydantic_problems

    if isinstance(data, MappingDocument):
        doc = data
    else:
        if not isinstance(data, AbcMapping):
            raise MappingError(["the mapping must be an object (JSON) or a mapping (YAML)"], source)
        try:
            doc = MappingDocument.model_validate(dict(data))
        except ValidationError as err:
            raise MappingError(pydantic_problems(err), source) from None
    checker = _Checker(doc)
    checker.run()
    if checker.problems:
        raise MappingError(checker.problems, source)
    canonical_json = json.dumps(doc.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    entities = {e: _compile_entity(doc, e, getattr(doc, e.value)) for e in Entity}
    return FieldMapping(doc, entities, hashlib.sha256(canonical_json.encode()).hexdigest()[:16])


def parse_mapping_text(
    text: str, *, fmt: Literal["json", "yaml"] = "json", source: str | None = None
) -> FieldMapping:
    if fmt == "yaml":
        try:
            import yaml  # dev dependency only: not shipped in the Lambda layer
        except ImportError:
            raise MappingError(
                ["YAML mappings need PyYAML, which is not installed here; use the JSON form"], source
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise MappingError([f"not valid YAML: {err}"], source) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise MappingError(
                [f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"], source
            ) from None
    return load_mapping(data, source=source)


def load_mapping_file(path: str | Path) -> FieldMapping:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise MappingError([f"cannot read the file: {err.strerror}"], str(p)) from None
    fmt: Literal["json", "yaml"] = "yaml" if p.suffix.lower() in {".yaml", ".yml"} else "json"
    return parse_mapping_text(text, fmt=fmt, source=str(p))


_DEFAULT: FieldMapping | None = None
_DEFAULT_LOCK = threading.Lock()


def default_mapping() -> FieldMapping:
    """The built-in mapping (default_mapping.json next to this module), compiled once."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            text = resources.files("rankr_ghl.sync").joinpath("default_mapping.json").read_text("utf-8")
            _DEFAULT = parse_mapping_text(text, source="default_mapping.json")
        return _DEFAULT


__all__ = [
    "GHL_CUSTOM_FIELDS_ATTR",
    "GHL_FIELDS",
    "RANKR_CUSTOM_FIELDS_ATTR",
    "RANKR_FIELDS",
    "TIMESTAMP_FIELDS",
    "EntityMapping",
    "FieldMapping",
    "GhlWrite",
    "MappedField",
    "MappingError",
    "SideField",
    "default_mapping",
    "load_mapping",
    "load_mapping_file",
    "parse_mapping_text",
]
