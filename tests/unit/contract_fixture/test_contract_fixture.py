"""The GHL contract fixture keeps facts (paths, methods, headers, required fields, names, types) and
drops prose and sample values; the committed fixtures are what the generator writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rankr_ghl_tools import contract_fixture as cf

REPO_ROOT = Path(__file__).resolve().parents[3]


def _spec(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.0.0",
        "info": {"title": "T", "version": "1", "description": "prose"},
        "servers": [{"url": "https://services.leadconnectorhq.com", "description": "prose"}],
        "tags": [{"name": "Contacts"}],
        "paths": paths,
        "components": {"schemas": schemas},
    }


@pytest.fixture
def source(tmp_path: Path) -> Path:
    apps = tmp_path / "openapi" / "apps"
    (tmp_path / "openapi" / "common").mkdir(parents=True)
    apps.mkdir()
    (tmp_path / "openapi" / "common" / "common-schemas.json").write_text(json.dumps({
        "components": {"schemas": {"BadRequestDTO": {
            "type": "object", "properties": {"message": {"type": "string", "example": "Bad"}}}}}
    }))  # fmt: skip
    contact_op = {
        "summary": "Update Contact",
        "description": "prose",
        "operationId": "update-contact",
        "tags": ["Contacts"],
        "parameters": [
            {"name": "Version", "in": "header", "required": True, "description": "API Version",
             "schema": {"type": "string", "enum": ["2021-07-28"]}},
        ],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/UpdateDto"}}}},
        "responses": {
            "200": {"description": "ok", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/UpdateDto"}}}},
            "400": {"description": "bad", "content": {"application/json": {
                "schema": {"$ref": "../common/common-schemas.json#/components/schemas/BadRequestDTO"}}}},
        },
    }  # fmt: skip
    schemas = {
        "UpdateDto": {
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": {"type": "string", "example": "Call back", "description": "prose"},
                "description": {"type": "string", "example": "a property named description"},
                "dueDate": {"type": "string", "example": "2020-10-25T11:00:00Z"},
                "tags": {"type": "array", "items": {"type": "string"}, "example": ["a", "b"]},
            },
        },
        "Unused": {"type": "object", "properties": {"x": {"type": "integer"}}},
    }
    docs = {
        "contacts.json": _spec({"/contacts/{contactId}": {"put": contact_op}, "/other/": {}}, schemas),
        "oauth.json": _spec({}, {}),
        "calendars.json": _spec({}, {}),
        "locations.json": _spec({}, {}),
    }
    for name, doc in docs.items():
        (apps / name).write_text(json.dumps(doc))
    events = tmp_path / "webhook-events"
    events.mkdir()
    (events / "TaskCreate.example.json").write_text(json.dumps(
        {"type": "TaskCreate", "id": "t1", "dueDate": "2021-11-26T12:41:02.193Z", "done": False,
         "users": ["u1", "u2"], "trial": {"days": 10}}
    ))  # fmt: skip
    (events / "TaskCreate.schema.json").write_text("{}")
    return tmp_path


def test_keeps_facts_and_drops_prose_and_values(source: Path) -> None:
    doc = cf.contract_fixture(source)["contacts.json"]
    text = json.dumps(doc)
    assert "prose" not in text and "Call back" not in text and "update-contact" not in text
    assert list(doc["paths"]) == ["/contacts/{contactId}"]
    op = doc["paths"]["/contacts/{contactId}"]["put"]
    assert op["parameters"] == [
        {
            "name": "Version",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "enum": ["2021-07-28"]},
        }
    ]
    update = doc["components"]["schemas"]["UpdateDto"]
    assert update["required"] == ["title"]
    assert update["properties"] == {
        "title": {"type": "string", "x-example-shape": "string"},
        "description": {"type": "string", "x-example-shape": "string"},
        "dueDate": {"type": "string", "x-example-shape": "date-time"},
        "tags": {"type": "array", "items": {"type": "string"}, "x-example-shape": ["string"]},
    }
    bad = op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert bad == "#/components/schemas/common-schemas.BadRequestDTO"
    assert set(doc["components"]["schemas"]) == {"UpdateDto", "common-schemas.BadRequestDTO"}
    assert doc["servers"] == [{"url": "https://services.leadconnectorhq.com"}]


def test_webhook_events_keep_type_and_shape_only(source: Path) -> None:
    assert cf.webhook_events_fixture(source) == {
        "TaskCreate.example": {
            "type": "TaskCreate",
            "shape": {"type": "string", "id": "string", "dueDate": "date-time", "done": "boolean",
                      "users": ["string"], "trial": {"days": "integer"}},
        }
    }  # fmt: skip


def test_value_shapes() -> None:
    assert [cf.value_shape(v) for v in ("2021-07-16 11:00:00", "2021-07-16", "true", 1.5, None, [])] == [
        "date-time-space", "date", "boolean-text", "number", "null", []
    ]  # fmt: skip


def test_check_reports_stale_then_current_and_passes_without_source(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fixtures"
    out.mkdir()
    assert cf.main(["--source", str(source), "--out", str(out), "--check"]) == 1
    assert cf.main(["--source", str(source), "--out", str(out)]) == 0
    assert cf.main(["--source", str(source), "--out", str(out), "--check"]) == 0
    assert cf.main(["--source", str(tmp_path / "absent"), "--out", str(out), "--check"]) == 0
    assert "not found" in capsys.readouterr().out


def test_committed_fixtures_are_well_formed() -> None:
    contract = json.loads((REPO_ROOT / "tests" / "contract" / cf.CONTRACT_FILE).read_text())
    assert set(contract) == set(cf.SPEC_FILES)
    text = json.dumps(contract)
    assert '"example":' not in text and '"description": "' not in text and '"summary":' not in text
    events = json.loads((REPO_ROOT / "tests" / "contract" / cf.EVENTS_FILE).read_text())
    assert {event["type"] for event in events.values()} >= {"INSTALL", "UNINSTALL", "ContactCreate"}
