"""Every boto3 client the root builds gets timeouts and retries sized to the function's Timeout."""

from __future__ import annotations

from typing import Any

import pytest
from rankr_ghl.config import ConfigError, Settings
from rankr_ghl.wiring import Root


def _worst_case_s(config: Any) -> float:
    attempts = config.retries["max_attempts"]
    return float(attempts * (config.connect_timeout + config.read_timeout))


@pytest.mark.parametrize("timeout_s", [10, 30, 120, 300])
def test_one_call_worst_case_fits_inside_the_function_timeout(timeout_s: int) -> None:
    config = Root(Settings.from_env({"FUNCTION_TIMEOUT_S": str(timeout_s)})).aws_client_config()
    assert config.retries["mode"] == "standard"
    # botocore's defaults are 60 s connect and 60 s read: far beyond a 10 s intake.
    assert _worst_case_s(config) < timeout_s
    # Room for at least the claim and the send of the intake in a 10 s function.
    assert _worst_case_s(config) <= max(6.0, timeout_s / 2)


def test_every_client_the_root_builds_uses_that_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, Any]] = []

    def fake_client(service: str, **kwargs: Any) -> object:
        seen.append((service, kwargs.get("config")))
        return object()

    monkeypatch.setattr("boto3.client", fake_client)
    root = Root(Settings.from_env({"FUNCTION_TIMEOUT_S": "10"}))
    root.dynamodb()
    root.token_store()
    root.aws_client("sqs")
    assert root.aws_client("sqs") is root.aws_client("sqs")  # one client per service per container
    assert sorted(service for service, _ in seen) == ["dynamodb", "secretsmanager", "sqs"]
    for _, config in seen:
        assert config is not None and config.read_timeout <= 2.0 and config.connect_timeout <= 1.0


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"FUNCTION_TIMEOUT_S": "0"}, "FUNCTION_TIMEOUT_S"),
        ({"WEBHOOK_RETRY_HORIZON_S": "-5"}, "WEBHOOK_RETRY_HORIZON_S"),
        ({"WEBHOOK_CLOCK_SKEW_S": "-1"}, "WEBHOOK_CLOCK_SKEW_S"),
        ({"WEBHOOK_DEDUPE_TTL_S": "3600"}, "WEBHOOK_DEDUPE_TTL_S"),
        ({"WEBHOOK_MAX_BODY_BYTES": "lots"}, "WEBHOOK_MAX_BODY_BYTES"),
    ],
)
def test_a_bad_setting_fails_at_cold_start_naming_it(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ)
    assert named in str(info.value)
    for value in environ.values():
        assert value not in str(info.value).replace(named, "")


def test_the_dedupe_ttl_defaults_to_cover_the_retry_horizon() -> None:
    settings = Settings.from_env({"WEBHOOK_RETRY_HORIZON_S": "7200", "WEBHOOK_CLOCK_SKEW_S": "60"})
    assert settings.webhook_dedupe_s == 7260


def test_every_function_tells_the_root_its_template_timeout() -> None:
    from pathlib import Path

    from rankr_ghl.config import DEFAULT_FUNCTION_TIMEOUT_S
    from rankr_ghl_tools.local.template import load_template

    template = load_template(Path(__file__).resolve().parents[3] / "template.yaml")
    assert template.functions
    for logical_id, function in template.functions.items():
        configured = float(function.env.get("FUNCTION_TIMEOUT_S", DEFAULT_FUNCTION_TIMEOUT_S))
        assert configured == function.timeout_s, logical_id
