"""Benchmark: cold start of every handler of template.yaml (module import + first event).

    .venv/bin/python bench/cold_start.py [--quick] [--repeat N]

Each measurement is a fresh interpreter (subprocess) set up like a Lambda container of the local
runtime: cwd = CodeUri, PYTHONPATH = CodeUri + layers, environment = the function's resolved template
environment plus what Lambda sets (`LambdaService.worker_spec`, the local runtime's own builder), with
AWS served by an embedded AWS (moto) started here. The child times `import app` + one invocation with
the function's sample event from events/ (chosen so no network beyond loopback is needed: the OAuth
function gets the install redirect, lead push and the worker name a location that is not connected).

Floor: a fresh interpreter that imports boto3 and creates one client (the least any handler does).
Median of --repeat runs (3 with --quick, 10 otherwise). Last stdout line (JSON):
{init_ms: {FunctionLogicalId: ms}, floor_ms, worst_ratio, worst_function, import_ms, first_event_ms,
 first_event_ok, repeats}. Target: worst_ratio <= 2.0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "devtools"))

from rankr_ghl_tools.local.aws import EmbeddedAws  # noqa: E402
from rankr_ghl_tools.local.invoke import LambdaService  # noqa: E402
from rankr_ghl_tools.local.template import FunctionSpec, load_template  # noqa: E402

EVENTS_DIR = REPO_ROOT / "events"
TARGET_RATIO = 2.0
# Public half of the throwaway key that signed events/webhook_intake.json (events/README.md).
SAMPLE_WEBHOOK_KEY = "MCowBQYDK2VwAyEAuYyd1TTFD5H80bPrKHFzb9iQG03dbFJ6ALFqiRJsNf0="
BENCH_CLIENT_ID = "benchapp-coldstart"
# Sample per CodeUri folder when `events/<folder>.json` would need the internet or state: the callback
# exchanges a code with GHL (the install only builds the redirect); a reconcile job needs a connection
# (the schedule plans over the connections there are).
PREFERRED_EVENT = {
    "oauth_callback": "oauth_install.json",
    "lead_push": "lead_push_single.json",
    "reconcile": "reconcile_schedule.json",
}

CHILD = textwrap.dedent(
    """
    import importlib, json, sys, time, uuid
    from rankr_ghl_tools.local.workers import LambdaContext, WorkerSpec
    spec = WorkerSpec(**json.loads(sys.argv[1]))
    event = json.loads(open(sys.argv[2], encoding="utf-8").read())
    module_name, _, attr = spec.handler.rpartition(".")
    started = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), attr)
    imported = time.perf_counter()
    deadline_ms = int(time.time() * 1000 + spec.timeout_s * 1000)
    context = LambdaContext(spec, str(uuid.uuid4()), deadline_ms, spec.function_arn)
    result = handler(event, context)
    done = time.perf_counter()
    timings = {"import_ms": (imported - started) * 1000, "first_event_ms": (done - imported) * 1000}
    print("\\n" + json.dumps({**timings, "result": result}, default=str))
    """
)

# Same interpreter state as CHILD when its clock starts (the worker bootstrap module is imported
# first in both), so the ratio compares like with like.
FLOOR = textwrap.dedent(
    """
    import json, time
    import rankr_ghl_tools.local.workers
    started = time.perf_counter()
    import boto3
    boto3.client("dynamodb")
    print(json.dumps({"floor_ms": (time.perf_counter() - started) * 1000}))
    """
)


def sample_event(fn: FunctionSpec) -> Path:
    folder = fn.code_uri.name
    preferred = PREFERRED_EVENT.get(folder)
    if preferred and (EVENTS_DIR / preferred).is_file():
        return EVENTS_DIR / preferred
    exact = EVENTS_DIR / f"{folder}.json"
    if exact.is_file():
        return exact
    candidates = sorted(EVENTS_DIR.glob(f"{folder}_*.json"))
    if not candidates:
        raise SystemExit(f"no sample event for {fn.logical_id} in {EVENTS_DIR} ({folder}*.json)")
    return candidates[0]


def first_event_ok(result: Any) -> bool:
    """The handler answered (not a crash page): 2xx/3xx for HTTP, a document otherwise."""
    if isinstance(result, dict) and "statusCode" in result:
        return 200 <= int(result["statusCode"]) < 400
    return isinstance(result, dict)


def run_child(args: list[str], env: dict[str, str], cwd: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"child failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def child_env(env: dict[str, str], path_entries: list[str]) -> dict[str, str]:
    out = dict(env)
    out["PYTHONPATH"] = os.pathsep.join([*path_entries, str(REPO_ROOT / "devtools")])
    out["PYTHONDONTWRITEBYTECODE"] = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    return {k: v for k, v in out.items() if v != "" or k in env}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs per handler instead of 10")
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeat or (3 if args.quick else 10)

    overrides = {"GhlClientId": BENCH_CLIENT_ID, "WebhookPublicKeys": SAMPLE_WEBHOOK_KEY}
    template = load_template(REPO_ROOT / "template.yaml", overrides)
    secret = {
        "client_id": BENCH_CLIENT_ID,
        "client_secret": "bench-client-secret",
        "rankr_api_key": "bench-key",
    }
    with EmbeddedAws(template, secret_values={"AppSecret": secret}) as aws:
        service = LambdaService(aws.template, aws_environ=aws.environ)
        floor_env = child_env({**os.environ, **aws.environ}, [])
        children: dict[str, tuple[list[str], dict[str, str], str, Path]] = {}
        for logical_id, fn in sorted(aws.template.functions.items()):
            spec = service.worker_spec(fn)
            event_path = sample_event(fn)
            env = child_env(spec.env, [spec.code_dir, *spec.layer_dirs])
            children[logical_id] = (
                [CHILD, json.dumps(spec.__dict__), str(event_path)],
                env,
                spec.code_dir,
                event_path,
            )
        # Rounds interleave the floor with every handler, so background load on the machine weighs on
        # both sides of the ratio alike (measuring the floor first and the handlers after skewed it).
        floors: list[float] = []
        all_runs: dict[str, list[dict[str, Any]]] = {logical_id: [] for logical_id in children}
        for _ in range(repeats):
            floors.append(run_child([FLOOR], floor_env, str(REPO_ROOT))["floor_ms"])
            for logical_id, (child_args, env, cwd, _event) in children.items():
                all_runs[logical_id].append(run_child(child_args, env, cwd))
        floor_ms = statistics.median(floors)

        init_ms: dict[str, float] = {}
        import_ms: dict[str, float] = {}
        event_ms: dict[str, float] = {}
        ok: dict[str, bool] = {}
        for logical_id, runs in all_runs.items():
            event_path = children[logical_id][3]
            import_ms[logical_id] = round(statistics.median(r["import_ms"] for r in runs), 1)
            event_ms[logical_id] = round(statistics.median(r["first_event_ms"] for r in runs), 1)
            init_ms[logical_id] = round(
                statistics.median(r["import_ms"] + r["first_event_ms"] for r in runs), 1
            )
            ok[logical_id] = all(first_event_ok(r["result"]) for r in runs)
            print(
                f"{logical_id:<24} init {init_ms[logical_id]:7.1f} ms (import {import_ms[logical_id]:6.1f}, "
                f"first event {event_ms[logical_id]:6.1f}) sample {event_path.name} ok={ok[logical_id]}",
                file=sys.stderr,
            )

    worst = max(init_ms, key=lambda k: init_ms[k])
    ratio = round(init_ms[worst] / floor_ms, 2)
    print(
        json.dumps(
            {
                "init_ms": init_ms,
                "floor_ms": round(floor_ms, 1),
                "worst_ratio": ratio,
                "worst_function": worst,
                "import_ms": import_ms,
                "first_event_ms": event_ms,
                "first_event_ok": ok,
                "repeats": repeats,
                "target_met": ratio <= TARGET_RATIO and all(ok.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
