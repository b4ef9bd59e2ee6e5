"""A read GHL refuses for lack of scope is skipped with metric and audit, never raised: raising would
hold the location's FIFO group until the message dead-letters."""

from __future__ import annotations

import pytest
from rankr_ghl.ghl.errors import GHLForbidden
from rankr_ghl.sync.ports import AuditAction
from test_webhook_inbound import LOC, World, ghl_contact, world  # noqa: F401 - `world` is a fixture


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize(
    ("event_type", "fields"),
    [
        ("ContactUpdate", {"id": "c1"}),
        ("TaskCreate", {"id": "t1", "contactId": "c1"}),
        ("NoteCreate", {"id": "n1", "contactId": "c1"}),
    ],
)
def test_a_scope_denial_is_skipped_and_audited(
    world: World,  # noqa: F811 - the imported fixture
    status: int,
    event_type: str,
    fields: dict[str, str],
) -> None:
    world.ghl.put(LOC, ghl_contact())
    world.ghl.fail_with = GHLForbidden("The token is not authorized for this scope.", status=status)
    result = world.event(event_type, **fields)
    assert (result.outcome, result.reason) == ("skipped", "ghl_permission_denied")
    assert [e.reason for e in world.audit.by_action(AuditAction.SKIP)] == ["ghl_permission_denied"]
    assert world.rankr.writes == []
