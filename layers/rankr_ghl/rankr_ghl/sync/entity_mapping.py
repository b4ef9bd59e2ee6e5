"""The compiled mapping of one entity: read a record of either side into canonical fields, write a
canonical dict back into a Rankr or GHL request body."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from rankr_ghl.sync import transforms as tf
from rankr_ghl.sync.field_catalogue import (
    GHL_CUSTOM_FIELDS_ATTR,
    GHL_FIELDS,
    RANKR_CUSTOM_FIELDS_ATTR,
    RANKR_FIELDS,
    TIMESTAMP_FIELDS,
)
from rankr_ghl.sync.mapping_document import DeleteSpec, NameBinding
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


@dataclass(frozen=True)
class PathAccessor:
    """A top-level attribute of a record."""

    attr: str

    def read(self, record: AbcMapping[str, Any]) -> Any:
        return record.get(self.attr)


@dataclass(frozen=True)
class NamePartAccessor:
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
class GhlCustomAccessor:
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
class RankrCustomAccessor:
    key: str

    def read(self, record: AbcMapping[str, Any]) -> Any:
        values = record.get(RANKR_CUSTOM_FIELDS_ATTR) or {}
        return values.get(self.key) if isinstance(values, AbcMapping) else None


Accessor = PathAccessor | NamePartAccessor | GhlCustomAccessor | RankrCustomAccessor


@dataclass(frozen=True)
class MappedField:
    name: str
    kind: FieldKind
    direction: Direction
    conflict: ConflictPolicy
    transforms: tuple[str, ...]
    ghl: Accessor | None
    rankr: Accessor | None

    def accessor(self, side: Side) -> Accessor | None:
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
        if isinstance(accessor, PathAccessor):
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
            if isinstance(accessor, PathAccessor):
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
    accessor: Accessor | None,
    name: str,
    canonical: AbcMapping[str, Any],
    custom_attr: str,
    *,
    ghl: bool,
) -> None:
    value = canonical.get(name)
    if isinstance(accessor, PathAccessor):
        body[accessor.attr] = value
    elif isinstance(accessor, NamePartAccessor):
        part_attr = accessor.binding.first if accessor.part == "first" else accessor.binding.last
        if part_attr:
            body[part_attr] = value
        elif accessor.binding.full:
            # The side cannot hold this part on its own: write the joined full name instead. (A side
            # with both parts never gets `full` from us: a joined value could go stale there.)
            body[accessor.binding.full] = tf.join_name(
                canonical.get("first_name"), canonical.get("last_name")
            )
    elif isinstance(accessor, GhlCustomAccessor) and ghl:
        item: dict[str, Any] = {"id": accessor.field_id} if accessor.field_id else {"key": accessor.key}
        item["field_value"] = value
        body.setdefault(custom_attr, []).append(item)
    elif isinstance(accessor, RankrCustomAccessor):
        body.setdefault(custom_attr, {})[accessor.key] = value
