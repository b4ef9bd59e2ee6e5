"""functions/oauth_callback/app.py in-process, with the service built on in-memory fakes."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from rankr_ghl import wiring
from rankr_ghl.config import Settings
from rankr_ghl.connections.oauth_flow import OAuthAppConfig, OAuthInstallService
from rankr_ghl.connections.state import StateSigner
from rankr_ghl.observability import logger

REPO = Path(__file__).resolve().parents[3]
KEY = "signing-key-" + "q" * 40


def load_handler():
    spec = importlib.util.spec_from_file_location(
        "oauth_callback_app_under_test", REPO / "functions/oauth_callback/app.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Ctx:
    function_name: str = "oauth-callback"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:oauth-callback"
    aws_request_id: str = "req-1"


@pytest.fixture
def handler(world, monkeypatch):
    signer = StateSigner(KEY, clock=world.clock)
    svc = OAuthInstallService(
        OAuthAppConfig("app123-xyz", "https://marketplace.gohighlevel.com", ("contacts.readonly",)),
        signer,
        world.oauth,
        world.tokens,
        world.connections,
        clock=world.clock,
    )

    def use_settings(settings: Settings) -> None:
        wiring.install(wiring.Root(settings, overrides=wiring.Overrides(oauth_install_service=lambda: svc)))

    use_settings(Settings.from_env({}))
    module = load_handler()
    module.signer = signer
    module.use_settings = use_settings
    return module


def event(name: str, **query: str) -> dict:
    base = json.loads((REPO / "events" / f"oauth_{name}.json").read_text())
    ev = copy.deepcopy(base)
    ev["queryStringParameters"] = query or None
    ev["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return ev


def test_install_redirects_to_chooselocation(handler):
    resp = handler.lambda_handler(event("install", rankr_account="acct_42"), Ctx())
    assert resp["statusCode"] == 302
    location = resp["headers"]["Location"]
    assert location.startswith("https://marketplace.gohighlevel.com/v2/oauth/chooselocation?")
    q = parse_qs(urlsplit(location).query)
    # Redirect URI derived from the request when OAUTH_REDIRECT_URI is empty.
    assert q["redirect_uri"] == ["https://abc123.execute-api.us-east-1.amazonaws.com/oauth/callback"]
    assert handler.signer.verify(q["state"][0]).rankr_account_id == "acct_42"


def test_sample_events_parse(handler, world):
    install = json.loads((REPO / "events/oauth_install.json").read_text())
    assert handler.lambda_handler(install, Ctx())["statusCode"] == 302
    world.oauth.codes["sample-authorization-code"] = world.oauth.issue("Location", None, "locS")
    callback = json.loads((REPO / "events/oauth_callback.json").read_text())
    assert handler.lambda_handler(callback, Ctx())["statusCode"] == 200


@pytest.fixture
def powertools_logs():
    buf = io.StringIO()
    h = logging.StreamHandler(buf)
    h.setFormatter(logger.registered_formatter)
    logger.addHandler(h)
    yield buf
    logger.removeHandler(h)


def test_callback_success_page_has_no_token(handler, world, capsys, powertools_logs):
    grant = world.oauth.issue("Location", "co1", "loc1")
    world.oauth.codes["the-code"] = grant
    state = handler.signer.sign("acct_1")
    resp = handler.lambda_handler(event("callback", code="the-code", state=state), Ctx())
    assert resp["statusCode"] == 200
    assert resp["headers"]["Content-Type"].startswith("text/html")
    assert "1 location connected" in resp["body"]
    logs = powertools_logs.getvalue()
    assert "install completed" in logs
    out = capsys.readouterr().out + resp["body"] + logs
    for secret in (grant.access_token, grant.refresh_token, "the-code", state, KEY):
        assert secret not in out
    assert world.connections.get("loc1").rankr_account_id == "acct_1"


def test_callback_redirects_to_rankr_when_configured(handler, world):
    handler.use_settings(Settings.from_env({"RANKR_RETURN_URL": "https://app.rankr.example/ghl?x=1"}))
    world.oauth.codes["c"] = world.oauth.issue("Location", None, "loc1")
    resp = handler.lambda_handler(event("callback", code="c"), Ctx())
    assert resp["statusCode"] == 302
    assert resp["headers"]["Location"].startswith("https://app.rankr.example/ghl?x=1&status=connected")


@pytest.mark.parametrize(
    ("query", "status", "title"),
    [
        ({}, 400, "did not send an authorization code"),
        ({"code": "c", "state": "bogus.state"}, 400, "not valid"),
        ({"code": "never-issued"}, 400, "refused the authorization code"),
        ({"error": "access_denied"}, 400, "cancelled"),
    ],
)
def test_callback_errors_are_clear_pages(handler, query, status, title, capsys, powertools_logs):
    resp = handler.lambda_handler(event("callback", **query), Ctx())
    assert resp["statusCode"] == status
    assert title in resp["body"]
    assert resp["headers"]["Content-Type"].startswith("text/html")
    logs = powertools_logs.getvalue()
    assert "install failed" in logs
    assert "never-issued" not in capsys.readouterr().out + logs


def test_expired_state_page(handler, world):
    state = handler.signer.sign("acct")
    world.clock.advance(10_000)
    resp = handler.lambda_handler(event("callback", code="c", state=state), Ctx())
    assert resp["statusCode"] == 400
    assert "expired" in resp["body"]


def test_overlong_parameter_is_a_validation_error(handler):
    resp = handler.lambda_handler(event("install", rankr_account="a" * 500), Ctx())
    assert resp["statusCode"] == 422
