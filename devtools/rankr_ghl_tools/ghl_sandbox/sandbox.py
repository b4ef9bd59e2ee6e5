"""`GHLSandbox`: start/stop the sandbox HTTP server in background threads."""

from __future__ import annotations

import threading
from typing import Any

from .admin_api import AdminApi
from .admin_client import SandboxAdmin
from .config import SandboxConfig
from .server import SandboxApp, SandboxHTTPServer, make_server


class GHLSandbox:
    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.host = host
        self.port = port
        self.app = SandboxApp(self.config)
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._admin: SandboxAdmin | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def admin(self) -> SandboxAdmin:
        if self._admin is None:
            self._admin = SandboxAdmin(self.url)
        return self._admin

    @property
    def public_key_pem(self) -> str:
        return str(self.app.webhooks.signer.public_keys()["ed25519_pem"])

    def start(self) -> GHLSandbox:
        if self._server is not None:
            return self
        self._server = make_server(self.app, AdminApi(self.app), self.host, self.port)
        self.port = self._server.server_address[1]
        self.app.webhooks.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="ghl-sandbox-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.app.webhooks.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> GHLSandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
