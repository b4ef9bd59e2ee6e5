"""`rankr-ghl dlq list|replay`: inspect and re-drive dead-lettered messages of every account.

The control API's operator ops `ops.dlq.summary` and `ops.dlq.replay`, sent to ControlFunction's `ops`
alias: the function reads the queues of its stack (template.yaml) and replays as `dlq.replay` does.
- webhooks / reconcile: back to the source FIFO queue, in the message's group (the location: its rate
  budget and order stay honest), with a fresh deduplication id; deleted from the DLQ once re-sent.
- lead-push: Lambda's on-failure record; lead push's `async` alias is invoked again with the
  original request, then the record is deleted.
Bodies are never printed (they carry PII); `list` shows ids, location, event type, receive count, age.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rankr_ghl_tools.control_client import add_arguments, operator_call

QUEUES = ("webhooks", "reconcile", "lead-push")
SHOWN_AT_MOST = 500  # ops.dlq.summary's largest sample per queue


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("dlq", help="list and re-drive dead-lettered messages")
    sub = parser.add_subparsers(dest="dlq_command", required=True)
    for name, help_text, handler in (
        ("list", "show DLQ messages (ids, location, type, receive count; never bodies)", cmd_list),
        ("replay", "send DLQ messages back to their source queue (or re-invoke lead push)", cmd_replay),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--queue", choices=QUEUES, default="webhooks")
        p.add_argument("--max", type=int, default=100, help="at most this many messages")
        p.add_argument("--location", help="only this location's messages")
        p.add_argument("--rankr-account", help="only this Rankr account's messages")
        if name == "list":
            p.add_argument("--json", action="store_true", help="one JSON object per line")
        else:
            p.add_argument("--message-id", action="append", dest="message_ids", help="only these messages")
        add_arguments(p)
        p.set_defaults(handler=handler)


def _call(args: argparse.Namespace, op: str, **fields: Any) -> dict[str, Any] | None:
    return operator_call(args, op, args.rankr_account, locationId=args.location, **fields)


def cmd_list(args: argparse.Namespace) -> int:
    if not 1 <= args.max <= SHOWN_AT_MOST:
        print(f"error: --max must be 1 to {SHOWN_AT_MOST}", file=sys.stderr)
        return 2
    result = _call(args, "ops.dlq.summary", max=args.max)
    if result is None:
        return 1
    queue = result["queues"].get(args.queue)
    if queue is None:
        print(f"error: the control function has no {args.queue} DLQ configured", file=sys.stderr)
        return 1
    # A FIFO queue's message group is the location (webhooks and reconcile jobs are grouped by it).
    rows = [
        {**row, "group": row["locationId"] if args.queue != "lead-push" else None} for row in queue["sample"]
    ]
    for row in rows:
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{row['messageId']}  location={row['locationId']}  type={row['eventType']}  "
                f"receives={row['receiveCount']}  age={row['ageSeconds']}s"
            )
    if not args.json:
        shown = f" ({len(rows)} shown)" if len(rows) < queue["messages"] else ""
        print(f"{queue['messages']} message(s) in {args.queue} DLQ{shown}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    if not 1 <= args.max <= 100:
        print("error: --max must be 1 to 100", file=sys.stderr)
        return 2
    result = _call(args, "ops.dlq.replay", queue=args.queue, max=args.max, messageIds=args.message_ids)
    if result is None:
        return 1
    for message_id in result["failed"]:
        print(f"error: {message_id}: not replayed; it stays in the DLQ", file=sys.stderr)
    print(
        json.dumps(
            {"queue": args.queue, "replayed": len(result["replayed"]), "failed": len(result["failed"])}
        )
    )
    return 0 if not result["failed"] else 1
