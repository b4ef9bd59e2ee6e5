"""The container's GC policy (rankr_ghl.container_gc) is set before each handler's other imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
HANDLERS = sorted((REPO_ROOT / "functions").glob("*/app.py"))
POLICY_MODULE = "rankr_ghl.container_gc"


def test_every_handler_is_found() -> None:
    assert len(HANDLERS) >= 7


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_the_policy_is_the_handlers_first_import_outside_the_standard_library(handler: Path) -> None:
    source = handler.read_text(encoding="utf-8")
    imports = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
    ]
    outside_stdlib = [
        node
        for node in imports
        if (node.names[0].name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
        not in sys.stdlib_module_names
    ]
    first = outside_stdlib[0]
    assert isinstance(first, ast.Import) and first.names[0].name == POLICY_MODULE, handler


def _fresh_interpreter(script: str) -> list[object]:
    """Run `script` in a new interpreter (this test process may have applied the policy already);
    its last line printed is a Python literal."""
    layer = str(REPO_ROOT / "layers" / "rankr_ghl")
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env={"PYTHONPATH": layer}
    ).stdout
    value = ast.literal_eval(out.strip().splitlines()[-1])
    assert isinstance(value, list)
    return value


def test_the_cold_start_runs_no_collection_and_the_first_one_freezes_its_survivors() -> None:
    before, during, collections, after, frozen, threshold = _fresh_interpreter(
        "import gc\n"
        "before = gc.get_threshold()\n"
        "import rankr_ghl.container_gc as policy\n"
        "during = gc.get_threshold()\n"
        "runs = []\n"
        "gc.callbacks.insert(0, lambda phase, info: phase == 'stop' and runs.append(phase))\n"
        "kept = [[i] for i in range(50_000)]  # a cold start's worth of long-lived objects\n"
        "collections = len(runs)\n"
        "gc.collect()\n"
        "print([before, during, collections, gc.get_threshold(), gc.get_freeze_count(), "
        "policy.COLD_START_YOUNG_THRESHOLD])\n"
    )
    assert isinstance(before, tuple) and isinstance(threshold, int)
    assert during == (threshold, *before[1:])
    assert collections == 0
    assert after == before
    assert isinstance(frozen, int) and frozen > 50_000


def test_apply_is_once_per_process() -> None:
    calls, thresholds = _fresh_interpreter(
        "import gc\n"
        "import rankr_ghl.container_gc as policy\n"
        "policy.apply(); policy.apply()\n"
        "print([gc.callbacks.count(policy._settle_after_first_collection), gc.get_threshold()[0]])\n"
    )
    assert calls == 1
    assert thresholds == 200_000
