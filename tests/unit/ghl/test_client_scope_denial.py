"""A 401 whose body says the token is not authorized for the scope is a permission error: no token
refresh (the new token would carry the same scopes), raised as `GHLForbidden` whatever the status."""

from __future__ import annotations

import pytest
from rankr_ghl.ghl import errors
from rankr_ghl.ghl.records import GhlClientRecords
from rankr_ghl.ports import RecordReadForbidden
from test_client_http import LOC, RotatingTokens, Script, client, reply

SCOPE_MESSAGE = {
    "statusCode": 401,
    "message": "The token is not authorized for this scope.",
    "error": "Unauthorized",
}


@pytest.mark.parametrize("status", [401, 403])
def test_scope_denial_is_forbidden_and_never_refreshes(status: int) -> None:
    tokens = RotatingTokens()
    script = Script(reply(status, {**SCOPE_MESSAGE, "statusCode": status}))
    with pytest.raises(errors.GHLForbidden) as info:
        client(script, tokens).get_contact(LOC, "c1")
    assert info.value.status == status and not info.value.retryable
    assert tokens.reports == []  # no refresh-token rotation
    assert len(script.requests) == 1


def test_an_expired_token_401_still_refreshes_once() -> None:
    tokens = RotatingTokens()
    script = Script(
        reply(401, {"message": "Invalid JWT"}), reply(200, {"contact": {"id": "c1", "locationId": LOC}})
    )
    assert client(script, tokens).get_contact(LOC, "c1").id == "c1"
    assert tokens.reports == [(LOC, "tok-1")]


def test_an_appointment_read_without_the_calendars_scope_falls_back_under_401() -> None:
    script = Script(reply(401, SCOPE_MESSAGE))
    ghl = client(script, RotatingTokens())
    records = GhlClientRecords(lambda: ghl)
    with pytest.raises(RecordReadForbidden):
        records.get_appointment(LOC, "a1")
