"""`/oauth/installedLocations` is listed completely whether GHL caps `limit` and whatever `count` counts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rankr_ghl.ghl.oauth import GHLOAuthClient
from rankr_ghl.ghl.ratelimit import RateLimiter
from rankr_ghl_tools.ghl_sandbox import GHLSandbox, SandboxConfig

pytestmark = pytest.mark.integration

LOCATIONS = 45


@pytest.fixture(scope="module")
def agency() -> Iterator[tuple[GHLSandbox, GHLOAuthClient, str]]:
    with GHLSandbox(SandboxConfig(), host="127.0.0.1", port=0) as sandbox:
        for n in range(LOCATIONS):
            sandbox.admin.create_location(f"locPg{n:03d}", company_id="coPaging")
        token = str(sandbox.admin.tokens(company_id="coPaging")["access_token"])
        client = GHLOAuthClient(
            sandbox.config.client_id,
            sandbox.config.client_secret,
            base_url=sandbox.url,
            rate_limiter=RateLimiter(isolated=True),
            backoff_base_s=0.01,
        )
        try:
            yield sandbox, client, token
        finally:
            client.close()


@pytest.mark.parametrize("max_limit", [None, 20, 10])
@pytest.mark.parametrize("count", ["total", "page"])
@pytest.mark.parametrize("page_size", [100, 20, 7])
def test_every_installed_location_is_listed(agency, max_limit, count, page_size):
    sandbox, client, token = agency
    sandbox.admin.variants("coPaging", installed_locations={"max_limit": max_limit, "count": count})
    before = int(sandbox.admin.stats()["requests"].get("GET /oauth/installedLocations", 0))
    ids = [loc.id for loc in client.installed_locations(token, "coPaging", page_size=page_size)]
    assert sorted(ids) == [f"locPg{n:03d}" for n in range(LOCATIONS)]
    calls = int(sandbox.admin.stats()["requests"]["GET /oauth/installedLocations"]) - before
    served = min(page_size, max_limit or page_size)
    # At most one page beyond the ones that carry locations (the empty page that ends an ambiguous list).
    assert calls <= -(-LOCATIONS // served) + 1
