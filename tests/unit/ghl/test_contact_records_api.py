"""The wire-format contact calls (`contact_records_api`, used by `GhlClientRecords`) send and return
what the typed calls send and return (`.to_api()`), keep the client's rules (creates never
repeated, location filled in and checked, 404 -> None in the adapter, wrong shapes -> GHLError)
and load no pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from rankr_ghl.ghl import models as m
from rankr_ghl.ghl.client import GHLClient
from rankr_ghl.ghl.errors import GHLError, GHLServerError
from rankr_ghl.ghl.records import GhlClientRecords
from rankr_ghl.ghl.tokens import StaticTokenSource
from rankr_ghl.wire_values import WireFormatError

CONTACT: dict[str, Any] = {
    "id": "c1",
    "locationId": "loc1",
    "firstName": "Ada",
    "email": "ada@example.com",
    "tags": ["rankr", "VIP"],
    "dateAdded": 1717676657497,
    "dateUpdated": "2024-06-06 12:44:17",
    "dndSettings": {"Email": {"status": "active"}},
    "customFields": [{"id": "cf1", "value": 3}],
    "birthMonth": "12",
    "businessId": None,
    "createdBy": {"source": "INTEGRATION"},
    "searchAfter": [1717676657497, "c1"],
}
BODY: dict[str, Any] = {
    "firstName": "Ada",
    "email": "ada@example.com",
    "tags": ["rankr"],
    "dnd": "false",
    "customFields": [{"key": "contact.score", "field_value": None}],
}


class Recorder:
    def __init__(self, answers: list[httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def client(self) -> GHLClient:
        def handler(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.answers.pop(0)

        return GHLClient(
            StaticTokenSource("tok"),
            base_url="https://ghl.test",
            transport=httpx.MockTransport(handler),
            backoff_base_s=0,
            backoff_max_s=0,
            sleep=lambda _: None,
        )

    def sent(self) -> list[tuple[str, str, Any]]:
        return [(r.method, r.url.path, json.loads(r.content) if r.content else None) for r in self.requests]


def both_ways(
    answers: Callable[[], list[httpx.Response]],
    typed: Callable[[GHLClient], Any],
    wire: Callable[[GHLClient], Any],
) -> tuple[Any, Any]:
    """Runs the typed and the wire call against the same answers: same requests, and both results."""
    typed_run, wire_run = Recorder(answers()), Recorder(answers())
    typed_result, wire_result = typed(typed_run.client()), wire(wire_run.client())
    assert wire_run.sent() == typed_run.sent()
    return typed_result, wire_result


def ok(body: Any, status: int = 200) -> Callable[[], list[httpx.Response]]:
    return lambda: [httpx.Response(status, json=body)]


def upserted(answer: Any) -> tuple[Any, Any]:
    return answer.contact.to_api(), answer.new


def typed_page(page: Any) -> tuple[Any, ...]:
    return [contact.to_api() for contact in page.contacts], page.total, page.next_search_after


def wire_page(page: Any) -> tuple[Any, ...]:
    return page.contacts, page.total, page.contacts[-1]["searchAfter"]


def test_get_create_upsert_update_read_what_the_typed_calls_read() -> None:
    typed, wire = both_ways(
        ok({"contact": CONTACT}),
        lambda c: c.get_contact("loc1", "c1").to_api(),
        lambda c: c.get_contact_record("loc1", "c1"),
    )
    assert wire == typed and wire["dateAdded"] == "2024-06-06T12:24:17.497000Z"
    typed, wire = both_ways(
        ok({"contact": CONTACT}, 201),
        lambda c: c.create_contact("loc1", m.ContactCreate.model_validate(BODY)).to_api(),
        lambda c: c.create_contact_record("loc1", BODY),
    )
    assert wire == typed
    typed, wire = both_ways(
        ok({"new": "true", "contact": CONTACT, "traceId": "t"}),
        lambda c: upserted(c.upsert_contact("loc1", m.ContactUpsert.model_validate(BODY))),
        lambda c: c.upsert_contact_record("loc1", BODY),
    )
    assert wire == typed and wire[1] is True
    typed, wire = both_ways(
        ok({"succeded": True, "contact": CONTACT}),
        lambda c: c.update_contact("loc1", "c1", m.ContactUpdate.model_validate(BODY)).contact.to_api(),
        lambda c: c.update_contact_record("loc1", "c1", BODY),
    )
    assert wire == typed


def test_search_and_duplicate_read_what_the_typed_calls_read() -> None:
    page = {"contacts": [CONTACT, {"id": "c2", "searchAfter": [2, "c2"]}], "total": 2}
    typed, wire = both_ways(
        ok(page),
        lambda c: typed_page(
            c.search_contacts_page("loc1", page_limit=2, page=1, sort=[{"field": "dateAdded"}])
        ),
        lambda c: wire_page(
            c.search_contact_records("loc1", page_limit=2, page=1, sort=[{"field": "dateAdded"}])
        ),
    )
    assert wire == typed and wire[2] == [2, "c2"]
    typed, wire = both_ways(
        ok({"contact": CONTACT}),
        lambda c: c.find_duplicate_contact("loc1", email="ada@example.com").to_api(),
        lambda c: c.find_duplicate_contact_record("loc1", email="ada@example.com"),
    )
    assert wire == typed


def test_a_wrong_shape_raises_the_error_the_model_raised() -> None:
    for answer, typed, wire in [
        (
            {"contact": {"id": 5}},
            lambda c: c.get_contact("loc1", "c1"),
            lambda c: c.get_contact_record("loc1", "c1"),
        ),
        (
            {"contact": {"id": "c1"}},
            lambda c: c.upsert_contact("loc1", m.ContactUpsert()),
            lambda c: c.upsert_contact_record("loc1", {}),
        ),
        (
            {"tags": None},
            lambda c: c.remove_tags("loc1", "c1", ["x"]),
            lambda c: c.remove_tags("loc1", "c1", ["x"]),
        ),
    ]:
        errors = []
        for call in (typed, wire):
            with pytest.raises(GHLError) as caught:
                call(Recorder([httpx.Response(200, json=answer)]).client())
            errors.append(str(caught.value))
        assert "unexpected response shape for " in errors[0]
        assert errors[1] == errors[0]


def test_creates_are_never_repeated_and_reads_are() -> None:
    for call in (
        lambda c: c.create_contact_record("loc1", BODY),
        lambda c: c.upsert_contact_record("loc1", BODY),
    ):
        run = Recorder([httpx.Response(502), httpx.Response(200, json={"contact": CONTACT, "new": True})])
        with pytest.raises(GHLServerError) as caught:
            call(run.client())
        assert caught.value.may_have_been_applied and len(run.requests) == 1
    run = Recorder([httpx.Response(502), httpx.Response(200, json={"contact": CONTACT})])
    assert run.client().get_contact_record("loc1", "c1")["id"] == "c1" and len(run.requests) == 2


def test_bodies_are_checked_and_located_before_ghl_sees_them() -> None:
    run = Recorder([])
    client = run.client()
    with pytest.raises(WireFormatError, match="emailAddress"):
        client.upsert_contact_record("loc1", {"emailAddress": "ada@example.com"})
    with pytest.raises(ValueError, match="location_id differs"):
        client.create_contact_record("loc1", {"locationId": "loc2"})
    assert run.requests == []
    run = Recorder([httpx.Response(201, json={"contact": CONTACT})])
    run.client().create_contact_record("loc1", {"firstName": "Ada", "location_id": "loc1"})
    assert run.sent() == [("POST", "/contacts/", {"firstName": "Ada", "locationId": "loc1"})]


def test_the_records_adapter_maps_404_to_none_and_update_without_id_to_none() -> None:
    run = Recorder(
        [
            httpx.Response(404, json={"message": "Contact not found"}),
            httpx.Response(404, json={"message": "Contact not found"}),
            httpx.Response(200, json={"succeded": True, "contact": {"firstName": "Ada"}}),
            httpx.Response(200, json={"contacts": [CONTACT]}),
        ]
    )
    client = run.client()
    records = GhlClientRecords(lambda: client)
    assert records.get_contact("loc1", "c1") is None
    assert records.delete_contact("loc1", "c1") is None
    assert records.update_contact("loc1", "c1", {"firstName": "Ada"}) is None
    found = records.find_contact_by_tag("loc1", "Rankr-1")
    assert found is not None and found["id"] == "c1"
    assert run.sent()[-1][2]["filters"] == [{"field": "tags", "operator": "eq", "value": "rankr-1"}]


def test_the_records_adapter_loads_no_pydantic_for_contacts() -> None:
    """The first event of a lead push or a contact webhook: read, upsert, tag, search one contact."""
    code = """
import sys, httpx
from rankr_ghl.ghl.client import GHLClient
from rankr_ghl.ghl.records import GhlClientRecords
from rankr_ghl.ghl.tokens import StaticTokenSource
contact = {"id": "c1", "tags": ["a"], "dateAdded": 1717676657497}
answers = [{"contact": contact}, {"new": True, "contact": contact}, {"tags": ["a", "b"]},
           {"contacts": [contact], "total": 1}, {"contact": None}, {"succeded": True, "contact": contact}]
client = GHLClient(StaticTokenSource("t"), base_url="https://ghl.test",
                   transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answers.pop(0))))
records = GhlClientRecords(lambda: client)
assert records.get_contact("loc1", "c1")["id"] == "c1"
assert records.upsert_contact_reporting_new("loc1", {"firstName": "Ada"}).new
assert records.add_tags("loc1", "c1", ["b"]) == ["a", "b"]
assert records.find_contact_by_tag("loc1", "a")["id"] == "c1"
assert records.find_duplicate_contact("loc1", email="a@b.c", phone=None) is None
assert records.update_contact("loc1", "c1", {"lastName": "L"})["id"] == "c1"
loaded = [m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True)
