"""IAM proof bench: run the connector's flows with every AWS call recorded, then check the calls
against the role policies of template.yaml.

    .venv/bin/python bench/iam.py [--quick] [--keep DIR]

Workload: the `make run` scenario (install, agency install, lead push, webhooks, reconcile, dry run) on a
LocalStack, then a chaos pass (bench/chaos.py: every fault on, lead-push crashes, async invokes and the
on-failure destination) - `--quick`: 12 leads and a few dozen changes, otherwise chaos's own --quick
sizes. Recording: each local-runtime worker writes its calls (aws_calls.py) under
.artifacts/aws-calls/bench-<time>/ (or --keep DIR); the report goes beside them as iam-report.json.

Last stdout line (JSON): {functions, calls_recorded, distinct_operations, missing_permissions,
unused_permissions}. Target: missing_permissions 0 (the exit status is 1 otherwise). The unused grants
are listed on stderr: each is removed from the template or kept with a comment saying why.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
for _path in (REPO_ROOT / "layers" / "rankr_ghl", REPO_ROOT / "devtools"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from rankr_ghl_tools.local.aws_calls import AWS_CALLS_DIR_ENV  # noqa: E402
from rankr_ghl_tools.local.iam_check import check_directory, format_report  # noqa: E402

TEMPLATE = REPO_ROOT / "template.yaml"


def _chaos_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rankr_ghl_chaos_bench", REPO_ROOT / "bench" / "chaos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def run_scenario() -> bool:
    from rankr_ghl_tools.local.stack import LocalStack
    from rankr_ghl_tools.scenario import ScenarioContext, load_steps, run_steps

    with (
        tempfile.TemporaryDirectory(prefix="rankr-ghl-iam-") as tmp,
        LocalStack(
            gateway_port=0, invoke_port=0, echo_logs=False, log_path=Path(tmp) / "functions.log"
        ) as stack,
    ):
        outcomes = run_steps(ScenarioContext(stack=stack), load_steps())
        stack.drain(timeout=120)
    failed = [o.step.name for o in outcomes if not o.result.ok]
    if failed:
        print(f"scenario steps failed: {failed}", file=sys.stderr)
    return not failed


def run_chaos(quick: bool) -> bool:
    chaos = _chaos_module()
    if quick:
        config = chaos.ChaosConfig(
            leads=12, ghl_edits=12, ghl_deletes=3, task_changes=6, rankr_edits=6, batch_size=4, seed=11
        )
    else:
        config = chaos.ChaosConfig().scaled(5)
    config.verbose = False
    result = chaos.run_chaos(config)
    print(f"chaos: {json.dumps(result)}", file=sys.stderr)
    return all(result[k] == 0 for k in chaos.ZERO_TARGETS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a dozen leads in the chaos pass")
    parser.add_argument(
        "--keep", help="record into this directory (default .artifacts/aws-calls/bench-<time>)"
    )
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = Path(args.keep or REPO_ROOT / ".artifacts" / "aws-calls" / f"bench-{stamp}").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[AWS_CALLS_DIR_ENV] = str(directory)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    scenario_ok = run_scenario()
    chaos_ok = run_chaos(args.quick)
    report = check_directory(directory, TEMPLATE)
    (directory / "iam-report.json").write_text(json.dumps(report.to_json(), indent=2, default=str))
    print(format_report(report), file=sys.stderr)
    summary = report.summary()
    print(json.dumps(summary), flush=True)
    healthy = scenario_ok and chaos_ok and not report.unmapped and not report.unrecorded_functions
    return 0 if summary["missing_permissions"] == 0 and healthy else 1


if __name__ == "__main__":
    sys.exit(main())
