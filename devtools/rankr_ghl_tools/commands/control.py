"""`rankr-ghl control <command> --rankr-account A ...`: every control API op, as Rankr calls it.

Each command builds the op's request, sends it through the control client (the Lambda Invoke API of
ControlFunction; see rankr_ghl_tools.control_client) and prints the result as one JSON object. A
refused request prints its error (`code: message`) and exits 2. Mapping documents are read from JSON
or YAML files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rankr_ghl_tools.control_client import ControlCallFailed, ControlClient, add_arguments

# command -> (op, help, arguments: (flag, kwargs) pairs, request fields from the parsed arguments)
Fields = Callable[[argparse.Namespace], dict[str, Any]]


def _document(path: str) -> dict[str, Any]:
    """The file's document as sent: the control API validates it (mapping.validate / mapping.put)."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() in {".yaml", ".yml"}:
        import yaml

        document = yaml.safe_load(text)
    else:
        document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: a mapping document is an object")
    return document


LOCATION = ("location", {"help": "GHL location id"})
COMMANDS: dict[str, tuple[str, str, list[tuple[str, dict[str, Any]]], Fields]] = {
    "install-link": (
        "install_link",
        "a signed, single-use install link (about 15 minutes)",
        [("--agency", {"action": "store_true"}), ("--return-url", {})],
        lambda a: {"target": "agency" if a.agency else "location", "returnUrl": a.return_url},
    ),
    "connections": ("connections.list", "the account's connections", [], lambda a: {}),
    "connection": (
        "connection.get",
        "one connection: status, scopes, last webhook and reconcile, backlog, dead letters, rate budget",
        [LOCATION],
        lambda a: {"locationId": a.location},
    ),
    "link": (
        "connection.link",
        "bind a location to the account (--force moves it from another account, audited)",
        [LOCATION, ("--force", {"action": "store_true"}), ("--reason", {})],
        lambda a: {"locationId": a.location, "force": a.force or None, "reason": a.reason},
    ),
    "claim": (
        "connection.claim",
        "bind a marketplace install with its claim code",
        [("code", {})],
        lambda a: {"code": a.code},
    ),
    "disconnect": (
        "connection.disconnect",
        "disconnect a location",
        [LOCATION],
        lambda a: {"locationId": a.location},
    ),
    "logs": (
        "logs.query",
        "the location's audit log, newest first (field names only)",
        [
            LOCATION,
            ("--entity", {"choices": ["contact", "task", "note", "appointment"]}),
            ("--record", {}),
            ("--since", {}),
            ("--until", {}),
            ("--limit", {"type": int}),
            ("--cursor", {}),
        ],
        lambda a: {
            "locationId": a.location,
            "entity": a.entity,
            "recordId": a.record,
            "since": a.since,
            "until": a.until,
            "limit": a.limit,
            "cursor": a.cursor,
        },
    ),
    "transfer": (
        "test_transfer",
        "one contact through the sync (a dry run unless --apply)",
        [
            LOCATION,
            ("--ghl-contact", {}),
            ("--rankr-contact", {}),
            ("--apply", {"action": "store_true"}),
        ],
        lambda a: {
            "locationId": a.location,
            "direction": "rankr_to_ghl" if a.rankr_contact else "ghl_to_rankr",
            "ghlContactId": a.ghl_contact,
            "rankrContactId": a.rankr_contact,
            "apply": a.apply or None,
        },
    ),
    "mapping-get": (
        "mapping.get",
        "the mapping of the account (or of --location)",
        [("--location", {})],
        lambda a: {"locationId": a.location},
    ),
    "mapping-validate": (
        "mapping.validate",
        "check a mapping file",
        [("file", {})],
        lambda a: {"document": _document(a.file)},
    ),
    "mapping-put": (
        "mapping.put",
        "validate and store a mapping file for the account (or --location)",
        [("file", {}), ("--location", {})],
        lambda a: {"document": _document(a.file), "locationId": a.location},
    ),
    "reconcile-start": (
        "reconcile.start",
        "queue a reconcile of the location",
        [LOCATION, ("--full", {"action": "store_true"}), ("--dry-run", {"action": "store_true"})],
        lambda a: {
            "locationId": a.location,
            "mode": "full" if a.full else "incremental",
            "dryRun": a.dry_run or None,
        },
    ),
    "reconcile-status": (
        "reconcile.status",
        "how far the last started (or --run-id) reconcile got",
        [LOCATION, ("--run-id", {})],
        lambda a: {"locationId": a.location, "runId": a.run_id},
    ),
    "dlq-summary": (
        "dlq.summary",
        "the account's dead-lettered messages per queue",
        [("--location", {})],
        lambda a: {"locationId": a.location},
    ),
    "dlq-replay": (
        "dlq.replay",
        "send a location's dead-lettered messages back to their queue (lead push: invoke it again)",
        [
            ("location", {"nargs": "?", "help": "GHL location id (optional with --queue lead-push)"}),
            ("--queue", {"choices": ["webhooks", "reconcile", "lead-push"], "default": "webhooks"}),
            ("--message-id", {"action": "append", "dest": "message_ids"}),
            ("--max", {"type": int}),
        ],
        lambda a: {"locationId": a.location, "queue": a.queue, "messageIds": a.message_ids, "max": a.max},
    ),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("control", help="the control API, as Rankr calls it (Lambda Invoke API)")
    sub = parser.add_subparsers(dest="control_command", required=True)
    for name, (op, help_text, arguments, fields) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--rankr-account", required=True, help="the Rankr account the request is scoped to")
        for flag, kwargs in arguments:
            p.add_argument(flag, **kwargs)
        add_arguments(p)
        p.set_defaults(handler=run, control_op=op, control_fields=fields)


def run(args: argparse.Namespace) -> int:
    try:
        result = ControlClient.from_args(args).call(
            args.control_op, args.rankr_account, **args.control_fields(args)
        )
    except ControlCallFailed as refused:
        print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:  # an unreadable mapping file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0
