"""`rankr-ghl reconcile run --location L [--full | --notes] [--dry-run] [--json]`: reconcile one location now.

Runs in this process with the deployment's environment (the same variables as ReconcileFunction:
SYNC_TABLE, AUDIT_TABLE, CONNECTIONS_TABLE, token secrets, GHL/Rankr URLs), without a time limit, so
continuations are followed here. A rich progress display counts what was read; the report follows.
`--dry-run` writes nothing (not even the cursor) and lists the differences it would repair.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rankr_ghl.flows.reconcile.jobs import ReconcileReport
    from rankr_ghl.flows.reconcile.run import Reconciler
    from rich.console import Console

_LABELS = {
    "rankr_contacts": "Rankr contacts read",
    "ghl_contacts": "GHL contacts read",
    "ghl_tasks": "GHL tasks read",
    "note_contacts": "contacts whose notes were compared",
    "ghl_search_calls": "GHL search pages",
    "ghl_confirm_reads": "GHL reads confirming a delete candidate",
    "contact_delete_candidates": "contacts not returned by the search",
    "task_delete_candidates": "tasks not returned by the task search",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("reconcile", help="compare and repair one location now")
    sub = parser.add_subparsers(dest="reconcile_command", required=True)
    p = sub.add_parser("run", help="reconcile a location (incremental unless --full)")
    p.add_argument("--location", required=True, help="GHL location id")
    p.add_argument("--full", action="store_true", help="every contact on both sides (default: incremental)")
    p.add_argument("--notes", action="store_true", help="every mapped contact's notes")
    p.add_argument("--dry-run", action="store_true", help="write nothing; report the differences")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(handler=cmd_run)


def run_with_progress(
    reconciler: Reconciler, account_id: str, job: Any, console: Console | None = None
) -> ReconcileReport:
    """Run a job and its continuations in this process, with a live progress display."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("[bold]{task.completed:,.0f}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=console is None,
    )
    tasks: dict[str, Any] = {}

    def tick(what: str, n: int) -> None:
        if what not in tasks:
            tasks[what] = progress.add_task(_LABELS.get(what, what), total=None)
        progress.advance(tasks[what], n)

    with progress:
        outcome = reconciler.run(job, account_id=account_id, progress=tick)
        while outcome.continuation is not None:
            outcome = reconciler.run(outcome.continuation, account_id=account_id, progress=tick)
    return outcome.report


def render_report(report: ReconcileReport, console: Console) -> None:
    from rich.table import Table

    data = report.to_dict()
    verb = "would repair" if report.dry_run else "repaired"
    console.print(
        f"[bold]{report.mode.value} reconcile of {report.location_id}[/bold]"
        f"{' (dry run: nothing written)' if report.dry_run else ''}: "
        f"{report.total_differences} difference(s), {verb} "
        f"{report.total_differences if report.dry_run else report.total_repaired}",
        highlight=False,
    )
    if data["differences"]:
        table = Table(title="Differences by kind")
        table.add_column("entity.kind")
        table.add_column("found", justify="right")
        table.add_column("repaired", justify="right")
        table.add_column("failed", justify="right")
        for kind, count in data["differences"].items():
            table.add_row(
                kind, str(count), str(data["repaired"].get(kind, 0)), str(data["failures"].get(kind, 0))
            )
        console.print(table)
    if report.samples:
        sample = Table(title=f"Sample ({len(report.samples)})")
        for column in ("entity", "kind", "GHL id", "Rankr id", "fields"):
            sample.add_column(column)
        for item in report.samples:
            sample.add_row(
                item["entity"],
                item["kind"],
                item.get("ghlId") or "-",
                item.get("rankrId") or "-",
                ", ".join(item.get("fields") or []),
            )
        console.print(sample)


def cmd_run(args: argparse.Namespace) -> int:
    from rankr_ghl.flows.reconcile import jobs as reconcile
    from rich.console import Console

    console = Console(stderr=args.json)
    try:
        from rankr_ghl.wiring import root

        container = root().reconcile_container()
        account = container.worker.account_for(args.location)
    except Exception as exc:  # the connection is missing, paused, unlinked, or AWS is unreachable
        print(f"error: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 1
    mode = reconcile.Mode.FULL if args.full else reconcile.Mode.INCREMENTAL
    if args.notes:
        mode = reconcile.Mode.NOTES
    job = reconcile.ReconcileJob(args.location, mode, dry_run=args.dry_run)
    report = run_with_progress(container.reconciler, account, job, console)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        render_report(report, console)
    return 0 if not report.failures else 2
