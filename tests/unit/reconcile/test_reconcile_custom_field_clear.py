"""A person's clear of a custom field in Rankr reaches GHL under every `custom_field_null` variant
(null clears, is ignored, or is refused) and is never undone by the next run."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.sync.mapping import FieldMapping, default_mapping, load_mapping
from rankr_ghl.sync.ports import IdMapping
from rankr_ghl.sync.types import Entity


class OneMapping:
    """The mapping resolver of a location whose contact mapping has one custom field."""

    def __init__(self, mapping: FieldMapping) -> None:
        self.mapping = mapping

    def for_location(self, location_id: str, account_id: str | None = None) -> FieldMapping:
        return self.mapping


def industry_mapping() -> FieldMapping:
    doc = copy.deepcopy(default_mapping().document.to_json())
    doc["contact"]["custom_fields"] = [{"name": "industry", "ghl_id": "cf_industry", "rankr": "industry"}]
    return load_mapping(doc)


@pytest.mark.parametrize("variant", ["clears", "ignored", "422"])
def test_a_rankr_clear_reaches_ghl_and_stays_cleared(variant: str) -> None:
    world = World()
    world.ghl.custom_field_null = variant
    ghl = world.ghl.seed_contact(firstName="Ann", customFields=[{"id": "cf_industry", "value": "Retail"}])
    rankr = world.rankr.seed_contact(firstName="Ann", customFields={"industry": "Retail"})
    world.mappings.put(IdMapping(LOCATION, Entity.CONTACT, ghl["id"], rankr["id"], account_id=ACCOUNT))
    reconciler = world.make_reconciler(mapping_resolver=OneMapping(industry_mapping()))

    def run() -> Any:
        world.clock.now += timedelta(minutes=30)
        return reconciler.run(ReconcileJob(LOCATION, Mode.FULL), account_id=ACCOUNT).report

    world.clock.now += timedelta(minutes=30)
    world.rankr.edit_contact(rankr["id"], customFields={})  # the person clears it in Rankr
    first = run()
    assert not first.failures
    assert world.ghl.contacts_by_id()[ghl["id"]].get("customFields") == []
    run()
    assert world.rankr.contacts[rankr["id"]]["customFields"] == {}  # never brought back
    assert run().total_differences == 0
