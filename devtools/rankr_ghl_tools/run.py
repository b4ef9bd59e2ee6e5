"""`make run`: start the local stack (embedded AWS, sandboxes, gateway, pumps, invoke API, schedules),
print where each part runs, run the scenario, then keep serving until Ctrl-C.

    python -m rankr_ghl_tools.run            # serve after the scenario
    python -m rankr_ghl_tools.run --once     # exit after it: status 1 when a step failed
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rankr_ghl_tools.local.stack import DEFAULT_TEMPLATE, LocalStack
from rankr_ghl_tools.rankr_sandbox import RankrSandboxConfig
from rankr_ghl_tools.scenario import ScenarioContext, load_steps, run_steps, summary_table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--once", action="store_true", help="exit after the scenario (non-zero if a step failed)"
    )
    parser.add_argument(
        "--template", default=str(DEFAULT_TEMPLATE), help="SAM template (default: template.yaml)"
    )
    parser.add_argument("--gateway-port", type=int, default=3000)
    parser.add_argument("--invoke-port", type=int, default=3001)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes per function")
    parser.add_argument(
        "--schedule-speedup", type=float, default=1.0, help="run schedules N times faster than real time"
    )
    parser.add_argument(
        "--log-file", default=".local/functions.log", help="handler output (default: %(default)s)"
    )
    parser.add_argument(
        "--rankr-db",
        default=".local/rankr.sqlite3",
        help="Rankr sandbox SQLite file, kept across restarts (default: %(default)s; ':memory:' for none)",
    )
    parser.add_argument("--verbose", action="store_true", help="also echo handler output to the terminal")
    parser.add_argument("--no-scenario", action="store_true", help="only start the stack")
    return parser


def banner(console: Console, stack: LocalStack, log_file: str) -> None:
    table = Table(title="Local stack", show_header=True)
    table.add_column("Part")
    table.add_column("URL")
    table.add_column("Note")
    for endpoint in stack.endpoints():
        note = f"port {endpoint.requested_port} was taken" if endpoint.requested_port else ""
        table.add_row(endpoint.name, endpoint.url, note)
    assert stack.template is not None
    for fn in stack.template.functions.values():
        for route in fn.routes:
            table.add_row(f"  {route.method} {route.path}", stack.gateway_url + route.path, fn.logical_id)
    table.add_row("handler logs", str(Path(log_file).resolve()), "")
    console.print(table)
    for note in stack.notes:
        console.print(f"[yellow]note:[/yellow] {note}")


def _prepare_db(path: str) -> str:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        # The scenario's own clients log through Powertools here; handlers' logs go to --log-file.
        os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    console = Console(highlight=False)

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM shuts down like Ctrl-C: through the stack's __exit__

    # Installed explicitly: a shell may start us with SIGINT ignored (e.g. in the background).
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    console.print(
        "[bold]Starting the local stack[/bold] (embedded AWS, GHL + Rankr sandboxes, gateway, pumps)…"
    )
    failed = False
    try:
        with LocalStack(
            args.template,
            concurrency=args.concurrency,
            gateway_port=args.gateway_port,
            invoke_port=args.invoke_port,
            schedule_speedup=args.schedule_speedup,
            log_path=args.log_file,
            echo_logs=args.verbose,
            rankr_sandbox_config=RankrSandboxConfig(db_path=_prepare_db(args.rankr_db)),
        ) as stack:
            console.print(f"[dim]up in {time.monotonic() - started:.1f}s[/dim]")
            banner(console, stack, args.log_file)
            if not args.no_scenario:
                console.rule("Scenario")
                ctx = ScenarioContext(stack=stack, console=console)
                outcomes = run_steps(ctx, load_steps())
                console.print(summary_table(outcomes))
                failed = any(not o.result.ok for o in outcomes)
            if args.once:
                return 1 if failed else 0
            console.print(
                f"[bold]Serving[/bold] on {stack.gateway_url} (invoke API {stack.invoke_url})."
                " Ctrl-C to stop."
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        console.print("\n[dim]stopped cleanly[/dim]")
        return 1 if failed else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
