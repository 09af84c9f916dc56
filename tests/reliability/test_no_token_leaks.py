"""Tokens and Authorization headers never appear in logs, error bodies or metrics.

Every token here is distinctive (`...LEAKCHECK...`), so a leak is found by plain text search,
in the raw form and in the base64 of the HTTP Basic credentials a client sends. A session of
successes and failures runs with DEBUG logging captured for every logger; a real
`capsule-proxy serve` process runs the same kind of session at `[log] level = debug`, and its
stdout and stderr are searched too.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
import re
import signal
import socket
import sys
from typing import Any

import aiohttp
import pytest
from lxml import etree

from tests.processes import start

from proxy import server
from proxy.app import create_app as create_proxy_app
from proxy.config import load_settings
from proxy.emulator.app import create_app as create_emulator_app
from proxy.emulator.seed import parse_seed
from proxy.logs import setup_logging

from .chaos import Chaos

USER_TOKEN = "tok-LEAKCHECK-1234"          # a v2 token the emulator knows (passthrough)
UNKNOWN_TOKEN = "tok-LEAKCHECK-unknown"    # a token the emulator does not know
STATIC_TOKEN = "v2-LEAKCHECK-static"       # the proxy's own v2 token in static mode
CLIENT_TOKEN = "v1-LEAKCHECK-client"       # a v1 token allowed through in static mode
DENIED_TOKEN = "v1-LEAKCHECK-denied"       # a v1 token not in the allow-list
PASSWORD = "pw-LEAKCHECK-secret"           # the Basic password, ignored but still a secret
TOKENS = (USER_TOKEN, UNKNOWN_TOKEN, STATIC_TOKEN, CLIENT_TOKEN, DENIED_TOKEN)

SEED = f"""
[site]
subdomain = "leakcheck"
name = "Sample Ltd"

[[users]]
id = 1
username = "lee"
name = "Lee Kirk"
timezone = "Europe/London"
token = "{USER_TOKEN}"

[[users]]
id = 2
username = "stan"
name = "Stan Tick"
timezone = "Europe/Rome"
token = "{STATIC_TOKEN}"

[[categories]]
id = 1
name = "Call"

[[parties]]
id = 1
type = "person"
firstName = "Eric"
lastName = "Jones"

[[tasks]]
id = 1
description = "Call Eric about the renewal"
dueOn = 2026-12-01
dueTime = "15:00:00"
owner = "lee"
category = "Call"
party = 1

[[tasks]]
id = 2
description = "Write the proposal"
dueOn = 2026-12-03
owner = "stan"
"""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def basic(token: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": f"Basic {_b64(f'{token}:{password}')}"}


def secret_forms() -> list[str]:
    """Every text whose presence is a leak: the tokens, the password, and the base64 of each
    credential the session sends (its first 16 characters: 12 bytes, the token's start)."""
    forms = ["LEAKCHECK", *TOKENS, PASSWORD]
    for token in TOKENS:
        for credentials in (f"{token}:{PASSWORD}", f"{token}:", f"{token}:x", token):
            forms.append(_b64(credentials)[:16])
    return forms


SECRETS = secret_forms()


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}: ...{_around(text, secret)}..."


def _around(text: str, secret: str) -> str:
    at = text.find(secret)
    return text[max(0, at - 200):at + 200]


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Seen:
    """Every status, header and body the clients received."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, int, str]] = []
        self.location = ""  # of the last answer that had one

    async def call(self, client: Any, method: str, path: str, *, status: int | tuple[int, ...],
                   **kwargs: Any) -> str:
        response = await client.request(method, path, **kwargs)
        body = await response.text()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.answers.append((f"{method} {path}", response.status, headers + "\n\n" + body))
        self.location = response.headers.get("Location", self.location)
        wanted = (status,) if isinstance(status, int) else status
        assert response.status in wanted, (method, path, response.status, body)
        return body

    def assert_clean(self) -> None:
        for what, status, text in self.answers:
            assert_clean(text, f"the {status} answer to {what}")


# --- in-process: every logger at DEBUG ---

LOGGERS = ("", "aiohttp", "aiohttp.access", "aiohttp.server", "aiohttp.client", "aiohttp.web",
           "aiohttp.internal", "asyncio", "capsule_proxy", "capsule_proxy.upstream",
           "capsule_proxy.emulator")


@pytest.fixture
def debug_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


@pytest.fixture
async def upstream(aiohttp_server):
    return await aiohttp_server(create_emulator_app(parse_seed(SEED, "leak-check seed")))


@pytest.fixture
def make_proxy(aiohttp_client, upstream):
    """A proxy (with aiohttp's access log on, as in the test server) in front of `upstream_url`."""
    async def make(upstream_url: str | None = None, **sections: dict[str, Any]):
        settings = load_settings(environ={}, flags=sections)
        url = upstream_url or str(upstream.make_url("")).rstrip("/")
        return await aiohttp_client(create_proxy_app(settings, url))
    return make


XML = {"Content-Type": "application/xml"}
JSON = {"Accept": "application/json"}
TASK = b"<task><description>Leak check</description><dueDateTime>2026-12-24T10:00:00Z</dueDateTime></task>"


async def test_passthrough_session_leaks_no_token(make_proxy, debug_logs):
    proxy = await make_proxy()
    seen = Seen()
    me = basic(USER_TOKEN)
    # successes, XML and JSON
    for path in ("/api/task/1", "/api/tasks", "/api/tasks?status=open&limit=1", "/api/users",
                 "/api/task/categories", "/api/party/1/tasks"):
        await seen.call(proxy, "GET", path, status=200, headers=me)
        await seen.call(proxy, "GET", path, status=200, headers={**me, **JSON})
    body = await seen.call(proxy, "POST", "/api/task", status=201, data=TASK, headers={**me, **XML})
    new_id = re.fullmatch(r"http://127\.0\.0\.1:\d+/api/task/(\d+)", seen.location)[1]
    await seen.call(proxy, "POST", "/api/party/1/task", status=201, data=TASK, headers={**me, **XML})
    await seen.call(proxy, "PUT", f"/api/task/{new_id}", status=200, data=TASK, headers={**me, **XML})
    await seen.call(proxy, "POST", f"/api/task/{new_id}/complete", status=200, headers=me)
    await seen.call(proxy, "POST", f"/api/task/{new_id}/reopen", status=200, headers=me)
    await seen.call(proxy, "DELETE", f"/api/task/{new_id}", status=200, headers=me)
    assert body == ""
    # 401: unknown token (refused upstream), malformed credentials (refused by the proxy)
    for headers in (basic(UNKNOWN_TOKEN), {**basic(UNKNOWN_TOKEN), **JSON},
                    {"Authorization": f"Bearer {USER_TOKEN}"},
                    {"Authorization": f"Basic {USER_TOKEN}"},
                    {"Authorization": f"Token token={USER_TOKEN}"},
                    {"Authorization": f"Basic {_b64(USER_TOKEN + chr(0) + ':x')}"},
                    {"Authorization": f"Basic {_b64(':' + USER_TOKEN)}"},
                    {"Authorization": f"Basic {_b64(USER_TOKEN)[:-2]}"},
                    {"Authorization": "Basic " + base64.b64encode(b"\xff" + USER_TOKEN.encode()).decode()},
                    {}):
        for method, path, data in (("GET", "/api/task/1", None), ("POST", "/api/task", TASK),
                                   ("GET", "/api/users", None), ("DELETE", "/api/task/2", None)):
            await seen.call(proxy, method, path, status=401, data=data, headers={**headers, **XML})
    # 404s, 405, 400s (proxy-side and the upstream's 422)
    for path in ("/api/task/999999", "/api/task/abc", "/api/party/999/tasks", "/api/nothing", "/nothing"):
        await seen.call(proxy, "GET", path, status=404, headers=me)
    await seen.call(proxy, "PATCH", "/api/task/1", status=405, headers=me)
    await seen.call(proxy, "GET", "/api/tasks?status=sideways", status=400, headers=me)
    await seen.call(proxy, "GET", "/api/tasks?limit=-5", status=400, headers={**me, **JSON})
    await seen.call(proxy, "POST", "/api/task", status=400, data=b"<task>", headers={**me, **XML})
    await seen.call(proxy, "POST", "/api/task", status=400,
                    data=b"<task><description></description></task>", headers={**me, **XML})
    await seen.call(proxy, "POST", "/api/task", status=400,
                    data=b"<task><description>x</description><owner>nobody</owner>"
                         b"<dueDate>2026-12-24</dueDate></task>", headers={**me, **XML})
    await seen.call(proxy, "POST", "/api/task", status=415, data=b"x", headers={**me, "Content-Type": "image/png"})
    await seen.call(proxy, "GET", "/api/task/1", status=400, headers={**me, "Host": "evil example"})
    await seen.call(proxy, "GET", "/healthz", status=200)
    await seen.call(proxy, "GET", "/readyz", status=200)
    await check_metrics(proxy, seen, me)
    seen.assert_clean()
    names = {record.name for record in debug_logs.records}
    assert "aiohttp.access" in names, f"the access log was not captured: {names}"
    assert_clean(debug_logs.text, "the logs")


async def test_upstream_failures_leak_no_token(make_proxy, debug_logs):
    proxy = await make_proxy(f"http://127.0.0.1:{free_port()}",
                             upstream={"retries": 2, "backoff_base": 0.01, "backoff_max": 0.02,
                                       "breaker_threshold": 3, "breaker_cooldown": 60})
    seen = Seen()
    me = basic(USER_TOKEN)
    for method, path, data in (("GET", "/api/task/1", None), ("POST", "/api/task", TASK),
                               ("GET", "/api/tasks", None), ("PUT", "/api/task/1", TASK),
                               ("GET", "/api/users", None), ("DELETE", "/api/task/1", None),
                               ("GET", "/api/task/1", None)):  # the last ones meet an open breaker
        await seen.call(proxy, method, path, status=(502, 503, 504), data=data, headers={**me, **XML})
    await seen.call(proxy, "GET", "/readyz", status=503)
    await check_metrics(proxy, seen, me)
    seen.assert_clean()
    assert any(r.levelno >= logging.WARNING for r in debug_logs.records), "the failures were not logged"
    assert_clean(debug_logs.text, "the logs")


async def test_static_mode_leaks_neither_the_static_token_nor_client_tokens(make_proxy, debug_logs):
    auth = {"mode": "static", "static_token": STATIC_TOKEN, "allowed_clients": [CLIENT_TOKEN, "other-client"]}
    proxy = await make_proxy(auth=auth)
    seen = Seen()
    client = basic(CLIENT_TOKEN)
    await seen.call(proxy, "GET", "/api/task/2", status=200, headers=client)
    await seen.call(proxy, "GET", "/api/users", status=200, headers={**client, **JSON})
    await seen.call(proxy, "POST", "/api/task", status=201, data=TASK, headers={**client, **XML})
    for headers in (basic(DENIED_TOKEN), basic(USER_TOKEN), basic(STATIC_TOKEN),
                    {"Authorization": f"Bearer {STATIC_TOKEN}"}, {}):
        await seen.call(proxy, "GET", "/api/task/2", status=401, headers=headers)
        await seen.call(proxy, "POST", "/api/task", status=401, data=TASK, headers={**headers, **XML, **JSON})
    await seen.call(proxy, "GET", "/api/task/999999", status=404, headers=client)
    await seen.call(proxy, "GET", "/api/tasks?status=sideways", status=400, headers=client)
    # The same static setup in front of a dead upstream.
    dead = await make_proxy(f"http://127.0.0.1:{free_port()}", auth=auth,
                            upstream={"retries": 1, "breaker_threshold": 0})
    await seen.call(dead, "GET", "/api/task/2", status=502, headers=client)
    await seen.call(dead, "POST", "/api/task", status=502, data=TASK, headers={**client, **XML})
    await check_metrics(proxy, seen, client)
    seen.assert_clean()
    assert_clean(debug_logs.text, "the logs")


def hostile_lines(credentials: str) -> list[str]:
    """Header lines aiohttp's parser refuses, each holding the client's credentials."""
    return [
        f"Authorization: {credentials}\x01",                 # an invalid character after it
        f"Authorization: {credentials}\rX-Next: 1",          # a bare CR
        f"Authorization: {credentials}" + "A" * 9000,        # longer than a header may be
        f"Authorization : {credentials}",                    # a space before the colon
        f"X-Before: 1\r\n Authorization: {credentials}",     # obs-fold
        f"Authorization: {credentials}\r\nContent-Length: 1\r\nContent-Length: 2",
        f"Authorization: {credentials}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5",
        f"Authorization: Basic {USER_TOKEN}\x7f",
    ]


async def test_unparseable_requests_never_log_the_authorization_header(make_proxy, debug_logs):
    """aiohttp's parser errors quote the offending header line; the proxy's server log must not."""
    proxy = await make_proxy()
    credentials = basic(USER_TOKEN)["Authorization"]
    for line in hostile_lines(credentials):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(f"GET /api/task/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n{line}\r\n\r\n".encode("latin-1"))
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], answer[:200]
        # (This test server is aiohttp's own: the answer body is checked with the proxy's
        # listener, in the next test.)
    assert any(r.name == "aiohttp.server" for r in debug_logs.records), "the refusals were not logged"
    assert_clean(debug_logs.text, "the logs")


@pytest.fixture(params=["json", "text"])
def formatted_logs(request):
    """Every log record at DEBUG, written by the proxy's own handler in one format, into a string."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    setup_logging("debug", request.param, stream)
    yield stream
    for handler in list(root.handlers):
        if getattr(handler, "_capsule_proxy", False):
            root.removeHandler(handler)
    root.setLevel(level)


def echoing(message: str, status: int, **selectors: Any) -> dict[str, Any]:
    """A chaos fault: an upstream error whose message and field error repeat `message`."""
    return {"status": status, "body": {"message": message, "errors": [
        {"field": "description", "message": message}]}, **selectors}


async def test_a_token_in_the_user_agent_the_query_and_upstream_errors_is_in_no_log_line(formatted_logs):
    """The proxy as it is served (proxy.server.start), logging in JSON and in text: a client that
    puts its token in its User-Agent and query strings, and an upstream that echoes it in its
    errors, leave no trace of it in any line or field."""
    chaos = await Chaos(tasks=3).start()
    echo = f"token {USER_TOKEN} may not do this"
    chaos.inject("status", **echoing(echo, 500, path="/api/v2/tasks/1"))
    chaos.inject("status", **echoing(echo, 404, path="/api/v2/tasks/2"))
    chaos.inject("status", **echoing(echo, 403, method="PUT"))
    chaos.inject("status", **echoing(echo, 422, method="POST"))
    settings = load_settings(environ={}, flags={"upstream": {"retries": 1, "breaker_threshold": 0}})
    listener = await server.start(create_proxy_app(settings, chaos.url), "127.0.0.1", 0, 1.0)
    seen = Seen()
    user_agent = f"legacy-crm/2.1 (token={USER_TOKEN}; {basic(USER_TOKEN)['Authorization']})"
    try:
        async with aiohttp.ClientSession(listener.url, headers={
                **basic(USER_TOKEN), "User-Agent": user_agent}) as session:
            query = f"?token={USER_TOKEN}&auth_token={USER_TOKEN}"
            await seen.call(session, "GET", "/api/task/3" + query, status=200)
            await seen.call(session, "GET", "/api/tasks" + query, status=200, headers=JSON)
            await seen.call(session, "GET", "/api/task/1" + query, status=502)
            await seen.call(session, "GET", "/api/task/1", status=502, headers=JSON)
            await seen.call(session, "GET", "/api/task/2" + query, status=404, headers=JSON)
            await seen.call(session, "PUT", "/api/task/3" + query, status=403, data=TASK, headers=XML)
            await seen.call(session, "POST", "/api/task" + query, status=400, data=TASK, headers=XML)
            await seen.call(session, "GET", "/api/nothing" + query, status=404)
            await seen.call(session, "GET", "/api/users" + query, status=200, headers=JSON)
    finally:
        await listener.runner.cleanup()
        await chaos.close()
    seen.assert_clean()
    logged = formatted_logs.getvalue()
    assert "/api/task/{id}" in logged and "502" in logged, logged  # the access lines are there
    assert_clean(logged, "the logs")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 502, 503])
async def test_the_static_token_echoed_by_an_upstream_error_reaches_no_client_and_no_log(
        make_proxy, debug_logs, formatted_logs, status):
    chaos = await Chaos(tasks=3).start()
    chaos.inject("status", **echoing(f"the token {STATIC_TOKEN} is not allowed (Bearer {STATIC_TOKEN})",
                                     status))
    auth = {"mode": "static", "static_token": STATIC_TOKEN, "allowed_clients": [CLIENT_TOKEN]}
    try:
        proxy = await make_proxy(chaos.url, auth=auth,
                                 upstream={"retries": 1, "breaker_threshold": 0})
        seen = Seen()
        client = basic(CLIENT_TOKEN)
        expected = (400, 401, 403, 404, 429, 502)
        await seen.call(proxy, "GET", "/api/task/1", status=expected, headers=client)
        await seen.call(proxy, "GET", "/api/task/1", status=expected, headers={**client, **JSON})
        await seen.call(proxy, "PUT", "/api/task/1", status=expected, data=TASK, headers={**client, **XML})
        await seen.call(proxy, "POST", "/api/task", status=expected, data=TASK,
                        headers={**client, **XML, **JSON})
        assert chaos.seen() >= 4
    finally:
        await chaos.close()
    seen.assert_clean()
    assert_clean(debug_logs.text, "the logs")
    assert_clean(formatted_logs.getvalue(), "the formatted logs")


async def test_an_unparseable_request_gets_a_v1_error_that_quotes_nothing(debug_logs):
    """aiohttp's own 400 for a request it cannot parse quotes the offending line, an
    `Authorization: Basic ...` one included; the proxy's listener answers its own v1 error."""
    settings = load_settings(environ={}, flags={})
    app = create_proxy_app(settings, f"http://127.0.0.1:{free_port()}")
    listener = await server.start(app, "127.0.0.1", 0, 1.0)
    port = listener.runner.addresses[0][1]
    messages = set()
    try:
        for line in [*hostile_lines(basic(USER_TOKEN)["Authorization"]),
                     f"X-Token-{USER_TOKEN}\x01: 1", f"Authorization: Bearer {USER_TOKEN}\x00"]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /api/task/1?token={USER_TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"{line}\r\n\r\n".encode("latin-1"))
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 5)  # and the connection is closed
            writer.close()
            head, _, body = answer.partition(b"\r\n\r\n")
            status_line = head.split(b"\r\n")[0]  # HTTP/1.0: the version could not be read either
            assert status_line.startswith(b"HTTP/1.") and status_line.endswith(b" 400 Bad Request"), answer
            assert b"\r\nContent-Type: application/xml; charset=utf-8\r\n" in head, head
            root = etree.fromstring(body)
            assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><error><message>'), body
            assert root.tag == "error" and [child.tag for child in root] == ["message"], body
            messages.add(root.findtext("message"))
            assert_clean(answer.decode("latin-1"), f"the answer to {line[:30]!r}")
            assert b"Authorization" not in body and b"Basic" not in body and b"task/1" not in body
    finally:
        await listener.runner.cleanup()
    assert all("request" in message for message in messages), messages
    assert_clean(debug_logs.text, "the logs")


async def check_metrics(proxy: Any, seen: Seen, credentials: dict[str, str]) -> None:
    """GET /metrics: while the proxy has none it is a 404; once it has, no token is in them."""
    for headers in ({}, credentials):
        response = await proxy.get("/metrics", headers=headers)
        text = await response.text()
        seen.answers.append(("GET /metrics", response.status, text))
        assert response.status in (200, 404), (response.status, text)
        if response.status == 404:
            assert "<error>" in text  # a v1 error document: metrics are not there yet
        assert_clean(text, "/metrics")


# --- a real `capsule-proxy serve` process at log level debug ---

CLI = [sys.executable, "-m", "proxy"]


async def start_serve(*args: str, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CAPSULE_PROXY_")}
    environ.update({"CAPSULE_PROXY_LOG_LEVEL": "debug", "PYTHONASYNCIODEBUG": "1", **env})
    running = await start("serve", "--port", "0", *args, env=environ)
    return running.process, running.url


async def stop_serve(process: asyncio.subprocess.Process) -> tuple[str, str, int]:
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), 15)
    return out.decode(errors="replace"), err.decode(errors="replace"), process.returncode


async def raw_bad_requests(url: str, credentials: str) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    for line in (f"Authorization: {credentials}\x01", f"Authorization: {credentials}" + "A" * 9000,
                 f"Authorization: {credentials}\rX: y"):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /api/task/1 HTTP/1.1\r\nHost: x\r\n{line}\r\n\r\n".encode("latin-1"))
        await writer.drain()
        await asyncio.wait_for(reader.read(65536), 5)
        writer.close()


async def test_serve_process_at_debug_level_logs_no_token(tmp_path):
    seed = tmp_path / "seed.toml"
    seed.write_text(SEED)
    process, url = await start_serve("--seed", str(seed), env={})
    seen = Seen()
    try:
        async with aiohttp.ClientSession(url) as session:
            me = basic(USER_TOKEN)
            await seen.call(session, "GET", "/api/task/1", status=200, headers=me)
            await seen.call(session, "GET", "/api/tasks", status=200, headers={**me, **JSON})
            await seen.call(session, "POST", "/api/task", status=201, data=TASK, headers={**me, **XML})
            await seen.call(session, "GET", "/api/task/1", status=401, headers=basic(UNKNOWN_TOKEN))
            await seen.call(session, "GET", "/api/task/1", status=401,
                            headers={"Authorization": f"Bearer {USER_TOKEN}"})
            await seen.call(session, "GET", "/api/task/999999", status=404, headers=me)
            await seen.call(session, "POST", "/api/task", status=400, data=b"<task>", headers={**me, **XML})
            await seen.call(session, "GET", "/api/tasks?status=sideways", status=400, headers=me)
            await check_metrics(session, seen, me)
        await raw_bad_requests(url, me["Authorization"])
    finally:
        out, err, code = await stop_serve(process)
    assert code == 0, err
    seen.assert_clean()
    assert "DEBUG" in err or '"level":"debug"' in err, "the process did not log at debug level"
    assert_clean(out, "stdout")
    assert_clean(err, "stderr")


async def test_serve_process_in_static_mode_with_a_dead_upstream_logs_no_token():
    env = {"CAPSULE_PROXY_AUTH_MODE": "static", "CAPSULE_PROXY_AUTH_STATIC_TOKEN": STATIC_TOKEN,
           "CAPSULE_PROXY_AUTH_ALLOWED_CLIENTS": f"{CLIENT_TOKEN},another",
           "CAPSULE_PROXY_UPSTREAM_RETRIES": "2", "CAPSULE_PROXY_UPSTREAM_BACKOFF_BASE": "0.01",
           "CAPSULE_PROXY_UPSTREAM_BREAKER_THRESHOLD": "3"}
    process, url = await start_serve("--upstream", f"http://127.0.0.1:{free_port()}", env=env)
    seen = Seen()
    try:
        async with aiohttp.ClientSession(url) as session:
            client = basic(CLIENT_TOKEN)
            for method, path, data in (("GET", "/api/task/1", None), ("POST", "/api/task", TASK),
                                       ("GET", "/api/users", None), ("GET", "/api/task/1", None),
                                       ("GET", "/api/task/1", None)):
                await seen.call(session, method, path, status=(502, 503, 504), data=data,
                                headers={**client, **XML})
            await seen.call(session, "GET", "/api/task/1", status=401, headers=basic(DENIED_TOKEN))
            await seen.call(session, "GET", "/api/task/1", status=401, headers=basic(STATIC_TOKEN))
            await seen.call(session, "GET", "/readyz", status=503)
            await check_metrics(session, seen, client)
        await raw_bad_requests(url, client["Authorization"])
    finally:
        out, err, code = await stop_serve(process)
    assert code == 0, err
    seen.assert_clean()
    assert "WARNING" in err or '"level":"warning"' in err, "the upstream failures were not logged"
    assert_clean(out, "stdout")
    assert_clean(err, "stderr")
