"""`rankr-ghl logs --location L [--entity contact] [--since ISO] [--until ISO] [--limit N]`: the audit log.

The control API's `ops.logs.query` on ControlFunction's `ops` alias (any account's location; with
`--rankr-account`, only that account's), newest first, a page at a time until `--limit`. Shows field
names, never values (audit entries hold none).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from rankr_ghl.sync.types import Entity

from rankr_ghl_tools.control_client import ControlCallFailed, ControlClient, add_arguments

PAGE = 200  # the op's largest page


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("logs", help="list audit entries of a location (newest first)")
    p.add_argument("--location", required=True, help="GHL location id")
    p.add_argument("--entity", choices=[e.value for e in Entity], help="only this entity kind")
    p.add_argument("--since", type=_when, help="ISO time (UTC if no offset) or a duration like 2h, 30m, 7d")
    p.add_argument("--until", type=_when, help="ISO time (UTC if no offset) or a duration ago")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--rankr-account", help="only if the location is this Rankr account's")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_arguments(p)
    p.set_defaults(handler=cmd_logs)


def _when(text: str) -> datetime:
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time or duration: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _row(entry: dict[str, Any]) -> dict[str, str]:
    ghl, rankr = entry.get("ghlId"), entry.get("rankrId")
    ids = " / ".join(x for x in (f"ghl:{ghl}" if ghl else "", f"rankr:{rankr}" if rankr else "") if x)
    return {
        "time": datetime.fromisoformat(entry["at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "entity": entry["entity"],
        "action": entry["action"],
        "outcome": entry["outcome"],
        "direction": entry["direction"],
        "ids": ids,
        "fields": ", ".join(entry.get("fields") or []),
        "reason": entry.get("reason") or "",
        "error": entry.get("error") or "",
        "correlation": entry.get("correlationId") or "",
    }


def _entries(args: argparse.Namespace) -> list[dict[str, Any]]:
    client = ControlClient.from_args(args, operator=True)
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(found) < args.limit:
        page = client.call(
            "ops.logs.query",
            args.rankr_account,
            locationId=args.location,
            entity=args.entity,
            since=args.since.isoformat() if args.since else None,
            until=args.until.isoformat() if args.until else None,
            limit=min(PAGE, args.limit - len(found)),
            cursor=cursor,
        )
        found += page["entries"]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    return found


def cmd_logs(args: argparse.Namespace) -> int:
    if args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        entries = _entries(args)
    except ControlCallFailed as refused:
        print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
        return 1
    if args.json:
        for e in entries:
            print(json.dumps({**_row(e), "at": e["at"], "entryId": e["entryId"], "flow": e.get("flow")}))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"audit log of {args.location} ({len(entries)} entries, newest first)")
    columns = [
        "time",
        "entity",
        "action",
        "outcome",
        "direction",
        "ids",
        "fields",
        "reason",
        "error",
        "correlation",
    ]
    for col in columns:
        table.add_column(col, overflow="fold")
    for e in entries:
        row = _row(e)
        table.add_row(*(row[c] for c in columns))
    Console().print(table)
    return 0
