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


def test_the_unit_deadline_is_per_thread() -> None:
    """One function's record deadline must not bound another invocation served by another thread."""
    import threading

    seen: list[float | None] = []
    with deadlines.deadline_in(0.5):
        other = threading.Thread(target=lambda: seen.append(deadlines.remaining_s()))
        other.start()
        other.join()
        mine = deadlines.remaining_s()
    assert seen == [None]
    assert mine is not None and mine <= 0.5
