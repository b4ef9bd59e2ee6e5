"""docs/rankr-api.yaml is a valid OpenAPI 3.1 document and covers what the client calls."""

from __future__ import annotations

from pathlib import Path

import yaml
from openapi_spec_validator import validate
from rankr_ghl.rankr import client as client_module

SPEC = Path(__file__).resolve().parents[3] / "docs" / "rankr-api.yaml"


def test_spec_is_valid_openapi_31() -> None:
    spec = yaml.safe_load(SPEC.read_text())
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_client_path_template_is_in_the_spec() -> None:
    paths = set(yaml.safe_load(SPEC.read_text())["paths"])
    templates = {
        value
        for name, value in vars(client_module).items()
        if name.isupper() and isinstance(value, str) and value.startswith("/v1/")
    }
    assert len(templates) == 8
    assert templates <= paths
