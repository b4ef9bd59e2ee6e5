"""Secrets-in-logs check over the whole e2e suite (mechanism: e2e_leak_watch.py, wired in conftest.py).

`conftest.py` moves `test_no_secrets_in_captured_logs` after every other e2e test: by then the watch
holds every handler line of every LocalStack the suite ran and the test process's own logs. Known
secrets are harvested from the sandboxes and the embedded AWS (tokens issued, client secret, Rankr API
key, state signing key, every e-mail and phone either side holds) plus those tests registered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_helpers import install_location, new_id
from e2e_leak_watch import LeakWatch

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_leak_watch_flags_secrets_but_not_ids(tmp_path: Path) -> None:
    watch = LeakWatch(tmp_path / "capture.log", active=True)
    watch.open()
    watch.add_secret("sbx-client-secret-value", "short")  # "short" is below the minimum: ignored
    watch.add_email("Jane.Doe@Example.com")
    watch.add_phone("+1 (555) 010-0199")
    watch.record("handler:X", '{"message": "ok", "location_id": "locA1b2c3", "ts": 1712000000000}')
    watch.record("handler:X", '{"message": "refresh", "token": "sbx-at-AbCdEfGhIjKlMnOpQrStUvWx"}')
    watch.record("handler:Y", "contact jane.doe@example.com synced")
    watch.record("test-log:x", "dialled 15550100199 and 5550100199")
    watch.record("test-log:x", "sent client_secret=sbx-client-secret-value")
    watch.record("test-log:x", "id 9155501001990 is a longer number, not the phone")
    findings = watch.scan(watch.captured_text())
    kinds = sorted(f.kind for f in findings)
    assert kinds == ["e-mail", "phone", "phone", "secret/token", "token-shaped value"], findings
    assert all("sbx-client-secret-value" not in f.excerpt for f in findings)  # the report leaks nothing
    assert not watch.scan('{"location_id": "locA1b2c3", "short": "short", "ts": 1712000000000}')
    watch.close()


def test_no_secrets_in_captured_logs(e2e_stack, leak_watch: LeakWatch) -> None:
    """Runs last among e2e tests. Also drives one install + lead push itself, so that it judges real
    handler output even when run alone."""
    stack = e2e_stack
    location, account = new_id("locLeak"), new_id("acctLeak")
    install_location(stack, location, account)
    email, phone = f"leak.{location.lower()}@leak.example", "+15550104242"
    response = stack.client("lambda").invoke(
        FunctionName=stack.template.outputs["LeadPushAliasArn"],
        Payload=json.dumps(
            {"leadId": "leak-1", "locationId": location, "email": email, "phone": phone}
        ).encode(),
    )
    assert json.loads(response["Payload"].read())["results"][0]["outcome"] == "created"
    stack.drain(timeout=30)

    leak_watch.add_email(email)
    leak_watch.add_phone(phone)
    leak_watch.harvest_all()
    text = leak_watch.captured_text()
    handler_lines = [line for line in text.splitlines() if line.startswith("handler:")]
    assert any("LeadPushFunction" in line for line in handler_lines), "handler output was not captured"
    assert any("OAuthCallbackFunction" in line for line in handler_lines)
    assert len(leak_watch.secrets) >= 4 and leak_watch.emails  # tokens, client secret, API key, state key
    findings = leak_watch.scan(text)
    report = "\n".join(f"{f.kind} in {f.source}: {f.excerpt}" for f in findings[:20])
    assert not findings, f"{len(findings)} secret/PII occurrence(s) in captured logs:\n{report}"
