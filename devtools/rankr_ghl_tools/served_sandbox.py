"""`ServedSandbox`: what both sandboxes share around the shared local HTTP server (`local/httpserver.py`):
the server's address, a lazily opened admin client, and closing both in order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from rankr_ghl_tools.local.httpserver import MAX_BODY_BYTES, Dispatch, LocalHttpServer


class AdminClient(Protocol):
    def close(self) -> None: ...


AdminT = TypeVar("AdminT", bound=AdminClient)


class ServedSandbox(ABC, Generic[AdminT]):
    """A sandbox served on `host:port` (0: any free port) under `name`; the subclass starts it with
    `serve` and opens its admin client with `admin_factory`."""

    def __init__(self, name: str, admin_factory: Callable[[str], AdminT], host: str, port: int) -> None:
        self.name = name
        self.host = host
        self.port = port
        self._admin_factory = admin_factory
        self._server: LocalHttpServer | None = None
        self._admin: AdminT | None = None

    @property
    def serving(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {self.name} is not started")
        return self._server.url

    @property
    def admin(self) -> AdminT:
        if self._admin is None:
            self._admin = self._admin_factory(self.url)
        return self._admin

    def serve(self, dispatch: Dispatch, *, max_body_bytes: int = MAX_BODY_BYTES) -> LocalHttpServer:
        """Bind the server (it answers once started)."""
        self._server = LocalHttpServer(
            dispatch, host=self.host, port=self.port, name=self.name, max_body_bytes=max_body_bytes
        )
        self.port = self._server.port
        return self._server

    def stop_serving(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._server is not None:
            self._server.stop(drain_timeout_s=1.0)
            self._server = None

    @abstractmethod
    def start(self) -> Self:
        """Build the sandbox's routes, `serve` them and start the server."""

    def stop(self) -> None:
        self.stop_serving()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
