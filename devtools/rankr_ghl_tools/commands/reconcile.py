"""`rankr-ghl reconcile run --location L [--full | --notes] [--dry-run] [--json]`: reconcile one location now.

The control API's operator ops: `ops.reconcile.start` queues the run on ReconcileQueue for
ReconcileFunction's worker (in the location's message group, so never beside another run of it), and
`ops.reconcile.status` is polled until the worker's report is there; a rich progress display counts
what the run has read meanwhile. `--dry-run` writes nothing (not even the cursor) and lists the
differences it would repair. `--wait` bounds the wait; the run goes on without us after it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from rankr_ghl_tools.control_client import ControlCallFailed, ControlClient, add_arguments

if TYPE_CHECKING:
    from rich.console import Console

POLL_S = 1.0

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
    p.add_argument("--wait", type=float, default=900.0, help="seconds to wait for the report (default 900)")
    add_arguments(p)
    p.set_defaults(handler=cmd_run)


def wait_for_report(
    client: ControlClient, location: str, run_id: str, wait_s: float, console: Console | None = None
) -> dict[str, Any] | None:
    """Poll `ops.reconcile.status` until the run's report is there (None after `wait_s`), showing
    the running run's counters."""
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
    deadline = time.monotonic() + wait_s
    with progress:
        while True:
            status = client.call("ops.reconcile.status", None, locationId=location, runId=run_id)
            if status["state"] == "complete":
                report: dict[str, Any] = status["report"]
                return report
            for running in status["running"]:
                if running.get("runId") != run_id:
                    continue
                for what, count in (running.get("scanned") or {}).items():
                    if what not in tasks:
                        tasks[what] = progress.add_task(_LABELS.get(what, what), total=None)
                    progress.update(tasks[what], completed=count)
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_S)


def render_report(report: dict[str, Any], console: Console) -> None:
    """The worker's report (`ReconcileReport.to_dict`, as `ops.reconcile.status` answers it)."""
    from rich.table import Table

    dry_run = bool(report.get("dryRun"))
    verb = "would repair" if dry_run else "repaired"
    console.print(
        f"[bold]{report['mode']} reconcile of {report['locationId']}[/bold]"
        f"{' (dry run: nothing written)' if dry_run else ''}: "
        f"{report['totalDifferences']} difference(s), {verb} "
        f"{report['totalDifferences'] if dry_run else report['totalRepaired']}",
        highlight=False,
    )
    if report["differences"]:
        table = Table(title="Differences by kind")
        table.add_column("entity.kind")
        table.add_column("found", justify="right")
        table.add_column("repaired", justify="right")
        table.add_column("failed", justify="right")
        for kind, count in report["differences"].items():
            table.add_row(
                kind, str(count), str(report["repaired"].get(kind, 0)), str(report["failures"].get(kind, 0))
            )
        console.print(table)
    samples = report.get("samples") or []
    if samples:
        sample = Table(title=f"Sample ({len(samples)})")
        for column in ("entity", "kind", "GHL id", "Rankr id", "fields"):
            sample.add_column(column)
        for item in samples:
            sample.add_row(
                item["entity"],
                item["kind"],
                item.get("ghlId") or "-",
                item.get("rankrId") or "-",
                ", ".join(item.get("fields") or []),
            )
        console.print(sample)


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=args.json)
    mode = "notes" if args.notes else "full" if args.full else "incremental"
    client = ControlClient.from_args(args, operator=True)
    try:
        started = client.call(
            "ops.reconcile.start", None, locationId=args.location, mode=mode, dryRun=args.dry_run or None
        )
        report = wait_for_report(client, args.location, started["runId"], args.wait, console)
    except ControlCallFailed as refused:  # the connection is missing, paused or not active
        print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
        return 1
    if report is None:
        print(
            f"error: run {started['runId']} has not finished after {args.wait:.0f} s; it goes on "
            f"(follow it with `rankr-ghl control reconcile-status`)",
            file=sys.stderr,
        )
        return 3
    if args.json:
        print(json.dumps(report))
    else:
        render_report(report, console)
    return 0 if not sum((report.get("failures") or {}).values()) else 2
