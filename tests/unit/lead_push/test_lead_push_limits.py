"""Byte limits, checked before any GHL call: a lead over its limit fails alone with a clear error; a
batch over the batch limit is refused whole, saying how to split it."""

from __future__ import annotations

from typing import Any

import pytest
from lead_push_world import LOCATION, World
from rankr_ghl.flows.lead_push import MAX_BATCH_BYTES, MAX_LEAD_BYTES, LeadPushRequestError


def lead(lead_id: str, **fields: Any) -> dict[str, Any]:
    return {"leadId": lead_id, "locationId": LOCATION, "email": f"{lead_id.lower()}@example.com", **fields}


def test_an_oversized_lead_fails_alone_before_any_ghl_call(world: World) -> None:
    # 60 custom fields of 2 kB each: every field valid, the lead as a whole too large.
    big = lead("BIG", customFields={f"f{i}": "x" * 2000 for i in range(60)})
    batch = world.service.push({"leads": [big, lead("OK1")]})
    oversized, fine = batch.results
    assert oversized["outcome"] == "failed"
    assert oversized["error"]["code"] == "invalid_lead" and oversized["error"]["retryable"] is False
    assert f"at most {MAX_LEAD_BYTES} bytes" in oversized["error"]["message"]
    assert fine["outcome"] == "created"
    assert len(world.ghl.contacts()) == 1


def test_an_oversized_batch_is_refused_whole_with_how_to_split_it(world: World) -> None:
    leads = [lead(f"L{i}", note={"body": "n" * 49_000}) for i in range(25)]
    with pytest.raises(LeadPushRequestError) as refused:
        world.service.push({"leads": leads})
    message = str(refused.value)
    assert f"at most {MAX_BATCH_BYTES} bytes" in message and "split it into batches of about" in message
    assert world.ghl.calls == []


def test_a_lone_surrogate_is_measured_and_refused_as_an_invalid_lead(world: World) -> None:
    [result] = world.service.push({"leads": [lead("L\ud800")]}).results
    assert result["outcome"] == "failed" and result["error"]["code"] == "invalid_lead"
    assert world.ghl.calls == []
