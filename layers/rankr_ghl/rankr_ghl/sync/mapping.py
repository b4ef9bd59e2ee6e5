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
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from rankr_ghl.sync import transforms as tf
from rankr_ghl.sync.entity_mapping import (
    EntityMapping,
    GhlCustomAccessor,
    GhlWrite,
    MappedField,
    NamePartAccessor,
    PathAccessor,
    RankrCustomAccessor,
)
from rankr_ghl.sync.field_catalogue import (
    GHL_CUSTOM_FIELDS_ATTR,
    GHL_FIELDS,
    RANKR_CUSTOM_FIELDS_ATTR,
    RANKR_FIELDS,
    TIMESTAMP_FIELDS,
    SideField,
)
from rankr_ghl.sync.mapping_checks import DocumentChecker, MappingError
from rankr_ghl.sync.mapping_document import EntitySpec, MappingDocument, document_problems, parse_document
from rankr_ghl.sync.transforms import FieldKind, TransformOptions
from rankr_ghl.sync.types import Entity
from rankr_ghl.wire_values import WireFormatError


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
        raw = self.document.to_json()
        for entity_name in ("contact", "task", "note", "appointment"):
            for spec in raw[entity_name]["custom_fields"]:
                key = spec.get("ghl_key")
                if not spec.get("ghl_id") and key:
                    resolved = key_to_id.get(key) or key_to_id.get(key.removeprefix("contact."))
                    if resolved:
                        spec["ghl_id"] = resolved
        return load_mapping(raw)


def _compile_entity(doc: MappingDocument, entity: Entity, spec: EntitySpec) -> EntityMapping:
    ghl_catalogue, rankr_catalogue = GHL_FIELDS[entity], RANKR_FIELDS[entity]
    default_conflict = spec.conflict or doc.conflict
    compiled: list[MappedField] = []

    def transforms_for(kind: FieldKind, extra: list[str]) -> tuple[str, ...]:
        base = tf.BASE_TRANSFORMS[kind]
        return base + tuple(t for t in extra if t not in base)

    if spec.name is not None:
        name_parts: tuple[tuple[str, NamePartAccessor, NamePartAccessor], ...] = (
            (
                "first_name",
                NamePartAccessor(spec.name.ghl, "first"),
                NamePartAccessor(spec.name.rankr, "first"),
            ),
            ("last_name", NamePartAccessor(spec.name.ghl, "last"), NamePartAccessor(spec.name.rankr, "last")),
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
                ghl=PathAccessor(f.ghl) if f.ghl else None,
                rankr=PathAccessor(f.rankr) if f.rankr else None,
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
                ghl=GhlCustomAccessor(c.ghl_id, c.ghl_key),
                rankr=RankrCustomAccessor(c.rankr),
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
    if isinstance(data, MappingDocument):
        doc = data
    else:
        if not isinstance(data, AbcMapping):
            raise MappingError(["the mapping must be an object (JSON) or a mapping (YAML)"], source)
        try:
            doc = parse_document(data)
        except WireFormatError as err:
            raise MappingError(document_problems(err), source) from None
    checker = DocumentChecker(doc)
    checker.run()
    if checker.problems:
        raise MappingError(checker.problems, source)
    canonical_json = json.dumps(doc.to_json(), sort_keys=True, separators=(",", ":"))
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
