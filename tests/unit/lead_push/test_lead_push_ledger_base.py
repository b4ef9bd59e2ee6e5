"""A lead's mapping never exists without a ledger base for the pair: the link of a tagged lead carries
the ledger entries of the contact as GHL holds it after the create (one store write where the store
can), so a push that dies before its settle leaves a pair a reconcile decides field by field against
that base, and the settle that ends the push updates the ledger with the tags."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import InMemoryLeadPushStore
from lead_push_world import LOCATION, InMemoryIdempotencyStore, World, make_world
from rankr_ghl.sync.types import Entity, Side

LEAD = {"leadId": "L1", "locationId": LOCATION, "firstName": "Ada", "email": "l1@example.com"}
TAGGED_WITH_CHILDREN = {**LEAD, "tags": ["Hot"], "note": {"body": "Met at the fair"}}


def world_with(*, atomic: bool) -> tuple[World, InMemoryLeadPushStore | None]:
    """The unit world, its records step by step or (`atomic`) with the one-write lead-push store."""
    world = make_world(InMemoryIdempotencyStore(), atomic=atomic)
    return world, world.records.push_store


def push(world: World, lead: dict[str, Any]) -> dict[str, Any]:
    [result] = world.service.push(lead).results
    return result


def ledger_digest(world: World, side: Side, record_id: str) -> str | None:
    entry = world.records.ledger.get(LOCATION, Entity.CONTACT, side, record_id)
    return entry.digest if entry is not None else None


@pytest.mark.parametrize("atomic", [False, True], ids=["step_by_step", "one_write"])
@pytest.mark.parametrize("failing", ["add_tags", "create_note"])
def test_a_push_that_dies_after_its_link_leaves_the_pair_with_a_ledger_base(
    atomic: bool, failing: str
) -> None:
    world, _ = world_with(atomic=atomic)
    world.ghl.faults.append((failing, "500"))

    failed = push(world, {**TAGGED_WITH_CHILDREN})

    assert failed["outcome"] == "failed" and failed["error"]["retryable"] is True
    contact_id = world.records.contact_of("L1")
    assert contact_id is not None  # linked before the child writes, so the retry has a contact
    assert ledger_digest(world, Side.GHL, contact_id) is not None
    assert ledger_digest(world, Side.RANKR, "L1") is not None


@pytest.mark.parametrize("atomic", [False, True], ids=["step_by_step", "one_write"])
def test_the_settle_that_ends_the_push_updates_the_base_with_the_tags(atomic: bool) -> None:
    world, _ = world_with(atomic=atomic)
    world.ghl.faults.append(("add_tags", "500"))
    push(world, {**TAGGED_WITH_CHILDREN})
    contact_id = world.records.contact_of("L1")
    assert contact_id is not None
    base = ledger_digest(world, Side.GHL, contact_id)
    assert base is not None

    assert push(world, {**TAGGED_WITH_CHILDREN})["outcome"] == "created"

    assert ledger_digest(world, Side.GHL, contact_id) not in (None, base)  # now with the tags


def test_the_link_and_its_ledger_base_are_one_store_write() -> None:
    """Tags path, one-write store: the link with its base, then the settle; nothing step by step."""
    world, push_store = world_with(atomic=True)
    assert push_store is not None
    ledger_writes = world.records.ledger.round_trips

    assert push(world, {**TAGGED_WITH_CHILDREN})["outcome"] == "created"

    assert (push_store.settled, push_store.refused) == (2, 0)
    assert world.records.ledger.round_trips - ledger_writes == 1  # the note's own ledger entry only
