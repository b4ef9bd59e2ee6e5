"""Shared test configuration.

Unit tests (tests/unit) run with the network blocked; integration and e2e tests may use
loopback only (the embedded AWS and the sandboxes), never the internet.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket, socket_allow_hosts

REPO_ROOT = Path(__file__).resolve().parent.parent

# Session fixtures `embedded_aws` / `local_template` (moto server with the template's resources).
pytest_plugins = ["rankr_ghl_tools.local.pytest_plugin"]

# Never talk to real AWS or X-Ray from tests; handlers read these at import time.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RankrGhlTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "rankr-ghl")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


def pytest_configure(config: pytest.Config) -> None:
    """Record every AWS call the local runtime's functions make in this session (IAM proof, e2e)."""
    from rankr_ghl_tools.local.aws_calls import AWS_CALLS_DIR_ENV, session_directory

    if not os.environ.get(AWS_CALLS_DIR_ENV):
        os.environ[AWS_CALLS_DIR_ENV] = str(session_directory(REPO_ROOT / ".artifacts" / "aws-calls"))


CONTRACT_DIR = REPO_ROOT / "tests" / "contract"


@pytest.fixture(scope="session")
def ghl_contract() -> dict[str, Any]:
    """GHL's OpenAPI facts, one reduced document per spec file (see rankr_ghl_tools.contract_fixture)."""
    return dict(json.loads((CONTRACT_DIR / "ghl_contract.json").read_text()))


@pytest.fixture(scope="session")
def ghl_webhook_events() -> dict[str, Any]:
    """GHL's webhook examples as facts: per example file, its event type and payload shape."""
    return dict(json.loads((CONTRACT_DIR / "ghl_webhook_events.json").read_text()))


@pytest.fixture(autouse=True)
def _network_policy(request: pytest.FixtureRequest):
    """Block all sockets in unit tests; allow loopback only elsewhere."""
    path = Path(str(request.node.fspath)).resolve()
    saved_endpoint = None
    if (REPO_ROOT / "tests" / "unit") in path.parents:
        disable_socket(allow_unix_socket=True)
        # A session-scoped embedded AWS from an earlier integration test must not leak into
        # unit tests (they use in-process fakes or moto's mock_aws).
        saved_endpoint = os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        enable_socket()
        socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
    yield
    enable_socket()
    if saved_endpoint is not None:
        os.environ["AWS_ENDPOINT_URL"] = saved_endpoint


@pytest.fixture(autouse=True)
def fresh_root():
    """Every test starts from a composition root built from its own environment (`rankr_ghl.wiring`).

    A test that changes the environment after the first `root()` calls `wiring.reset()` (or installs
    a root of its own with `wiring.install`)."""
    from rankr_ghl import wiring

    wiring.reset()
    yield
    wiring.reset()
