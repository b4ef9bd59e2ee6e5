"""Where GHL's answers tell which variant of an unverified behaviour it uses, the client records it once
per container as the metric `GhlObservedVariant` (dimensions `behaviour`, `variant`) and a log line:
the search cursor's location, the tag case, the duplicate-contact error's shape and the scope-denial
status (docs/ghl-variants.md)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from rankr_ghl.ghl import errors, variant_observations
from rankr_ghl.ghl.models import ContactCreate
from test_client_http import LOC, Script, client, reply


@pytest.fixture(autouse=True)
def fresh_container() -> Iterator[None]:
    variant_observations._observed_variants.clear()
    yield
    variant_observations._observed_variants.clear()


def observed(capsys: pytest.CaptureFixture[str], logs: io.StringIO) -> list[tuple[str, str]]:
    """(behaviour, variant) of every GhlObservedVariant EMF line, checked against the log lines."""
    metrics = []
    for line in capsys.readouterr().out.splitlines():
        if '"GhlObservedVariant"' in line:
            document = json.loads(line)
            metrics.append((document["behaviour"], document["variant"]))
    logged = [
        (entry["behaviour"], entry["variant"])
        for entry in map(json.loads, filter(None, logs.getvalue().splitlines()))
        if entry.get("message") == "observed GHL behaviour"
    ]
    assert logged == metrics
    return metrics


def search_page(contacts: list[dict[str, Any]], **top: Any) -> Script:
    return Script(reply(200, {"contacts": contacts, "total": len(contacts), **top}))


@pytest.mark.parametrize(
    ("page", "variant"),
    [
        (
            {"contacts": [{"id": "a", "searchAfter": [1, "a"]}, {"id": "b", "searchAfter": [2, "b"]}]},
            "per_contact",
        ),
        ({"contacts": [{"id": "a"}, {"id": "b"}], "searchAfter": [2, "b"]}, "top_level"),
        ({"contacts": [{"id": "a"}, {"id": "b"}]}, "none"),
    ],
)
def test_the_search_cursor_location_is_observed_once(
    page: dict[str, Any], variant: str, capsys: pytest.CaptureFixture[str], captured_logs: io.StringIO
) -> None:
    contacts = [{**c, "locationId": LOC} for c in page.pop("contacts")]
    for _ in range(2):
        client(search_page(contacts, **page)).search_contacts_page(LOC, page=1)
    assert [o for o in observed(capsys, captured_logs) if o[0] == "search_cursor"] == [
        ("search_cursor", variant)
    ]


def test_an_empty_search_page_tells_nothing(
    capsys: pytest.CaptureFixture[str], captured_logs: io.StringIO
) -> None:
    client(search_page([])).search_contacts_page(LOC, page=1)
    assert observed(capsys, captured_logs) == []


@pytest.mark.parametrize(
    ("tags", "variant"),
    [(["vip", "Hot Lead"], "preserve"), (["vip", "hot lead"], "lower_case_only")],
)
def test_the_tag_case_of_a_read_contact_is_observed(
    tags: list[str], variant: str, capsys: pytest.CaptureFixture[str], captured_logs: io.StringIO
) -> None:
    script = Script(reply(200, {"contact": {"id": "c1", "locationId": LOC, "tags": tags}}))
    client(script).get_contact(LOC, "c1")
    assert observed(capsys, captured_logs) == [("tags_store", variant)]


def test_a_contact_without_tags_tells_nothing_about_their_case(
    capsys: pytest.CaptureFixture[str], captured_logs: io.StringIO
) -> None:
    client(Script(reply(200, {"contact": {"id": "c1", "locationId": LOC}}))).get_contact(LOC, "c1")
    assert observed(capsys, captured_logs) == []


DUPLICATE_ANSWERS = {
    "meta": (400, {"message": "This location does not allow duplicated contacts.",
                   "meta": {"contactId": "c9", "matchingField": "email"}}),
    "no_meta": (400, {"message": "This location does not allow duplicated contacts."}),
    "409": (409, {"message": "Conflict"}),
    "422": (422, {"message": ["Contact is a duplicate"]}),
}  # fmt: skip


@pytest.mark.parametrize("shape", sorted(DUPLICATE_ANSWERS))
def test_the_duplicate_contact_refusal_shape_is_observed(
    shape: str, capsys: pytest.CaptureFixture[str], captured_logs: io.StringIO
) -> None:
    status, body = DUPLICATE_ANSWERS[shape]
    for _ in range(2):
        with pytest.raises(errors.GHLError):
            client(Script(reply(status, body))).create_contact(LOC, ContactCreate(first_name="Ann"))
    assert observed(capsys, captured_logs) == [("duplicate_error", shape)]


def test_other_create_refusals_are_no_duplicate_observation(
    capsys: pytest.CaptureFixture[str], captured_logs: io.StringIO
) -> None:
    with pytest.raises(errors.GHLError):
        client(Script(reply(422, {"message": ["property x should not exist"]}))).create_contact(
            LOC, ContactCreate(first_name="Ann")
        )
    with pytest.raises(errors.GHLError):
        client(Script(reply(409, {"message": "Conflict"}))).get_contact(LOC, "c1")
    assert observed(capsys, captured_logs) == []


@pytest.mark.parametrize("status", [401, 403])
def test_the_scope_denial_status_is_observed(
    status: int, capsys: pytest.CaptureFixture[str], captured_logs: io.StringIO
) -> None:
    body = {"message": "The token is not authorized for this scope.", "statusCode": status}
    with pytest.raises(errors.GHLForbidden):
        client(Script(reply(status, body))).get_contact(LOC, "c1")
    assert observed(capsys, captured_logs) == [("scope_denied", str(status))]
