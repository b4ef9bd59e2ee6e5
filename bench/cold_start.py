"""Benchmark: cold start of every handler of template.yaml on a real first event, tracing on as deployed.

    .venv/bin/python bench/cold_start.py [--quick] [--repeat N]

Each measurement is a fresh interpreter (subprocess) set up like a Lambda container of the local
runtime: cwd = CodeUri, PYTHONPATH = CodeUri + layers, environment = the function's resolved template
environment plus what Lambda sets (`LambdaService.worker_spec`), against a LocalStack (embedded AWS,
GHL and Rankr sandboxes; no pumps, no schedules). The child times `import app` + one invocation.

Tracing is on as in Lambda (`Tracing: Active`): POWERTOOLS_TRACE_DISABLED=false, so Powertools imports
the X-Ray SDK and patches botocore and httpx at import; `_X_AMZN_TRACE_ID` carries a sampled trace
header, as Lambda sets it per invocation, so every subsegment is recorded; the segments go over UDP to
AWS_XRAY_DAEMON_ADDRESS where no daemon listens (sending UDP needs no listener).

The first event is real work on a connected location (token in Secrets Manager, active connection
linked to a Rankr account), a new one for every run:
- WebhookIntakeFunction: a signed ContactUpdate as the gateway builds it (verify, parse, enqueue);
- WebhookWorkerFunction: the SQS record the intake queued for another edited contact (a GHL fetch, a
  Rankr write, the mapping and ledger in DynamoDB);
- LeadPushFunction: one new lead on the connected account (a GHL create);
- ReconcileFunction: the 15-minute schedule's event (plans and enqueues a job per connected location);
- OAuthCallbackFunction: the install redirect for a link minted by the control API (the callback needs
  a browser's code from GHL);
- ControlFunction: `connections.list` for the connected account;
- AgencyInstallFunction: the fan-out job the (warm) OAuth callback queued for a new agency install
  (lists the installed locations; for each, a location token from GHL, its secret and its record).

Packages the venv has but the deployed layer does not (httpx's optional CLI: rich, click, pygments,
unless the layer lock pins them) are hidden from the child, so httpx finds them missing as in Lambda.

Bytecode is precompiled, as `make build` ships it: Lambda's /opt and /var/task are read-only, so a
module without a `.pyc` is compiled from source at every cold start. The children therefore run from
a copy of each CodeUri and layer with its bytecode compiled in place (site-packages already has it).

Floor: a fresh interpreter that imports boto3 and creates one client (the least any handler does).
Besides wall time, each side's CPU time (`time.process_time`, the child's own) is reported: on this
shared machine wall time moves with the load, and the first event also waits on the embedded
services, whose work is not the child's CPU. `worst_ratio` (wall) is the target.
Median of --repeat runs (3 with --quick, 10 otherwise); then one more run of the slowest handler under
`python -X importtime`, its import time summed by top-level package. Last stdout line (JSON):
{init_ms: {FunctionLogicalId: ms}, floor_ms, worst_ratio, worst_function, cpu_ms, floor_cpu_ms,
 worst_cpu_ratio, worst_cpu_function, import_ms, first_event_ms,
 first_event_ok, lazy_modules (modules first imported by the event), pydantic_loaded (by import or the
 event), worst_import_ms_by_package, tracing,
 repeats, target_met}. Target: worst_ratio <= 2.0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "devtools"))
sys.path.insert(0, str(REPO_ROOT / "layers" / "rankr_ghl"))

from rankr_ghl_tools.local.stack import LocalStack  # noqa: E402

EVENTS_DIR = REPO_ROOT / "events"
TARGET_RATIO = 2.0
INTAKE, WORKER, LEAD_PUSH, RECONCILE, OAUTH, CONTROL, AGENCY = (
    "WebhookIntakeFunction",
    "WebhookWorkerFunction",
    "LeadPushFunction",
    "ReconcileFunction",
    "OAuthCallbackFunction",
    "ControlFunction",
    "AgencyInstallFunction",
)
AGENCY_LOCATIONS = 2  # the agency's installed locations: a token, a secret and a record each
LAYER_LOCK = REPO_ROOT / "layers" / "rankr_ghl" / "requirements.txt"
# httpx imports its optional CLI (rich, click, pygments) when it finds it: the venv has them for the dev
# tools, the deployed layer does not, so the child hides whichever the layer lock does not pin.
HTTPX_CLI_EXTRAS = ("rich", "click", "pygments")
# X-Ray as Lambda runs it with active tracing, minus the daemon: nothing listens on this UDP port.
TRACING_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "false",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
}

CLOCK_STARTS = "-- clock starts --"  # on the child's stderr: -X importtime lines before it are not timed
CHILD = textwrap.dedent(
    """
    import importlib, json, sys, time, uuid
    from rankr_ghl_tools.local.workers import LambdaContext, WorkerSpec
    spec = WorkerSpec(**json.loads(sys.argv[1]))
    event = json.loads(open(sys.argv[2], encoding="utf-8").read())
    for name in json.loads(sys.argv[3]):  # not in the deployed layer: an import of it fails, as in Lambda
        sys.modules[name] = None
    module_name, _, attr = spec.handler.rpartition(".")
    sys.stderr.write(CLOCK_STARTS + "\\n")
    cpu_started = time.process_time()
    started = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), attr)
    imported = time.perf_counter()
    deadline_ms = int(time.time() * 1000 + spec.timeout_s * 1000)
    context = LambdaContext(spec, str(uuid.uuid4()), deadline_ms, spec.function_arn)
    loaded = len(sys.modules)
    result = handler(event, context)
    done = time.perf_counter()
    cpu_ms = (time.process_time() - cpu_started) * 1000
    timings = {"import_ms": (imported - started) * 1000, "first_event_ms": (done - imported) * 1000}
    timings["cpu_ms"] = cpu_ms
    extra = {"traced": "aws_xray_sdk.core" in sys.modules, "lazy_modules": len(sys.modules) - loaded}
    extra["pydantic_loaded"] = "pydantic" in sys.modules
    print("\\n" + json.dumps({**timings, **extra, "result": result}, default=str))
    """
).replace("CLOCK_STARTS", repr(CLOCK_STARTS))

# Same interpreter state as CHILD when its clock starts (the worker bootstrap module is imported
# first in both), so the ratio compares like with like.
FLOOR = textwrap.dedent(
    """
    import json, time
    import rankr_ghl_tools.local.workers
    cpu_started = time.process_time()
    started = time.perf_counter()
    import boto3
    boto3.client("dynamodb")
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(json.dumps({"floor_ms": elapsed_ms, "cpu_ms": (time.process_time() - cpu_started) * 1000}))
    """
)


def not_in_layer(lock_text: str, candidates: tuple[str, ...] = HTTPX_CLI_EXTRAS) -> list[str]:
    """The candidates the layer lock (`name==version` lines) does not pin: absent in Lambda."""
    pinned = {
        line.split("==", 1)[0].strip().lower().replace("_", "-")
        for line in lock_text.splitlines()
        if "==" in line and not line.lstrip().startswith(("#", "--"))
    }
    return [name for name in candidates if name not in pinned]


def trace_header() -> str:
    """A sampled X-Ray trace header, as Lambda puts in `_X_AMZN_TRACE_ID` for each invocation."""
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=1"


def first_event_ok(function: str, result: Any) -> bool:
    """The handler did the work: 2xx/3xx for HTTP, no failed record or lead otherwise."""
    if isinstance(result, dict) and "statusCode" in result:
        return 200 <= int(result["statusCode"]) < 400
    if not isinstance(result, dict):
        return False
    if function in (WORKER, AGENCY):
        return not result.get("batchItemFailures")
    if function == LEAD_PUSH:
        return all(r.get("outcome") == "created" for r in result.get("results", [])) and bool(
            result.get("results")
        )
    if function == CONTROL:
        return result.get("ok") is True
    return True


def run_child(args: list[str], env: dict[str, str], cwd: str, flags: tuple[str, ...] = ()) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, *flags, "-c", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"child failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    document: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    if flags:
        document["stderr"] = completed.stderr
    return document


def import_cost_by_package(importtime_log: str, top: int = 8) -> dict[str, float]:
    """`python -X importtime` output after the child's clock started, summed by top-level package (self
    time, ms), the largest first."""
    by_package: dict[str, float] = {}
    _before, _marker, timed = importtime_log.partition(CLOCK_STARTS)
    for line in timed.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        package = name.split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + int(self_us) / 1000
    ranked = sorted(by_package.items(), key=lambda item: item[1], reverse=True)
    return {package: round(ms, 1) for package, ms in ranked[:top]}


def compiled_copies(directories: set[str], into: Path) -> dict[str, str]:
    """Copy each directory and compile its modules in place: the shape of the built artifact."""
    copies: dict[str, str] = {}
    for index, directory in enumerate(sorted(directories)):
        target = into / f"{index}-{Path(directory).name}"
        shutil.copytree(directory, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(target)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        copies[directory] = str(target)
    return copies


def child_env(env: dict[str, str], path_entries: list[str]) -> dict[str, str]:
    out = dict(env)
    out["PYTHONPATH"] = os.pathsep.join([*path_entries, str(REPO_ROOT / "devtools")])
    out["PYTHONDONTWRITEBYTECODE"] = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    return {k: v for k, v in out.items() if v != "" or k in env}


class EventMaker:
    """Fresh real first events on one connected location, built by the stack's own parts."""

    def __init__(self, stack: LocalStack, directory: Path) -> None:
        from rankr_ghl_tools.scenario.webhooks import connect_location

        self.stack, self.directory = stack, directory
        self.location, self.account = connect_location(stack)
        self.captured: list[bytes] = []

    def _write(self, name: str, event: Any) -> Path:
        path = self.directory / f"{name}-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(event), encoding="utf-8")
        return path

    def _signed_webhook(self) -> tuple[bytes, dict[str, str]]:
        from rankr_ghl_tools.signed_webhooks import signed_contact_update

        contact_id = self.stack.ghl.admin.seed(self.location, 1, with_phone=False)[0]
        return signed_contact_update(self.stack, contact_id, {"firstName": f"Cold{uuid.uuid4().hex[:8]}"})

    def intake(self) -> Path:
        """The API Gateway event of a new signed webhook, as the gateway builds it (not delivered)."""
        import httpx
        from rankr_ghl_tools.local.workers import FunctionPool, InvocationResult

        def capture(pool: Any, event: Any = None, **kwargs: Any) -> Any:
            self.captured.append(kwargs.get("raw_event") or json.dumps(event).encode())
            return InvocationResult(str(uuid.uuid4()), b'{"statusCode": 202, "body": ""}')

        body, headers = self._signed_webhook()
        with mock.patch.object(FunctionPool, "invoke", capture):
            httpx.post(str(self.stack.output_url("WebhookUrl")), content=body, headers=headers, timeout=30)
        return self._write("intake", json.loads(self.captured.pop()))

    def _dequeued(self, queue_name: str, name: str) -> Path:
        """The SQS event of the message a warm function just queued on `queue_name`, taken off it."""
        from rankr_ghl_tools.local.pumps import lambda_sqs_record

        assert self.stack.template is not None
        queue = self.stack.template.queues[queue_name]
        sqs = self.stack.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=1, WaitTimeSeconds=5, AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not messages:
            raise SystemExit(f"nothing was queued on {queue_name} for the {name} first event")
        sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=messages[0]["ReceiptHandle"])
        return self._write(name, {"Records": [lambda_sqs_record(messages[0], queue)]})

    def worker(self) -> Path:
        """The SQS event of a new webhook the (warm) intake queued, taken off the queue."""
        import httpx

        body, headers = self._signed_webhook()
        response = httpx.post(
            str(self.stack.output_url("WebhookUrl")), content=body, headers=headers, timeout=30
        )
        response.raise_for_status()
        return self._dequeued("WebhookQueue", "worker")

    def agency_install(self) -> Path:
        """The fan-out job of a new agency install, queued by the (warm) OAuth callback."""
        from rankr_ghl_tools.installs import mint_install_link, walk_install

        ghl = self.stack.ghl
        company = f"co{uuid.uuid4().hex[:10]}"
        ghl.admin.create_company(company)
        for _ in range(AGENCY_LOCATIONS):
            ghl.admin.create_location(f"locAg{uuid.uuid4().hex[:12]}", company_id=company, installed=True)
        ghl.admin.consent(company_id=company)
        # An account of its own: the agency's locations must not join the lead push's account.
        walk = walk_install(mint_install_link(self.stack, f"acct-agency-{uuid.uuid4().hex[:8]}", agency=True))
        if walk.done is None or walk.done.status_code != 200:
            raise SystemExit(f"the agency install ended with HTTP {walk.page.status_code}")
        return self._dequeued("AgencyInstallQueue", "agency")

    def lead_push(self) -> Path:
        run = uuid.uuid4().hex[:8]
        fields = {
            "firstName": "Cold",
            "lastName": f"Start{run}",
            "email": f"cold.{run}@example.com",
            "tags": ["rankr"],
        }
        lead = {**fields, "leadId": self.stack.rankr.admin.create(self.account, "contact", fields)["id"]}
        return self._write("lead", {"rankrAccountId": self.account, "leads": [lead]})

    def reconcile(self) -> Path:
        from rankr_ghl_tools.local.schedules import schedule_event

        return self._write("reconcile", schedule_event(self.stack.schedule("ReconcileFunction.Incremental")))

    def oauth_install(self) -> Path:
        """The install redirect for a link Rankr minted through the control API (the only accepted kind)."""
        from urllib.parse import parse_qsl, urlsplit

        from rankr_ghl_tools.installs import mint_install_link

        query = urlsplit(mint_install_link(self.stack, self.account)).query
        event = json.loads((EVENTS_DIR / "oauth_install.json").read_text(encoding="utf-8"))
        event["rawQueryString"] = query
        event["queryStringParameters"] = dict(parse_qsl(query))
        return self._write("install", event)

    def control(self) -> Path:
        return self._write("control", {"op": "connections.list", "rankrAccountId": self.account})

    def event(self, function: str) -> Path:
        makers = {
            INTAKE: self.intake,
            WORKER: self.worker,
            LEAD_PUSH: self.lead_push,
            RECONCILE: self.reconcile,
            OAUTH: self.oauth_install,
            CONTROL: self.control,
            AGENCY: self.agency_install,
        }
        if function in makers:
            return makers[function]()
        raise SystemExit(f"no first event for {function}")


class FirstEvents:
    """Runs a handler's real first event in a fresh interpreter set up like a Lambda container of the
    local runtime (from compiled copies of the CodeUri and layers, as `make build` ships them)."""

    def __init__(self, stack: LocalStack, directory: Path, *, compiled: bool = True) -> None:
        assert stack.service is not None and stack.template is not None
        self.maker = EventMaker(stack, directory)
        specs = {
            logical_id: stack.service.worker_spec(fn) for logical_id, fn in stack.template.functions.items()
        }
        if compiled:
            sources = {d for spec in specs.values() for d in [spec.code_dir, *spec.layer_dirs]}
            copies = compiled_copies(sources, directory / "built")
            specs = {
                logical_id: dataclasses.replace(
                    spec, code_dir=copies[spec.code_dir], layer_dirs=tuple(copies[d] for d in spec.layer_dirs)
                )
                for logical_id, spec in specs.items()
            }
        self.specs = specs
        self.hidden = json.dumps(not_in_layer(LAYER_LOCK.read_text(encoding="utf-8")))

    def run(self, logical_id: str, flags: tuple[str, ...] = ()) -> dict[str, Any]:
        spec = self.specs[logical_id]
        event_path = self.maker.event(logical_id)
        env = child_env(
            {**spec.env, **TRACING_ENV, "_X_AMZN_TRACE_ID": trace_header()},
            [spec.code_dir, *spec.layer_dirs],
        )
        spec_json = json.dumps({**spec.__dict__, "aws_calls": None})
        return run_child([CHILD, spec_json, str(event_path), self.hidden], env, spec.code_dir, flags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs per handler instead of 10")
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeat or (3 if args.quick else 10)

    with (
        tempfile.TemporaryDirectory(prefix="rankr-ghl-cold-") as tmp,
        LocalStack(
            gateway_port=0, invoke_port=0, echo_logs=False, pumps=False, schedules=False,
            log_path=Path(tmp) / "functions.log",
        ) as stack,
    ):  # fmt: skip
        assert stack.service is not None and stack.template is not None and stack.aws is not None
        floor_env = child_env({**os.environ, **stack.aws.environ}, [])
        first_events = FirstEvents(stack, Path(tmp))
        specs, run_handler = first_events.specs, first_events.run

        # Rounds interleave the floor with every handler, so background load on the machine weighs on
        # both sides of the ratio alike (measuring the floor first and the handlers after skewed it).
        floors: list[dict[str, float]] = []
        all_runs: dict[str, list[dict[str, Any]]] = {logical_id: [] for logical_id in sorted(specs)}
        for _ in range(repeats):
            floors.append(run_child([FLOOR], floor_env, str(REPO_ROOT)))
            for logical_id, runs in all_runs.items():
                runs.append(run_handler(logical_id))
        floor_ms = statistics.median(f["floor_ms"] for f in floors)
        floor_cpu_ms = statistics.median(f["cpu_ms"] for f in floors)
        slowest = max(
            all_runs,
            key=lambda k: statistics.median(r["import_ms"] + r["first_event_ms"] for r in all_runs[k]),
        )
        # Where the slowest handler's time goes: one more run under `-X importtime` (not in the medians).
        import_cost = import_cost_by_package(run_handler(slowest, ("-X", "importtime"))["stderr"])
        print(f"{slowest} import self time by package (ms): {json.dumps(import_cost)}", file=sys.stderr)

    init_ms: dict[str, float] = {}
    cpu_ms: dict[str, float] = {}
    import_ms: dict[str, float] = {}
    event_ms: dict[str, float] = {}
    ok: dict[str, bool] = {}
    traced: dict[str, bool] = {}
    lazy: dict[str, int] = {}
    pydantic_loaded: dict[str, bool] = {}
    for logical_id, runs in all_runs.items():
        import_ms[logical_id] = round(statistics.median(r["import_ms"] for r in runs), 1)
        event_ms[logical_id] = round(statistics.median(r["first_event_ms"] for r in runs), 1)
        init_ms[logical_id] = round(statistics.median(r["import_ms"] + r["first_event_ms"] for r in runs), 1)
        cpu_ms[logical_id] = round(statistics.median(r["cpu_ms"] for r in runs), 1)
        ok[logical_id] = all(first_event_ok(logical_id, r["result"]) for r in runs)
        traced[logical_id] = all(r["traced"] for r in runs)
        lazy[logical_id] = int(statistics.median(r["lazy_modules"] for r in runs))
        pydantic_loaded[logical_id] = any(r["pydantic_loaded"] for r in runs)
        if not ok[logical_id]:
            print(f"{logical_id} first event: {json.dumps(runs[-1]['result'])[:500]}", file=sys.stderr)
        print(
            f"{logical_id:<24} init {init_ms[logical_id]:7.1f} ms (import {import_ms[logical_id]:6.1f}, "
            f"first event {event_ms[logical_id]:6.1f}) ok={ok[logical_id]} traced={traced[logical_id]}",
            file=sys.stderr,
        )

    worst = max(init_ms, key=lambda k: init_ms[k])
    ratio = round(init_ms[worst] / floor_ms, 2)
    worst_cpu = max(cpu_ms, key=lambda k: cpu_ms[k])
    print(
        json.dumps(
            {
                "init_ms": init_ms,
                "floor_ms": round(floor_ms, 1),
                "worst_ratio": ratio,
                "worst_function": worst,
                "cpu_ms": cpu_ms,
                "floor_cpu_ms": round(floor_cpu_ms, 1),
                "worst_cpu_ratio": round(cpu_ms[worst_cpu] / floor_cpu_ms, 2),
                "worst_cpu_function": worst_cpu,
                "import_ms": import_ms,
                "first_event_ms": event_ms,
                "first_event_ok": ok,
                "lazy_modules": lazy,
                "pydantic_loaded": pydantic_loaded,
                "worst_import_ms_by_package": import_cost,
                "tracing": traced,
                "repeats": repeats,
                "target_met": ratio <= TARGET_RATIO and all(ok.values()) and all(traced.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
