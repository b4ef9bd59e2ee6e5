"""The local gateway: HTTP API payload v2.0 events with byte-exact bodies, and response mapping."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from rankr_ghl_tools.local.stack import LocalStack

pytestmark = pytest.mark.integration


def _echo(stack: LocalStack, method: str, path: str, **kwargs) -> dict:
    response = httpx.request(method, stack.gateway_url + path, timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_text_body_reaches_handler_byte_exact(stack: LocalStack) -> None:
    body = '{"b": 1,  "a": "é ✓ \\u00e9",\n "z": [1, 2]}  '.encode()
    echoed = _echo(
        stack,
        "POST",
        "/echo?x=1&x=2&empty=",
        content=body,
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "a"),
            ("X-Multi", "b"),
            ("Cookie", "c1=v1; c2=v2"),
            ("User-Agent", "lrt-agent"),
        ],
    )
    event = echoed["event"]
    assert event["body"].encode("utf-8") == body
    assert event["isBase64Encoded"] is False
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /echo"
    assert event["rawPath"] == "/echo"
    assert event["rawQueryString"] == "x=1&x=2&empty="
    assert event["queryStringParameters"] == {"x": "1,2", "empty": ""}
    assert event["headers"]["x-multi"] == "a,b"
    assert event["headers"]["content-type"] == "application/json"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    ctx = event["requestContext"]
    assert ctx["http"]["method"] == "POST"
    assert ctx["http"]["path"] == "/echo"
    assert ctx["http"]["sourceIp"] == "127.0.0.1"
    assert ctx["http"]["userAgent"] == "lrt-agent"
    assert ctx["stage"] == "$default"
    assert ctx["routeKey"] == "POST /echo"
    assert ctx["requestId"] and ctx["timeEpoch"] > 0 and ctx["apiId"]
    # Handler ran with the layer on its path and the template's resolved environment (!If + !Sub).
    assert echoed["layer"] == "lrt-layer"
    assert echoed["greeting"] == "hello-lrt"
    assert 0 < echoed["remaining_ms"] <= 10_000
    assert echoed["function_name"] == stack.template.functions["EchoFunction"].name


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", bytes(range(256))),
        ("text/plain", b"\xff\xfe not utf-8 \x80"),
        ("application/x-www-form-urlencoded", b"a=1&b=%C3%A9"),  # API Gateway base64s form posts
        ("image/png", b"\x89PNG\r\n\x1a\n"),
    ],
)
def test_binary_bodies_arrive_base64(stack: LocalStack, content_type: str, body: bytes) -> None:
    event = _echo(stack, "POST", "/echo", content=body, headers={"Content-Type": content_type})["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_no_body_means_no_body_key(stack: LocalStack) -> None:
    event = _echo(stack, "GET", "/items/abc%20d")["event"]
    assert "body" not in event
    assert event["pathParameters"] == {"itemId": "abc d"}
    assert event["routeKey"] == "GET /items/{itemId}"


def test_greedy_any_route(stack: LocalStack) -> None:
    event = _echo(stack, "PUT", "/raw/a/b/c", content=b"x", headers={"Content-Type": "text/plain"})["event"]
    assert event["routeKey"] == "ANY /raw/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c"}
    assert event["body"] == "x"


def test_unknown_route_and_method_are_404(stack: LocalStack) -> None:
    assert httpx.get(stack.gateway_url + "/nope").status_code == 404
    assert httpx.get(stack.gateway_url + "/echo").status_code == 404  # only POST is routed


def test_structured_binary_response_with_cookies(stack: LocalStack) -> None:
    response = httpx.post(stack.gateway_url + "/echo?mode=binary-response", content=b"")
    assert response.status_code == 201
    assert response.content == bytes(range(256))
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-test"] == "1"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]


def test_plain_value_shortcut_and_handler_error(stack: LocalStack) -> None:
    shortcut = httpx.post(stack.gateway_url + "/echo?mode=raw-response", content=b"")
    assert shortcut.status_code == 200
    assert shortcut.headers["content-type"] == "application/json"
    assert shortcut.json() == {"shortcut": True}
    failed = httpx.post(stack.gateway_url + "/echo?mode=error", content=b"")
    assert failed.status_code == 500
    assert failed.json() == {"message": "Internal Server Error"}
    # The worker survived the exception and still serves.
    assert _echo(stack, "POST", "/echo", content=b"{}", headers={"Content-Type": "application/json"})


def test_handler_output_is_captured(stack: LocalStack) -> None:
    httpx.post(stack.gateway_url + "/echo?mode=error", content=b"")
    assert stack.log_path is not None
    for _ in range(50):
        with open(stack.log_path, encoding="utf-8") as handle:
            if "RuntimeError: echo handler failed" in handle.read():
                return
        import time

        time.sleep(0.1)
    pytest.fail("worker stderr did not reach the log file")


def test_event_json_is_what_handler_got(stack: LocalStack) -> None:
    # Keep-alive client: several requests over one connection.
    with httpx.Client(base_url=stack.gateway_url) as client:
        for i in range(3):
            response = client.post("/echo", content=json.dumps({"i": i}).encode())
            assert json.loads(response.json()["event"]["body"]) == {"i": i}


def test_taken_port_falls_back_to_a_free_one() -> None:
    import socket

    from rankr_ghl_tools.local.httpserver import HttpResponse, LocalHttpServer

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        server = LocalHttpServer(lambda request: HttpResponse(204), port=taken).start()
        try:
            assert server.port_was_taken and server.port != taken
            assert httpx.get(server.url + "/x").status_code == 204
        finally:
            server.stop()
