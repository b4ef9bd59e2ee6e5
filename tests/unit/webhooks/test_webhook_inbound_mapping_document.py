"""The worker reads a cold resolver's mapping document with the record's state (one read), and a
warm resolver's not at all; the document read that way applies exactly as one read apart."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rankr_ghl.sync.mapping import MappingError, default_mapping
from rankr_ghl.sync.types import Entity
from test_webhook_inbound import ACCOUNT, LOC, World, ghl_contact, world  # noqa: F401 - `world` is a fixture


def default_doc() -> dict[str, Any]:
    return copy.deepcopy(default_mapping().document.to_json())


def test_the_mapping_document_comes_with_the_state_and_applies(world: World) -> None:  # noqa: F811
    doc = default_doc()
    doc["contact"]["fields"] = [f for f in doc["contact"]["fields"] if f["name"] != "email"]
    world.state.mapping_config.by_account[ACCOUNT] = doc
    world.ghl.put(LOC, ghl_contact("c1"))
    world.ghl.put(LOC, ghl_contact("c2", email="grace@example.com"))

    assert world.event("ContactUpdate", id="c1").outcome == "written"
    assert world.event("ContactUpdate", id="c2").outcome == "written"

    assert world.state.mapping_config.reads == 1  # with the first event's state, then cached
    assert [c.get("email") for c in world.rankr.live(Entity.CONTACT)] == [None, None]  # email unmapped


def test_an_invalid_document_read_with_the_state_fails_the_event(world: World) -> None:  # noqa: F811
    world.state.mapping_config.by_location[LOC] = {"version": 1, "contact": {"fields": [{"name": "x"}]}}
    world.ghl.put(LOC, ghl_contact("c1"))
    with pytest.raises(MappingError):
        world.event("ContactUpdate", id="c1")
    assert world.rankr.live(Entity.CONTACT) == []
