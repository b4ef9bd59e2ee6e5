"""Pytest fixtures for the embedded AWS. Registered in tests/conftest.py via `pytest_plugins`.

- `embedded_aws_session` (session): one moto server with every resource of the repo's `template.yaml`.
- `embedded_aws` (function): that server, with `AWS_ENDPOINT_URL` and dummy credentials set in
  `os.environ` for the test, so any boto3 client (Powertools' included) created in it talks to it.
- `local_template`: the template, rebound to the embedded AWS's physical ids.

Tests share the session's state: use unique keys (uuid) rather than expecting empty tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rankr_ghl_tools.local.aws import EmbeddedAws
from rankr_ghl_tools.local.template import Template, load_template

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = Path(os.environ.get("RANKR_GHL_TEMPLATE", REPO_ROOT / "template.yaml"))


@pytest.fixture(scope="session")
def embedded_aws_session() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(load_template(TEMPLATE_PATH)) as aws:
        yield aws


@pytest.fixture
def embedded_aws(embedded_aws_session: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> EmbeddedAws:
    """The session's embedded AWS, with its environment re-applied for this test: other stacks
    started and stopped during the session (LocalStack, isolated instances) may have changed
    `AWS_ENDPOINT_URL` meanwhile."""
    for key, value in embedded_aws_session.environ.items():
        monkeypatch.setenv(key, value)
    return embedded_aws_session


@pytest.fixture
def local_template(embedded_aws: EmbeddedAws) -> Template:
    return embedded_aws.template
