"""The container's GC policy (rankr_ghl.container_gc) is set before each handler's other imports."""

from __future__ import annotations

import ast
import gc
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


def test_importing_the_policy_raises_only_the_young_threshold() -> None:
    # A fresh interpreter: this test process may have imported the policy already.
    script = (
        "import gc; before = gc.get_threshold(); import rankr_ghl.container_gc as policy; "
        "print(before, gc.get_threshold(), policy.YOUNG_GENERATION_THRESHOLD)"
    )
    layer = str(REPO_ROOT / "layers" / "rankr_ghl")
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env={"PYTHONPATH": layer}
    ).stdout.split(")")
    before = ast.literal_eval(out[0] + ")")
    after = ast.literal_eval(out[1] + ")")
    threshold = int(out[2])
    assert before[0] < threshold
    assert after == (threshold, before[1], before[2])


def test_apply_sets_the_threshold() -> None:
    from rankr_ghl import container_gc

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700)
        container_gc.apply()
        assert gc.get_threshold()[0] == container_gc.YOUNG_GENERATION_THRESHOLD
    finally:
        gc.set_threshold(*saved)
