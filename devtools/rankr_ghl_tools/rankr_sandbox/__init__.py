"""Rankr sandbox: a real HTTP server implementing docs/rankr-api.yaml, state in SQLite (see INTERFACE.md)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rankr_ghl_tools.local.httpserver import LocalHttpServer
from rankr_ghl_tools.rankr_sandbox.admin import RankrSandboxAdmin
from rankr_ghl_tools.rankr_sandbox.http_front import RankrFront
from rankr_ghl_tools.rankr_sandbox.server import (
    DEFAULT_API_KEY,
    MAX_ADMIN_BODY_BYTES,
    RankrApp,
    RankrSandboxConfig,
)

__all__ = ["DEFAULT_API_KEY", "RankrSandbox", "RankrSandboxAdmin", "RankrSandboxConfig"]


class RankrSandbox:
    """`RankrSandbox(config, host, port=0)`; `start()` serves in background threads until `stop()`."""

    def __init__(
        self, config: RankrSandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or RankrSandboxConfig()
        self.host = host
        self.port = port
        self.app: RankrApp | None = None
        self._server: LocalHttpServer | None = None
        self._admin: RankrSandboxAdmin | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Rankr sandbox is not started")
        return self._server.url

    @property
    def api_key(self) -> str:
        return self.config.api_keys[0]

    @property
    def admin(self) -> RankrSandboxAdmin:
        if self._admin is None:
            self._admin = RankrSandboxAdmin(self.url)
        return self._admin

    def start(self) -> Self:
        if self._server is not None:
            return self
        self.app = RankrApp(self.config)
        self._server = LocalHttpServer(
            RankrFront(self.app).dispatch,
            host=self.host,
            port=self.port,
            name="rankr-sandbox",
            max_body_bytes=MAX_ADMIN_BODY_BYTES,
        ).start()
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._server is not None:
            self._server.stop(drain_timeout_s=1.0)
            self._server = None
        if self.app is not None:
            self.app.store.close()
            self.app = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
