"""add_tags after a "422 but created" answer (GHL docs issue #64; the GHL sandbox's 422created fault).

Found by bench/chaos.py: lead push reported a lead as `ghl_rejected` (permanent) although GHL had added
the tags, so the lead's note and task were never written. A 422 is judged by reading the contact back.
"""

from __future__ import annotations

import httpx
import pytest
from rankr_ghl.ghl.client import GHLClient
from rankr_ghl.ghl.errors import GHLUnprocessable
from rankr_ghl.ghl.tokens import StaticTokenSource


def _client(answers: list[httpx.Response], calls: list[httpx.Request]) -> GHLClient:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answers.pop(0)

    return GHLClient(
        StaticTokenSource("tok"), base_url="https://ghl.test", transport=httpx.MockTransport(handler)
    )


def _unprocessable() -> httpx.Response:
    return httpx.Response(422, json={"statusCode": 422, "message": ["Unprocessable Entity"]})


def _contact(tags: list[str]) -> httpx.Response:
    return httpx.Response(200, json={"contact": {"id": "c1", "locationId": "loc1", "tags": tags}})


def test_add_tags_answered_422_but_applied_is_proven_by_a_read() -> None:
    calls: list[httpx.Request] = []
    client = _client([_unprocessable(), _contact(["chaos", "VIP"])], calls)
    assert client.add_tags("loc1", "c1", ["vip"]) == ["chaos", "VIP"]
    assert [(c.method, c.url.path) for c in calls] == [("POST", "/contacts/c1/tags"), ("GET", "/contacts/c1")]


def test_add_tags_answered_422_and_not_applied_raises() -> None:
    calls: list[httpx.Request] = []
    client = _client([_unprocessable(), _contact(["chaos"])], calls)
    with pytest.raises(GHLUnprocessable):
        client.add_tags("loc1", "c1", ["vip"])
    assert len(calls) == 2
