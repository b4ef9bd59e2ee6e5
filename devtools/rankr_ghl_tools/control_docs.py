"""Regenerate docs/control-api.md from the contract models: `python -m rankr_ghl_tools.control_docs`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rankr_ghl.flows.control.schemas import contract_document

INTRO = """# The control API

Rankr invokes `ControlFunction` (alias `live`, stack output `ControlAliasArn`) through the Lambda Invoke
API, authenticated by IAM exactly like lead push: attach the managed policy `ControlInvokePolicyArn` to
Rankr's role. There is no public route. The `rankr-ghl` CLI uses this same function (its cross-account
commands through the operators' alias `ops`: see "Operator scope").

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

The outcome page names the location. The app requests `locations.readonly` for that alone: GHL
answers a location's name only from `GET /locations/{{locationId}}`, and a page that shows an id
leaves the user unsure which sub-account they connected. The name is read after the install is
stored, within 3 seconds and without a retry past them; a token without the scope (401/403), a
timeout or an error leaves the page showing the id. An agency's page shows the company id:
`companies.readonly`, the scope a company's name would need, is not in the API reference we build
against, so the app does not request it.

## Connections
`connection.get` answers the connection record (status `active`, `paused`, `needs_reauth` or
`uninstalled`; scopes; install time; last token refresh) and, read on its own each:
- `lastWebhookAt`: the newest webhook-driven audit entry among the location's last 100;
- `lastReconcile`: the last completed run (`lastSuccessAt`, `lastMode`, `lastRunId`) and the
  worker's report of the last queued run (`result`: differences, repairs, failures);
- `backlog`: messages waiting on the webhook and reconcile queues (`scope: connector`: SQS counts a
  queue, not a location);
- `deadLetters`: this location's dead-lettered messages per queue, as counted by the dead-letter
  sweep (below): `countedAt` and `complete` say as of when, and whether every queue was read in full;
- `rateBudget`: requests of the shared GHL budget counted in the current window, and the limit.
A part that cannot be read is `null` and named in `unavailable`.

## Test transfers
`test_transfer` runs the reconcile's own per-contact step for one record: `ghl_to_rankr` with
`ghlContactId`, `rankr_to_ghl` with `rankrContactId`. Without `apply` it is a dry run: both record
ports refuse every write, and the answer shows what it found (`differences`, `samples`) and, for a
GHL contact, the Rankr body the mapping produces (`preview`). With `apply` (active connections only)
it syncs that record and lists each write: system, call, entity, record id and field names, never
values. Its audit entries carry the answer's `runId` as correlation id (see `logs.query`).

## Reconcile
`reconcile.start` (`incremental` or `full`, optionally `dryRun`) queues a job on ReconcileQueue in the
location's message group, so it never runs beside another reconcile of the location; it answers the
`runId`. `reconcile.status` follows that run (or `runId`): `queued`, `running` (phase and counters from
its cursor; a dry run keeps no cursor and shows `queued` until it completes), `complete` with the
worker's report, or `unknown`.

## Dead letters
`dlq.summary` counts the account's dead-lettered messages per queue (`webhooks`, `reconcile`,
`lead-push`), with ids, location, event type, receive count and age; never bodies. SQS cannot filter
by tenant: every message is looked at and released again at once, and other tenants' messages are
never counted. `dlq.replay` sends one location's messages (all, or `messageIds`, at most `max`) back to
their source queue, keeping the message group.

A `lead-push` entry is Lambda's on-failure record of an asynchronous lead push. It is the account's
when every lead in it is: each names the account or one of its locations, and nothing of another
account (a batch mixing accounts belongs to none and stays for the operator's
`rankr-ghl dlq replay --queue lead-push`). `dlq.replay` with `queue: lead-push` (`locationId` optional:
a lead may name only the account) invokes LeadPushFunction's `async` alias again
(`InvocationType=Event`) with the stored request, then deletes the record. The answer says Lambda
accepted the event, not that the leads were written: a lead that still fails is retried by Lambda
and comes back as a new record; one that succeeded meanwhile is not written twice (leads are
idempotent by `leadId`). ControlFunction may invoke exactly that alias (`lambda:InvokeFunction` on
`LeadPushAsyncAlias`); locally its Lambda client reaches the runtime's Invoke API through
`AWS_ENDPOINT_URL_LAMBDA`.

### Dead-letter counts
`connection.get` reads a location's counts with one GetItem and never reads a queue. Messages reach a
DLQ inside AWS (SQS's redrive after `maxReceiveCount` receives, Lambda's on-failure destination
after the async retries) with none of our code running, and a worker's last failed attempt would miss
every message whose last attempt crashed or timed out: the queues themselves are the only place a
count stays honest. So a sweep counts them: ControlFunction's `DeadLetterCount` schedule (every 5
minutes, input `{{"sweep": "dead-letters"}}`) reads each DLQ in full, releases every message at once,
and writes one item per location (`DLQ_COUNT#<locationId>` on SyncStateTable); a location the last
sweep counted and this one did not is written as zeros. `dlq.replay` subtracts what it replayed at
once (never below zero); the next sweep recounts. A count is as of its `countedAt`; no item means no
sweep has found a dead letter of the location. `complete: false` marks a lower bound: SQS's own count
was not reached, because a FIFO DLQ holds back a message group's later messages while its first
ones are looked at, a `dlq.replay` held some, or the sweep's time (half the function's timeout) or
bound (5,000 per queue) ran out. A lead-push record naming no single location (only the account, or
several locations) is not in a location's count; `dlq.summary` shows it.

## Errors
{errors}

## Ops and their JSON Schemas
"""

OPERATOR_SCOPE = """
## Operator scope
Contract version 1.1 adds this scope; the ops of 1.0 and their answers are unchanged.

Operators reach the same function through a second alias, `ops` (`ControlOpsAlias`, stack output
`ControlOpsAliasArn`). `lambda:InvokeFunction` on it is granted to one principal only: the template
parameter `OperatorPrincipalArn` (an IAM role or user; empty grants nobody). Rankr's managed policy
(`ControlInvokePolicyArn`) names the `live` alias alone, so Rankr's role cannot invoke `ops`.

The function reads its scope from the alias it was invoked through (`context.invoked_function_arn`,
the code lead push uses for its `async` alias), which a caller cannot choose without the grant for
that alias:
- `ops`: the operator ops below, and every op above.
- `live`: the ops above, each scoped by its `rankrAccountId`. An operator op (any op named `ops.*`,
  known or not) is refused with `forbidden` before the request is read: nothing is read or written,
  and the answer is the same whatever the request names.
- anything else (an unqualified `$LATEST` invocation, a version number): as `live`, the least
  privileged scope.

Operator ops act across accounts. `rankrAccountId` is optional and filters: a connection outside the
account answers `not_found`, exactly like one that does not exist. A connection is named by
`connectionId`: a location id, or `company:<companyId>` for an agency. The operator's view of a
connection is the whole record in camelCase (status, reason, user type, location, company, Rankr
account, scopes, token expiry and last refresh, install time, token source, an agency's install
progress); a record never holds a token. `ops.connection.get` adds `connection.get`'s live parts for a
location. A location's audit log, mapping, reconcile status and dead letters outlive its connection
record: without `rankrAccountId` they are read by location id whether or not a record exists.

- `ops.connections.list`: every connection (or `companyId`'s), by `connectionId`, `limit` a page;
  `nextCursor` asks for the next page.
- `ops.connection.get`, `ops.connection.pause`, `ops.connection.resume`: pausing needs an active
  connection and resuming a paused one (else `invalid_state`); both write a log line marked `audit`,
  as `connection.link` does.
- `ops.logs.query`: `logs.query` for any location.
- `ops.test_transfer`: `test_transfer` of any location linked to an account, run for that account
  (the answer names it as `rankrAccountId`); `apply` needs an active connection.
- `ops.mapping.get`, `ops.mapping.put`, `ops.mapping.delete`: a location's own mapping (`locationId`),
  else an account's (`rankrAccountId`); one of them is required.
- `ops.reconcile.start` (`incremental`, `full` or `notes`; `dryRun`) and `ops.reconcile.status`.
- `ops.dlq.summary` and `ops.dlq.replay`: every account's dead letters, or one account's or
  location's; `ops.dlq.replay` without `locationId` replays the whole queue (up to `max`).

The `rankr-ghl` CLI sends its cross-account commands (`connections list|show|pause|resume`, `logs`,
`mapping show|set|clear`, `reconcile run`, `dlq list|replay`, `test-transfer` without an account) as
these ops to the `ops` alias, and its account-scoped commands to `live`. Without a function configured
(`CONTROL_FUNCTION` unset) it runs the same handler in its own process, as an invocation of the
command's alias, over the deployment's environment: for tests, and for a shell that holds the
deployment's AWS access itself.

### Operator ops and their JSON Schemas
"""


def render() -> str:
    document = contract_document()
    errors = "\n".join(f"- `{code}`: {text}" for code, text in document["errors"].items())
    out = [INTRO.format(version=document["version"], errors=errors)]
    for name, schema in document["ops"].items():
        out.append(f"### `{name}`\n\n```json\n{json.dumps(schema, indent=2, sort_keys=True)}\n```\n")
    out.append(OPERATOR_SCOPE)
    for name, schema in document["operatorOps"].items():
        out.append(f"#### `{name}`\n\n```json\n{json.dumps(schema, indent=2, sort_keys=True)}\n```\n")
    return "\n".join(out)


def main() -> int:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/control-api.md")
    target.write_text(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
