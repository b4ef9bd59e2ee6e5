"""GHLClient and GHLOAuthClient against the GHL sandbox over real loopback HTTP."""

from __future__ import annotations

import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from rankr_ghl.ghl import errors
from rankr_ghl.ghl.client import GHLClient
from rankr_ghl.ghl.models import (
    ContactCreate,
    ContactUpdate,
    ContactUpsert,
    CustomFieldInput,
    NoteCreate,
    NoteUpdate,
    TaskCreate,
    TaskUpdate,
)
from rankr_ghl.ghl.oauth import GHLOAuthClient
from rankr_ghl.ghl.ratelimit import RateLimiter
from rankr_ghl.ghl.tokens import StaticTokenSource
from rankr_ghl_tools.ghl_sandbox import GHLSandbox

pytestmark = pytest.mark.integration

DUE = datetime(2031, 5, 1, 9, 30, tzinfo=UTC)


def requests_to(sandbox: GHLSandbox, route: str) -> int:
    return int(sandbox.admin.stats()["requests"].get(route, 0))


def settled_requests_to(sandbox: GHLSandbox, route: str, expected: int, within_s: float = 5.0) -> int:
    """The sandbox counts a request when it has answered; slow (timed-out) ones finish later."""
    deadline = time.monotonic() + within_s
    count = requests_to(sandbox, route)
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        count = requests_to(sandbox, route)
    time.sleep(0.1)  # and nothing more arrives
    return requests_to(sandbox, route)


# ---- every method ------------------------------------------------------------------------------


def test_contact_lifecycle(sandbox: GHLSandbox, ghl: GHLClient, location: str) -> None:
    created = ghl.create_contact(
        location,
        ContactCreate(
            first_name="Ann",
            last_name="Lee",
            email="ann.lee@example.com",
            phone="+15550001111",
            tags=["vip"],
            custom_fields=[CustomFieldInput(id="cfPlan", field_value="gold")],
        ),
    )
    assert created.id and created.location_id == location
    fetched = ghl.get_contact(location, created.id)
    assert (fetched.first_name, fetched.email, fetched.tags) == ("Ann", "ann.lee@example.com", ["vip"])
    assert (
        fetched.custom_fields and fetched.custom_fields[0].value == "gold"
    )  # written field_value, read value
    assert fetched.date_updated is not None

    updated = ghl.update_contact(location, created.id, ContactUpdate(city="Austin"))
    assert updated.succeeded is True and updated.contact and updated.contact.city == "Austin"

    assert ghl.add_tags(location, created.id, ["hot", "vip"]) == ["vip", "hot"]
    assert ghl.remove_tags(location, created.id, ["vip"]) == ["hot"]

    assert ghl.find_duplicate_contact(location, email="ann.lee@example.com").id == created.id
    assert ghl.find_duplicate_contact(location, phone="+15550001111").id == created.id
    assert ghl.find_duplicate_contact(location, email="nobody@example.com") is None

    listed = ghl.list_contacts(location, limit=10)
    assert [c.id for c in listed.contacts] == [created.id]

    assert ghl.delete_contact(location, created.id) is True
    with pytest.raises(errors.GHLNotFound) as info:
        ghl.get_contact(location, created.id)
    assert info.value.status == 404 and info.value.trace_id


def test_upsert_new_then_matched(ghl: GHLClient, location: str) -> None:
    first = ghl.upsert_contact(location, ContactUpsert(email="up@example.com", first_name="Up"))
    assert first.new is True and first.trace_id
    second = ghl.upsert_contact(location, ContactUpsert(email="up@example.com", last_name="Date"))
    assert second.new is False and second.contact.id == first.contact.id
    assert second.contact.last_name == "Date"


def test_contacts_by_business(sandbox: GHLSandbox, ghl: GHLClient, location: str) -> None:
    ids = sandbox.admin.seed(location, 3)
    sandbox.admin.edit(location, "contact", ids[0], {"businessId": "biz1"}, emit_webhook=False)
    result = ghl.get_contacts_by_business(location, "biz1")
    assert [c.id for c in result.contacts] == [ids[0]]


def test_tasks(sandbox: GHLSandbox, ghl: GHLClient, location: str) -> None:
    contact_id = sandbox.admin.seed(location, 1)[0]
    task = ghl.create_task(location, contact_id, TaskCreate(title="Call", due_date=DUE, body="ring"))
    assert task.id and task.due_date == DUE and task.completed is False
    assert ghl.get_task(location, contact_id, task.id).title == "Call"
    assert ghl.update_task(location, contact_id, task.id, TaskUpdate(title="Call back")).title == "Call back"
    assert ghl.set_task_completed(location, contact_id, task.id, True).completed is True
    assert [t.id for t in ghl.list_tasks(location, contact_id)] == [task.id]
    found = ghl.search_location_tasks(location, contact_ids=[contact_id], completed=True)
    assert [t.id for t in found] == [task.id]
    assert ghl.delete_task(location, contact_id, task.id) is True
    assert ghl.list_tasks(location, contact_id) == []


def test_iter_location_tasks_pages(sandbox: GHLSandbox, ghl: GHLClient, location: str) -> None:
    sandbox.admin.seed(location, 4, tasks_per_contact=3)
    tasks = list(ghl.iter_location_tasks(location, page_size=5))
    assert len(tasks) == 12 and len({t.id for t in tasks}) == 12
    assert requests_to(sandbox, "POST /locations/{locationId}/tasks/search") == 3


def test_notes(sandbox: GHLSandbox, ghl: GHLClient, location: str) -> None:
    contact_id = sandbox.admin.seed(location, 1)[0]
    note = ghl.create_note(location, contact_id, NoteCreate(body="met at fair", title="Fair"))
    assert note.id and note.body == "met at fair"
    assert ghl.get_note(location, contact_id, note.id).title == "Fair"
    assert ghl.update_note(location, contact_id, note.id, NoteUpdate(body="met twice")).body == "met twice"
    assert [n.id for n in ghl.list_notes(location, contact_id)] == [note.id]
    assert ghl.delete_note(location, contact_id, note.id) is True
    assert ghl.list_notes(location, contact_id) == []


def test_appointments(sandbox: GHLSandbox, ghl: GHLClient, location: str) -> None:
    contact_id = sandbox.admin.seed(location, 1, appointments_per_contact=2)[0]
    events = ghl.list_contact_appointments(location, contact_id)
    assert len(events) == 2 and all(e.start_time is not None for e in events)
    event = ghl.get_appointment(location, events[0].id)  # Version 2021-04-15
    assert event.id == events[0].id and event.contact_id == contact_id
    assert event.start_time is not None and event.end_time is not None and event.end_time > event.start_time


# ---- search pagination across the window -------------------------------------------------------


def test_search_iterates_across_window_boundary(sandbox: GHLSandbox, make_client, location: str) -> None:
    window = 20
    previous = sandbox.admin.config(max_search_window=window)
    try:
        ids = set(sandbox.admin.seed(location, 53))
        ghl = make_client(search_page_window=window)
        seen = [
            c.id
            for c in ghl.iter_search_contacts(
                location, page_limit=7, sort=[{"field": "dateAdded", "direction": "asc"}]
            )
        ]
        assert len(seen) == 53 and set(seen) == ids  # no gaps, no repeats across the switch
        assert requests_to(sandbox, "POST /contacts/search") == 8  # 2 page-mode + 6 searchAfter
        # The sandbox refuses page mode beyond the window, as GHL does:
        with pytest.raises(errors.GHLBadRequest):
            ghl.search_contacts_page(location, page_limit=7, page=3)
    finally:
        sandbox.admin.config(max_search_window=previous.get("max_search_window", 10000))


def test_search_filters_by_email(sandbox: GHLSandbox, ghl: GHLClient, location: str) -> None:
    sandbox.admin.seed(location, 5)
    target = ghl.create_contact(location, ContactCreate(email="find.me@example.com"))
    page = ghl.search_contacts_page(
        location,
        page_limit=10,
        page=1,
        filters=[{"field": "email", "operator": "eq", "value": "find.me@example.com"}],
    )
    assert [c.id for c in page.contacts] == [target.id] and page.total == 1 and page.next_search_after


# ---- rate limits -------------------------------------------------------------------------------


def _hammer(
    client: GHLClient, location: str, contact_id: str, threads: int, per_thread: int
) -> list[Exception]:
    failures: list[Exception] = []

    def work() -> None:
        for _ in range(per_thread):
            try:
                client.get_contact(location, contact_id)
            except Exception as exc:  # collected, asserted below
                failures.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return failures


def test_threads_stay_inside_small_window_without_429(
    sandbox: GHLSandbox, make_client, location: str
) -> None:
    sandbox.admin.update_location(location, rateLimit={"max": 10, "intervalMs": 400, "daily": 200000})
    contact_id = sandbox.admin.seed(location, 1)[0]
    ghl = make_client()  # starts at GHL's documented 100/10 s and learns 10/0.4 s from the headers
    sandbox.admin.reset_stats()
    assert _hammer(ghl, location, contact_id, threads=6, per_thread=8) == []
    stats = sandbox.admin.stats()
    assert stats["responses429"] == 0 and stats["total"] == 48
    assert ghl.rate_limiter.state(location).max_requests == 10


def test_two_processes_sharing_a_location_recover_from_429(
    sandbox: GHLSandbox, make_client, location: str
) -> None:
    sandbox.admin.update_location(location, rateLimit={"max": 10, "intervalMs": 300, "daily": 200000})
    contact_id = sandbox.admin.seed(location, 1)[0]
    # Separate budgets = two containers that cannot see each other's sends.
    first, second = make_client(max_retries=8), make_client(max_retries=8)
    failures: list[Exception] = []
    workers = [
        threading.Thread(target=lambda c=c: failures.extend(_hammer(c, location, contact_id, 3, 8)))
        for c in (first, second)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []
    assert sandbox.admin.stats()["requests"]["GET /contacts/{contactId}"] >= 48


def test_daily_cap_is_refused_locally_and_retryable_later(
    sandbox: GHLSandbox, make_client, location: str
) -> None:
    sandbox.admin.update_location(location, rateLimit={"max": 100, "intervalMs": 1000, "daily": 2})
    contact_id = sandbox.admin.seed(location, 1)[0]
    ghl = make_client()
    ghl.get_contact(location, contact_id)
    ghl.get_contact(location, contact_id)
    with pytest.raises(errors.GHLRateLimited) as info:
        ghl.get_contact(location, contact_id)  # known to be spent: refused locally, never sent
    # Retryable: the budget comes back at GHL's daily reset (retry_after_s says when).
    assert info.value.daily and info.value.retryable and info.value.retry_after_s
    assert requests_to(sandbox, "GET /contacts/{contactId}") == 2


# ---- retry / no-retry rules (sandbox faults) ---------------------------------------------------


def test_get_retried_through_5xx(sandbox: GHLSandbox, make_client, location: str) -> None:
    contact_id = sandbox.admin.seed(location, 1)[0]
    sandbox.admin.faults(rate500=0.2, rate502=0.1, rate503=0.1, paths=["GET /contacts/{contactId}"], seed=7)
    ghl = make_client(max_retries=8)
    for _ in range(10):
        assert ghl.get_contact(location, contact_id).id == contact_id
    assert requests_to(sandbox, "GET /contacts/{contactId}") > 10


@pytest.mark.parametrize("fault", ["rate500", "rate502", "rate503"])
def test_create_not_repeated_after_5xx(
    sandbox: GHLSandbox, ghl: GHLClient, location: str, fault: str
) -> None:
    sandbox.admin.faults(**{fault: 1.0}, paths=["POST /contacts/"])
    with pytest.raises(errors.GHLServerError) as info:
        ghl.create_contact(location, ContactCreate(first_name="Once"))
    assert info.value.may_have_been_applied and info.value.status == int(fault[-3:])
    assert requests_to(sandbox, "POST /contacts/") == 1


def test_create_not_repeated_after_dropped_connection(
    sandbox: GHLSandbox, ghl: GHLClient, location: str
) -> None:
    sandbox.admin.faults(rate_drop=1.0, paths=["POST /contacts/{contactId}/notes"])
    contact_id = sandbox.admin.seed(location, 1)[0]
    with pytest.raises(errors.GHLConnectionError) as info:
        ghl.create_note(location, contact_id, NoteCreate(body="x"))
    assert info.value.may_have_been_applied
    assert requests_to(sandbox, "POST /contacts/{contactId}/notes") == 1


def test_create_timeout_may_have_been_applied(sandbox: GHLSandbox, make_client, location: str) -> None:
    sandbox.admin.faults(rate_slow=1.0, slow_seconds=0.6, paths=["POST /contacts/"])
    ghl = make_client(timeout=httpx.Timeout(0.25, connect=2.0))
    with pytest.raises(errors.GHLTimeout) as info:
        ghl.create_contact(location, ContactCreate(first_name="Slow"))
    assert info.value.may_have_been_applied
    assert settled_requests_to(sandbox, "POST /contacts/", 1) == 1
    # ... and it was: the caller must look it up rather than create again.
    assert [c["firstName"] for c in sandbox.admin.state(location)["contacts"]] == ["Slow"]


def test_get_timeout_retried_then_raised(sandbox: GHLSandbox, make_client, location: str) -> None:
    contact_id = sandbox.admin.seed(location, 1)[0]
    sandbox.admin.faults(rate_slow=1.0, slow_seconds=0.5, paths=["GET /contacts/{contactId}"])
    ghl = make_client(timeout=httpx.Timeout(0.2, connect=2.0), max_retries=2)
    with pytest.raises(errors.GHLTimeout) as info:
        ghl.get_contact(location, contact_id)
    assert not info.value.may_have_been_applied and info.value.retryable
    assert settled_requests_to(sandbox, "GET /contacts/{contactId}", 3) == 3


def test_422_but_created(sandbox: GHLSandbox, ghl: GHLClient, location: str) -> None:
    sandbox.admin.faults(rate422_created=1.0, paths=["POST /contacts/"])
    with pytest.raises(errors.GHLUnprocessable) as info:
        ghl.create_contact(location, ContactCreate(email="ghost@example.com"))
    assert info.value.may_have_been_applied and info.value.status == 422
    assert requests_to(sandbox, "POST /contacts/") == 1
    sandbox.admin.clear_faults()
    assert ghl.find_duplicate_contact(location, email="ghost@example.com") is not None


def test_429_on_create_is_retried(sandbox: GHLSandbox, make_client, location: str) -> None:
    sandbox.admin.update_location(location, rateLimit={"max": 100, "intervalMs": 100, "daily": 200000})
    sandbox.admin.faults(rate429=0.5, paths=["POST /contacts/"], seed=3)
    ghl = make_client(max_retries=10)
    for i in range(4):
        ghl.create_contact(location, ContactCreate(first_name=f"R{i}"))
    assert len(sandbox.admin.state(location)["contacts"]) == 4  # refused requests never created twice
    assert sandbox.admin.stats()["responses429"] >= 1


def test_429_exhausting_retries_raises(sandbox: GHLSandbox, make_client, location: str) -> None:
    sandbox.admin.update_location(location, rateLimit={"max": 100, "intervalMs": 50, "daily": 200000})
    sandbox.admin.faults(rate429=1.0, paths=["POST /contacts/"])
    ghl = make_client(max_retries=2)
    with pytest.raises(errors.GHLRateLimited) as info:
        ghl.create_contact(location, ContactCreate(first_name="never"))
    assert info.value.status == 429 and info.value.retryable and not info.value.may_have_been_applied
    assert requests_to(sandbox, "POST /contacts/") == 3


def test_connection_refused_is_retried_then_raised(make_client, location: str) -> None:
    with socket_closed_port() as port:
        slept: list[float] = []
        ghl = make_client(max_retries=2, sleep=slept.append)
        ghl._core.http.base_url = f"http://127.0.0.1:{port}"
        with pytest.raises(errors.GHLConnectionError) as info:
            ghl.create_contact(location, ContactCreate(first_name="x"))
    assert not info.value.may_have_been_applied and len(slept) == 2


class socket_closed_port:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        port = int(self.sock.getsockname()[1])
        return port  # bound but not listening: connections are refused

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# ---- error mapping -----------------------------------------------------------------------------


def test_duplicate_contact_400(ghl: GHLClient, location: str) -> None:
    original = ghl.create_contact(location, ContactCreate(email="dupe@example.com"))
    with pytest.raises(errors.GHLDuplicateContact) as info:
        ghl.create_contact(location, ContactCreate(email="dupe@example.com", first_name="Again"))
    assert info.value.contact_id == original.id and info.value.matching_field == "email"
    assert info.value.status == 400 and info.value.trace_id and not info.value.may_have_been_applied


class RefreshingSource:
    """Test token source: on a 401 it gets a new token from the sandbox (like a vault refresh)."""

    def __init__(self, sandbox: GHLSandbox, token: str) -> None:
        self.sandbox = sandbox
        self.token = token
        self.reports: list[str] = []

    def get_token(self, resource_id: str) -> str:
        return self.token

    def report_unauthorized(self, resource_id: str, rejected_token: str) -> str | None:
        self.reports.append(rejected_token)
        self.token = str(self.sandbox.admin.tokens(location_id=resource_id)["access_token"])
        return self.token


def test_401_refreshes_once_and_retries(
    sandbox: GHLSandbox, make_client, location: str, location_token: str
) -> None:
    contact_id = sandbox.admin.seed(location, 1)[0]
    source = RefreshingSource(sandbox, location_token)
    ghl = make_client(token_source=source)
    sandbox.admin.expire_tokens(location_id=location)
    assert ghl.get_contact(location, contact_id).id == contact_id
    assert source.reports == [location_token]
    assert ghl.get_contact(location, contact_id).id == contact_id  # the fresh token keeps working
    assert len(source.reports) == 1


def test_401_with_static_token_raises(sandbox: GHLSandbox, ghl: GHLClient, location: str) -> None:
    contact_id = sandbox.admin.seed(location, 1)[0]
    sandbox.admin.expire_tokens(location_id=location)
    with pytest.raises(errors.GHLUnauthorized) as info:
        ghl.get_contact(location, contact_id)
    assert info.value.status == 401
    assert requests_to(sandbox, "GET /contacts/{contactId}") == 1


def test_422_validation(ghl: GHLClient, location: str) -> None:
    with pytest.raises(errors.GHLUnprocessable) as info:
        ghl.search_contacts_page(location, page=1, query="x" * 80)
    assert info.value.status == 422 and not info.value.may_have_been_applied


def test_logs_never_carry_pii_or_tokens(
    captured_logs, ghl: GHLClient, location: str, location_token: str
) -> None:
    ghl.create_contact(location, ContactCreate(email="private.person@example.com", phone="+15559876543"))
    ghl.find_duplicate_contact(location, email="private.person@example.com", phone="+15559876543")
    with pytest.raises(errors.GHLDuplicateContact):
        ghl.create_contact(location, ContactCreate(email="private.person@example.com"))
    logs = captured_logs.getvalue()
    assert logs.count('"ghl_path":"/contacts/search/duplicate"') == 1
    for secret in ("private.person", "9876543", location_token):
        assert secret not in logs


# ---- OAuth -------------------------------------------------------------------------------------


@pytest.fixture
def oauth(sandbox: GHLSandbox):
    client = GHLOAuthClient(
        sandbox.config.client_id,
        sandbox.config.client_secret,
        base_url=sandbox.url,
        rate_limiter=RateLimiter(isolated=True),
        backoff_base_s=0.01,
    )
    yield client
    client.close()


def _authorization_code(sandbox: GHLSandbox, location: str) -> str:
    redirect = "https://rankr.example/oauth/callback"
    response = httpx.get(
        f"{sandbox.url}/oauth/chooselocation",
        params={
            "response_type": "code",
            "client_id": sandbox.config.client_id,
            "redirect_uri": redirect,
            "locationId": location,
        },
    )
    assert response.status_code == 302
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(response.headers["location"]).query)
    return query["code"][0]


def test_oauth_code_exchange_refresh_rotation_and_invalid_grant(
    sandbox: GHLSandbox, oauth: GHLOAuthClient, location: str
) -> None:
    code = _authorization_code(sandbox, location)
    tokens = oauth.exchange_code(code, "Location", "https://rankr.example/oauth/callback")
    assert tokens.access_token and tokens.refresh_token and tokens.location_id == location
    assert tokens.user_type == "Location" and "contacts.write" in tokens.scopes
    contact_id = sandbox.admin.seed(location, 1)[0]
    with GHLClient(
        StaticTokenSource(tokens.access_token), base_url=sandbox.url, rate_limiter=RateLimiter(isolated=True)
    ) as c:
        assert c.get_contact(location, contact_id).id == contact_id

    with pytest.raises(errors.GHLInvalidGrant):
        oauth.exchange_code(code, "Location", "https://rankr.example/oauth/callback")  # codes work once

    sandbox.admin.config(refresh_grace_s=0.0)
    try:
        rotated = oauth.refresh(tokens.refresh_token, "Location")
        assert rotated.refresh_token and rotated.refresh_token != tokens.refresh_token
        with pytest.raises(errors.GHLInvalidGrant) as info:
            oauth.refresh(tokens.refresh_token, "Location")  # the old one is spent
        assert info.value.status == 400 and not info.value.retryable
    finally:
        sandbox.admin.config(refresh_grace_s=30)


def test_oauth_agency_location_token_and_installed_locations(
    sandbox: GHLSandbox, oauth: GHLOAuthClient
) -> None:
    sandbox.admin.create_company("coAgency1")
    for i in range(5):
        sandbox.admin.create_location(f"locAg{i}", company_id="coAgency1", installed=True)
    company_token = str(sandbox.admin.tokens(company_id="coAgency1")["access_token"])
    installed = list(oauth.installed_locations(company_token, "coAgency1", page_size=2))
    assert sorted(loc.id for loc in installed) == [f"locAg{i}" for i in range(5)]
    assert requests_to(sandbox, "GET /oauth/installedLocations") == 3
    minted = oauth.location_token(company_token, "coAgency1", "locAg3")
    assert minted.access_token and minted.location_id == "locAg3"
    contact_id = sandbox.admin.seed("locAg3", 1)[0]
    with GHLClient(
        StaticTokenSource(minted.access_token), base_url=sandbox.url, rate_limiter=RateLimiter(isolated=True)
    ) as c:
        assert c.get_contact("locAg3", contact_id).id == contact_id
    with pytest.raises(errors.GHLUnauthorized):
        oauth.location_token("not-a-token", "coAgency1", "locAg3")


def test_oauth_location_inactive(sandbox: GHLSandbox, oauth: GHLOAuthClient, location: str) -> None:
    pair = sandbox.admin.tokens(location_id=location)
    sandbox.admin.update_location(location, active=False)
    with pytest.raises(errors.GHLLocationInactive) as info:
        oauth.refresh(str(pair["refresh_token"]), "Location")
    assert info.value.retryable


def test_timestamps_are_recent(ghl: GHLClient, location: str) -> None:
    created = ghl.create_contact(location, ContactCreate(first_name="Now"))
    assert created.date_added is not None
    assert abs(datetime.now(UTC) - created.date_added) < timedelta(minutes=5)
