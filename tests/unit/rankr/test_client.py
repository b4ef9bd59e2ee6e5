"""RankrClient behaviour over httpx.MockTransport: retries, backoff, errors, wire format, logging."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest
from rankr_ghl.rankr import (
    ContactCreate,
    ContactUpdate,
    RankrBadRequest,
    RankrClient,
    RankrConflict,
    RankrConnectionError,
    RankrError,
    RankrForbidden,
    RankrIdempotencyKeyReused,
    RankrNotFound,
    RankrRateLimited,
    RankrResourceDeleted,
    RankrServerError,
    RankrTimeout,
    RankrUnauthorized,
    RankrValidationError,
    TaskUpdate,
    idempotency_key,
)

BASE = "https://rankr.test"
KEY = "sk_live_secret_value_123"
TS = "2025-01-31T12:00:00.000Z"


def contact_json(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "con_1",
        "firstName": "Ann",
        "lastName": None,
        "email": "ann@example.com",
        "phone": None,
        "company": None,
        "source": None,
        "tags": [],
        "customFields": {},
        "createdAt": TS,
        "updatedAt": TS,
        "deletedAt": None,
    }
    body.update(over)
    return body


def problem(status: int, name: str, detail: str = "", **extra: object) -> httpx.Response:
    body = {
        "type": f"https://rankr.example/problems/{name}",
        "title": name,
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    headers = {"Content-Type": "application/problem+json"}
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


class Recorder:
    """Scripted transport: answers from a list of responses/exceptions and records each request."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer


def make_client(recorder: Recorder, sleeps: list[float] | None = None, **kwargs: object) -> RankrClient:
    sleeps = sleeps if sleeps is not None else []
    return RankrClient(
        BASE,
        kwargs.pop("api_key", KEY),  # type: ignore[arg-type]
        transport=httpx.MockTransport(recorder),
        sleep=sleeps.append,
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


def test_create_sends_idempotency_key_auth_and_camel_case_body() -> None:
    rec = Recorder(httpx.Response(201, json=contact_json()))
    client = make_client(rec)
    created = client.create_contact(
        "acc 1",
        ContactCreate(first_name="Ann", email="ann@example.com", custom_fields={"n": 3}),
        idempotency_key="k1",
    )
    assert created.id == "con_1" and created.first_name == "Ann"
    req = rec.requests[0]
    assert req.method == "POST"
    assert req.url.raw_path == b"/v1/accounts/acc%201/contacts"
    assert req.headers["Idempotency-Key"] == "k1"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(req.content) == {
        "firstName": "Ann",
        "email": "ann@example.com",
        "customFields": {"n": 3},
    }


def test_patch_sends_only_set_fields_and_explicit_nulls() -> None:
    rec = Recorder(httpx.Response(200, json=contact_json()))
    make_client(rec).update_contact("a", "con_1", ContactUpdate(phone=None, custom_fields={"old": None}))
    assert json.loads(rec.requests[0].content) == {"phone": None, "customFields": {"old": None}}


def test_task_patch_serialises_due_date_in_rankr_format() -> None:
    task = {
        "id": "t",
        "contactId": "c",
        "title": "x",
        "body": None,
        "dueDate": TS,
        "completed": True,
        "assignee": None,
        "createdAt": TS,
        "updatedAt": TS,
        "deletedAt": None,
    }
    rec = Recorder(httpx.Response(200, json=task))
    due = datetime(2025, 1, 31, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    make_client(rec).update_task("a", "c", "t", TaskUpdate(due_date=due, completed=True))
    assert json.loads(rec.requests[0].content) == {"dueDate": "2025-01-31T12:00:00.123Z", "completed": True}


def test_retries_5xx_with_same_idempotency_key_then_succeeds() -> None:
    rec = Recorder(
        problem(503, "unavailable"), problem(502, "bad-gateway"), httpx.Response(201, json=contact_json())
    )
    sleeps: list[float] = []
    client = make_client(rec, sleeps, backoff_base=0.5, backoff_cap=4.0)
    client.create_contact("a", ContactCreate(first_name="Ann"), idempotency_key="same-key")
    assert len(rec.requests) == 3
    assert {r.headers["Idempotency-Key"] for r in rec.requests} == {"same-key"}
    assert len({r.content for r in rec.requests}) == 1
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0  # full jitter under base * 2**attempt


def test_backoff_is_full_jitter_capped() -> None:
    rec = Recorder(problem(500, "internal"))
    sleeps: list[float] = []
    client = make_client(rec, sleeps, max_retries=8, backoff_base=1.0, backoff_cap=3.0)
    with pytest.raises(RankrServerError):
        client.get_contact("a", "c")
    assert len(sleeps) == 8
    assert all(0 <= s <= 3.0 for s in sleeps)
    assert len(set(sleeps)) == 8  # jittered, not a fixed schedule
    assert max(sleeps[3:]) > 1.0  # later attempts may wait beyond the base


def test_gives_up_after_max_retries_with_typed_retryable_error() -> None:
    rec = Recorder(problem(500, "internal", "boom"))
    client = make_client(rec, max_retries=2)
    with pytest.raises(RankrServerError) as info:
        client.create_contact("a", ContactCreate(), idempotency_key="k")
    assert len(rec.requests) == 3
    assert info.value.status == 500 and info.value.retryable and info.value.may_have_been_applied


def test_429_honours_retry_after_seconds() -> None:
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": "3"}, json={"title": "slow down", "status": 429}),
        httpx.Response(200, json=contact_json()),
    )
    sleeps: list[float] = []
    make_client(rec, sleeps, backoff_base=0.1).get_contact("a", "con_1")
    assert len(rec.requests) == 2
    assert sleeps == [3.0]


def test_429_honours_retry_after_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=20)
    rec = Recorder(
        httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}),
        httpx.Response(200, json=contact_json()),
    )
    sleeps: list[float] = []
    make_client(rec, sleeps).get_contact("a", "con_1")
    assert 15 <= sleeps[0] <= 21


def test_429_with_retry_after_beyond_limit_is_raised_at_once() -> None:
    rec = Recorder(httpx.Response(429, headers={"Retry-After": "120"}))
    sleeps: list[float] = []
    with pytest.raises(RankrRateLimited) as info:
        make_client(rec, sleeps, max_retry_after=30).get_contact("a", "c")
    assert sleeps == [] and len(rec.requests) == 1
    assert info.value.retry_after == 120 and info.value.retryable


def test_timeouts_and_connection_errors_are_retried_then_typed() -> None:
    rec = Recorder(
        httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.Response(200, json=contact_json())
    )
    assert make_client(rec).get_contact("a", "con_1").id == "con_1"
    assert len(rec.requests) == 3

    with pytest.raises(RankrTimeout) as timeout:
        make_client(Recorder(httpx.ReadTimeout("slow")), max_retries=1).create_contact(
            "a", ContactCreate(), idempotency_key="k"
        )
    assert timeout.value.retryable and timeout.value.may_have_been_applied

    dropped = Recorder(httpx.RemoteProtocolError("Server disconnected"))
    with pytest.raises(RankrConnectionError) as conn:
        make_client(dropped, max_retries=2).delete_contact("a", "c")
    assert len(dropped.requests) == 3 and conn.value.retryable


@pytest.mark.parametrize(
    ("response", "error_type"),
    [
        (problem(400, "bad-request"), RankrBadRequest),
        (problem(401, "unauthorized"), RankrUnauthorized),
        (problem(403, "forbidden"), RankrForbidden),
        (problem(404, "not-found"), RankrNotFound),
        (problem(409, "idempotency-key-reused"), RankrIdempotencyKeyReused),
        (problem(409, "resource-deleted"), RankrResourceDeleted),
        (problem(409, "something-else"), RankrConflict),
        (problem(422, "validation"), RankrValidationError),
    ],
)
def test_client_errors_map_to_types_and_are_not_retried(
    response: httpx.Response, error_type: type[RankrError]
) -> None:
    rec = Recorder(response)
    with pytest.raises(error_type) as info:
        make_client(rec).get_contact("a", "c")
    assert type(info.value) is error_type
    assert len(rec.requests) == 1
    assert not info.value.retryable


@pytest.mark.parametrize(
    ("members", "resource_id", "resource_location"),
    [
        (
            {"resourceId": "con_9", "resourceLocation": "/v1/accounts/a/contacts/con_9"},
            "con_9",
            "/v1/accounts/a/contacts/con_9",
        ),
        ({}, None, None),  # a Rankr that does not name it: nothing to adopt
        ({"resourceId": "../../etc", "resourceLocation": 7}, None, None),  # malformed: never adopted
        ({"resourceId": ""}, None, None),
    ],
)
def test_idempotency_key_reused_exposes_the_record_the_key_created(
    members: dict[str, object], resource_id: str | None, resource_location: str | None
) -> None:
    rec = Recorder(problem(409, "idempotency-key-reused", **members))
    with pytest.raises(RankrIdempotencyKeyReused) as info:
        make_client(rec).create_contact("a", ContactCreate(first_name="Bob"), idempotency_key="k1")
    assert (info.value.resource_id, info.value.resource_location) == (resource_id, resource_location)
    assert len(rec.requests) == 1 and not info.value.retryable


def test_validation_error_keeps_fields_and_redacts_pii() -> None:
    rec = Recorder(
        problem(
            422,
            "validation",
            "email bob@example.com is invalid",
            errors=[{"field": "email", "message": "bob@example.com is not an address"}],
        )
    )
    with pytest.raises(RankrValidationError) as info:
        make_client(rec).create_contact("a", ContactCreate(email="bob@example.com"), idempotency_key="k")
    err = info.value
    assert err.errors[0]["field"] == "email"
    assert "bob@example.com" not in str(err)
    assert err.problem_name == "validation"


def test_callable_api_key_is_refreshed_once_after_401() -> None:
    keys = iter(["old-key", "new-key", "new-key"])
    rec = Recorder(
        lambda r: (
            problem(401, "unauthorized")
            if r.headers["Authorization"] == "Bearer old-key"
            else httpx.Response(200, json=contact_json())
        )
    )
    client = make_client(rec, api_key=lambda: next(keys))
    assert client.get_contact("a", "con_1").id == "con_1"
    assert [r.headers["Authorization"] for r in rec.requests] == ["Bearer old-key", "Bearer new-key"]


def test_static_api_key_401_is_raised_without_retry() -> None:
    rec = Recorder(problem(401, "unauthorized"))
    with pytest.raises(RankrUnauthorized):
        make_client(rec).get_contact("a", "c")
    assert len(rec.requests) == 1


def test_list_query_and_iter_follow_cursor() -> None:
    pages = {
        None: {"items": [contact_json(id="c1"), contact_json(id="c2")], "nextCursor": "p2"},
        "p2": {"items": [contact_json(id="c3")], "nextCursor": "p3"},
        "p3": {"items": [], "nextCursor": None},
    }
    rec = Recorder(lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))
    since = datetime(2025, 1, 31, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    ids = [c.id for c in make_client(rec).iter_contacts("a", updated_since=since, page_size=2)]
    assert ids == ["c1", "c2", "c3"]
    first = rec.requests[0].url.params
    assert first["updated_since"] == "2025-01-31T12:00:00.000Z"
    assert first["limit"] == "2" and "include_deleted" not in first and "cursor" not in first
    assert [r.url.params.get("cursor") for r in rec.requests] == [None, "p2", "p3"]


def test_list_rejects_bad_limit_locally() -> None:
    client = make_client(Recorder(httpx.Response(200, json={"items": [], "nextCursor": None})))
    with pytest.raises(ValueError):
        client.list_contacts("a", limit=501)
    with pytest.raises(ValueError):
        client.list_contacts("a", limit=0)


def test_bad_idempotency_key_and_empty_ids_are_rejected_before_sending() -> None:
    rec = Recorder(httpx.Response(201, json=contact_json()))
    client = make_client(rec)
    with pytest.raises(ValueError):
        client.create_contact("a", ContactCreate(), idempotency_key="has space")
    with pytest.raises(ValueError):
        client.get_contact("", "c")
    assert rec.requests == []


def test_unexpected_body_is_a_rankr_error_without_the_body() -> None:
    rec = Recorder(httpx.Response(200, json={"email": "leak@example.com"}))
    with pytest.raises(RankrError) as info:
        make_client(rec).get_contact("a", "c")
    assert "leak@example.com" not in str(info.value)


def test_logs_carry_path_template_and_never_secrets_or_pii(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rankr-ghl")
    rec = Recorder(
        problem(503, "unavailable", "contact ann@example.com +1 555 123 4567 busy"),
        httpx.Response(201, json=contact_json()),
    )
    client = make_client(rec)
    client.create_contact(
        "acc1", ContactCreate(email="ann@example.com", phone="+1 555 123 4567"), idempotency_key="k"
    )
    with pytest.raises(RankrNotFound):
        make_client(Recorder(problem(404, "not-found", "no ann@example.com"))).get_contact("acc1", "con_9")
    records = [r for r in caplog.records if r.name == "rankr-ghl"]
    assert [(r.levelname, getattr(r, "status", None)) for r in records] == [
        ("WARNING", 503),
        ("DEBUG", 201),
        ("INFO", 404),
    ]
    assert records[0].path == "/v1/accounts/{accountId}/contacts"  # type: ignore[attr-defined]
    assert records[2].path == "/v1/accounts/{accountId}/contacts/{contactId}"  # type: ignore[attr-defined]
    assert all(isinstance(getattr(r, "duration_ms", None), float) for r in records)
    logged = " ".join(repr(vars(r)) + r.getMessage() for r in records)
    for secret in (KEY, "ann@example.com", "555 123 4567"):
        assert secret not in logged


def test_idempotency_key_is_deterministic_and_hashes_parts() -> None:
    a = idempotency_key("ghl-contact", "loc1", "abc", 3)
    assert a == idempotency_key("ghl-contact", "loc1", "abc", 3)
    assert a != idempotency_key("ghl-contact", "loc1", "abc", 4)
    assert a != idempotency_key("ghl-contact", "loc1a", "bc", 3)
    assert "abc" not in a and len(a) <= 255
    with pytest.raises(ValueError):
        idempotency_key()
