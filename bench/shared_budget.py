"""Shared rate budget benchmark: several processes on one GHL location, one budget between them.

Seven processes at once (4 lead push at interactive priority, 2 webhook workers at standard, 1
reconcile at background) make GET /contacts/{id} calls for one location that the GHL sandbox (a
process of its own) limits to 100 requests per 1 s. Each process has its own GHL client and rate
limiter, and the budget they share lives in the SyncStateTable of an embedded AWS (moto), exactly
as the Lambda containers share it. N calls in all: 1,200 with --quick, else 4,000.

Last stdout line: {"processes", "ghl_calls", "responses_429", "ratio_429", "efficiency",
"coordination_calls_per_ghl_call", "lead_p95_ms", ...} where efficiency = honest floor / seconds,
the floor being (N / 100 - 1) windows of 1 s (the first window is free). Targets: ratio_429 <= 0.01,
efficiency >= 0.85, coordination_calls_per_ghl_call <= 0.2.

CPU (the machine has 2 cores, shared with other work): `cpu` gives, over the run, the machine's busy
share of its cores, and the CPU seconds of the bench's own processes (the seven workers, the
embedded AWS, the GHL sandbox) and of everything else; `per_second` lists, for each second of the
run, [GHL requests completed, the machine's idle share, threads ready to run on the machine, cores
the bench's processes got], so seconds where the window ran below 100 can be told apart: the bench's
processes short of CPU (starved) or given CPU while the budget held requests back.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "rankr_ghl"), str(ROOT / "devtools"), str(ROOT / "bench")]

LOCATION = "locBenchShared001"
WINDOW_MAX = 100
WINDOW_MS = 1000
# kind -> (priority, processes, share of the calls, threads per process)
KINDS = {
    "lead": ("interactive", 4, 0.4, 3),
    "webhook": ("standard", 2, 0.4, 4),
    "reconcile": ("background", 1, 0.2, 4),
}


class RecordingStore:
    """The budget store, recording each call: [kind, asked, answered, won, pieces granted to this
    process as [start, end, count], entries of the record as written or found]."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.holder = ""
        self.calls: list[list[Any]] = []

    def load(self, resource_id: str) -> Any:
        asked = time.time()
        snapshot = self.inner.load(resource_id)
        self.calls.append(["load", asked, time.time(), False, [], _entries(snapshot)])
        return snapshot

    def compare_and_set(self, resource_id: str, expected_version: int, new: Any) -> Any:
        asked = time.time()
        current = self.inner.compare_and_set(resource_id, expected_version, new)
        mine = [[e.start, e.end, e.count] for e in new.entries if e.holder == self.holder and e.start > 0]
        won = current is None
        self.calls.append(
            ["cas", asked, time.time(), won, mine if won else [], _entries(new if won else current)]
        )
        return current


def _entries(snapshot: Any) -> list[list[Any]]:
    return [[e.holder, e.count, round(e.end, 3), round(e.start, 3), e.rank] for e in snapshot.entries]


def _recording_budget_class() -> Any:
    from rankr_ghl.ghl.budget import SharedBudget

    class RecordingBudget(SharedBudget):
        """Records when each request was taken (sent)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.sends: list[float] = []

        def take(self, resource_id: str, learned: Any) -> float:
            wait = super().take(resource_id, learned)
            if wait <= 0:
                self.sends.append(time.time())
            return wait

        def give_back(self, resource_id: str) -> None:
            super().give_back(resource_id)
            if self.sends:
                self.sends.pop()

    return RecordingBudget


def run_worker(args: argparse.Namespace) -> None:
    """One process: ``args.calls`` GHL calls from ``args.threads`` threads, from the start time the
    parent writes to stdin once every process is ready."""
    import boto3
    from rankr_ghl.aws.rate_budget import DynamoBudgetStore
    from rankr_ghl.ghl.budget_record import Priority
    from rankr_ghl.ghl.client import GHLClient
    from rankr_ghl.ghl.ratelimit import RateLimiter
    from rankr_ghl.ghl.tokens import StaticTokenSource

    RecordingBudget = _recording_budget_class()

    logging.getLogger("rankr-ghl").setLevel(logging.WARNING)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    store = RecordingStore(DynamoBudgetStore(args.table, client=dynamodb))
    options = {k: float(v) for k, v in (o.split("=", 1) for o in args.budget_option or [])}
    shared = RecordingBudget(store, priority=Priority(args.priority), **options)
    store.holder = shared.holder
    client = GHLClient(
        StaticTokenSource(args.token),
        base_url=args.ghl_url,
        timeout=10.0,
        rate_limiter=RateLimiter(shared=shared, isolated=True),
    )
    remaining = [args.calls]
    lock = threading.Lock()
    latencies: list[float] = []
    completed_at: list[float] = []
    failures: list[str] = []

    def work() -> None:
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            asked = time.perf_counter()
            try:
                client.get_contact(LOCATION, args.contact)
            except Exception as exc:  # counted and reported, never hidden
                with lock:
                    failures.append(type(exc).__name__)
                continue
            with lock:
                latencies.append((time.perf_counter() - asked) * 1000)
                completed_at.append(time.time())

    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    # A warm container: its HTTP stack and TLS trust store loaded and its AWS client used once, as
    # after its first invocation (cold starts are bench/cold_start.py's subject). Seven interpreters
    # doing this at the same instant on two cores would otherwise spend the first second on it. No
    # GHL request is made and the budget's record is only read (it does not exist yet).
    import h11
    import httpcore
    from rankr_ghl.lazy_http import shared_tls_context

    del h11, httpcore
    shared_tls_context()
    store.inner.load(LOCATION)
    print("ready", flush=True)
    start = float(sys.stdin.readline())  # every process imported and ready: one common start
    time.sleep(max(0.0, start - time.time()))
    cpu_at_start = time.process_time()  # the imports before the start are not the run's
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.flush(LOCATION)  # an invocation's end: what is left of the slice goes back at once
    client.close()
    print(
        json.dumps(
            {
                "ended": time.time(),
                "latencies_ms": latencies,
                "completed_at": completed_at,
                "failures": failures,
                "coordination_calls": shared.coordination_calls,
                "cpu_s": time.process_time() - cpu_at_start,
                "fallbacks": shared.fallbacks,
                "store_calls": store.calls,
                "sends": shared.sends,
            }
        )
    )


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_tree_cpu(root_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of `root_pid`'s live descendants, by kind of process."""
    children: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        after_name = stat.rsplit(")", 1)[1].split()
        pid, parent = int(entry.name), int(after_name[1])
        children.setdefault(parent, []).append(pid)
        commands[pid] = command
        ticks[pid] = int(after_name[11]) + int(after_name[12])
    totals: dict[str, float] = {}
    stack = list(children.get(root_pid, []))
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        command = commands.get(pid, "")
        kind = (
            "workers" if "--worker" in command
            else "ghl_sandbox" if "ghl_sandbox" in command
            else "embedded_aws"
        )  # fmt: skip
        totals[kind] = totals.get(kind, 0.0) + ticks.get(pid, 0) / CLOCK_TICKS
    return totals


def tree_pids(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], list(children.get(root_pid, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def pid_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process; 0 once it has exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def runnable() -> int:
    """Threads ready to run or running on the whole machine right now (/proc/stat procs_running)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("procs_running"):
            return int(line.split()[1])
    return 0


class CpuSampler:
    """Samples, every `period_s` while the run goes on: the machine's busy ticks, the threads ready to
    run, and the CPU seconds the bench's own processes have used."""

    def __init__(self, period_s: float = 0.25) -> None:
        self.period_s = period_s
        # (wall clock, busy ticks, total ticks, runnable threads, the bench's CPU seconds)
        self.samples: list[tuple[float, int, int, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        pids = tree_pids(os.getpid())  # the bench's processes are all started by now
        while True:
            ours = sum(pid_cpu(pid) for pid in pids)
            self.samples.append((time.time(), *machine_ticks(), runnable(), ours))
            if self._stop.wait(self.period_s):
                return

    def second(self, since: float, until: float) -> tuple[float | None, float | None, float | None]:
        """(machine idle share, mean threads ready to run, cores the bench's processes used)."""
        inside = [s for s in self.samples if since <= s[0] <= until]
        if len(inside) < 2:
            return None, None, None
        first, last = inside[0], inside[-1]
        idle = 1 - (last[1] - first[1]) / max(1, last[2] - first[2])
        ready = sum(s[3] for s in inside) / len(inside)
        # A worker that exits leaves the tree: a negative step is not CPU given back.
        used = sum(max(0.0, b[4] - a[4]) for a, b in itertools.pairwise(inside))
        cores = used / max(1e-9, last[0] - first[0])
        return round(idle, 2), round(ready, 1), round(cores, 2)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,200 calls instead of 4,000")
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--diagnostics", type=Path, help="write every process's store calls and sends here")
    parser.add_argument(
        "--budget-option",
        action="append",
        metavar="NAME=VALUE",
        help="a SharedBudget option, e.g. min_margin_s=0.01",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("priority", "table", "token", "ghl-url", "contact"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.calls = int(args.calls)
        run_worker(args)
        return

    from lead_push import embedded_aws_process, sandbox_process  # bench/lead_push.py
    from rankr_ghl_tools.ghl_sandbox.admin_client import SandboxAdmin
    from rankr_ghl_tools.local.template import load_template

    total = args.calls or (1200 if args.quick else 4000)
    with embedded_aws_process(load_template(ROOT / "template.yaml")) as aws, sandbox_process() as ghl_url:
        table = aws.template.tables["SyncStateTable"].name
        admin = SandboxAdmin(ghl_url)
        admin.create_location(
            LOCATION, rate_limit={"max": WINDOW_MAX, "intervalMs": WINDOW_MS, "daily": 200_000}
        )
        token = str(admin.tokens(location_id=LOCATION)["access_token"])
        contact = admin.seed(LOCATION, 1)[0]
        admin.reset_stats()
        env = {**os.environ, **aws.environ, "AWS_DEFAULT_REGION": "us-east-1"}
        procs: list[tuple[str, subprocess.Popen[str]]] = []
        assigned = 0
        plan = [(kind, spec) for kind, spec in KINDS.items() for _ in range(spec[1])]
        for index, (kind, (priority, count, share, threads)) in enumerate(plan):
            calls = int(total * share / count) if index < len(plan) - 1 else total - assigned
            assigned += calls
            command = [
                sys.executable, __file__, "--worker",
                "--priority", priority, "--table", table,
                "--token", token, "--ghl-url", ghl_url, "--contact", contact, "--calls", str(calls),
                "--threads", str(threads),
                *(f"--budget-option={o}" for o in args.budget_option or []),
            ]  # fmt: skip
            proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
            procs.append((kind, proc))
        for kind, proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{kind} process did not start")
        start = time.time() + 0.2
        sampler = CpuSampler().__enter__()
        machine_before = machine_ticks()
        tree_before = process_tree_cpu(os.getpid())
        for _, proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start!r}\n")
            proc.stdin.flush()
        results: list[tuple[str, dict[str, Any]]] = []
        for kind, proc in procs:
            out, _ = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"{kind} process failed with exit code {proc.returncode}")
            results.append((kind, json.loads(out.strip().splitlines()[-1])))
        machine_after = machine_ticks()
        # The workers report their own CPU; the services (embedded AWS, sandbox) still live here.
        services_after = process_tree_cpu(os.getpid())
        sampler.__exit__(None, None, None)
        stats = admin.stats()
        admin.close()

    if args.diagnostics:
        args.diagnostics.write_text(json.dumps({"start": start, "results": results}))
    seconds = max(r["ended"] for _, r in results) - start
    calls = int(stats["total"])
    responses_429 = int(stats["responses429"])
    floor = (total / WINDOW_MAX - 1) * (WINDOW_MS / 1000)
    coordination = sum(r["coordination_calls"] for _, r in results)
    lead_latencies = [v for kind, r in results if kind == "lead" for v in r["latencies_ms"]]
    failures = [f for _, r in results for f in r["failures"]]
    print(f"seconds={seconds:.2f} failures={sorted(set(failures))}", file=sys.stderr)
    machine_s = (machine_after[1] - machine_before[1]) / CLOCK_TICKS
    busy_s = (machine_after[0] - machine_before[0]) / CLOCK_TICKS
    workers_cpu = sum(r["cpu_s"] for _, r in results)
    services_cpu = {
        kind: round(services_after.get(kind, 0.0) - tree_before.get(kind, 0.0), 1)
        for kind in ("embedded_aws", "ghl_sandbox")
    }
    ours = workers_cpu + sum(services_cpu.values())
    completions = sorted(t for _, r in results for t in r["completed_at"])
    per_second = []
    for second in range(int(seconds) + 1):
        since, until = start + second, start + second + 1
        done = sum(1 for t in completions if since <= t < until)
        per_second.append([done, *sampler.second(since, until)])
    cpu = {
        "cores": os.cpu_count(),
        "machine_busy_share": round(busy_s / max(machine_s, 1e-9), 2),
        "bench_workers_s": round(workers_cpu, 1),
        **{f"{kind}_s": value for kind, value in services_cpu.items()},
        "others_s": round(max(0.0, busy_s - ours), 1),
        "load_1m": round(os.getloadavg()[0], 2),
    }
    print(
        json.dumps(
            {
                "processes": len(results),
                "ghl_calls": calls,
                "responses_429": responses_429,
                "ratio_429": round(responses_429 / max(calls, 1), 4),
                "efficiency": round(floor / seconds, 3),
                "coordination_calls_per_ghl_call": round(coordination / max(calls, 1), 3),
                "lead_p95_ms": round(p95(lead_latencies), 1),
                "seconds": round(seconds, 3),
                "floor_seconds": floor,
                "failed": len(failures),
                "fallbacks": sum(r["fallbacks"] for _, r in results),
                "cpu": cpu,
                "per_second": per_second,
            }
        )
    )


if __name__ == "__main__":
    main()
