"""The template as CloudFormation reads it (intrinsics kept), shared by the template tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    tpl, errors = decode(str(TEMPLATE))
    assert not errors, errors
    assert tpl is not None
    return dict(tpl)
