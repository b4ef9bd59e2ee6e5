"""An httpx transport over urllib3, the HTTP stack botocore has already loaded in every container.

httpx's default transport imports httpcore and h11 (h11 compiles its header grammar at import): about
30 ms of the cold start of every function that calls GHL or Rankr, for a second HTTP/1.1 stack next to
urllib3. This transport keeps httpx's client (its API, its event hooks, X-Ray's instrumentation of it)
and hands the bytes to urllib3: one pool per origin, keep-alive (idle connections expire as in httpx),
no retries and no redirects (httpx and the API clients decide those), the caller's TLS context, and each
httpx timeout's connect and read parts. urllib3's errors become the httpx errors httpcore raises for the
same failure, so the API clients' retry rules read them unchanged. A response body is read whole before
it is returned (the APIs answer small JSON documents): the connection goes back to the pool at once, and
a failure while reading it is raised here, mapped like any other.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import urllib3
from urllib3 import exceptions as urllib3_errors

# Like httpx's and httpcore's: urllib3 logs each request line, query string included, at DEBUG.
logging.getLogger("urllib3.connectionpool").setLevel(logging.WARNING)

# Idle connections kept per origin (httpx keeps 20 across its pool); more concurrent requests still
# each get a connection, the surplus is closed after use.
KEEPALIVE_PER_ORIGIN = 32
# httpx's keep-alive expiry: a connection idle longer is not reused. Between invocations Lambda freezes
# the container, and a peer or a NAT may drop an idle connection without a word meanwhile.
KEEPALIVE_EXPIRY_S = 5.0


@contextmanager
def httpx_errors(request: httpx.Request) -> Iterator[None]:
    """Raise urllib3's errors as the httpx errors httpcore raises for the same failure."""
    try:
        yield
    except urllib3_errors.NewConnectionError as exc:  # refused, unreachable, unresolvable
        raise httpx.ConnectError(str(exc), request=request) from exc
    except urllib3_errors.ConnectTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc), request=request) from exc
    except urllib3_errors.ReadTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc), request=request) from exc
    except urllib3_errors.SSLError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except urllib3_errors.ProxyError as exc:
        raise httpx.ProxyError(str(exc), request=request) from exc
    except urllib3_errors.ProtocolError as exc:
        raise _protocol_error(exc, request) from exc
    except urllib3_errors.LocationValueError as exc:
        raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
    except urllib3_errors.HTTPError as exc:
        raise httpx.TransportError(str(exc), request=request) from exc


def _protocol_error(exc: urllib3_errors.ProtocolError, request: httpx.Request) -> httpx.TransportError:
    """A connection that broke mid-exchange, as httpcore tells it: the server hung up without (a
    whole) answer, or the socket failed while writing or reading."""
    cause = exc.args[1] if len(exc.args) > 1 else exc.__context__
    if isinstance(cause, http.client.RemoteDisconnected) or not isinstance(cause, OSError):
        return httpx.RemoteProtocolError(str(exc), request=request)
    if isinstance(cause, BrokenPipeError):
        return httpx.WriteError(str(exc), request=request)
    return httpx.ReadError(str(exc), request=request)


def _timeout(request: httpx.Request) -> urllib3.Timeout:
    parts = request.extensions.get("timeout") or {}
    return urllib3.Timeout(connect=parts.get("connect"), read=parts.get("read"))


class Urllib3Transport(httpx.BaseTransport):
    """httpx.BaseTransport over one urllib3 PoolManager (thread-safe, as httpx's transport is)."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._pool = urllib3.PoolManager(
            maxsize=KEEPALIVE_PER_ORIGIN, block=False, ssl_context=ssl_context, retries=False
        )
        self._lock = threading.Lock()
        self._last_used = time.monotonic()

    def _touch(self) -> None:
        """Note a use; after KEEPALIVE_EXPIRY_S without one, close every idle connection first."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_used > KEEPALIVE_EXPIRY_S:
                self._pool.clear()
            self._last_used = now

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._touch()
        headers = urllib3.HTTPHeaderDict()
        for name, value in request.headers.multi_items():
            headers.add(name, value)
        with httpx_errors(request):
            response = self._pool.urlopen(
                request.method,
                str(request.url),
                body=request.read() or None,
                headers=headers,
                redirect=False,
                retries=False,
                timeout=_timeout(request),
                preload_content=False,
                decode_content=False,
            )
            try:
                # Raw bytes: httpx decodes them by their Content-Encoding, as with its own transport.
                body = response.read(decode_content=False)
            except BaseException:
                response.close()  # a half-read connection cannot be reused
                raise
        response.release_conn()
        self._touch()
        return httpx.Response(
            status_code=response.status,
            headers=list(response.headers.iteritems()),
            stream=httpx.ByteStream(body),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("ascii", "replace"),
            },
        )

    def close(self) -> None:
        self._pool.clear()
