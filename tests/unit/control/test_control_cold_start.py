"""The control service loads an op's module with the op's first request: a cold start serving
`connections.list` builds none of the operator contract's models and loads no reconcile, mapping,
dead-letter or webhook machinery."""

from __future__ import annotations

import subprocess
import sys


def test_the_control_service_loads_only_the_ops_it_serves() -> None:
    code = (
        "import sys\n"
        "import rankr_ghl.flows.control.service\n"
        "later = (\n"
        "    'rankr_ghl.flows.control.operator_contract', 'rankr_ghl.flows.control.operator_ops',\n"
        "    'rankr_ghl.flows.control.dlq_ops', 'rankr_ghl.flows.control.mapping_ops',\n"
        "    'rankr_ghl.flows.control.reconcile_ops', 'rankr_ghl.flows.control.connection_details',\n"
        "    'rankr_ghl.flows.reconcile', 'rankr_ghl.flows.inbound', 'rankr_ghl.sync.mapping',\n"
        ")\n"
        "loaded = [m for m in later if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=None)
