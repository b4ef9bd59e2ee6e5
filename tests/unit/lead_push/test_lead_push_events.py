"""The sample invoke events in events/ stay valid against the input models."""

from __future__ import annotations

import json
from pathlib import Path

from rankr_ghl.flows.lead_push import InvocationType, parse_lead, parse_request
from rankr_ghl.wire_values import WireFormatError

EVENTS = Path(__file__).resolve().parents[3] / "events"


def test_single_lead_event_is_one_valid_lead() -> None:
    request = parse_request(json.loads((EVENTS / "lead_push_single.json").read_text()))
    assert request.batch is False and request.invocation_type is InvocationType.REQUEST_RESPONSE
    [lead] = [parse_lead(raw) for raw in request.leads]
    assert lead.note is not None and lead.task is not None and lead.has_identifier


def test_batch_event_has_three_valid_leads_and_one_invalid() -> None:
    request = parse_request(json.loads((EVENTS / "lead_push_batch.json").read_text()))
    assert request.batch is True
    valid, invalid = [], []
    for raw in request.leads:
        try:
            valid.append(parse_lead(raw))
        except WireFormatError:
            invalid.append(raw["leadId"])
    assert [lead.rankrAccountId for lead in valid] == ["acct-42"] * 3
    assert invalid == ["rankr-lead-000127"]
    walk_in = valid[2]
    assert not walk_in.has_identifier and walk_in.lead_tag == "rankr-lead:rankr-lead-000126"
    assert valid[0].rankr_record()["firstName"] == "Grace" and valid[0].rankr_record()["lastName"] == "Hopper"
