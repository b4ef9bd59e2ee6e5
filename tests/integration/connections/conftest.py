"""Connections on the embedded AWS (moto server) + the GHL sandbox over loopback.

`conn_env` points the layer's settings at both: the template's ConnectionsTable, a private app
secret and a private token-secret prefix per module (the embedded AWS is shared by the session).
Every test here also runs the leak check: captured output must hold no token and no client secret.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from rankr_ghl import wiring
from rankr_ghl.connections.models import Connection, ConnectionStatus, TokenBundle, UserType, from_epoch
from rankr_ghl.observability import logger
from rankr_ghl.wire_values import SecretStr
from rankr_ghl_tools.ghl_sandbox import GHLSandbox, SandboxConfig

STATE_KEY = "integration-state-key-" + "x" * 30


@dataclass
class ConnEnv:
    aws: object
    ghl: GHLSandbox
    env: dict[str, str]
    secrets_seen: set[str] = field(default_factory=set)  # every token/secret value to leak-check

    def new_id(self, prefix: str = "loc") -> str:
        return f"{prefix}{uuid.uuid4().hex[:12]}"

    def seen(self, *values: str | None) -> None:
        self.secrets_seen.update(v for v in values if v)

    def install_location(
        self,
        location_id: str,
        *,
        expired: bool = False,
        company_id: str | None = None,
        lifecycle_event_ms: int | None = None,
    ) -> TokenBundle:
        """A location whose token pair sits in Secrets Manager (as if the OAuth callback ran)."""
        self.ghl.admin.create_location(location_id, company_id=company_id)
        pair = self.ghl.admin.tokens(location_id=location_id)
        self.seen(pair["access_token"], pair["refresh_token"])
        now = time.time()
        bundle = TokenBundle(
            access_token=SecretStr(pair["access_token"]),
            refresh_token=SecretStr(pair["refresh_token"]),
            expires_at=now - 10 if expired else now + float(pair["expires_in"]),
            scopes=tuple(pair.get("scope", "").split()),
            user_type=UserType.LOCATION,
            company_id=company_id,
            location_id=location_id,
            issued_at=now,
        )
        wiring.root().token_store().install(location_id, bundle)
        wiring.root().connection_store().save_all(
            [
                Connection(
                    connection_id=location_id,
                    location_id=location_id,
                    company_id=company_id,
                    user_type=UserType.LOCATION,
                    scopes=bundle.scopes,
                    installed_at=from_epoch(now),
                    token_expires_at=from_epoch(bundle.expires_at),
                    status=ConnectionStatus.ACTIVE,
                    lifecycle_event_ms=lifecycle_event_ms,
                    lifecycle_event_id="" if lifecycle_event_ms is not None else None,
                )
            ]
        )
        if expired:
            self.ghl.admin.expire_tokens(location_id=location_id)
        return bundle

    def stored_secret_values(self) -> None:
        """Record every token now held in this module's secrets (for the leak check)."""
        sm = self.aws.client("secretsmanager")
        prefix = self.env["TOKEN_SECRET_PREFIX"]
        for page in sm.get_paginator("list_secrets").paginate(
            Filters=[{"Key": "name", "Values": [prefix]}], IncludePlannedDeletion=True
        ):
            for entry in page["SecretList"]:
                try:
                    doc = json.loads(sm.get_secret_value(SecretId=entry["ARN"])["SecretString"])
                except Exception:
                    continue
                self.seen(doc.get("access_token"), doc.get("refresh_token"))


@pytest.fixture(scope="module")
def ghl_sandbox() -> Iterator[GHLSandbox]:
    with GHLSandbox(SandboxConfig()) as sb:
        yield sb


@pytest.fixture(scope="module")
def conn_env(embedded_aws_session, ghl_sandbox) -> Iterator[ConnEnv]:
    embedded_aws = embedded_aws_session
    run = uuid.uuid4().hex[:8]
    sm = embedded_aws.client("secretsmanager")
    app_secret_name = f"rankr-ghl/dev/app-it-{run}"
    cfg = ghl_sandbox.config
    sm.create_secret(
        Name=app_secret_name,
        SecretString=json.dumps(
            {
                "client_id": cfg.client_id,
                "client_secret": cfg.client_secret,
                "state_signing_key": STATE_KEY,
                "rankr_api_key": "unused",
            }
        ),
    )
    fn_env = embedded_aws.template.functions["OAuthCallbackFunction"].env
    env = {
        "STAGE": fn_env.get("STAGE", "dev"),
        "CONNECTIONS_TABLE": fn_env["CONNECTIONS_TABLE"],
        "SYNC_TABLE": fn_env["SYNC_TABLE"],
        "AUDIT_TABLE": fn_env["AUDIT_TABLE"],
        "APP_SECRET_ID": app_secret_name,
        "TOKEN_SECRET_PREFIX": f"{fn_env['TOKEN_SECRET_PREFIX']}it-{run}-",
        "GHL_API_BASE_URL": ghl_sandbox.url,
        "GHL_MARKETPLACE_URL": ghl_sandbox.url,
        "GHL_CLIENT_ID": cfg.client_id,
        "OAUTH_REDIRECT_URI": "https://connector.test/oauth/callback",
        "RANKR_RETURN_URL": "",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**embedded_aws.environ, **env}.items():
            mp.setenv(key, value)
        wiring.reset()
        ce = ConnEnv(aws=embedded_aws, ghl=ghl_sandbox, env=env)
        ce.seen(cfg.client_secret, STATE_KEY)
        yield ce
        wiring.reset()


@pytest.fixture
def powertools_logs() -> Iterator[io.StringIO]:
    """The Powertools JSON log lines (with `extra` fields) emitted during the test.

    Powertools' own handler writes to the process's real stdout, which capsys does not see."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        yield buf
    finally:
        logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def leak_check(request, capsys, caplog, powertools_logs):
    """After each test: no token or client secret in anything the test printed or logged."""
    yield
    if "conn_env" not in request.fixturenames:
        return
    env: ConnEnv = request.getfixturevalue("conn_env")
    env.stored_secret_values()
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text + powertools_logs.getvalue()
    leaked = [v for v in env.secrets_seen if v in text]
    assert not leaked, f"{len(leaked)} secret value(s) found in captured logs"
