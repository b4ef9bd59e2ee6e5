from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes import InMemoryMappingConfigSource
from rankr_ghl.sync.mapping import (
    MappingError,
    default_mapping,
    load_mapping,
    load_mapping_file,
)
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.types import DeleteAction, Entity, Side


def default_doc() -> dict[str, Any]:
    return copy.deepcopy(default_mapping().document.to_json())


GHL_CONTACT = {
    "id": "g1",
    "firstName": " Ann ",
    "lastName": "Lee",
    "name": "Ann Lee",
    "email": " Ann@Example.COM",
    "phone": "+1 555-123-4567",
    "companyName": "Acme",
    "tags": ["VIP", "lead"],
    "source": "Website",
    "dateUpdated": "2025-01-02T03:04:05.678Z",
    "customFields": [{"id": "cf_industry", "value": " Retail "}],
}
RANKR_CONTACT = {
    "id": "r1",
    "firstName": "Ann",
    "lastName": "Lee",
    "email": "ann@example.com",
    "phone": "(555) 123-4567",
    "company": "Acme",
    "tags": ["vip", "Lead"],
    "source": "Website",
    "customFields": {"industry": "Retail"},
    "updatedAt": "2025-01-01T00:00:00.000Z",
}


def with_custom_field() -> Any:
    doc = default_doc()
    doc["contact"]["custom_fields"] = [{"name": "industry", "ghl_id": "cf_industry", "rankr": "industry"}]
    return load_mapping(doc)


def test_both_sides_map_to_the_same_canonical_form() -> None:
    m = with_custom_field().contact
    ghl, rankr = m.from_ghl(GHL_CONTACT), m.from_rankr(RANKR_CONTACT)
    assert ghl == rankr
    assert ghl["phone"] == "+15551234567"
    assert ghl["email"] == "ann@example.com"
    assert ghl["tags"] == ["lead", "vip"]
    assert ghl["industry"] == "Retail"


def test_full_name_is_split_when_parts_are_missing() -> None:
    m = default_mapping().contact
    assert m.from_ghl({"name": "Mary Ann Smith"})["first_name"] == "Mary"
    assert m.from_ghl({"name": "Mary Ann Smith"})["last_name"] == "Ann Smith"


def test_rankr_payload_from_ghl() -> None:
    m = with_custom_field().contact
    body = m.to_rankr(m.from_ghl(GHL_CONTACT))
    assert body == {
        "firstName": "Ann",
        "lastName": "Lee",
        "email": "ann@example.com",
        "phone": "+15551234567",
        "company": "Acme",
        "tags": ["lead", "vip"],
        "source": "Website",
        "customFields": {"industry": "Retail"},
    }
    assert m.to_rankr(m.from_ghl(GHL_CONTACT), only=["email"]) == {"email": "ann@example.com"}


def test_ghl_update_never_carries_tags_or_company() -> None:
    m = with_custom_field().contact
    canonical = m.from_rankr({**RANKR_CONTACT, "tags": ["vip", "new"]})
    write = m.to_ghl(canonical, mode="update", current=m.from_ghl(GHL_CONTACT))
    assert "tags" not in write.body and "companyName" not in write.body
    assert write.tags_to_add == ["new"] and write.tags_to_remove == ["lead"]
    assert write.not_writable == ["company"]
    assert write.body["customFields"] == [{"id": "cf_industry", "field_value": "Retail"}]


def test_ghl_create_body() -> None:
    m = default_mapping().contact
    write = m.to_ghl(
        m.from_rankr({"firstName": "Bo", "email": "B@X.io", "tags": ["T"], "company": "Co"}), mode="create"
    )
    assert write.body == {"firstName": "Bo", "email": "b@x.io", "tags": ["t"], "companyName": "Co"}


def test_custom_field_by_key_writes_key_and_reads_by_resolved_id() -> None:
    doc = default_doc()
    doc["contact"]["custom_fields"] = [{"name": "budget", "ghl_key": "contact.budget", "rankr": "budget"}]
    m = load_mapping(doc)
    assert m.contact.to_ghl({"budget": 10}, mode="update").body["customFields"] == [
        {"key": "contact.budget", "field_value": 10}
    ]
    resolved = m.with_custom_field_ids({"contact.budget": "cf9"})
    assert resolved.contact.from_ghl({"customFields": [{"id": "cf9", "value": 10}]})["budget"] == 10


def test_direction_limits_payloads() -> None:
    doc = default_doc()
    doc["contact"]["fields"] = [
        {"name": "email", "ghl": "email", "rankr": "email", "direction": "ghl_to_rankr"},
        {"name": "phone", "ghl": "phone", "rankr": "phone", "direction": "rankr_to_ghl"},
    ]
    m = load_mapping(doc).contact
    canonical = {"email": "a@b.c", "phone": "+15551234567"}
    assert m.to_rankr(canonical, only=["email", "phone"]) == {"email": "a@b.c"}
    assert m.to_ghl(canonical, only=["email", "phone"]).body == {"phone": "+15551234567"}
    assert m.fields_flowing(Side.GHL) == ("first_name", "last_name", "email")


def test_tasks_notes_appointments_have_their_own_mappings() -> None:
    mapping = default_mapping()
    task = mapping.for_entity(Entity.TASK)
    ghl_task = {
        "title": " Call ",
        "body": "x",
        "dueDate": "2025-02-01T10:00:00.000Z",
        "completed": False,
        "assignedTo": "u1",
    }
    assert task.to_rankr(task.from_ghl(ghl_task)) == {
        "title": "Call",
        "body": "x",
        "dueDate": "2025-02-01T10:00:00Z",
        "completed": False,
        "assignee": "u1",
    }
    assert "assignedTo" not in task.to_ghl(task.from_ghl(ghl_task)).body  # assignee flows GHL -> Rankr only
    appt = mapping.for_entity(Entity.APPOINTMENT)
    rec = {
        "appointmentStatus": "Confirmed",
        "startTime": "2021-07-16 11:00:00",
        "endTime": "2021-07-16 12:00:00",
        "title": "Demo",
    }
    assert appt.to_rankr(appt.from_ghl(rec))["startTime"] == "2021-07-16T11:00:00Z"
    assert appt.to_ghl(appt.from_ghl(rec)).body == {}
    note = mapping.for_entity(Entity.NOTE)
    assert note.to_ghl(note.from_rankr({"body": "hi", "title": "T"})).body == {"body": "hi", "title": "T"}


def test_delete_policies() -> None:
    m = default_mapping()
    assert m.contact.delete_action(Side.GHL) is DeleteAction.SOFT_DELETE
    assert m.contact.delete_action(Side.RANKR) is DeleteAction.TAG  # never a hard delete by default
    assert m.contact.deleted_tag == "rankr:deleted"
    assert m.for_entity(Entity.TASK).delete_action(Side.RANKR) is DeleteAction.NONE
    doc = default_doc()
    doc["contact"]["delete"] = {"ghl_to_rankr": "ignore", "rankr_to_ghl": "propagate"}
    custom = load_mapping(doc).contact
    assert custom.delete_action(Side.GHL) is DeleteAction.NONE
    assert custom.delete_action(Side.RANKR) is DeleteAction.DELETE


def test_timestamps() -> None:
    m = default_mapping().contact
    assert m.timestamp(Side.GHL, GHL_CONTACT) is not None
    assert m.timestamp(Side.RANKR, {}) is None
    assert m.timestamp(Side.RANKR, RANKR_CONTACT) < m.timestamp(Side.GHL, GHL_CONTACT)  # type: ignore[operator]


def test_invalid_mapping_lists_every_problem() -> None:
    doc = default_doc()
    doc["contact"]["fields"] = [
        {"name": "email", "ghl": "emial", "rankr": "email"},  # unknown field
        {
            "name": "phone",
            "ghl": "phone",
            "rankr": "phone",
            "transforms": ["e164", "uppercase"],
        },  # bad transform
        {"name": "tags", "ghl": "tags", "rankr": "tags", "transforms": ["e164"]},  # wrong kind
        {"name": "added", "ghl": "dateAdded", "rankr": "source", "direction": "rankr_to_ghl"},  # read-only
        {"name": "email2", "ghl": "email", "rankr": "company", "direction": "rankr_to_ghl"},
        {"name": "email3", "ghl": "email", "rankr": "source", "direction": "rankr_to_ghl"},  # 2 writers
        {"name": "orphan", "rankr": "source", "direction": "both"},  # missing side
        {"name": "email", "ghl": "phone", "rankr": "phone", "direction": "ghl_to_rankr"},  # duplicate name
    ]
    doc["task"]["delete"] = {"rankr_to_ghl": "soft"}
    doc["phone_default_country_code"] = "1"
    with pytest.raises(MappingError) as err:
        load_mapping(doc)
    problems = err.value.problems
    text = "\n".join(problems)
    assert "unknown GHL contact field 'emial'" in text
    assert "unknown transform 'uppercase'" in text
    assert "transform 'e164' does not apply to a list field" in text
    assert "'dateAdded' is read-only" in text
    assert "direction conflict: ghl field 'email' is already written by" in text
    assert "no 'ghl' attribute is given" in text
    assert "canonical field name 'email' is already used" in text
    assert "only contacts have tags" in text
    assert "phone_default_country_code" in text
    assert len(problems) >= 9
    assert all("\n" not in p for p in problems)


def test_structural_problems_are_reported_per_location() -> None:
    doc = default_doc()
    doc["contact"]["fields"][0]["direction"] = "sideways"
    doc["contact"]["colour"] = "blue"
    with pytest.raises(MappingError) as err:
        load_mapping(doc)
    assert any(p.startswith("contact.fields[0].direction:") for p in err.value.problems)
    assert any("contact.colour: unknown setting" in p for p in err.value.problems)


def test_load_json_and_yaml_files(tmp_path: Path) -> None:
    doc = default_doc()
    jpath = tmp_path / "m.json"
    jpath.write_text(json.dumps(doc))
    assert load_mapping_file(jpath).digest == default_mapping().digest
    ypath = tmp_path / "m.yaml"
    ypath.write_text(yaml.safe_dump(doc))
    assert load_mapping_file(ypath).digest == default_mapping().digest
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(MappingError, match="not valid JSON"):
        load_mapping_file(bad)


def test_resolver_prefers_location_then_account_then_default_and_caches() -> None:
    source = InMemoryMappingConfigSource()
    now = [0.0]
    resolver = MappingResolver(source, ttl_s=60, clock=lambda: now[0])
    assert resolver.for_location("L1") is default_mapping()
    doc = default_doc()
    doc["contact"]["fields"] = doc["contact"]["fields"][:1]
    source.by_account["A1"] = doc
    assert resolver.for_location("L2", "A1").contact.field_names == ("first_name", "last_name", "email")
    source.by_location["L2"] = default_doc()
    assert (
        resolver.for_location("L2", "A1").contact.field_names != default_mapping().contact.field_names
    )  # cached
    now[0] = 61
    assert resolver.for_location("L2", "A1").contact.field_names == default_mapping().contact.field_names
    source.by_location["L3"] = {
        "version": 1,
        "contact": {"fields": [{"name": "x", "ghl": "nope", "rankr": "email"}]},
    }
    with pytest.raises(MappingError):
        resolver.for_location("L3")


def test_a_primed_document_is_cached_as_a_read_one_would_be() -> None:
    source = InMemoryMappingConfigSource()
    now = [0.0]
    resolver = MappingResolver(source, ttl_s=60, clock=lambda: now[0])
    doc = default_doc()
    doc["contact"]["fields"] = doc["contact"]["fields"][:1]
    assert not resolver.is_cached("L1", "A1")

    resolver.prime("L1", "A1", doc)

    assert resolver.is_cached("L1", "A1") and not resolver.is_cached("L1")
    assert resolver.for_location("L1", "A1").contact.field_names == ("first_name", "last_name", "email")
    assert source.reads == 0
    resolver.prime("L2", None, None)
    assert resolver.for_location("L2") is default_mapping()
    now[0] = 61
    assert not resolver.is_cached("L1", "A1")
    assert resolver.for_location("L1", "A1") is default_mapping() and source.reads == 1
    with pytest.raises(MappingError):
        resolver.prime(
            "L3", None, {"version": 1, "contact": {"fields": [{"name": "x", "ghl": "no", "rankr": "e"}]}}
        )
    assert not resolver.is_cached("L3")
