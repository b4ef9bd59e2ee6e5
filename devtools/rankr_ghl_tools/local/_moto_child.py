"""Entry point of the embedded AWS child process (kept light: no boto3 or cfn-lint imports)."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any


def serve_moto(conn: Any) -> None:  # pragma: no cover - runs in the child process
    """Run ThreadedMotoServer on a free loopback port, report the port, live until told to stop."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    conn.send(server.get_host_and_port()[1])
    threading.Thread(target=_warm_backends, daemon=True).start()
    with contextlib.suppress(EOFError, OSError):
        conn.recv()  # blocks until the parent says stop or dies (EOFError)


def _warm_backends() -> None:
    """moto imports a service's backend on its first request; do it while the parent is busy."""
    from moto.backends import get_backend

    for service in ("dynamodb", "sqs", "secretsmanager", "scheduler"):
        with contextlib.suppress(Exception):
            get_backend(service)  # type: ignore[call-overload]
