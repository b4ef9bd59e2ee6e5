"""Fixtures for Rankr client <-> sandbox tests over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rankr_ghl.rankr import RankrClient
from rankr_ghl_tools.rankr_sandbox import RankrSandbox


@pytest.fixture(scope="session")
def rankr_sandbox_session() -> Iterator[RankrSandbox]:
    with RankrSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(rankr_sandbox_session: RankrSandbox) -> RankrSandbox:
    """The shared sandbox, wiped (data, stats, faults) before each test."""
    rankr_sandbox_session.admin.reset()
    return rankr_sandbox_session


@pytest.fixture
def client(sandbox: RankrSandbox) -> Iterator[RankrClient]:
    with RankrClient(sandbox.url, sandbox.api_key, timeout=5, backoff_base=0.01, backoff_cap=0.05) as rankr:
        yield rankr
