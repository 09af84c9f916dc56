"""v1 authentication through the proxy: HTTP Basic in, `Authorization: Bearer` out.

Every refusal is a v1 401 with the Basic challenge and a v1 error document, and a request the
proxy refuses itself never reaches the upstream.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from typing import Any

import pytest
from aiohttp import web
from lxml import etree

from proxy.app import create_app as create_proxy_app
from proxy.config import load_settings

from .conftest import JSON, PHILLIP, Recorder, basic

CHALLENGE = 'Basic realm="Capsule"'


class HeaderRecorder(Recorder):
    """Also records the Authorization header of every request that reached the upstream."""

    def __init__(self) -> None:
        super().__init__()
        self.authorizations: list[str | None] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.authorizations.append(request.headers.get("Authorization"))
        return await super().middleware(request, handler)

    def clear(self) -> None:
        super().clear()
        self.authorizations.clear()


@pytest.fixture
def recorder() -> HeaderRecorder:
    return HeaderRecorder()


def raw_basic(credentials: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}


def xml_message(body: bytes) -> str:
    root = etree.fromstring(body)
    assert root.tag == "error", body
    [message] = list(root)
    assert message.tag == "message" and message.text, body
    return message.text


async def assert_401(response, *, as_json: bool = False) -> str:
    body = await response.read()
    assert response.status == 401, body
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    if as_json:
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        document = json.loads(body)
        assert list(document) == ["message"] and document["message"], body
        return document["message"]
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return xml_message(body)


# --- no credentials ---

async def test_no_authorization_is_401_xml_and_nothing_goes_upstream(proxy, recorder):
    message = await assert_401(await proxy.get("/api/task/1"))
    assert "authentication required" in message
    assert recorder.calls == []


async def test_no_authorization_is_401_json_when_json_is_asked_for(proxy, recorder):
    message = await assert_401(await proxy.get("/api/task/1", headers=JSON), as_json=True)
    assert "authentication required" in message
    assert recorder.calls == []


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/tasks"), ("GET", "/api/users"), ("GET", "/api/task/categories"),
    ("POST", "/api/task"), ("PUT", "/api/task/1"), ("DELETE", "/api/task/1"),
    ("POST", "/api/task/1/complete"), ("GET", "/api/party/1/tasks"),
])
async def test_every_v1_route_needs_credentials(proxy, recorder, method, path):
    # The body would be valid: authentication comes first, and nothing is read or sent.
    body = b"<task><description>x</description><dueDate>2026-01-01</dueDate></task>"
    response = await proxy.request(method, path, data=body if method in ("POST", "PUT") else None,
                                   headers={"Content-Type": "application/xml"})
    await assert_401(response)
    assert recorder.calls == []


async def test_health_endpoints_need_no_credentials(proxy, recorder):
    response = await proxy.get("/healthz")
    assert response.status == 200 and await response.json() == {"status": "ok"}


# --- malformed credentials: refused by the proxy itself ---

MALFORMED = {
    "basic without value": {"Authorization": "Basic"},
    "basic with blank value": {"Authorization": "Basic    "},
    "not base64": {"Authorization": "Basic !!!notbase64"},
    "base64 with bad padding": {"Authorization": "Basic dG9rLXBoaWxsaXA6eA"},
    "empty user name": raw_basic(b":x"),
    "blank user name": raw_basic(b"   :x"),
    "only a colon": raw_basic(b":"),
    "empty credentials": raw_basic(b""),
    "bearer scheme": {"Authorization": "Bearer tok-phillip"},
    "token scheme": {"Authorization": "Token tok-phillip"},
    "scheme only": {"Authorization": "tok-phillip"},
    "digest scheme": {"Authorization": 'Digest username="tok-phillip"'},
    "non-UTF-8 user name": raw_basic(b"tok-\xff\xfe:x"),
    "non-UTF-8 password": raw_basic(b"tok-phillip:\xc3\x28"),
    "line break in the user name": raw_basic(b"tok-phillip\r\nX-Evil: 1:x"),
    "NUL in the user name": raw_basic(b"tok-\x00phillip:x"),
}


@pytest.mark.parametrize("headers", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_credentials_are_401_and_never_sent_upstream(proxy, recorder, headers):
    await assert_401(await proxy.get("/api/task/2", headers=headers))
    await assert_401(await proxy.get("/api/task/2", headers={**headers, **JSON}), as_json=True)
    assert recorder.calls == []


async def test_scheme_name_is_case_insensitive(proxy, recorder):
    encoded = base64.b64encode(b"tok-phillip:x").decode()
    response = await proxy.get("/api/task/2", headers={"Authorization": f"bAsIc {encoded}"})
    assert response.status == 200, await response.text()
    assert recorder.authorizations == ["Bearer tok-phillip"]


async def test_credentials_without_a_colon_use_the_whole_string_as_the_token(proxy, recorder):
    # auth.py partitions on ":"; with no colon, everything is the user name (the token).
    response = await proxy.get("/api/task/2", headers=raw_basic(b"tok-phillip"))
    assert response.status == 200, await response.text()
    assert recorder.authorizations == ["Bearer tok-phillip"]


async def test_surrounding_blanks_of_the_token_are_dropped(proxy, recorder):
    response = await proxy.get("/api/task/2", headers=raw_basic(b"  tok-phillip  :x"))
    assert response.status == 200, await response.text()
    assert recorder.authorizations == ["Bearer tok-phillip"]


async def test_only_the_first_colon_separates_token_and_password(proxy, recorder):
    response = await proxy.get("/api/task/2", headers=raw_basic(b"tok-phillip:pass:with:colons"))
    assert response.status == 200, await response.text()
    assert recorder.authorizations == ["Bearer tok-phillip"]


# --- valid credentials ---

@pytest.mark.parametrize("password", ["", "x", "anything at all", "tok-sofia", "p\u00e4ss\u00f6rd"])
async def test_any_password_works_even_an_empty_one(proxy, recorder, password):
    response = await proxy.get("/api/task/2", headers=basic("tok-phillip", password))
    assert response.status == 200, await response.text()
    assert etree.fromstring(await response.read()).findtext("id") == "2"
    assert recorder.calls == [("GET", "/api/v2/tasks/2")]
    assert recorder.authorizations == ["Bearer tok-phillip"]


async def test_upstream_receives_the_token_as_bearer_on_every_call(proxy, recorder):
    # Task 1 has a time of day, so its owner's zone is looked up too: both calls carry it.
    response = await proxy.get("/api/task/1", headers=basic("tok-sofia"))
    assert response.status == 200, await response.text()
    assert recorder.paths() == ["/api/v2/tasks/1", "/api/v2/users"]
    assert recorder.authorizations == ["Bearer tok-sofia", "Bearer tok-sofia"]


async def test_write_sends_the_bearer_token(proxy, recorder):
    body = b"<task><description>Auth</description><dueDate>2026-01-01</dueDate></task>"
    response = await proxy.post("/api/task", data=body,
                                headers={**PHILLIP, "Content-Type": "application/xml"})
    assert response.status == 201, await response.text()
    assert recorder.calls == [("POST", "/api/v2/tasks")]
    assert recorder.authorizations == ["Bearer tok-phillip"]


async def test_unknown_token_is_the_upstreams_401_with_the_basic_challenge(proxy, recorder):
    response = await proxy.get("/api/task/2", headers=basic("tok-nobody"))
    message = await assert_401(response)
    assert "invalid or expired token" in message
    # The emulator's Bearer challenge is not passed on: a v1 client speaks Basic.
    assert "Bearer" not in response.headers.getall("WWW-Authenticate")[0]
    assert recorder.calls == [("GET", "/api/v2/tasks/2")]
    assert recorder.authorizations == ["Bearer tok-nobody"]


async def test_unknown_token_json(proxy, recorder):
    message = await assert_401(await proxy.get("/api/tasks", headers={**basic("tok-nobody"), **JSON}),
                               as_json=True)
    assert "invalid or expired token" in message
    assert len(recorder.calls) == 1


async def test_unknown_token_on_a_write_is_401_and_nothing_is_created(proxy, recorder):
    body = b"<task><description>Nope</description><dueDate>2026-01-01</dueDate></task>"
    response = await proxy.post("/api/task", data=body,
                                headers={**basic("tok-nobody"), "Content-Type": "application/xml"})
    await assert_401(response)
    assert "Location" not in response.headers
    assert recorder.calls == [("POST", "/api/v2/tasks")]


# --- static mode ---

STATIC = {"mode": "static", "static_token": "tok-phillip", "allowed_clients": ("legacy-1", "legacy-2")}


@pytest.mark.parametrize("client_token", ["legacy-1", "legacy-2"])
async def test_static_mode_allowed_client_goes_upstream_with_the_static_token(
        make_proxy, recorder, client_token):
    proxy = await make_proxy(auth=STATIC)
    response = await proxy.get("/api/task/2", headers=basic(client_token, ""))
    assert response.status == 200, await response.text()
    assert etree.fromstring(await response.read()).findtext("owner") == "sofia"
    assert recorder.calls == [("GET", "/api/v2/tasks/2")]
    assert recorder.authorizations == ["Bearer tok-phillip"]


async def test_static_mode_the_zone_is_the_static_tokens_user(make_proxy, recorder):
    proxy = await make_proxy(auth=STATIC)
    response = await proxy.get("/api/task/1", headers=basic("legacy-2"))
    assert response.status == 200, await response.text()
    # 15:00 New York (phillip, the static token's user) in December is 20:00Z.
    assert etree.fromstring(await response.read()).findtext("dueDateTime") == "2026-12-01T20:00:00Z"
    assert recorder.authorizations == ["Bearer tok-phillip", "Bearer tok-phillip"]


@pytest.mark.parametrize("client_token", [
    "tok-sofia",           # a valid v2 token, but not an allowed client
    "tok-phillip",         # even the static token itself is not a client token
    "legacy-3", "legacy-", "legacy-1 x", "LEGACY-1", "legacy-1legacy-2",
])
async def test_static_mode_other_tokens_are_401_and_nothing_goes_upstream(make_proxy, recorder, client_token):
    proxy = await make_proxy(auth=STATIC)
    message = await assert_401(await proxy.get("/api/task/2", headers=basic(client_token)))
    assert "not allowed" in message
    assert recorder.calls == []


async def test_static_mode_still_refuses_malformed_and_missing_credentials(make_proxy, recorder):
    proxy = await make_proxy(auth=STATIC)
    await assert_401(await proxy.get("/api/task/2"))
    await assert_401(await proxy.get("/api/task/2", headers={"Authorization": "Bearer legacy-1"}))
    await assert_401(await proxy.get("/api/task/2", headers=raw_basic(b":legacy-1")), as_json=False)
    assert recorder.calls == []


async def test_static_mode_a_bad_static_token_is_the_upstreams_401(aiohttp_client, upstream, recorder):
    settings = load_settings(environ={}, flags={"auth": {
        "mode": "static", "static_token": "tok-revoked", "allowed_clients": ("legacy-1",)}})
    proxy = await aiohttp_client(create_proxy_app(settings, str(upstream.make_url("")).rstrip("/")))
    await assert_401(await proxy.get("/api/task/2", headers=basic("legacy-1")))
    assert recorder.authorizations == ["Bearer tok-revoked"]


# --- the token stays out of the logs ---

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_tokens_never_appear_in_log_output(make_proxy, aiohttp_client, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = ["tok-phillip", "tok-sofia", "tok-secret-nobody", "legacy-1", "static-secret-unreachable"]
    passthrough = await make_proxy()
    static = await make_proxy(auth=STATIC)
    settings = load_settings(environ={}, flags={"auth": {
        "mode": "static", "static_token": "static-secret-unreachable", "allowed_clients": ("legacy-1",)}})
    unreachable = await aiohttp_client(create_proxy_app(settings, f"http://127.0.0.1:{_closed_port()}"))

    statuses = []
    for client, path, headers in [
        (passthrough, "/api/task/1", basic("tok-phillip")),               # ok, with a zone look-up
        (passthrough, "/api/tasks", basic("tok-sofia")),                  # ok, a list
        (passthrough, "/api/task/1", basic("tok-secret-nobody")),         # upstream 401
        (passthrough, "/api/task/999", basic("tok-phillip")),             # upstream 404
        (passthrough, "/api/task/1", {"Authorization": "Bearer tok-phillip"}),  # refused here
        (passthrough, "/api/task/1", {"Authorization": "Basic tok-phillip"}),   # not base64
        (static, "/api/task/2", basic("legacy-1")),                       # ok, static token
        (static, "/api/task/2", basic("tok-sofia")),                      # not allowed
        (unreachable, "/api/task/2", basic("legacy-1")),                  # 502, logged as a warning
    ]:
        response = await client.get(path, headers=headers)
        statuses.append(response.status)
        answer = await response.text()
        assert not any(secret in answer for secret in secrets)
    assert statuses == [200, 200, 401, 404, 401, 401, 200, 401, 502]
    response = await passthrough.post("/api/task", data=b"<task><description>x</description></task>",
                                      headers={**basic("tok-secret-nobody"), "Content-Type": "application/xml"})
    assert response.status in (400, 401)

    assert any(record.levelno == logging.WARNING for record in caplog.records), "the 502 is logged"
    text = caplog.text + "".join(repr(record.args) for record in caplog.records)
    for secret in secrets:
        assert secret not in text
    for secret in ("tok-phillip:x", "tok-sofia:x", "legacy-1:x"):
        assert base64.b64encode(secret.encode()).decode() not in text
