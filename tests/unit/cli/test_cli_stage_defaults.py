"""The CLI's default resource names for a stage are the ones template.yaml gives that stage."""

from __future__ import annotations

from pathlib import Path

import pytest
from rankr_ghl_tools.cli import stage_defaults
from rankr_ghl_tools.local.template import load_template

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stage_defaults_match_the_template(stage: str) -> None:
    template = load_template(TEMPLATE, parameter_overrides={"Stage": stage})
    env = template.functions["WebhookWorkerFunction"].env
    defaults = stage_defaults(stage)
    for key in ("CONNECTIONS_TABLE", "SYNC_TABLE", "AUDIT_TABLE", "TOKEN_SECRET_PREFIX", "STAGE"):
        assert defaults[key] == env[key], key
    assert defaults["IDEMPOTENCY_TABLE"] == template.functions["LeadPushFunction"].env["IDEMPOTENCY_TABLE"]
    assert defaults["APP_SECRET_ID"] == template.secrets["AppSecret"].name
