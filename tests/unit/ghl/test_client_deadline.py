"""A GHL call never outlives the caller's deadline: not started when it cannot finish, and its timeouts
capped by the time left."""

from __future__ import annotations

import httpx
import pytest
from rankr_ghl import deadlines
from rankr_ghl.ghl.errors import GHLTimeout
from test_client_http import CONTACT, LOC, Script, client, reply


@pytest.mark.parametrize("left", [0.2, 5.0])
def test_the_ghl_call_timeout_is_capped_by_the_deadline(left: float) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply(200, {"contact": CONTACT})(request)

    ghl = client(Script(answer))
    with deadlines.deadline_in(left):
        if left < 1:
            with pytest.raises(GHLTimeout):
                ghl.get_contact(LOC, "c1")
            assert seen == []  # never sent: nothing could be applied
            return
        ghl.get_contact(LOC, "c1")
    (request,) = seen
    assert request.extensions["timeout"]["read"] <= left
