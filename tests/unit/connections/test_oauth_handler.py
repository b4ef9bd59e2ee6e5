"""functions/oauth_callback/app.py in-process, with the service built on in-memory fakes: only links
minted for Rankr start an install, the callback needs the browser's install cookie, and the outcome
is shown at a clean URL."""

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
from fakes import InMemoryDedupeStore
from rankr_ghl import wiring
from rankr_ghl.config import Settings
from rankr_ghl.connections.install_links import (
    NONCE_COOKIE,
    RESULT_COOKIE,
    InstallLinkIssuer,
    ReturnUrlPolicy,
    SignedTokens,
    claim_code_hash,
)
from rankr_ghl.connections.oauth_flow import OAuthAppConfig, OAuthInstallService
from rankr_ghl.connections.state import StateSigner
from rankr_ghl.connections.status import UserType
from rankr_ghl.observability import logger
from rankr_ghl.wiring.oauth import OAuthEndpoints

REPO = Path(__file__).resolve().parents[3]
KEY = "signing-key-" + "q" * 40
INSTALL = "https://abc123.execute-api.us-east-1.amazonaws.com/oauth/install"


class MemoryClaims:
    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}

    def put(self, code_hash: str, location_ids: list[str], ttl_s: int) -> None:
        self.items[code_hash] = list(location_ids)

    def take(self, code_hash: str) -> list[str] | None:
        return self.items.pop(code_hash, None)


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
    app = OAuthAppConfig("app123-xyz", "https://marketplace.gohighlevel.com", ("contacts.readonly",))
    used = InMemoryDedupeStore()
    claims = MemoryClaims()
    svc = OAuthInstallService(
        app,
        signer,
        world.oauth,
        world.tokens,
        world.connections,
        used_states=used,
        claims=claims,
        clock=world.clock,
    )
    links = InstallLinkIssuer(
        SignedTokens(KEY, "install-link", ttl_s=900, clock=world.clock),
        INSTALL,
        ReturnUrlPolicy(["https://app.rankr.example/ghl"]),
    )
    endpoints = OAuthEndpoints(
        app,
        signer,
        links,
        results=SignedTokens(KEY, "install-result", ttl_s=300, clock=world.clock),
        used_links=lambda: used,
        callback=lambda: svc,
    )
    wiring.install(
        wiring.Root(
            Settings.from_env({}), overrides=wiring.Overrides(oauth_install_service=lambda: endpoints)
        )
    )
    module = load_handler()
    module.signer, module.links, module.claims, module.used = signer, links, claims, used
    return module


def event(name: str, cookies: dict[str, str] | None = None, **query: str) -> dict:
    base = json.loads((REPO / "events" / f"oauth_{name}.json").read_text())
    ev = copy.deepcopy(base)
    path = f"/oauth/{name}"
    ev["rawPath"] = ev["requestContext"]["http"]["path"] = path
    ev["routeKey"] = ev["requestContext"]["routeKey"] = f"GET {path}"
    ev["queryStringParameters"] = query or None
    ev["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if cookies:
        ev["cookies"] = [f"{k}={v}" for k, v in cookies.items()]
    return ev


def done_event(cookies: dict[str, str]) -> dict:
    ev = event("callback", cookies=cookies)
    ev["rawPath"] = ev["requestContext"]["http"]["path"] = "/oauth/done"
    ev["routeKey"] = ev["requestContext"]["routeKey"] = "GET /oauth/done"
    return ev


def cookies_of(resp: dict) -> dict[str, str]:
    jar: dict[str, str] = {}
    for raw in resp.get("cookies") or []:
        name, _, value = raw.split(";", 1)[0].partition("=")
        jar[name] = value
    return jar


def start(handler, account="acct_42", user_type=UserType.LOCATION, return_url=None):
    link, _ = handler.links.mint(account, user_type, return_url)
    token = parse_qs(urlsplit(link).query)["link"][0]
    resp = handler.lambda_handler(event("install", link=token), Ctx())
    return token, resp


def finish(handler, resp_callback) -> dict:
    assert resp_callback["statusCode"] == 303, resp_callback
    assert urlsplit(resp_callback["headers"]["Location"]).path == "/oauth/done"
    assert urlsplit(resp_callback["headers"]["Location"]).query == ""
    return handler.lambda_handler(done_event(cookies_of(resp_callback)), Ctx())


@pytest.fixture
def powertools_logs():
    buf = io.StringIO()
    h = logging.StreamHandler(buf)
    h.setFormatter(logger.registered_formatter)
    logger.addHandler(h)
    yield buf
    logger.removeHandler(h)


def test_minted_link_redirects_to_chooselocation_with_a_browser_cookie(handler):
    _, resp = start(handler)
    assert resp["statusCode"] == 302
    location = resp["headers"]["Location"]
    assert location.startswith("https://marketplace.gohighlevel.com/v2/oauth/chooselocation?")
    q = parse_qs(urlsplit(location).query)
    assert q["redirect_uri"] == ["https://abc123.execute-api.us-east-1.amazonaws.com/oauth/callback"]
    state = handler.signer.verify(q["state"][0])
    assert state.rankr_account_id == "acct_42" and state.browser_hash
    (cookie,) = resp["cookies"]
    assert cookie.startswith(f"{NONCE_COOKIE}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Domain" not in cookie


@pytest.mark.parametrize(
    "query", [{}, {"rankr_account": "acct_victim"}, {"link": "forged.link"}, {"link": "x" * 3000}]
)
def test_anything_but_a_minted_link_is_a_400_page_without_redirect(handler, query):
    resp = handler.lambda_handler(event("install", **query), Ctx())
    assert resp["statusCode"] in (400, 422)
    assert "Location" not in resp["headers"]
    assert not resp.get("cookies")


def test_a_link_works_once_and_expires(handler, world):
    token, first = start(handler)
    assert first["statusCode"] == 302
    replay = handler.lambda_handler(event("install", link=token), Ctx())
    assert replay["statusCode"] == 400 and "used already" in replay["body"]
    link, _ = handler.links.mint("acct_1", UserType.LOCATION, None)
    world.clock.advance(901)
    late = handler.lambda_handler(event("install", link=parse_qs(urlsplit(link).query)["link"][0]), Ctx())
    assert late["statusCode"] == 400 and "expired" in late["body"]


def test_a_tampered_link_naming_another_account_is_refused(handler):
    import base64

    link, _ = handler.links.mint("acct_attacker", UserType.LOCATION, None)
    payload, mac = parse_qs(urlsplit(link).query)["link"][0].split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["a"] = "acct_victim"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    resp = handler.lambda_handler(event("install", link=f"{forged}.{mac}"), Ctx())
    assert resp["statusCode"] == 400 and "Location" not in resp["headers"]


def test_callback_with_the_cookie_completes_and_redirects_to_a_clean_page(
    handler, world, capsys, powertools_logs
):
    _, started = start(handler, "acct_1")
    state = parse_qs(urlsplit(started["headers"]["Location"]).query)["state"][0]
    grant = world.oauth.issue("Location", "co1", "loc1")
    world.oauth.codes["the-code"] = grant
    cb = handler.lambda_handler(
        event("callback", cookies=cookies_of(started), code="the-code", state=state), Ctx()
    )
    page = finish(handler, cb)
    assert page["statusCode"] == 200
    assert page["headers"]["Content-Type"].startswith("text/html")
    assert "Location loc1 connected" in page["body"] and "•••ct_1" in page["body"]
    assert "<script" not in page["body"] and "http" not in page["body"].split("<body>")[1]
    out = capsys.readouterr().out + page["body"] + powertools_logs.getvalue() + json.dumps(cb)
    for secret in (grant.access_token, grant.refresh_token, "the-code", state, KEY):
        assert secret not in out
    assert world.connections.get("loc1").rankr_account_id == "acct_1"


@pytest.mark.parametrize("cookies", [None, {NONCE_COOKIE: "another-browser"}])
def test_callback_without_the_browser_cookie_stores_nothing(handler, world, cookies):
    _, started = start(handler, "acct_1")
    state = parse_qs(urlsplit(started["headers"]["Location"]).query)["state"][0]
    world.oauth.codes["c"] = world.oauth.issue("Location", "co1", "loc1")
    page = finish(
        handler, handler.lambda_handler(event("callback", cookies=cookies, code="c", state=state), Ctx())
    )
    assert page["statusCode"] == 400 and "another browser" in page["body"]
    assert world.connections.items == {} and world.tokens.secrets == {}
    assert "c" in world.oauth.codes  # never exchanged


def test_marketplace_install_is_unbound_and_shows_a_claim_code_once(handler, world):
    world.oauth.codes["c"] = world.oauth.issue("Location", None, "locM")
    page = finish(handler, handler.lambda_handler(event("callback", code="c"), Ctx()))
    assert page["statusCode"] == 200 and "claim code" in page["body"]
    assert world.connections.get("locM").rankr_account_id is None
    (code_hash,) = handler.claims.items
    shown = page["body"].split('aria-label="claim code">')[1].split("<")[0]
    assert claim_code_hash(shown) == code_hash
    again = handler.lambda_handler(done_event({RESULT_COOKIE: "not-a-result"}), Ctx())
    assert again["statusCode"] == 400


def test_a_bound_location_keeps_its_account(handler, world):
    world.oauth.codes["c1"] = world.oauth.issue("Location", None, "locB")
    finish(handler, handler.lambda_handler(event("callback", code="c1"), Ctx()))
    world.connections.link_rankr_account("locB", "acct_owner")
    _, started = start(handler, "acct_attacker")
    state = parse_qs(urlsplit(started["headers"]["Location"]).query)["state"][0]
    world.oauth.codes["c2"] = world.oauth.issue("Location", None, "locB")
    page = finish(
        handler,
        handler.lambda_handler(event("callback", cookies=cookies_of(started), code="c2", state=state), Ctx()),
    )
    assert "already linked to another Rankr account" in page["body"]
    assert world.connections.get("locB").rankr_account_id == "acct_owner"


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
    page = finish(handler, handler.lambda_handler(event("callback", **query), Ctx()))
    assert page["statusCode"] == status
    assert title in page["body"] and "start over" in page["body"]
    logs = powertools_logs.getvalue()
    assert "install failed" in logs
    assert "never-issued" not in capsys.readouterr().out + logs + page["body"]


def test_done_without_a_result_is_a_400_page(handler):
    resp = handler.lambda_handler(done_event({}), Ctx())
    assert resp["statusCode"] == 400 and "Start the install again" in resp["body"]


def test_overlong_link_is_a_validation_error(handler):
    resp = handler.lambda_handler(event("install", link="a" * 5000), Ctx())
    assert resp["statusCode"] == 422
