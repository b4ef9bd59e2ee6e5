"""`rankr-ghl connections list|show|link|pause|resume`: operate on ConnectionsTable. Never shows a token."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from rankr_ghl_tools.control_client import add_arguments

if TYPE_CHECKING:
    from rankr_ghl.connections.ports import InstalledLocationLike, TokenGrant


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("connections", help="list and manage GHL connections")
    sub = parser.add_subparsers(dest="connections_command", required=True)

    p = sub.add_parser("list", help="every connection with status and token expiry")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--company", help="only this agency's connections (its install progress first)")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", help="status, scopes, token expiry, last refresh, Rankr account")
    p.add_argument("location", help="location id, or company:<companyId>")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser(
        "link", help="link a connection to a Rankr account (the control API's connection.link)"
    )
    p.add_argument("location")
    p.add_argument("rankr_account")
    p.add_argument("--force", action="store_true", help="move it from another account (audited)")
    p.add_argument("--reason", help="why it is moved (kept in the audit entry)")
    add_arguments(p)
    p.set_defaults(handler=cmd_link)

    p = sub.add_parser("pause", help="stop automatic sync (webhooks acknowledged and counted, no reconcile)")
    p.add_argument("location")
    p.set_defaults(handler=cmd_pause)

    p = sub.add_parser("resume", help="resume automatic sync; the next reconcile catches up")
    p.add_argument("location")
    p.set_defaults(handler=cmd_resume)


def _view(connection: Any) -> dict[str, Any]:
    view: dict[str, Any] = connection.public_view()
    return view


def _fail(exc: Exception) -> int:
    message = getattr(exc, "message", None) or str(exc)
    print(f"error: {message}", file=sys.stderr)
    return 1


def _print_one(connection: Any, as_json: bool) -> None:
    view = _view(connection)
    if as_json:
        print(json.dumps(view))
        return
    labels = [
        ("connection", "connection_id"),
        ("status", "status"),
        ("status reason", "status_reason"),
        ("user type", "user_type"),
        ("location", "location_id"),
        ("company", "company_id"),
        ("rankr account", "rankr_account_id"),
        ("scopes", "scopes"),
        ("token expires", "token_expires_at"),
        ("last refresh", "last_refresh_at"),
        ("installed", "installed_at"),
        ("token source", "token_source"),
    ]
    for label, key in labels:
        value = view.get(key)
        if isinstance(value, list):
            value = " ".join(value)
        print(f"{label:>14}: {value if value not in (None, '') else '-'}")
    progress = view.get("agency_install")
    if progress:
        print(f"{'agency install':>14}: {agency_install_summary(progress)}")


def agency_install_summary(progress: dict[str, Any]) -> str:
    """`done: 1000/1000 locations connected, 0 skipped` (an agency's `agencyInstall`)."""
    total = progress.get("locations")
    of = f"/{total}" if total is not None else ""
    line = f"{progress.get('status')}: {progress.get('connected', 0)}{of} locations connected"
    line += f", {progress.get('skipped', 0)} skipped"
    return line + (f" (last error: {progress['error']})" if progress.get("error") else "")


def cmd_list(args: argparse.Namespace) -> int:
    from rankr_ghl.connections import ConnectionsError
    from rankr_ghl.wiring import root

    store = root().connection_store()
    try:
        listed = store.list_by_company(args.company) if args.company else store.list()
        rows = sorted(listed, key=lambda c: (not c.is_company, c.connection_id))
    except ConnectionsError as exc:
        return _fail(exc)
    if args.json:
        for c in rows:
            print(json.dumps(_view(c)))
        return 0
    from rich.console import Console
    from rich.table import Table

    agency = next((c for c in rows if c.is_company and c.agency_install), None) if args.company else None
    title = f"{len(rows)} connection(s)"
    if agency is not None and agency.agency_install is not None:
        title += f"; agency install {agency_install_summary(agency.agency_install)}"
    table = Table(title=title)
    for column in (
        "connection",
        "status",
        "type",
        "company",
        "rankr account",
        "token expires",
        "last refresh",
    ):
        table.add_column(column)
    for c in rows:
        table.add_row(
            c.connection_id,
            c.status.value + (f" ({c.status_reason})" if c.status_reason else ""),
            c.user_type.value,
            c.company_id or "-",
            c.rankr_account_id or "-",
            c.token_expires_at.isoformat(timespec="seconds") if c.token_expires_at else "-",
            c.last_refresh_at.isoformat(timespec="seconds") if c.last_refresh_at else "-",
        )
    Console().print(table)
    return 0


def _lifecycle_call(method: str, *args: str, as_json: bool = False) -> int:
    from rankr_ghl.aws.connections_store import DynamoConnectionStore
    from rankr_ghl.connections import ConnectionsError
    from rankr_ghl.wiring import root

    store: DynamoConnectionStore = root().connection_store()
    try:
        if method == "show":
            connection = store.get(args[0])
            if connection is None:
                print(f"error: no connection {args[0]!r}", file=sys.stderr)
                return 1
        else:
            # link/pause/resume need no GHL credentials: use the store and the lifecycle rules directly.
            from rankr_ghl.connections.lifecycle import ConnectionLifecycle

            lifecycle = ConnectionLifecycle(
                root().token_store(), store, _NoOAuth(), root().token_vault(), app_id=""
            )
            connection = getattr(lifecycle, method)(*args)
    except (ConnectionsError, ValueError) as exc:
        return _fail(exc)
    _print_one(connection, as_json)
    return 0


class _NoOAuth:
    """Operator actions never call GHL: any attempt is a bug, reported as such rather than sent."""

    def _refuse(self) -> NoReturn:
        raise RuntimeError("connections link/pause/resume must not call GHL")

    def exchange_code(self, code: str, user_type: str, redirect_uri: str) -> TokenGrant:
        self._refuse()

    def refresh(self, refresh_token: str, user_type: str) -> TokenGrant:
        self._refuse()

    def location_token(self, company_token: str, company_id: str, location_id: str) -> TokenGrant:
        self._refuse()

    def installed_locations(
        self, company_token: str, company_id: str, app_id: str
    ) -> Iterator[InstalledLocationLike]:
        self._refuse()

    def location_name(self, location_token: str, location_id: str) -> str | None:
        self._refuse()


def cmd_show(args: argparse.Namespace) -> int:
    return _lifecycle_call("show", args.location, as_json=args.json)


def cmd_link(args: argparse.Namespace) -> int:
    from rankr_ghl_tools.control_client import ControlCallFailed, ControlClient

    try:
        result = ControlClient.from_args(args).call(
            "connection.link",
            args.rankr_account,
            locationId=args.location,
            force=args.force or None,
            reason=args.reason,
        )
    except ControlCallFailed as refused:
        print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
        return 1
    connection = result["connection"]
    moved = " (moved from another account)" if result.get("moved") else ""
    print(f"{connection['connectionId']}: linked to {args.rankr_account}{moved}, {connection['status']}")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    return _lifecycle_call("pause", args.location)


def cmd_resume(args: argparse.Namespace) -> int:
    return _lifecycle_call("resume", args.location)
