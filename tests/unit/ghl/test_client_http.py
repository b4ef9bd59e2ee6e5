"""The client's own HTTP behaviour against an in-process httpx.MockTransport (no sockets).

The sandbox integration tests are the main proof; these pin the retry/no-retry decisions and the
log hygiene deterministically.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from rankr_ghl.ghl import errors
from rankr_ghl.ghl.client import GHLClient
from rankr_ghl.ghl.models import ContactCreate, TaskCreate
from rankr_ghl.ghl.oauth import GHLOAuthClient
from rankr_ghl.ghl.ratelimit import RateLimiter
from rankr_ghl.ghl.tokens import StaticTokenSource

LOC = "loc-1"
CONTACT = {"id": "c1", "locationId": LOC, "firstName": "Ann"}


class Script:
    """Answers requests from a list of handlers (one per request), recording what was sent."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected extra request {request.method} {request.url.path}")
        return self.answers.pop(0)(request)


def reply(status: int, body: object = None, headers: dict[str, str] | None = None):
    return lambda _req: httpx.Response(status, json=body, headers=headers)


def fail(exc_type: type[Exception]):
    def raise_(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)  # type: ignore[call-arg]

    return raise_


class RotatingTokens:
    def __init__(self) -> None:
        self.token = "tok-1"
        self.reports: list[tuple[str, str]] = []

    def get_token(self, resource_id: str) -> str:
        return self.token

    def report_unauthorized(self, resource_id: str, rejected_token: str) -> str | None:
        self.reports.append((resource_id, rejected_token))
        self.token = "tok-2"
        return self.token


def client(script: Script, tokens=None, **kwargs) -> GHLClient:
    kwargs.setdefault("rate_limiter", RateLimiter(isolated=True))
    return GHLClient(
        tokens or StaticTokenSource("tok-1"),
        base_url="https://ghl.test",
        transport=httpx.MockTransport(script),
        sleep=lambda _s: None,
        **kwargs,
    )


def test_headers_version_pinned_per_family_and_bearer() -> None:
    script = Script(reply(200, {"contact": CONTACT}), reply(200, {"event": {"id": "e1"}}))
    ghl = client(script)
    ghl.get_contact(LOC, "c1")
    ghl.get_appointment(LOC, "e1")
    contact_req, calendar_req = script.requests
    assert contact_req.headers["Version"] == "2021-07-28"
    assert calendar_req.headers["Version"] == "2021-04-15"
    assert contact_req.headers["Authorization"] == "Bearer tok-1"
    assert calendar_req.url.path == "/calendars/events/appointments/e1"


def test_path_ids_are_escaped() -> None:
    script = Script(reply(200, {"contact": CONTACT}))
    client(script).get_contact(LOC, "a/b?c")
    assert script.requests[0].url.raw_path == b"/contacts/a%2Fb%3Fc"


def test_get_retried_on_5xx_then_succeeds() -> None:
    script = Script(reply(503, {"message": "down"}), reply(502), reply(200, {"contact": CONTACT}))
    assert client(script).get_contact(LOC, "c1").id == "c1"
    assert len(script.requests) == 3


def test_get_gives_up_after_max_retries() -> None:
    script = Script(*[reply(500, {"message": "x"}) for _ in range(3)])
    with pytest.raises(errors.GHLServerError) as info:
        client(script, max_retries=2).get_contact(LOC, "c1")
    assert info.value.retryable and not info.value.may_have_been_applied


@pytest.mark.parametrize("status", [500, 502, 503])
def test_create_never_repeated_after_5xx(status: int) -> None:
    script = Script(reply(status, {"message": "oops"}))
    with pytest.raises(errors.GHLServerError) as info:
        client(script).create_contact(LOC, ContactCreate(first_name="A"))
    assert info.value.may_have_been_applied
    assert len(script.requests) == 1


def test_create_never_repeated_after_read_timeout() -> None:
    script = Script(fail(httpx.ReadTimeout))
    with pytest.raises(errors.GHLTimeout) as info:
        client(script).create_task(
            LOC, "c1", TaskCreate(title="t", due_date=datetime(2030, 1, 1, tzinfo=UTC))
        )
    assert info.value.may_have_been_applied and len(script.requests) == 1


def test_create_retried_after_connect_error() -> None:
    script = Script(fail(httpx.ConnectError), reply(201, {"contact": CONTACT}))
    assert client(script).create_contact(LOC, ContactCreate(first_name="A")).id == "c1"
    assert len(script.requests) == 2


def test_create_retried_after_429() -> None:
    script = Script(reply(429, {"message": "Too Many Requests"}), reply(201, {"contact": CONTACT}))
    ghl = client(script, rate_limiter=RateLimiter(isolated=True, interval_s=0.01, blocked_jitter=0.0))
    assert ghl.create_contact(LOC, ContactCreate(first_name="A")).id == "c1"
    assert len(script.requests) == 2


def test_422_on_create_may_have_been_applied_but_not_on_update() -> None:
    body = {"statusCode": 422, "message": ["Unprocessable Entity"], "error": "Unprocessable Entity"}
    script = Script(reply(422, body), reply(422, body))
    ghl = client(script)
    with pytest.raises(errors.GHLUnprocessable) as created:
        ghl.create_contact(LOC, ContactCreate(first_name="A"))
    assert created.value.may_have_been_applied
    from rankr_ghl.ghl.models import ContactUpdate

    with pytest.raises(errors.GHLUnprocessable) as updated:
        ghl.update_contact(LOC, "c1", ContactUpdate(first_name="B"))
    assert not updated.value.may_have_been_applied
    assert len(script.requests) == 2


def test_duplicate_contact_400_carries_meta() -> None:
    body = {
        "statusCode": 400,
        "message": "This location does not allow duplicated contacts.",
        "meta": {"contactId": "existing", "matchingField": "email"},
        "traceId": "tr-1",
    }
    script = Script(reply(400, body))
    with pytest.raises(errors.GHLDuplicateContact) as info:
        client(script).create_contact(LOC, ContactCreate(email="a@b.example"))
    assert (info.value.contact_id, info.value.matching_field, info.value.trace_id) == (
        "existing",
        "email",
        "tr-1",
    )
    assert info.value.status == 400 and not info.value.retryable


def test_401_reports_once_and_retries_with_fresh_token() -> None:
    tokens = RotatingTokens()
    script = Script(reply(401, {"message": "Invalid JWT"}), reply(200, {"contact": CONTACT}))
    assert client(script, tokens).get_contact(LOC, "c1").id == "c1"
    assert tokens.reports == [(LOC, "tok-1")]
    assert [r.headers["Authorization"] for r in script.requests] == ["Bearer tok-1", "Bearer tok-2"]


def test_second_401_is_raised() -> None:
    tokens = RotatingTokens()
    script = Script(reply(401, {"message": "Invalid JWT"}), reply(401, {"message": "Invalid JWT"}))
    with pytest.raises(errors.GHLUnauthorized):
        client(script, tokens).get_contact(LOC, "c1")
    assert len(tokens.reports) == 1


@pytest.mark.parametrize(
    ("status", "cls"), [(403, errors.GHLForbidden), (404, errors.GHLNotFound), (400, errors.GHLBadRequest)]
)
def test_error_mapping(status: int, cls: type[errors.GHLError]) -> None:
    script = Script(reply(status, {"message": "nope"}))
    with pytest.raises(cls):
        client(script).get_contact(LOC, "c1")
    assert len(script.requests) == 1


def test_remove_tags_sends_json_body_on_delete() -> None:
    script = Script(reply(200, {"tags": ["a"]}))
    assert client(script).remove_tags(LOC, "c1", ["b"]) == ["a"]
    request = script.requests[0]
    assert request.method == "DELETE" and json.loads(request.content) == {"tags": ["b"]}


def test_logs_have_template_not_url_and_no_pii(captured_logs) -> None:
    script = Script(reply(200, {"contact": None}, headers={"x-trace-id": "trace-xyz"}))
    client(script).find_duplicate_contact(LOC, email="secret.person@example.com", phone="+15557654321")
    sent = str(script.requests[0].url)
    assert "secret.person%40example.com" in sent  # it really was in the URL ...
    out = captured_logs.getvalue()
    assert "/contacts/search/duplicate" in out and "trace-xyz" in out
    assert "secret.person" not in out and "5557654321" not in out and "tok-1" not in out  # ... not in logs


def test_error_messages_are_redacted() -> None:
    script = Script(reply(400, {"message": "contact ann@example.com exists"}))
    with pytest.raises(errors.GHLBadRequest) as info:
        client(script).get_contact(LOC, "c1")
    assert "ann@example.com" not in str(info.value)


def test_search_iterator_switches_to_search_after_past_window() -> None:
    def page(n: int, start: int):
        contacts = [{"id": f"c{i}", "searchAfter": [i, f"c{i}"]} for i in range(start, start + n)]
        return reply(200, {"contacts": contacts, "total": 7})

    script = Script(page(2, 0), page(2, 2), page(2, 4), page(1, 6))
    ids = [c.id for c in client(script).iter_search_contacts(LOC, page_limit=2, page_window=4)]
    assert ids == [f"c{i}" for i in range(7)]
    bodies = [json.loads(r.content) for r in script.requests]
    assert [b.get("page") for b in bodies] == [1, 2, None, None]
    assert [b.get("searchAfter") for b in bodies] == [None, None, [3, "c3"], [5, "c5"]]


def test_oauth_refresh_is_form_encoded_without_version(captured_logs) -> None:
    token_body = {
        "access_token": "AT-new",
        "refresh_token": "RT-new",
        "userType": "Location",
        "expires_in": 86399,
    }
    script = Script(reply(200, token_body))
    oauth = GHLOAuthClient(
        "app-suffix", "CLIENT-SECRET", base_url="https://ghl.test", transport=httpx.MockTransport(script)
    )
    token = oauth.refresh("RT-old", "Location")
    assert token.access_token == "AT-new" and token.user_type == "Location"
    request = script.requests[0]
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "Version" not in request.headers
    form = dict(x.split("=") for x in request.content.decode().split("&"))
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "RT-old"
    out = captured_logs.getvalue()
    assert "/oauth/token" in out
    assert "CLIENT-SECRET" not in out and "RT-old" not in out and "AT-new" not in out


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("Invalid grant: refresh token is invalid", errors.GHLInvalidGrant),
        ("Location is not active", errors.GHLLocationInactive),
    ],
)
def test_oauth_400s(message: str, cls: type[errors.GHLError]) -> None:
    script = Script(reply(400, {"statusCode": 400, "message": message}))
    oauth = GHLOAuthClient("app-x", "s", base_url="https://ghl.test", transport=httpx.MockTransport(script))
    with pytest.raises(cls):
        oauth.refresh("RT", "Location")


def test_code_exchange_not_repeated_after_5xx() -> None:
    script = Script(reply(502))
    oauth = GHLOAuthClient(
        "app-x",
        "s",
        base_url="https://ghl.test",
        transport=httpx.MockTransport(script),
        sleep=lambda _s: None,
    )
    with pytest.raises(errors.GHLServerError) as info:
        oauth.exchange_code("code-1", "Location", "https://cb.example/")
    assert info.value.may_have_been_applied and len(script.requests) == 1


def test_a_secret_source_is_read_on_the_first_token_grant_only() -> None:
    reads: list[str] = []

    def secret() -> str:
        reads.append("read")
        return "s3cret"

    token = {"access_token": "AT", "token_type": "Bearer", "expires_in": 86399, "userType": "Location"}
    script = Script(reply(200, token), reply(200, token), reply(200, token))
    oauth = GHLOAuthClient(
        "app-x", secret, base_url="https://ghl.test", transport=httpx.MockTransport(script)
    )
    oauth.location_token("company-token", "co1", "loc1")  # minted with the company token
    assert reads == [] and "s3cret" not in repr(oauth)
    oauth.refresh("RT", "Location")
    oauth.refresh("RT2", "Location")
    assert reads == ["read"]  # read once, then kept
    sent = [dict(httpx.QueryParams(request.content.decode())) for request in script.requests[1:]]
    assert [form["client_secret"] for form in sent] == ["s3cret", "s3cret"]


def test_an_empty_secret_from_its_source_is_refused_before_anything_is_sent() -> None:
    script = Script(reply(200, {}))
    oauth = GHLOAuthClient(
        "app-x", lambda: "", base_url="https://ghl.test", transport=httpx.MockTransport(script)
    )
    with pytest.raises(ValueError, match="client_secret is required"):
        oauth.exchange_code("code-1", "Location", "https://cb.example/")
    assert script.requests == []


class OrderRecordingLimiter(RateLimiter):
    """Records, at each completion, how many request lines the client had logged by then."""

    def __init__(self, logs) -> None:
        super().__init__(isolated=True, interval_s=0.01, blocked_jitter=0.0)
        self.logs = logs
        self.logged_at_completion: list[int] = []

    def observe(self, permit, headers) -> None:
        self.logged_at_completion.append(self.logs.getvalue().count('"ghl request"'))
        super().observe(permit, headers)  # a 429's completion comes here too (`on_rate_limited`)


def test_the_limiter_hears_of_a_response_before_it_is_parsed_and_logged(captured_logs) -> None:
    """A request's place in the window frees one interval after its completion: the completion is
    the response's arrival, not the end of the client's own work on it."""
    limiter = OrderRecordingLimiter(captured_logs)
    script = Script(reply(429, {"message": "slow down"}), reply(200, {"contact": CONTACT}))
    client(script, rate_limiter=limiter).get_contact(LOC, "c1")
    assert limiter.logged_at_completion == [0, 1]  # each before its own "ghl request" line
    assert captured_logs.getvalue().count('"ghl request"') == 2
