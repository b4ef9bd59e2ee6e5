"""add_tags after a "422 but created" answer (GHL docs issue #64; the GHL sandbox's 422created fault).

Found by bench/chaos.py: lead push reported a lead as `ghl_rejected` (permanent) although GHL had added
the tags, because the 422 of the (idempotent) add-tags request was raised as a validation error.
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


def test_add_tags_answered_422_is_asked_once_more_and_returns_the_tags() -> None:
    calls: list[httpx.Request] = []
    client = _client([_unprocessable(), httpx.Response(201, json={"tags": ["chaos", "vip"]})], calls)
    assert client.add_tags("loc1", "c1", ["vip"]) == ["chaos", "vip"]
    assert [c.url.path for c in calls] == ["/contacts/c1/tags", "/contacts/c1/tags"]


def test_add_tags_that_keeps_answering_422_raises() -> None:
    calls: list[httpx.Request] = []
    client = _client([_unprocessable(), _unprocessable()], calls)
    with pytest.raises(GHLUnprocessable):
        client.add_tags("loc1", "c1", ["vip"])
    assert len(calls) == 2
