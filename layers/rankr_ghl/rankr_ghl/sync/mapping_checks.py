"""Checks of a mapping document beyond its schema: known fields, compatible transforms, delete rules."""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping

from rankr_ghl.sync import transforms as tf
from rankr_ghl.sync.field_catalogue import (
    GHL_CUSTOM_FIELDS_ATTR,
    GHL_FIELDS,
    RANKR_CUSTOM_FIELDS_ATTR,
    RANKR_FIELDS,
    SideField,
)
from rankr_ghl.sync.mapping_document import DeleteSpec, EntitySpec, FieldSpec, MappingDocument, NameSpec
from rankr_ghl.sync.transforms import FieldKind
from rankr_ghl.sync.types import (
    DeletePolicy,
    Direction,
    Entity,
    Side,
)


class MappingError(ValueError):
    """An invalid mapping document; `problems` holds one readable message per problem."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        summary = f"invalid field mapping{where}: {len(self.problems)} problem(s)"
        super().__init__(summary + "".join(f"\n  - {p}" for p in self.problems))


def _known(catalogue: AbcMapping[str, SideField]) -> str:
    return ", ".join(sorted(catalogue))


class DocumentChecker:
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
