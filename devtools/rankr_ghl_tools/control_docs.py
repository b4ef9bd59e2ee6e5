"""Regenerate docs/control-api.md from the contract models: `python -m rankr_ghl_tools.control_docs`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rankr_ghl.flows.control.contract import contract_document

INTRO = """# The control API

Rankr invokes `ControlFunction` (alias `live`, stack output `ControlAliasArn`) through the Lambda Invoke
API, authenticated by IAM exactly like lead push: attach the managed policy `ControlInvokePolicyArn` to
Rankr's role. There is no public route. The `rankr-ghl` CLI uses this same function.

Contract version: {version}

## Requests and answers
A request is one JSON object: `{{"op": <op>, "rankrAccountId": <id>, ...}}` of at most 64 KiB. Every op
is scoped by `rankrAccountId`: a location bound to another account answers exactly like a location that
does not exist (`not_found`), so nothing about other tenants is revealed.

- Success: `{{"ok": true, "version": "{version}", "result": {{...}}}}`
- Failure: `{{"ok": false, "version": "{version}", "error": {{"code", "message", "retryable"}}}}`. A refused
  request writes nothing. Messages name fields, never the values sent.

## Installs
`install_link` returns `{{"url", "expiresAt", "singleUse": true}}`: a signed link to `/oauth/install`
that works once, for about 15 minutes. Opening it sets a `__Host-` cookie holding a nonce (HttpOnly,
Secure, SameSite=Lax); the OAuth state carries the nonce's hash, and the callback refuses a state whose
cookie is missing or different, storing nothing. An optional `returnUrl` must be on the allow-list
(`RANKR_RETURN_URL` and `INSTALL_RETURN_URLS`: same https origin, under the listed path).

Installs started in GHL's marketplace carry no state: the tokens are stored unbound and the outcome page
shows a one-time claim code (15 minutes). The user enters it in Rankr, which calls `connection.claim`.
A location bound to another account is never rebound by an install; `connection.link` with `force`
(logged as an audit entry) is the one way to move it.

## Errors
{errors}

## Ops and their JSON Schemas
"""


def render() -> str:
    document = contract_document()
    errors = "\n".join(f"- `{code}`: {text}" for code, text in document["errors"].items())
    out = [INTRO.format(version=document["version"], errors=errors)]
    for name, schema in document["ops"].items():
        out.append(f"### `{name}`\n\n```json\n{json.dumps(schema, indent=2, sort_keys=True)}\n```\n")
    return "\n".join(out)


def main() -> int:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/control-api.md")
    target.write_text(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
