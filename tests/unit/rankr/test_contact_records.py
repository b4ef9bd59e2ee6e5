"""The client's contact record calls and the records adapter over them: the same requests, answers
and errors as the typed contact calls, with no pydantic loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from rankr_ghl.ports import RankrPage
from rankr_ghl.rankr import (
    ContactCreate,
    ContactUpdate,
    RankrClient,
    RankrError,
    RankrNotFound,
    RankrValidationError,
)
from rankr_ghl.rankr.records import RankrClientRecords
from rankr_ghl.sync.types import Entity
from rankr_ghl.wire_values import WireFormatError

BASE = "https://rankr.test"
TS = "2025-01-31T12:00:00.000Z"


def contact_json(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "con_1",
        "firstName": "Ann",
        "lastName": None,
        "email": "ann@example.com",
        "phone": None,
        "company": None,
        "source": "GHL",
        "tags": ["vip"],
        "customFields": {"score": 7, "opt_in": True, "langs": ["en"]},
        "createdAt": "2025-01-31T12:00:00Z",
        "updatedAt": "2025-01-31T13:00:00.5+01:00",
        "deletedAt": None,
        "addedLater": {"x": 1},
    }
    body.update(over)
    return body


Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


class Transport:
    """Answers in order (the last one repeats) and keeps every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer if isinstance(answer, httpx.Response) else answer(request)


def client_over(transport: Transport) -> RankrClient:
    return RankrClient(BASE, "sk_test", transport=httpx.MockTransport(transport), sleep=lambda _: None)


def request_facts(request: httpx.Request) -> tuple[str, str, str | None, Any]:
    body = json.loads(request.content) if request.content else None
    return request.method, str(request.url), request.headers.get("Idempotency-Key"), body


def dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json", by_alias=True))


# ------------------------------------------------------------------ the same calls as the typed ones


def test_create_sends_and_returns_what_the_typed_create_does() -> None:
    body = {
        "firstName": "Ann",
        "email": "ann@example.com",
        "phone": None,
        "customFields": {"n": 3, "x": None},
    }
    typed, wire = (
        Transport(httpx.Response(201, json=contact_json())),
        Transport(httpx.Response(201, json=contact_json())),
    )
    expected = client_over(typed).create_contact(
        "acc 1", ContactCreate.model_validate(body), idempotency_key="k1"
    )
    created = client_over(wire).create_contact_record("acc 1", body, idempotency_key="k1")
    assert created == dump(expected)
    assert request_facts(wire.requests[0]) == request_facts(typed.requests[0])
    assert json.loads(wire.requests[0].content) == {
        "firstName": "Ann",
        "email": "ann@example.com",
        "customFields": {"n": 3, "x": None},
    }
    assert created["updatedAt"] == "2025-01-31T12:00:00.500Z" and "addedLater" not in created


def test_patch_sends_only_the_fields_given_as_the_typed_patch_does() -> None:
    changes = {"phone": None, "tags": [], "customFields": {"old": None}}
    typed, wire = (
        Transport(httpx.Response(200, json=contact_json())),
        Transport(httpx.Response(200, json=contact_json())),
    )
    expected = client_over(typed).update_contact("a", "con_1", ContactUpdate.model_validate(changes))
    assert client_over(wire).update_contact_record("a", "con_1", changes) == dump(expected)
    assert request_facts(wire.requests[0]) == request_facts(typed.requests[0])
    assert json.loads(wire.requests[0].content) == changes


def test_get_and_list_read_what_the_typed_calls_read() -> None:
    page = {"items": [contact_json(), contact_json(id="con_2", deletedAt=TS)], "nextCursor": "next=="}
    typed, wire = Transport(httpx.Response(200, json=page)), Transport(httpx.Response(200, json=page))
    since = datetime(2025, 1, 1, tzinfo=UTC)
    expected = client_over(typed).list_contacts(
        "a", updated_since=since, include_deleted=True, cursor="c", limit=50
    )
    records = client_over(wire).list_contact_records(
        "a", updated_since=since, include_deleted=True, cursor="c", limit=50
    )
    assert records.items == [dump(item) for item in expected.items]
    assert records.next_cursor == expected.next_cursor == "next=="
    assert request_facts(wire.requests[0]) == request_facts(typed.requests[0])
    assert records.items[1]["deletedAt"] == TS

    one = Transport(httpx.Response(200, json=contact_json()))
    assert client_over(one).get_contact_record("a", "con/1") == dump(
        client_over(one).get_contact("a", "con/1")
    )
    assert {r.url.raw_path for r in one.requests} == {b"/v1/accounts/a/contacts/con%2F1"}


def test_a_body_with_an_unknown_or_over_long_field_never_leaves() -> None:
    transport = Transport(httpx.Response(201, json=contact_json()))
    client = client_over(transport)
    with pytest.raises(WireFormatError) as info:
        client.create_contact_record("a", {"firstName": "Ann", "nickname": "A"}, idempotency_key="k")
    assert info.value.errors()[0]["loc"] == ("nickname",)
    with pytest.raises(ValueError, match="phone"):
        client.update_contact_record("a", "c", {"phone": "1" * 51})
    assert transport.requests == []


def test_an_answer_that_is_not_a_contact_is_a_rankr_error_without_the_body() -> None:
    for answer in (
        httpx.Response(200, json=contact_json(createdAt=None, email=["ann.private@example.com"])),
        httpx.Response(200, json=["ann.private@example.com"]),
        httpx.Response(200, content=b"ann.private@example.com {"),
    ):
        with pytest.raises(RankrError) as info:
            client_over(Transport(answer)).get_contact_record("a", "c")
        assert info.value.title == "Unexpected Rankr response body" and info.value.status == 200
        assert (info.value.detail or "").startswith("Contact: ")
        assert "ann.private" not in str(info.value)
    with pytest.raises(RankrError, match="ContactPage"):
        client_over(Transport(httpx.Response(200, json={"items": [{}]}))).list_contact_records("a")


def test_record_calls_retry_and_raise_as_the_typed_calls() -> None:
    problem = {"type": "https://rankr.example/problems/unavailable", "title": "Unavailable", "status": 503}
    flaky = Transport(
        httpx.Response(503, json=problem, headers={"Content-Type": "application/problem+json"}),
        httpx.Response(201, json=contact_json()),
    )
    client_over(flaky).create_contact_record("a", {"email": "a@b.c"}, idempotency_key="same")
    assert [r.headers["Idempotency-Key"] for r in flaky.requests] == ["same", "same"]
    assert len({r.content for r in flaky.requests}) == 1

    invalid = {"type": "https://rankr.example/problems/validation", "title": "Invalid", "status": 422}
    refusing = Transport(
        httpx.Response(422, json=invalid, headers={"Content-Type": "application/problem+json"})
    )
    with pytest.raises(RankrValidationError):
        client_over(refusing).update_contact_record("a", "c", {"email": "not-an-email"})
    missing = Transport(httpx.Response(404, json={"title": "Not found", "status": 404}))
    with pytest.raises(RankrNotFound):
        client_over(missing).get_contact_record("a", "c")


# ------------------------------------------------------------------ the records adapter


def test_the_adapter_reads_and_writes_contacts_as_dicts_and_none_on_404() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/gone"):
            return httpx.Response(404, json={"title": "Not found", "status": 404})
        if request.method == "DELETE":
            return httpx.Response(204)
        if request.method == "GET" and request.url.path.endswith("/contacts"):
            return httpx.Response(200, json={"items": [contact_json()], "nextCursor": None})
        return httpx.Response(201 if request.method == "POST" else 200, json=contact_json())

    transport = Transport(answer)
    client = client_over(transport)
    records = RankrClientRecords(lambda: client)
    expected = dump(client.get_contact("a", "con_1"))
    assert records.get("a", Entity.CONTACT, "con_1", None) == expected
    assert records.get("a", Entity.CONTACT, "gone", None) is None
    assert records.create("a", Entity.CONTACT, {"firstName": "Ann"}, None, "key-1") == expected
    assert records.update("a", Entity.CONTACT, "con_1", {"lastName": None}, None) == expected
    records.delete("a", Entity.CONTACT, "con_1", None)
    records.delete("a", Entity.CONTACT, "gone", None)  # already gone: nothing to do
    page = records.list_contacts("a", updated_since=None, include_deleted=False, cursor=None, limit=10)
    assert page == RankrPage([expected], None)
    sent = [(r.method, r.url.path.rsplit("/", 1)[-1], r.content) for r in transport.requests[1:]]
    assert sent[2:5] == [
        ("POST", "contacts", b'{"firstName":"Ann"}'),
        ("PATCH", "con_1", b'{"lastName":null}'),
        ("DELETE", "con_1", b""),
    ]
    with pytest.raises(ValueError):
        records.create("a", Entity.CONTACT, {"first_name": "a", "firstName": "b"}, None, "key-2")


def test_a_contact_event_through_the_adapter_never_loads_pydantic() -> None:
    """What a contact webhook's first event does on the Rankr side, in a fresh interpreter."""
    code = f"""
import sys, httpx
from rankr_ghl.rankr.client import RankrClient
from rankr_ghl.rankr.records import RankrClientRecords
from rankr_ghl.sync.types import Entity

contact = {json.dumps(contact_json())!r}

def answer(request):
    if request.url.path.endswith("/missing"):
        return httpx.Response(404, json={{"title": "Not found", "status": 404}})
    if request.method == "DELETE":
        return httpx.Response(204)
    if request.method == "GET" and request.url.path.endswith("/contacts"):
        return httpx.Response(200, content='{{"items": [' + contact + '], "nextCursor": null}}')
    return httpx.Response(200, content=contact)

client = RankrClient("https://rankr.test", "k", transport=httpx.MockTransport(answer))
records = RankrClientRecords(lambda: client)
assert records.get("a", Entity.CONTACT, "missing", None) is None
created = records.create("a", Entity.CONTACT, {{"firstName": "Ann", "customFields": {{"n": 1}}}}, None, "k1")
updated = records.update("a", Entity.CONTACT, created["id"], {{"email": None}}, None)
assert records.get("a", Entity.CONTACT, updated["id"], None)["createdAt"] == "2025-01-31T12:00:00.000Z"
records.delete("a", Entity.CONTACT, created["id"], None)
records.list_contacts("a", updated_since=None, include_deleted=True, cursor=None, limit=5)
loaded = sorted(m for m in sys.modules if m.startswith(("pydantic", "rankr_ghl.rankr.")))
assert not [m for m in loaded if m.startswith("pydantic")], loaded
assert "rankr_ghl.rankr.contact_models" not in loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True)
