"""`GHLSandbox`: serve the sandbox on the shared local HTTP server, with its webhook delivery threads."""

from __future__ import annotations

from typing import Any

from ..local.httpserver import LocalHttpServer
from .admin_api import AdminApi
from .admin_client import SandboxAdmin
from .config import SandboxConfig
from .http_front import SandboxFront
from .server import SandboxApp


class GHLSandbox:
    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.host = host
        self.port = port
        self.app = SandboxApp(self.config)
        self._server: LocalHttpServer | None = None
        self._admin: SandboxAdmin | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        return self._server.url

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
        front = SandboxFront(self.app, AdminApi(self.app))
        self._server = LocalHttpServer(front.dispatch, host=self.host, port=self.port, name="ghl-sandbox")
        self.port = self._server.port
        self.app.webhooks.start()
        self._server.start()
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._server is not None:
            self._server.stop(drain_timeout_s=1.0)
            self._server = None
        self.app.webhooks.stop()

    def __enter__(self) -> GHLSandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
