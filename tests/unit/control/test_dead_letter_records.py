"""Which account and location each lead of a lead-push failure record goes to, read as lead push reads
the request: the control API scopes the record's replay by them."""

from __future__ import annotations

from rankr_ghl.aws.dead_letters import lead_targets


def test_a_single_lead_names_its_own_targets() -> None:
    assert lead_targets({"leadId": "l1", "rankrAccountId": "acctA"}) == (("acctA", None),)
    event = {"leadId": "l1", "locationId": "locA", "invocationType": "Event"}
    assert lead_targets(event) == ((None, "locA"),)


def test_request_level_targets_fill_leads_that_name_neither_and_bind_location_only_leads() -> None:
    payload = {
        "rankrAccountId": "acctA",
        "locationId": "locA",
        "leads": [
            {"leadId": "a"},
            {"leadId": "b", "locationId": "locB"},
            {"leadId": "c", "rankrAccountId": "acctC"},
        ],
    }
    assert lead_targets(payload) == (("acctA", "locA"), ("acctA", "locB"), ("acctC", None))


def test_a_record_that_is_no_lead_push_request_has_no_targets() -> None:
    for payload in (None, "text", [], {"leads": []}, {"leads": "x"}, {"leads": [1]}):
        assert lead_targets(payload) is None
