"""A task event without `contactId` never soft-deletes on a search miss: the contact comes from the
task's mapping or the location search, and only a GET 404 under a trusted contact is a deletion."""

from __future__ import annotations

from typing import Any

from rankr_ghl.sync.ports import AuditAction
from rankr_ghl.sync.types import Entity
from test_webhook_inbound import LOC, World, ghl_contact, world  # noqa: F401 - `world` is a fixture


def _task(contact_id: str = "c1", **fields: Any) -> dict[str, Any]:
    return {"id": "t1", "contactId": contact_id, "title": "Call back", "completed": False, **fields}


def _synced_task(w: World) -> None:
    w.ghl.put(LOC, ghl_contact())
    w.ghl.tasks["t1"] = _task()
    assert w.event("TaskCreate", id="t1", contactId="c1").outcome == "written"


def test_a_search_miss_is_skipped_and_audited_never_deleted(world: World) -> None:  # noqa: F811 - the imported fixture
    _synced_task(world)
    # The mapping is lost (or never existed) and the search does not find the task (limit cap, order).
    hidden = world.ghl.tasks.pop("t1")
    world.ghl.find_task_contact = lambda location_id, task_id: None  # type: ignore[method-assign]
    world.ghl.tasks["t1"] = hidden
    mapping = world.state.mappings.get_by_ghl(LOC, Entity.TASK, "t1")
    assert mapping is not None
    world.state.mappings.delete(mapping)
    result = world.event("TaskComplete", id="t1")
    assert (result.outcome, result.reason) == ("skipped", "task_contact_unknown")
    assert len(world.rankr.live(Entity.TASK)) == 1  # still there
    assert [e.reason for e in world.audit.by_action(AuditAction.SKIP)] == ["task_contact_unknown"]


def test_the_mapping_names_the_contact_and_the_get_confirms_a_real_deletion(world: World) -> None:  # noqa: F811 - the imported fixture
    _synced_task(world)
    world.ghl.tasks["t1"]["title"] = "Call back today"
    assert world.event("TaskComplete", id="t1").outcome == "written"
    assert "find_task_contact" not in world.ghl.calls  # the mapping knew the contact
    (task,) = world.rankr.live(Entity.TASK)
    assert task["title"] == "Call back today"
    del world.ghl.tasks["t1"]  # GHL: 404 under the mapped contact
    assert world.event("TaskComplete", id="t1").outcome == "deleted"
    assert world.rankr.live(Entity.TASK) == []


def test_a_404_under_a_contact_only_the_search_named_is_skipped(world: World) -> None:  # noqa: F811 - the imported fixture
    world.ghl.put(LOC, ghl_contact())
    world.ghl.find_task_contact = lambda location_id, task_id: "c-wrong"  # type: ignore[method-assign]
    world.ghl.tasks["t1"] = _task()
    result = world.event("TaskCreate", id="t1")
    assert (result.outcome, result.reason) == ("skipped", "task_contact_unconfirmed")
    assert world.rankr.writes == []
