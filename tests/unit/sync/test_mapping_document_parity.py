"""`parse_document` accepts and refuses exactly the mapping documents the pydantic models it replaced did,
and the problems an operator reads are worded the same.

The pydantic models below are the previous implementation, kept verbatim as the reference; each
document is read by both: the accepted ones must dump to the same JSON (the digest is computed from
it), the refused ones must produce the same problem lines.
"""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rankr_ghl.sync.mapping import MappingError, default_mapping, load_mapping
from rankr_ghl.sync.mapping_document import document_problems, parse_document
from rankr_ghl.sync.types import ConflictPolicy, DeletePolicy, Direction, Side
from rankr_ghl.wire_values import WireFormatError

# -- the reference -------------------------------------------------------------------------------


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


# -- the comparison ----------------------------------------------------------------------------------


def assert_same(document: Any) -> None:
    try:
        expected = MappingDocument.model_validate(copy.deepcopy(document))
    except ValidationError as refused:
        with pytest.raises(WireFormatError) as ours:
            parse_document(copy.deepcopy(document))
        assert document_problems(ours.value) == pydantic_problems(refused), document
        return
    parsed = parse_document(copy.deepcopy(document))
    assert parsed.to_json() == expected.model_dump(mode="json"), document
    assert json.dumps(parsed.to_json()) == json.dumps(expected.model_dump(mode="json"))  # order too


DEFAULT = json.loads(
    (Path(__file__).resolve().parents[3] / "layers/rankr_ghl/rankr_ghl/sync/default_mapping.json").read_text()
)


def _docs_example() -> dict[str, Any]:
    text = (Path(__file__).resolve().parents[3] / "docs/field-mapping.md").read_text()
    block = text.split("```jsonc", 1)[1].split("```", 1)[0]
    block = re.sub(r"//.*", "", block).replace(
        '"task": {"fields": [...], "delete": {...}}, "note": {...}, "appointment": {...}',
        '"task": {"fields": []}',
    )
    example: dict[str, Any] = json.loads(block)
    return example


MINIMAL: dict[str, Any] = {"contact": {}}

VALID: list[Any] = [
    DEFAULT,
    _docs_example(),
    MINIMAL,
    {"contact": {"enabled": "yes"}, "task": {"enabled": 0}, "note": {"enabled": "off"}},
    {"version": 1, "description": None, "contact": {"name": None, "conflict": None}},
    {"contact": {"custom_fields": [{"name": "x", "rankr": "x", "ghl_key": "k", "conflict": "ghl_wins"}]}},
    {"contact": {"delete": {}}, "tie_breaker": "rankr", "conflict": "rankr_wins"},
    {"contact": {"fields": [{"name": "a" * 64}]}},
    {"contact": {"fields": ({"name": "tuple_items"},)}},
    {"version": True, "contact": {}},
    {"version": 1.0, "contact": {}},
    {"contact": {"enabled": 1.0}, "task": {"enabled": "TRUE"}},
]

INVALID: list[Any] = [
    {},
    {"contact": None},
    {"contact": []},
    {"contact": {}, "colour": "red"},
    {"contact": {"colour": "red"}},
    {"version": 2, "contact": {}},
    {"version": "1", "contact": {}},
    {"description": 5, "contact": {}},
    {"phone_default_country_code": None, "contact": {}},
    {"conflict": "oldest", "contact": {}},
    {"conflict": None, "contact": {}},
    {"tie_breaker": "both", "contact": {}},
    {"contact": {"enabled": "maybe"}},
    {"contact": {"enabled": None}},
    {"contact": {"enabled": 2}},
    {"contact": {"enabled": []}},
    {"contact": {"enabled": 2.5}},
    {"contact": {"enabled": " true"}},
    {"contact": {"enabled": -1}},
    {"contact": {"conflict": "x"}},
    {"contact": {"name": {}}},
    {"contact": {"name": "first"}},
    {"contact": {"name": {"ghl": {"first": 1}, "rankr": {"nick": "x"}, "direction": "up"}}},
    {"contact": {"fields": {}}},
    {"contact": {"fields": "email"}},
    {"contact": {"fields": ["email", None, {}]}},
    {"contact": {"fields": [{"name": "Email"}, {"name": ""}, {"name": "a" * 65}, {"name": 5}]}},
    {"contact": {"fields": [{"name": "ok", "direction": "sideways", "transforms": "trim", "extra": 1}]}},
    {"contact": {"fields": [{"name": "ok", "transforms": ["trim", 5, None]}]}},
    {"contact": {"fields": [{"name": "ok", "ghl": 5, "rankr": ["x"], "conflict": "loud"}]}},
    {"contact": {"custom_fields": [{"name": "x"}]}},
    {"contact": {"custom_fields": [{"name": "x", "rankr": ""}, {"name": "y", "rankr": "r" * 101}]}},
    {"contact": {"custom_fields": [{"name": "x", "rankr": "x", "ghl_id": 5, "ghl_key": []}]}},
    {"contact": {"delete": None}},
    {"contact": {"delete": {"ghl_to_rankr": "hard", "rankr_to_ghl": 1, "ghl_deleted_tag": ""}}},
    {"contact": {"delete": {"ghl_deleted_tag": "t" * 101, "x": 1}}},
    {"contact": {}, "task": None, "note": "x", "appointment": {"enabled": "no", "zz": 1}},
    {"colour": 1, "contact": {"fields": [{"name": "A", "zz": 1}], "zz": 2}, "zz": 3},
    {True: 1, "contact": {}},
    {1: "x", "contact": {None: 1}},
]


@pytest.mark.parametrize("document", VALID)
def test_valid_documents_read_the_same(document: Any) -> None:
    parse_document(copy.deepcopy(document))
    assert_same(document)


@pytest.mark.parametrize("document", INVALID)
def test_broken_documents_get_the_same_problems(document: Any) -> None:
    with pytest.raises(WireFormatError):
        parse_document(copy.deepcopy(document))
    assert_same(document)


def test_the_default_mapping_keeps_its_digest() -> None:
    expected = MappingDocument.model_validate(DEFAULT).model_dump(mode="json")
    assert default_mapping().document.to_json() == expected
    assert load_mapping(expected).digest == default_mapping().digest


def test_an_operator_reads_every_structural_problem_with_its_location() -> None:
    with pytest.raises(MappingError) as refused:
        load_mapping({"contact": {"fields": [{"name": "Email", "direction": "up"}]}, "colour": "red"})
    assert refused.value.problems == [
        "contact.fields[0].name: String should match pattern '^[a-z][a-z0-9_]*$'",
        "contact.fields[0].direction: Input should be 'ghl_to_rankr', 'rankr_to_ghl' or 'both'",
        "colour: unknown setting (not part of the mapping format)",
    ]


def test_mutations_of_the_default_mapping_read_the_same() -> None:
    replacements: list[Any] = [None, "", "x", "both", "soft", 0, 1, True, 2.5, [], ["x"], {}, {"x": 1}]
    for key in [*DEFAULT, "unknown"]:
        for value in replacements:
            assert_same({**DEFAULT, key: value})
    for entity in ("contact", "task", "note", "appointment"):
        for key in ["enabled", "conflict", "name", "fields", "custom_fields", "delete", "unknown"]:
            for value in replacements:
                assert_same({**DEFAULT, entity: {**DEFAULT[entity], key: value}})
        for key in ["name", "ghl", "rankr", "direction", "transforms", "conflict", "unknown"]:
            for value in replacements:
                fields = copy.deepcopy(DEFAULT[entity]["fields"])
                fields[0][key] = value
                assert_same({**DEFAULT, entity: {**DEFAULT[entity], "fields": fields}})
        for key in ["ghl_to_rankr", "rankr_to_ghl", "ghl_deleted_tag", "unknown"]:
            for value in replacements:
                delete = {**DEFAULT[entity]["delete"], key: value}
                assert_same({**DEFAULT, entity: {**DEFAULT[entity], "delete": delete}})


def test_random_mixtures_read_the_same() -> None:
    rng = random.Random(7)
    pool = [d for d in VALID + INVALID if isinstance(d, dict)]
    for _ in range(200):
        left, right = rng.choice(pool), rng.choice(pool)
        mixed = {**left, **{k: v for k, v in right.items() if rng.random() < 0.5}}
        if isinstance(mixed.get("contact"), dict) and isinstance(right.get("contact"), dict):
            mixed["contact"] = {**mixed["contact"], **right["contact"]}
        assert_same(mixed)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(["both", "soft", "newer_wins", "a", ""]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "ghl", "rankr", "enabled", "fields", "x"]), inner, max_size=3
        )
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([*DEFAULT, "zz"]), _json, max_size=5))
def test_arbitrary_documents_read_the_same(document: dict[str, Any]) -> None:
    assert_same(document)
