"""Installs the way Rankr starts them, for the local stack: mint an install link through the control
API (Lambda Invoke API), then walk the browser flow /oauth/install -> GHL consent -> /oauth/callback
-> /oauth/done.

A plain HTTP client keeps `Secure` cookies only for https, and the local gateway is plain HTTP, so the
walk carries the install cookies itself, exactly as a browser on localhost would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

CONTROL_ALIAS_OUTPUT = "ControlAliasArn"


def control_call(stack: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """One control API request through the local Lambda Invoke API; the full answer."""
    response = stack.client("lambda").invoke(
        FunctionName=stack.template.outputs[CONTROL_ALIAS_OUTPUT], Payload=json.dumps(payload).encode()
    )
    body = response["Payload"].read()
    if response.get("FunctionError"):
        raise RuntimeError(f"control function failed: {body[:500]!r}")
    result: dict[str, Any] = json.loads(body)
    return result


def mint_install_link(
    stack: Any, rankr_account: str, *, agency: bool = False, return_url: str | None = None
) -> str:
    payload: dict[str, Any] = {
        "op": "install_link",
        "rankrAccountId": rankr_account,
        "target": "agency" if agency else "location",
    }
    if return_url is not None:
        payload["returnUrl"] = return_url
    answer = control_call(stack, payload)
    if not answer.get("ok"):
        raise RuntimeError(f"install_link refused: {answer.get('error')}")
    url: str = answer["result"]["url"]
    return url


@dataclass
class InstallWalk:
    """Every answer of one browser install (for assertions and screenshots of failures)."""

    start: httpx.Response
    consent: httpx.Response | None = None
    callback: httpx.Response | None = None
    done: httpx.Response | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def page(self) -> httpx.Response:
        return self.done or self.callback or self.consent or self.start


def _keep_cookies(response: httpx.Response, jar: dict[str, str]) -> None:
    for header in response.headers.get_list("set-cookie"):
        pair = header.split(";", 1)[0]
        name, _, value = pair.partition("=")
        if value and "max-age=0" not in header.lower():
            jar[name.strip()] = value.strip()
        else:
            jar.pop(name.strip(), None)


def _cookie_header(jar: dict[str, str]) -> dict[str, str]:
    return {"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}


def walk_install(link: str, *, timeout: float = 30, cookies: dict[str, str] | None = None) -> InstallWalk:
    """Follow one install link like a browser (with its cookies); stops at the first non-redirect."""
    jar = dict(cookies or {})
    with httpx.Client(timeout=timeout, follow_redirects=False) as http:
        walk = InstallWalk(start=http.get(link, headers=_cookie_header(jar)), cookies=jar)
        _keep_cookies(walk.start, jar)
        if walk.start.status_code != 302:
            return walk
        walk.consent = http.get(walk.start.headers["location"])
        if walk.consent.status_code != 302:
            return walk
        walk.callback = http.get(walk.consent.headers["location"], headers=_cookie_header(jar))
        _keep_cookies(walk.callback, jar)
        if walk.callback.status_code not in (302, 303):
            return walk
        done_url = walk.callback.headers["location"]
        if urlsplit(done_url).path == "/oauth/done":
            walk.done = http.get(done_url, headers=_cookie_header(jar))
            _keep_cookies(walk.done, jar)
    return walk


def open_callback(
    callback_url: str, *, cookies: dict[str, str] | None = None, timeout: float = 30
) -> httpx.Response:
    """A callback URL opened (by whoever holds it) with these cookies; the outcome page it leads to."""
    jar = dict(cookies or {})
    with httpx.Client(timeout=timeout, follow_redirects=False) as http:
        answer = http.get(callback_url, headers=_cookie_header(jar))
        _keep_cookies(answer, jar)
        if answer.status_code in (302, 303) and urlsplit(answer.headers["location"]).path == "/oauth/done":
            return http.get(answer.headers["location"], headers=_cookie_header(jar))
        return answer


def install_with_link(stack: Any, rankr_account: str, *, agency: bool = False) -> InstallWalk:
    """Mint a link for `rankr_account` and complete the install in one simulated browser."""
    return walk_install(mint_install_link(stack, rankr_account, agency=agency))
