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


def test_a_limiter_wait_beyond_the_bound_fails_fast_with_the_time_to_wait() -> None:
    """The worker bounds its records' rate waits: a spent location answers at once, retryable."""
    from rankr_ghl.ghl.errors import GHLRateLimited
    from rankr_ghl.ghl.ratelimit import RateLimiter

    slept: list[float] = []
    clock = [1000.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(isolated=True, max_requests=1, interval_s=5.0, clock=lambda: clock[0], sleep=sleep)
    ghl = client(
        Script(reply(200, {"contact": CONTACT}), reply(200, {"contact": CONTACT})), rate_limiter=limiter
    )
    with deadlines.deadline_in(25.0), deadlines.limiter_wait_at_most(1.0):
        ghl.get_contact(LOC, "c1")
        with pytest.raises(GHLRateLimited) as refused:
            ghl.get_contact(LOC, "c2")
    assert refused.value.retry_after_s is not None and 4.0 < refused.value.retry_after_s <= 5.1
    assert not refused.value.daily
    assert slept == []  # never waited in place
    # Outside the bound the same call waits for the budget instead.
    with deadlines.deadline_in(25.0):
        ghl.get_contact(LOC, "c3")
    assert slept and slept[0] > 4.0


def test_the_limiter_wait_bound_is_the_tightest_of_the_bound_and_the_deadline() -> None:
    assert deadlines.limiter_wait_cap(None) is None
    with deadlines.limiter_wait_at_most(2.0):
        assert deadlines.limiter_wait_cap(None) == 2.0
        assert deadlines.limiter_wait_cap(0.5) == 0.5
        with deadlines.limiter_wait_at_most(3.0):
            assert deadlines.limiter_wait_cap(None) == 2.0
        with deadlines.deadline_in(1.0):
            capped = deadlines.limiter_wait_cap(None)
            assert capped is not None and capped <= 1.0
    assert deadlines.limiter_wait_cap(None) is None
