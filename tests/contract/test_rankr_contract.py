"""Contract: every request RankrClient sends and every response the Rankr sandbox returns conforms to
docs/rankr-api.yaml (validated with openapi-core), over every operation of the document."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from rankr_ghl.rankr import (
    AppointmentPut,
    ContactCreate,
    ContactUpdate,
    NoteCreate,
    NoteUpdate,
    RankrClient,
    RankrError,
    TaskCreate,
    TaskUpdate,
)
from rankr_ghl_tools.rankr_sandbox import RankrSandbox
from werkzeug.datastructures import Headers, ImmutableMultiDict

pytestmark = [pytest.mark.contract, pytest.mark.integration]

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "rankr-api.yaml"
SPEC_HOST = "https://api.rankr.example"
ACC = "acc_contract"
SEMANTIC_422_ID = "evt_unknown_contact"  # well-formed body, rejected because the contact does not exist


class OpenAPIRequest:
    """httpx.Request as openapi-core's Request protocol (host mapped to the spec's server)."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(request.url.query.decode(), keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return SPEC_HOST

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._request.content or None

    @property
    def content_type(self) -> str:
        return self._request.headers.get("Content-Type", "").lower()


class OpenAPIResponse:
    def __init__(self, status: int, headers: httpx.Headers, content: bytes) -> None:
        self.status_code = status
        self.headers = Headers(list(headers.items()))
        self.data = content
        self.content_type = headers.get("Content-Type", "").lower()


@dataclass
class Exchange:
    request: httpx.Request
    status: int
    headers: httpx.Headers
    content: bytes
    from_client: bool

    @property
    def label(self) -> str:
        return f"{self.request.method} {self.request.url.path} -> {self.status}"


class RecordingTransport(httpx.BaseTransport):
    """Passes requests to a real HTTP transport and keeps a copy of each exchange."""

    def __init__(self, log: list[Exchange], *, from_client: bool) -> None:
        self._inner = httpx.HTTPTransport()
        self._log = log
        self._from_client = from_client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        response = self._inner.handle_request(request)
        content = response.read()
        response.close()
        self._log.append(
            Exchange(request, response.status_code, response.headers, content, self._from_client)
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    # problem+json is JSON; openapi-core only knows application/json out of the box.
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_file_path(str(SPEC_PATH), config=config)


@pytest.fixture(scope="module")
def traffic() -> Iterator[list[Exchange]]:
    """Drive every operation, success and error paths, through the client (and raw calls for errors the
    client makes impossible), recording all exchanges."""
    log: list[Exchange] = []
    with RankrSandbox() as sandbox:
        client = RankrClient(
            sandbox.url,
            sandbox.api_key,
            transport=RecordingTransport(log, from_client=True),
            max_retries=1,
            backoff_base=0.001,
        )
        raw = httpx.Client(
            base_url=sandbox.url,
            transport=RecordingTransport(log, from_client=False),
            headers={"Authorization": f"Bearer {sandbox.api_key}"},
        )
        _exercise(client, raw, sandbox)
        client.close()
        raw.close()
    yield log


def _expect_error(call: object, *args: object, **kwargs: object) -> None:
    with pytest.raises(RankrError):
        call(*args, **kwargs)  # type: ignore[operator]


def _exercise(client: RankrClient, raw: httpx.Client, sandbox: RankrSandbox) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    body = ContactCreate(
        first_name="Ann",
        last_name="Lee",
        email="ann@example.com",
        phone="+1 555 0100",
        company="Acme",
        source="GHL",
        tags=["vip"],
        custom_fields={"score": 7, "ratio": 0.5, "plan": "pro", "on": True, "list": ["a"], "gone": None},
    )
    contact = client.create_contact(ACC, body, idempotency_key="c-1")
    client.create_contact(ACC, body, idempotency_key="c-1")  # replay: 200 + Idempotent-Replayed
    _expect_error(client.create_contact, ACC, ContactCreate(first_name="Bob"), idempotency_key="c-1")  # 409
    _expect_error(
        client.create_contact, ACC, ContactCreate(email="not-an-email"), idempotency_key="c-2"
    )  # 422
    client.create_contact(ACC, ContactCreate(), idempotency_key="c-3")
    client.get_contact(ACC, contact.id)
    _expect_error(client.get_contact, ACC, "con_missing")  # 404
    client.update_contact(ACC, contact.id, ContactUpdate(phone=None, tags=[], custom_fields={"score": None}))
    client.update_contact(ACC, contact.id, ContactUpdate())  # no-op patch
    _expect_error(client.update_contact, ACC, contact.id, ContactUpdate(email="bad"))  # 422
    sandbox.admin.seed(ACC, 12)
    list(client.iter_contacts(ACC, page_size=5))
    list(client.iter_contacts(ACC, updated_since=start, include_deleted=False, page_size=500))

    task = client.create_task(
        ACC,
        contact.id,
        TaskCreate(title="Call", body="b", due_date=start + timedelta(days=1), assignee="u1"),
        idempotency_key="t-1",
    )
    client.create_task(
        ACC,
        contact.id,
        TaskCreate(title="Call", body="b", due_date=start + timedelta(days=1), assignee="u1"),
        idempotency_key="t-1",
    )
    _expect_error(client.create_task, ACC, "con_missing", TaskCreate(title="x"), idempotency_key="t-2")
    client.get_task(ACC, contact.id, task.id)
    client.update_task(ACC, contact.id, task.id, TaskUpdate(completed=True, due_date=None, assignee=None))
    client.list_tasks(ACC, contact.id, include_deleted=True, limit=1)
    list(client.iter_tasks(ACC, contact.id, updated_since=start))
    client.delete_task(ACC, contact.id, task.id)
    client.delete_task(ACC, contact.id, task.id)
    _expect_error(client.update_task, ACC, contact.id, task.id, TaskUpdate(title="late"))  # 409 deleted
    _expect_error(client.get_task, ACC, contact.id, "tsk_missing")

    note = client.create_note(ACC, contact.id, NoteCreate(body="hello", title="t"), idempotency_key="n-1")
    client.create_note(ACC, contact.id, NoteCreate(body="hello", title="t"), idempotency_key="n-1")
    client.get_note(ACC, contact.id, note.id)
    client.update_note(ACC, contact.id, note.id, NoteUpdate(title=None))
    client.list_notes(ACC, contact.id)
    client.delete_note(ACC, contact.id, note.id)
    _expect_error(client.get_note, ACC, contact.id, "not_missing")
    _expect_error(client.update_note, ACC, contact.id, "not_missing", NoteUpdate(body="x"))

    mirror = AppointmentPut(
        status="confirmed",
        start_time=start,
        end_time=start + timedelta(hours=1),
        title="Demo",
        contact_id=contact.id,
        calendar_id="cal_1",
    )
    client.put_appointment(ACC, "evt_1", mirror)  # 201
    client.put_appointment(ACC, "evt_1", mirror.model_copy(update={"status": "cancelled"}))  # 200
    client.put_appointment(ACC, "evt_2", mirror.model_copy(update={"contact_id": None, "title": None}))
    _expect_error(
        client.put_appointment, ACC, SEMANTIC_422_ID, mirror.model_copy(update={"contact_id": "con_nope"})
    )
    client.get_appointment(ACC, "evt_1")
    _expect_error(client.get_appointment, ACC, "evt_missing")
    client.list_appointments(ACC, contact_id=contact.id, include_deleted=True)
    list(client.iter_appointments(ACC, updated_since=start, page_size=1))
    client.delete_appointment(ACC, "evt_1")
    _expect_error(client.delete_appointment, ACC, "evt_missing")

    client.delete_contact(ACC, contact.id)
    client.delete_contact(ACC, contact.id)
    _expect_error(client.delete_contact, ACC, "con_missing")
    _expect_error(client.update_contact, ACC, contact.id, ContactUpdate(first_name="x"))  # 409 deleted
    client.get_contact(ACC, contact.id)  # deleted: still 200 with deletedAt

    # Faulted responses (429 with Retry-After, 5xx) must be problem+json as documented.
    for fault in ("rate429", "rate500", "rate502", "rate503"):
        sandbox.admin.set_faults(**{fault: 1.0, "retry_after_seconds": 0})
        _expect_error(client.get_contact, ACC, contact.id)
    sandbox.admin.clear_faults()

    # Errors the client cannot produce: responses are still validated against the document.
    raw.post(f"/v1/accounts/{ACC}/contacts", json={"firstName": "A"})  # 400 missing Idempotency-Key
    raw.post(f"/v1/accounts/{ACC}/contacts", content=b"{not json", headers={"Idempotency-Key": "r-1"})
    raw.get(f"/v1/accounts/{ACC}/contacts", params={"limit": "501"})
    raw.get(f"/v1/accounts/{ACC}/contacts", params={"cursor": "garbage"})
    raw.get(f"/v1/accounts/{ACC}/contacts", headers={"Authorization": "Bearer wrong"})  # 401


def test_traffic_covers_every_operation_of_the_document(traffic: list[Exchange]) -> None:
    spec = yaml.safe_load(SPEC_PATH.read_text())
    operations = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    patterns = {(m, p): re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", p) + "$") for m, p in operations}
    seen = {
        op
        for ex in traffic
        if ex.from_client
        for op, pattern in patterns.items()
        if op[0] == ex.request.method and pattern.match(ex.request.url.path)
    }
    assert seen == operations
    statuses = {ex.status for ex in traffic}
    assert {200, 201, 204, 400, 401, 404, 409, 422, 429, 500, 503} <= statuses


def test_every_client_request_conforms(openapi: OpenAPI, traffic: list[Exchange]) -> None:
    """Every request conforms, except those the exercise made invalid on purpose to get a 422: those
    must be invalid per the document too (the sandbox and the contract agree on what is invalid)."""
    failures = []
    rejected_by_both = 0
    for exchange in traffic:
        if not exchange.from_client:
            continue
        errors = list(openapi.iter_request_errors(OpenAPIRequest(exchange.request)))
        semantic = exchange.request.url.path.endswith(SEMANTIC_422_ID)
        if exchange.status == 422 and not semantic:
            rejected_by_both += 1
            if not errors:
                failures.append(f"{exchange.label}: sandbox said 422 but the request conforms")
        elif errors:
            failures.append(f"{exchange.label}: {errors!r}")
    assert not failures, "\n".join(failures)
    assert rejected_by_both == 2  # the two invalid e-mails


def test_every_sandbox_response_conforms(openapi: OpenAPI, traffic: list[Exchange]) -> None:
    failures = []
    for exchange in traffic:
        response = OpenAPIResponse(exchange.status, exchange.headers, exchange.content)
        try:
            openapi.validate_response(OpenAPIRequest(exchange.request), response)
        except Exception as exc:
            failures.append(f"{exchange.label}: {exc!r} {getattr(exc, '__cause__', '')!r}")
        if exchange.status >= 400:
            assert exchange.headers["Content-Type"] == "application/problem+json", exchange.label
        if exchange.status == 429:
            assert exchange.headers["Retry-After"].isdigit(), exchange.label
    assert not failures, "\n".join(failures)


def test_validation_is_not_vacuous(openapi: OpenAPI, traffic: list[Exchange]) -> None:
    """A response missing a required field, or a request with an unknown field, must be rejected."""
    get_contact = next(
        ex
        for ex in traffic
        if ex.request.method == "GET" and ex.status == 200 and ex.request.url.path.count("/") == 5
    )
    broken = get_contact.content.replace(b'"updatedAt"', b'"updatedAtX"')
    with pytest.raises(Exception, match="(?i)invalid|valid"):
        openapi.validate_response(
            OpenAPIRequest(get_contact.request), OpenAPIResponse(200, get_contact.headers, broken)
        )
    bad_request = httpx.Request(
        "POST",
        f"{SPEC_HOST}/v1/accounts/{ACC}/contacts",
        json={"firstName": "A", "nickname": "B"},
        headers={"Idempotency-Key": "k", "Authorization": "Bearer x"},
    )
    with pytest.raises(Exception, match="(?i)invalid|valid"):
        openapi.validate_request(OpenAPIRequest(bad_request))
