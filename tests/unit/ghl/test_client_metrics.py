"""A 429 from GHL is counted as the EMF metric `Ghl429Received`."""

from __future__ import annotations

import json

import httpx
from rankr_ghl.ghl.client import GHLClient
from rankr_ghl.ghl.ratelimit import RateLimiter
from rankr_ghl.ghl.tokens import StaticTokenSource
from rankr_ghl.observability import metrics


def _emitted(name: str) -> float:
    return sum(metrics.metric_set.get(name, {}).get("Value", []))


class _Clock:
    """Virtual time: the limiter's wait after a 429 passes instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_429_is_counted_once_per_refused_request() -> None:
    metrics.clear_metrics()
    answers = [
        httpx.Response(429, json={"message": "Too Many Requests"}, headers={"X-RateLimit-Remaining": "0"}),
        httpx.Response(200, json={"contact": {"id": "c1"}}),
    ]
    clock = _Clock()
    client = GHLClient(
        StaticTokenSource("tok"),
        base_url="https://ghl.test",
        transport=httpx.MockTransport(lambda request: answers.pop(0)),
        rate_limiter=RateLimiter(isolated=True, clock=clock, sleep=clock.sleep),
        backoff_base_s=0,
        sleep=clock.sleep,
    )
    try:
        assert client.get_contact("loc1", "c1").id == "c1"
        assert _emitted("Ghl429Received") == 1
        json.dumps(metrics.serialize_metric_set())  # a valid EMF document
    finally:
        metrics.clear_metrics()
