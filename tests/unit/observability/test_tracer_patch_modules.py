"""With tracing on (in Lambda), the shared tracer patches only what the connector calls out through:
botocore (AWS) when it is built, httpx (GHL, Rankr) when the first HTTP client is built. Powertools'
default, X-Ray's `patch_all`, imports every library X-Ray supports that is installed (requests,
sqlite3, ...) on every cold start; patching httpx up front would import it on paths that make no HTTP
call (the webhook intake, the install redirect, the reconcile planner)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aws_xray_sdk.core
import pytest
from aws_lambda_powertools import Tracer
from rankr_ghl import observability, wiring


@pytest.fixture
def tracing_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, ...]]]:
    """Lambda's environment with tracing enabled; records X-Ray patch calls instead of patching."""
    patched: list[tuple[str, ...]] = []

    def fake_patch(modules: Any, *args: Any, **kwargs: Any) -> None:
        patched.append(tuple(modules))

    def no_patch_all(*args: Any, **kwargs: Any) -> None:
        pytest.fail("the tracer must not patch every module X-Ray supports")

    monkeypatch.setattr(aws_xray_sdk.core, "patch", fake_patch)
    monkeypatch.setattr(aws_xray_sdk.core, "patch_all", no_patch_all)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.delenv("AWS_CHALICE_CLI_MODE", raising=False)
    saved = Tracer._config  # Powertools shares one config across Tracer instances
    Tracer._reset_config()
    try:
        yield patched
    finally:
        Tracer._config = saved


def test_tracer_patches_botocore_when_built_and_httpx_with_the_first_http_client(
    tracing_on: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tracer = observability._build_tracer()
    assert not tracer.disabled
    assert tracing_on == [("botocore",)]
    monkeypatch.setattr(observability, "tracer", tracer)
    observability.trace_http_clients()
    assert tracing_on == [("botocore",), ("httpx",)]
    assert set(observability.TRACED_MODULES) == {"botocore", "httpx"}


def test_traced_modules_are_ones_xray_supports() -> None:
    from aws_xray_sdk.core.patcher import SUPPORTED_MODULES

    assert set(observability.TRACED_MODULES) <= set(SUPPORTED_MODULES)


def test_tracing_off_uses_the_no_op_provider_and_patches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws_xray_sdk.core, "patch", lambda *a, **k: pytest.fail("patched"))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    saved = Tracer._config
    Tracer._reset_config()
    try:
        tracer = observability._build_tracer()
        monkeypatch.setattr(observability, "tracer", tracer)
        observability.trace_http_clients()
    finally:
        Tracer._config = saved
    assert tracer.disabled
    assert isinstance(tracer.provider, observability._NoTraceProvider)


def test_wiring_traces_httpx_before_building_each_http_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from rankr_ghl.config import AppSecret

    calls: list[str] = []
    monkeypatch.setattr(observability, "trace_http_clients", lambda: calls.append("httpx"))
    monkeypatch.setattr(
        wiring.Root,
        "app_secret",
        lambda self, **_: AppSecret.from_mapping({"client_id": "app-1", "client_secret": "s"}),
    )
    monkeypatch.setenv("STAGE", "dev")
    wiring.reset()
    try:
        wiring.root().rankr_client()
        assert calls == ["httpx"]
        wiring.root().ghl_client()
        assert calls == ["httpx", "httpx"]
        wiring.root().ghl_oauth_client()
        assert calls == ["httpx", "httpx", "httpx"]
    finally:
        wiring.reset()
