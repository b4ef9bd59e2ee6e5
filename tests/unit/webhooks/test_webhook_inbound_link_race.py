"""The worker and lead push both link one GHL contact: the loser's Rankr record must not stay behind.

Found by bench/chaos.py: a ContactCreate webhook for a contact lead push had just created (its mapping
write delayed by a slow GHL answer or a crash) made the worker create a Rankr twin; lead push linked
the contact to its lead meanwhile, the worker's mapping write conflicted, and the twin stayed live.
"""

from __future__ import annotations

from typing import Any

import pytest
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity
from test_webhook_inbound import LOC, World, ghl_contact, world  # noqa: F401 - `world` is a fixture


def test_worker_that_loses_the_link_race_deletes_the_rankr_record_it_created(
    world: World,  # noqa: F811 - the imported fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world.ghl.put(LOC, ghl_contact())
    lead = world.rankr.create("acct-1", Entity.CONTACT, {"firstName": "Ada"}, None, "lead-key")
    mappings = world.state.mappings
    real_get = mappings.get_by_ghl
    reads: list[str] = []

    def stale_first_read(location_id: str, entity: Entity, ghl_id: str) -> Any:
        reads.append(ghl_id)
        if len(reads) == 1:  # the worker read before lead push linked ...
            mappings.put(IdMapping(LOC, Entity.CONTACT, "c1", lead["id"]))  # ... which happens now
            return None
        return real_get(location_id, entity, ghl_id)

    monkeypatch.setattr(mappings, "get_by_ghl", stale_first_read)
    result = world.event("ContactCreate", id="c1")

    assert (result.outcome, result.reason) == ("skipped", "mapping_conflict")
    assert [r["id"] for r in world.rankr.live(Entity.CONTACT)] == [lead["id"]]  # no live twin left
    assert real_get(LOC, Entity.CONTACT, "c1").rankr_id == lead["id"]  # lead push's link kept
