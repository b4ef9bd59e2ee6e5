"""GHL's undocumented search shapes (docs/ghl-variants.md): the full pass pages past the search window
whatever the order and wherever (or whether) the cursor comes, and the task search's loose body key
never makes reconcile clear a task's body."""

from __future__ import annotations

from typing import Any

import pytest
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from rankr_ghl.flows.reconcile.search_paging import next_cursor
from reconcile_fakes import ACCOUNT, LOCATION, World


def run(world: World, mode: Mode = Mode.FULL) -> Any:
    return world.reconciler.run(ReconcileJob(LOCATION, mode), account_id=ACCOUNT)


@pytest.mark.parametrize("cursor", ["per_contact", "none"])
@pytest.mark.parametrize("order", ["id", "shuffled"])
def test_the_full_pass_pages_past_the_window_with_any_cursor(cursor: str, order: str) -> None:
    world = World(page_size=3, search_page_window=3)  # from the second page on: searchAfter
    pairs = [world.mirrored_pair(n) for n in range(11)]
    for n, (ghl_id, _) in enumerate(pairs):
        world.ghl.edit_contact(ghl_id, firstName=f"Edited{n}")
    world.ghl.search_order, world.ghl.search_cursor = order, cursor

    report = run(world).report

    assert all(world.rankr.contacts[rid]["firstName"] == f"Edited{n}" for n, (_, rid) in enumerate(pairs))
    assert report.scanned["ghl_contacts"] == 11  # every contact once: nothing skipped, nothing repeated
    assert world.ghl.calls["read:contact"] == 0  # so no candidate needed a confirming read
    assert world.remaining_differences() == []


def test_an_ignored_sort_without_cursors_still_converges_and_deletes_nothing_live() -> None:
    world = World(page_size=3, search_page_window=3)
    pairs = [world.mirrored_pair(n) for n in range(11)]
    world.ghl.search_order, world.ghl.search_cursor = "ignored", "none"
    world.ghl.edit_contact(pairs[7][0], firstName="Edited")

    run(world)

    assert not any(record.get("deletedAt") for record in world.rankr.contacts.values())
    assert world.remaining_differences() == []


def test_a_cursor_is_derived_from_the_sort_values_sent_when_ghl_sends_none() -> None:
    sort = [{"field": "dateAdded", "direction": "asc"}]
    records = [
        {"id": "b", "dateAdded": "2025-03-01T12:00:02.000Z"},
        {"id": "a", "dateAdded": "2025-03-01T12:00:03.000Z"},  # the page's last in the order sent
        {"id": "c", "dateAdded": "2025-03-01T12:00:01.000Z"},
    ]
    assert next_cursor(records, sort) == [1740830403000, "a"]
    shuffled = [
        dict(record, searchAfter=[n, record["id"]]) for n, record in zip((5, 9, 2), records, strict=True)
    ]
    assert next_cursor(shuffled, sort) == [9, "a"]  # GHL's own cursors: the largest, not the last


@pytest.mark.parametrize("body_key", ["description", None])
def test_a_task_search_without_body_never_clears_the_body(body_key: str | None) -> None:
    world = World()
    ghl_id, rankr_id = world.mirrored_pair(1)
    task_ghl, task_rankr = world.mirrored_task(ghl_id, rankr_id, "Call back")
    world.ghl.tasks[task_ghl]["title"] = "Call back today"
    world.ghl.task_body_key = body_key

    run(world)

    assert world.rankr.tasks[task_rankr]["title"] == "Call back today"
    assert world.rankr.tasks[task_rankr]["body"] == "b"
    assert run(world).report.total_differences == 0
