"""The mapping document's structure (pydantic), kept apart from `rankr_ghl.sync.mapping`.

Only loading a document needs these models: building them costs cold start, and a handler whose first
event never loads a mapping (a location that is not connected, the reconcile planner) skips them.
`rankr_ghl.sync.mapping.load_mapping` imports this module on its first call.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rankr_ghl.sync.types import ConflictPolicy, DeletePolicy, Direction, Side

# --------------------------------------------------------------------------------------------------
# The document (pydantic: structure only; meaning is checked afterwards so that every problem is told)


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class FieldSpec(_Doc):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    ghl: str | None = None
    rankr: str | None = None
    direction: Direction = Direction.BOTH
    transforms: list[str] = Field(default_factory=list)
    conflict: ConflictPolicy | None = None


class CustomFieldSpec(_Doc):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    ghl_id: str | None = None
    ghl_key: str | None = None
    rankr: str = Field(min_length=1, max_length=100)
    direction: Direction = Direction.BOTH
    transforms: list[str] = Field(default_factory=list)
    conflict: ConflictPolicy | None = None


class NameBinding(_Doc):
    first: str | None = None
    last: str | None = None
    full: str | None = None


class NameSpec(_Doc):
    direction: Direction = Direction.BOTH
    conflict: ConflictPolicy | None = None
    ghl: NameBinding
    rankr: NameBinding


class DeleteSpec(_Doc):
    ghl_to_rankr: DeletePolicy = DeletePolicy.SOFT
    rankr_to_ghl: DeletePolicy = DeletePolicy.IGNORE
    ghl_deleted_tag: str = Field(default="rankr:deleted", min_length=1, max_length=100)


class EntitySpec(_Doc):
    enabled: bool = True
    conflict: ConflictPolicy | None = None
    name: NameSpec | None = None
    fields: list[FieldSpec] = Field(default_factory=list)
    custom_fields: list[CustomFieldSpec] = Field(default_factory=list)
    delete: DeleteSpec = Field(default_factory=DeleteSpec)


class MappingDocument(_Doc):
    version: Literal[1] = 1
    description: str | None = None
    phone_default_country_code: str = "+1"
    conflict: ConflictPolicy = ConflictPolicy.NEWER_WINS
    tie_breaker: Side = Side.GHL
    contact: EntitySpec
    task: EntitySpec = Field(default_factory=lambda: EntitySpec(enabled=False))
    note: EntitySpec = Field(default_factory=lambda: EntitySpec(enabled=False))
    appointment: EntitySpec = Field(default_factory=lambda: EntitySpec(enabled=False))


def pydantic_problems(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        loc = ""
        for part in e["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        if e["type"] == "extra_forbidden":
            problems.append(f"{loc}: unknown setting (not part of the mapping format)")
        else:
            problems.append(f"{loc or '(document)'}: {e['msg']}")
    return problems
