"""Hostile clients on raw sockets against a real listening proxy.

The proxy is started the way `capsule-proxy serve` starts it (`proxy.server.start`, so the
keep-alive timeout that also bounds slowloris is the production one), in front of a real
emulator whose middleware records every request that reached it. A decoy listener stands on
another port and is named in hostile requests (absolute-form targets, CONNECT, Host,
X-Forwarded-Host, `//authority` paths, query values); it must never see a connection.

Every case is refused or bounded (a 4xx status, or the connection closed within a bound), only
legitimate v2 paths reach the upstream, and the server still serves a normal request afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from lxml import etree

from proxy import server
from proxy.app import create_app as create_proxy_app
from proxy.config import load_settings
from proxy.emulator.app import create_app as create_emulator_app
from proxy.emulator.seed import load_seed
from tests.proxy.conftest import Recorder

TOKEN = "tok-phillip"
AUTH = "Authorization: Basic " + base64.b64encode(f"{TOKEN}:x".encode()).decode()
KEEPALIVE = 1.0     # [server] keepalive_timeout for these tests: also the slowloris bound
BODY_TIMEOUT = 1.0  # [server] body_timeout for these tests
BOUND = 5.0         # no single exchange may take longer than this
TASK_XML = b"<task><description>hostile-client test</description><dueDate>2026-01-05</dueDate></task>"

# Every path a valid v1 request can make the proxy call upstream (query strings are the
# proxy's own paging and status parameters).
LEGIT_UPSTREAM = re.compile(
    r"/api/v2/(?:tasks(?:/[1-9][0-9]*)?|users(?:/current)?|categories|site"
    r"|(?:parties|opportunities|kases)/[1-9][0-9]*)"
    r"(?:\?[A-Za-z0-9=&]*)?")


# --- raw HTTP over a socket ---

@dataclass
class Reply:
    status: int | None                      # None: the connection closed without an answer
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    head: bytes = b""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times: {self.head!r}"
        return values[0] if values else None

    def names(self) -> set[str]:
        return {k.lower() for k, _ in self.headers}


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """One HTTP response, or status None when the server closed the connection first."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        assert exc.partial == b"", f"a truncated answer: {exc.partial[:300]!r}"
        return Reply(None)
    except ConnectionResetError:
        return Reply(None)
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = []
    for line in lines[1:]:
        name, sep, value = line.decode("latin-1").partition(":")
        assert sep, f"a header line without a colon: {line!r}"
        headers.append((name.strip(), value.strip()))
    reply = Reply(status, headers, b"", head)
    length = reply.header("Content-Length")
    if length is not None:
        reply.body = await reader.readexactly(int(length))
    elif (reply.header("Transfer-Encoding") or "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            reply.body += chunk[:-2]
    return reply


async def exchange(port: int, data: bytes, *, timeout: float = BOUND) -> Reply:
    """Send raw bytes, read one answer; the whole exchange is bounded by `timeout`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(read_reply(reader), timeout)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when the server closes the connection (after any answer) within `seconds`."""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except asyncio.TimeoutError:
        return False
    return False


def request(method: str, target: str, *headers: str, body: bytes = b"", host: str | None = "127.0.0.1",
            auth: bool = True, close: bool = True) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    if auth:
        lines.append(AUTH)
    lines.extend(headers)
    if body and not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_message(reply: Reply) -> str:
    """The message of the v1 XML error document the proxy answered with."""
    assert reply.header("Content-Type") == "application/xml; charset=utf-8", reply.head
    root = etree.fromstring(reply.body)
    assert root.tag == "error" and [child.tag for child in root] == ["message"], reply.body
    assert root.findtext("message")
    return root.findtext("message")


def no_injection(reply: Reply) -> None:
    assert "x-injected" not in reply.names(), reply.head
    for name, value in reply.headers:
        assert not re.search(r"[\x00-\x1f\x7f]", value), (name, value)
        assert "%0d" not in value.lower() and "%0a" not in value.lower(), (name, value)


# --- the servers ---

class Decoy:
    """A listener the proxy must never connect to."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()
        self._server = await asyncio.start_server(accepted, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


class Stack:
    """An emulator with a recorder, proxies in front of it, and a decoy; all on real ports."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.decoy = Decoy()
        self.listeners: list[server.Listener] = []
        self.upstream_url = ""

    async def start(self) -> None:
        emulator = create_emulator_app(load_seed(None))
        emulator.middlewares.insert(0, self.recorder.middleware)
        listener = await server.start(emulator, "127.0.0.1", 0, 1.0)
        self.listeners.append(listener)
        self.upstream_url = listener.url
        await self.decoy.start()

    async def proxy(self, **sections: dict[str, Any]) -> int:
        """Start a proxy with these settings; its port."""
        sections = {**sections, "server": {"body_timeout": BODY_TIMEOUT, **sections.get("server", {})}}
        settings = load_settings(environ={}, flags=sections)
        listener = await server.start(create_proxy_app(settings, self.upstream_url), "127.0.0.1", 0,
                                      1.0, KEEPALIVE)
        self.listeners.insert(0, listener)
        return int(listener.url.rsplit(":", 1)[1])

    async def stop(self) -> None:
        for listener in self.listeners:
            await listener.runner.cleanup()
        await self.decoy.stop()

    def assert_only_legit_upstream_calls(self) -> None:
        for method, path in self.recorder.calls:
            assert LEGIT_UPSTREAM.fullmatch(path), f"{method} {path!r} reached the upstream"
        assert self.decoy.connections == 0, "the proxy connected to the decoy"


@pytest.fixture
async def stack():
    stack = Stack()
    await stack.start()
    yield stack
    await stack.stop()


@pytest.fixture
async def port(stack):
    return await stack.proxy()


async def still_serves(port: int, stack: Stack) -> None:
    """A normal v1 read works afterwards, and the whole test contacted nothing unexpected."""
    reply = await exchange(port, request("GET", "/api/task/1"))
    assert reply.status == 200, reply.body
    assert etree.fromstring(reply.body).findtext("id") == "1"
    stack.assert_only_legit_upstream_calls()


def created_location(reply: Reply) -> str:
    assert reply.status == 201, (reply.status, reply.body)
    no_injection(reply)
    location = reply.header("Location")
    assert location is not None
    return location


# --- header injection ---

@pytest.mark.parametrize("host", [
    "127.0.0.1%0d%0aX-Injected:%20yes",
    "127.0.0.1%0D%0AX-Injected: yes",
    "127.0.0.1%0aX-Injected:yes",
    "127.0.0.1\tX-Injected:yes",
])
async def test_host_with_encoded_crlf_is_refused(stack, port, host):
    for method, target, body in [("GET", "/api/task/1", b""), ("POST", "/api/task", TASK_XML),
                                 ("GET", "/healthz", b"")]:
        reply = await exchange(port, request(method, target, "Content-Type: application/xml",
                                             body=body, host=host))
        assert reply.status == 400, reply.body
        no_injection(reply)
        assert "Host" in error_message(reply)
    assert stack.recorder.calls == []
    await still_serves(port, stack)


@pytest.mark.parametrize("forwarded_host", [
    "evil.example%0d%0aX-Injected:%20yes",
    "evil.example%0D%0ASet-Cookie:%20a=b",
    "evil.example/path",
    "evil.example?x=",
    "evil.example#frag",
    'evil.example"<script>',
    "user@evil.example",
    "evil example",
    "evil.example:99999x",
])
async def test_trusted_forwarded_host_that_is_not_a_host_never_reaches_location(stack, forwarded_host):
    port = await stack.proxy(server={"trust_forwarded": True})
    reply = await exchange(port, request("POST", "/api/task", "Content-Type: application/xml",
                                         f"X-Forwarded-Host: {forwarded_host}",
                                         "X-Forwarded-Proto: https", body=TASK_XML))
    location = created_location(reply)
    # A malformed X-Forwarded-Host is ignored: the Host the client used is kept.
    assert re.fullmatch(r"https://127\.0\.0\.1/api/task/\d+", location), location
    await still_serves(port, stack)


async def test_trusted_forwarded_headers_with_raw_crlf_are_refused_by_the_parser(stack):
    port = await stack.proxy(server={"trust_forwarded": True})
    for header in ("X-Forwarded-Host: evil.example\rX-Injected: yes",
                   "X-Forwarded-Host: evil.example\nX-Injected: yes",
                   "X-Forwarded-Proto: https\rX-Injected: yes",
                   "X-Forwarded-Host: evil.example\x00X-Injected: yes"):
        reply = await exchange(port, request("POST", "/api/task", "Content-Type: application/xml",
                                             header, body=TASK_XML))
        # A bare CR or LF, or a NUL, inside a header line is a parse error: nothing is answered
        # but a 400, and the connection is closed.
        assert reply.status in (400, None), reply.head
        no_injection(reply)
    assert stack.recorder.calls == []
    await still_serves(port, stack)


async def test_trusted_forwarded_host_that_is_a_host_is_used_cleanly(stack):
    port = await stack.proxy(server={"trust_forwarded": True})
    reply = await exchange(port, request("POST", "/api/task", "Content-Type: application/xml",
                                         "X-Forwarded-Host: crm.example.org:8443, 10.0.0.1",
                                         "X-Forwarded-Proto: HTTPS, http", body=TASK_XML))
    assert re.fullmatch(r"https://crm\.example\.org:8443/api/task/\d+", created_location(reply))
    await still_serves(port, stack)


@pytest.mark.parametrize("target", [
    "/api/task/1%0d%0aX-Injected:%20yes",
    "/api/task/1%0D%0ALocation:%20http://evil.example/",
    "/api/task/1%0aX-Injected:yes/complete",
    "/api/party/1%0d%0aX-Injected:%20yes/tasks",
    "/api/tasks?status=open%0d%0aX-Injected:%20yes",
    "/api/tasks?category=Call%0d%0aX-Injected:%20yes",
    "/api/tasks?user=phillip%0d%0aX-Injected:%20yes",
    "/api/tasks?start=%0d%0aX-Injected:%20yes",
    "/api/tasks?limit=1%0d%0aX-Injected:%20yes",
    "/api/task/categories?x=%0d%0aX-Injected:%20yes",
])
async def test_encoded_crlf_in_path_ids_and_query_values_never_becomes_a_header(stack, port, target):
    method = "POST" if target.endswith("/complete") else "GET"
    reply = await exchange(port, request(method, target, "Accept: application/json"))
    assert reply.status is not None and reply.status < 500, reply.body
    no_injection(reply)
    for method, path in stack.recorder.calls:
        assert "\r" not in path and "\n" not in path and "Injected" not in path, path
    if "/api/task/1%" in target or "/api/party/1%" in target:
        assert reply.status == 404 and stack.recorder.calls == []
    await still_serves(port, stack)


async def test_create_location_is_clean_and_follows_the_host(stack, port):
    reply = await exchange(port, request("POST", "/api/task", "Content-Type: application/xml",
                                         body=TASK_XML, host="crm.example.org:8080"))
    assert re.fullmatch(r"http://crm\.example\.org:8080/api/task/\d+", created_location(reply))
    await still_serves(port, stack)


# --- X-Forwarded-* and public_url ---

FORWARDED = ("X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example",
             "Forwarded: for=1.2.3.4;host=evil.example;proto=https", "X-Forwarded-Port: 444",
             "X-Original-Host: evil.example", "X-Host: evil.example")


async def test_forwarded_headers_are_ignored_without_trust_forwarded(stack, port):
    reply = await exchange(port, request("POST", "/api/task", "Content-Type: application/xml", *FORWARDED,
                                         body=TASK_XML, host="crm.example.org"))
    location = created_location(reply)
    assert re.fullmatch(r"http://crm\.example\.org/api/task/\d+", location), location
    await still_serves(port, stack)


@pytest.mark.parametrize("trust", [False, True])
async def test_public_url_wins_over_host_and_forwarded_headers(stack, trust):
    port = await stack.proxy(server={"public_url": "https://capsule.example.com/", "trust_forwarded": trust})
    for host in ("127.0.0.1", "evil.example", f"127.0.0.1:{stack.decoy.port}"):
        reply = await exchange(port, request("POST", "/api/task", "Content-Type: application/xml",
                                             *FORWARDED, body=TASK_XML, host=host))
        location = created_location(reply)
        assert re.fullmatch(r"https://capsule\.example\.com/api/task/\d+", location), location
    await still_serves(port, stack)


# --- Host that is not a host[:port] ---

@pytest.mark.parametrize("host", ["evil example", "a/b", "user@host", "host:99999x", "", "host:", ":80",
                                  "host:port", "[::1", "-bad.example", "a..b", "host\\x", "évil.example",
                                  "host:80:80", "host;x=y", "*"])
async def test_host_that_is_not_host_port_is_400(stack, port, host):
    for target in ("/api/task/1", "/healthz", "/nothing-here"):
        reply = await exchange(port, request("GET", target, f"Host: {host}", host=None))
        assert reply.status == 400, (host, reply.head)
        no_injection(reply)
    assert stack.recorder.calls == []
    await still_serves(port, stack)


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
async def test_missing_host_is_400(stack, port, version):
    raw = f"GET /api/task/1 {version}\r\n{AUTH}\r\nConnection: close\r\n\r\n".encode()
    reply = await exchange(port, raw)
    assert reply.status == 400, reply.head
    assert stack.recorder.calls == []
    await still_serves(port, stack)


async def test_duplicate_host_is_400(stack, port):
    raw = request("GET", "/api/task/1", f"Host: 127.0.0.1:{stack.decoy.port}")
    reply = await exchange(port, raw)
    assert reply.status == 400, reply.head
    assert stack.recorder.calls == []
    await still_serves(port, stack)


# --- forward-proxy attempts ---

async def test_absolute_form_target_is_400_and_the_decoy_sees_nothing(stack, port):
    decoy = f"127.0.0.1:{stack.decoy.port}"
    for target in (f"http://{decoy}/api/task/1", f"https://{decoy}/api/task/1", f"http://{decoy}/healthz",
                   f"http://{decoy}", f"http://{TOKEN}@{decoy}/api/task/1"):
        for host in (decoy, "127.0.0.1"):
            reply = await exchange(port, request("GET", target, host=host))
            assert reply.status == 400, (target, reply.head)
            assert "origin-form" in error_message(reply)
    assert stack.recorder.calls == []
    await asyncio.sleep(0.1)
    await still_serves(port, stack)


async def test_connect_is_400_and_the_decoy_sees_nothing(stack, port):
    decoy = f"127.0.0.1:{stack.decoy.port}"
    for close in (True, False):
        reply = await exchange(port, request("CONNECT", decoy, host=decoy, close=close)
                               + b"GET /api/task/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reply.status == 400, reply.head
    assert stack.recorder.calls == []
    await asyncio.sleep(0.1)
    await still_serves(port, stack)


async def test_asterisk_form_is_4xx(stack, port):
    for method in ("OPTIONS", "GET"):
        reply = await exchange(port, request(method, "*"))
        assert reply.status is not None and 400 <= reply.status < 500, reply.head
    assert stack.recorder.calls == []
    await still_serves(port, stack)


async def test_network_path_target_is_not_an_authority(stack, port):
    decoy = f"127.0.0.1:{stack.decoy.port}"
    for target in (f"//{decoy}/api/task/1", f"//{decoy}", f"///{decoy}/api/task/1",
                   f"/api/tasks?url=http://{decoy}/", f"/api/task/1?next=//{decoy}"):
        reply = await exchange(port, request("GET", target))
        assert reply.status is not None and reply.status < 500, reply.head
        no_injection(reply)
    await asyncio.sleep(0.1)
    await still_serves(port, stack)


# --- paths outside the v1 API ---

@pytest.mark.parametrize("target", ["/", "/etc/passwd", "/api", "/api/", "/api/v2/tasks", "/api/v2/tasks/1",
                                    "/api/v2/users/current", "/../../etc/passwd", "/api/task",
                                    "/API/task/1", "/api/tasks/1", "/v2/tasks", "/favicon.ico",
                                    "/api/task/1;jsessionid=x", "/api/task/categories/1"])
async def test_paths_outside_the_v1_api_are_404_without_an_upstream_call(stack, port, target):
    for auth in (True, False):
        reply = await exchange(port, request("GET", target, auth=auth))
        if target.startswith("/api/") and not auth:
            assert reply.status == 401, reply.head  # every /api/ call is authenticated first
        else:
            assert reply.status in (404, 405), (target, reply.status, reply.body)
        error_message(reply)
    assert stack.recorder.calls == []
    await still_serves(port, stack)


@pytest.mark.parametrize("method, target", [
    ("GET", "/api/task/..%2F..%2Fv2%2Ftasks"),
    ("GET", "/api/task/..%2f..%2fv2%2ftasks%2f1"),
    ("GET", "/api/task/%2e%2e/1"),
    ("GET", "/api/task/%2E%2E%2F1"),
    ("GET", "/api/task/../1"),
    ("GET", "/api/task/./1"),
    ("GET", "/api/task/1/.."),
    ("GET", "/api/party/1%2F..%2F2/tasks"),
    ("GET", "/api/party/1/../2/tasks"),
    ("GET", "/api/party/..%2F..%2Fv2%2Fusers/tasks"),
    ("GET", "/api/task/1%2F..%2F2"),
    ("GET", "/api/task/1%252F..%252F2"),
    ("GET", "/api/task/1%00"),
    ("GET", "/api/task/1%20"),
    ("GET", "/api/task/%31"),
    ("GET", "/api/task/1,2"),
    ("GET", "/api/task/1%2C2"),
    ("GET", "/api/task/1?x=../../v2/users"),
    ("GET", "/api/task/%EF%BC%91"),        # a fullwidth digit one
    ("GET", "/api/task/" + "9" * 19),
    ("DELETE", "/api/task/..%2F..%2Fv2%2Ftasks%2F1"),
    ("PUT", "/api/task/1%2F..%2F2"),
    ("POST", "/api/task/..%2F2/complete"),
    ("POST", "/api/party/1%2F..%2F2/task"),
    ("POST", "/api/kase/%2e%2e/task"),
])
async def test_dot_segments_and_encoded_slashes_reach_only_legitimate_paths(stack, port, method, target):
    reply = await exchange(port, request(method, target, "Content-Type: application/xml",
                                         body=TASK_XML if method in ("POST", "PUT") else b""))
    assert reply.status is not None, target
    calls = list(stack.recorder.calls)
    if reply.status in (200, 201):
        # Only a target that normalises to a valid id may go through, and then only to its
        # own v2 paths (e.g. %31 is the id 1).
        assert calls, target
    else:
        assert reply.status in (400, 404, 405), (target, reply.status, reply.body)
        error_message(reply)
        assert calls == [], f"{target} reached the upstream: {calls}"
    stack.assert_only_legit_upstream_calls()
    await still_serves(port, stack)


# --- size limits ---

async def test_very_long_url_header_and_many_headers_are_4xx_and_others_still_served(stack, port):
    hostile = [
        request("GET", "/api/task/1?x=" + "a" * 20_000),
        request("GET", "/" + "a" * 20_000, auth=False),
        request("GET", "/api/task/" + "1" * 20_000),
        request("GET", "/api/task/1", "X-Long: " + "a" * 20_000),
        request("GET", "/api/task/1", "X-" + "a" * 20_000 + ": x"),
        request("GET", "/api/task/1", "Cookie: " + "a=b; " * 4_000),
        request("GET", "/api/task/1", *(f"X-Many-{i}: v" for i in range(200))),
        request("GET", "/api/task/1", *("X-Same: v" for _ in range(200))),
    ]

    async def one(raw: bytes) -> int | None:
        reply = await exchange(port, raw)
        return reply.status

    started = time.monotonic()
    statuses = await asyncio.gather(*(one(raw) for raw in hostile), still_serves(port, stack))
    for raw, status in zip(hostile, statuses):
        assert status is not None and 400 <= status < 500, (raw[:80], status)
    assert time.monotonic() - started < BOUND
    # still_serves' read only (task 1 has a time of day, so its owner's zone is looked up).
    assert set(stack.recorder.paths()) <= {"/api/v2/tasks/1", "/api/v2/users"}
    await still_serves(port, stack)


async def test_a_large_body_is_413_and_never_sent(stack):
    port = await stack.proxy(server={"max_body": 4096})
    body = b"<task><description>" + b"a" * 20_000 + b"</description></task>"
    reply = await exchange(port, request("POST", "/api/task", "Content-Type: application/xml", body=body))
    assert reply.status == 413, reply.head
    reply = await exchange(port, request("POST", "/api/task", "Content-Type: application/xml",
                                         "Content-Length: 1000000000", body=b"<task>"))
    assert reply.status == 413, reply.head
    assert stack.recorder.calls == []
    await still_serves(port, stack)


# --- slow clients ---

async def test_slowloris_head_is_cut_off_after_keepalive_timeout_while_others_are_served(stack, port):
    head = request("GET", "/api/task/1", "X-Pad: " + "a" * 100)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)  # sends nothing
    started = time.monotonic()
    closed_after = None
    served_meanwhile = 0
    try:
        for byte in head:
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                closed_after = time.monotonic() - started
                break
            # Another client is served at once while this one drips.
            reply = await exchange(port, request("GET", "/healthz", auth=False), timeout=1.0)
            assert reply.status == 200
            served_meanwhile += 1
            if await closed_within(reader, 0.5):
                closed_after = time.monotonic() - started
                break
            if time.monotonic() - started > 4 * KEEPALIVE:
                break
        assert closed_after is not None, "the slow client was never disconnected"
        assert KEEPALIVE * 0.8 <= closed_after <= KEEPALIVE + 1.5, closed_after
        assert served_meanwhile >= 1
        assert await closed_within(idle_reader, 0.5)  # the silent client went the same way
    finally:
        for w in (writer, idle_writer):
            w.close()
    assert stack.recorder.calls == []
    await still_serves(port, stack)


@pytest.mark.parametrize("target", ["/api/task", "/api/task/1", "/api/party/1/task"])
async def test_dripped_body_is_408_after_body_timeout(stack, port, target):
    method = "PUT" if target == "/api/task/1" else "POST"
    head = request(method, target, "Content-Type: application/xml", "Content-Length: 500", close=False)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def drip() -> None:
        try:
            for byte in TASK_XML:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)
        except ConnectionError:
            pass

    started = time.monotonic()
    writer.write(head)
    await writer.drain()
    dripping = asyncio.create_task(drip())
    try:
        reply = await asyncio.wait_for(read_reply(reader), BODY_TIMEOUT + 3.0)
        elapsed = time.monotonic() - started
        assert reply.status == 408, reply.head
        assert "in time" in error_message(reply)
        assert BODY_TIMEOUT * 0.8 <= elapsed <= BODY_TIMEOUT + 2.0, elapsed
        # Meanwhile others are served.
        assert (await exchange(port, request("GET", "/healthz", auth=False), timeout=1.0)).status == 200
    finally:
        dripping.cancel()
        writer.close()
    # A linked create checks its parent only after the body arrived: nothing at all went upstream.
    assert stack.recorder.calls == []
    await still_serves(port, stack)


# --- request smuggling ---

SMUGGLED = (b"DELETE /api/task/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n" + AUTH.encode()
            + b"\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("name, headers, body", [
    ("CL and TE", ["Content-Length: 4", "Transfer-Encoding: chunked"], b"0\r\n\r\n"),
    ("TE and CL", ["Transfer-Encoding: chunked", "Content-Length: 73"], b"0\r\n\r\n"),
    ("two equal CL", ["Content-Length: 5", "Content-Length: 5"], b"<a/>\n"),
    ("two different CL", ["Content-Length: 5", "Content-Length: 80"], b"<a/>\n"),
    ("CL list", ["Content-Length: 5, 80"], b"<a/>\n"),
    ("CL with sign", ["Content-Length: +5"], b"<a/>\n"),
    ("negative CL", ["Content-Length: -1"], b"<a/>\n"),
    ("CL in hex", ["Content-Length: 0x5"], b"<a/>\n"),
    ("TE chunked, identity", ["Transfer-Encoding: chunked, identity"], b"0\r\n\r\n"),
    ("TE identity", ["Transfer-Encoding: identity"], b""),
    ("TE twice", ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], b"0\r\n\r\n"),
    ("TE unknown", ["Transfer-Encoding: xchunked"], b"0\r\n\r\n"),
    ("TE space before colon", ["Transfer-Encoding : chunked"], b"0\r\n\r\n"),
    ("TE obs-fold", ["X-Fold: a", " Transfer-Encoding: chunked"], b"0\r\n\r\n"),
    ("TE with CL and gzip", ["Transfer-Encoding: gzip, chunked", "Content-Length: 5"], b"0\r\n\r\n"),
    ("chunk size overflow", ["Transfer-Encoding: chunked"], b"fffffffffffffffffffff\r\n\r\n"),
    ("chunk size with junk", ["Transfer-Encoding: chunked"], b"5 junk\r\n<a/>\n\r\n0\r\n\r\n"),
])
async def test_ambiguous_framing_is_400_and_nothing_is_smuggled(stack, port, name, headers, body):
    for target in ("/api/task", "/api/task/1/complete"):
        raw = request("POST", target, "Content-Type: application/xml", *headers, close=False) + body + SMUGGLED
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(raw)
            await writer.drain()
            reply = await asyncio.wait_for(read_reply(reader), BOUND)
            assert reply.status == 400, (name, reply.head, reply.body)
            # The connection is closed after the refusal: the smuggled request is never read.
            assert await closed_within(reader, KEEPALIVE + 1.0), name
        finally:
            writer.close()
    assert stack.recorder.paths("DELETE") == [] and stack.recorder.paths("POST") == []
    assert stack.recorder.paths("PUT") == []
    await still_serves(port, stack)  # task 1 is still there


async def test_pipelined_requests_each_reach_the_upstream_once(stack, port):
    """The honest counterpart: two pipelined requests are two calls, each made once."""
    raw = (request("GET", "/api/task/1", close=False)
           + request("POST", "/api/task", "Content-Type: application/xml", body=TASK_XML))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        first = await asyncio.wait_for(read_reply(reader), BOUND)
        second = await asyncio.wait_for(read_reply(reader), BOUND)
    finally:
        writer.close()
    assert (first.status, second.status) == (200, 201)
    assert stack.recorder.paths("POST") == ["/api/v2/tasks"]
    stack.assert_only_legit_upstream_calls()


# --- and afterwards ---

async def test_the_server_survives_everything_at_once(stack):
    """All the hostile clients above, concurrently, against one proxy; then a normal request."""
    port = await stack.proxy(server={"trust_forwarded": True})
    decoy = f"127.0.0.1:{stack.decoy.port}"
    hostile = [
        request("GET", f"http://{decoy}/api/task/1", host=decoy),
        request("CONNECT", decoy, host=decoy),
        request("OPTIONS", "*"),
        request("GET", "/api/task/1", host="evil example"),
        request("GET", "/api/task/1", host="127.0.0.1%0d%0aX-Injected:%20yes"),
        request("GET", "/api/task/..%2F..%2Fv2%2Ftasks"),
        request("GET", "/api/v2/tasks"),
        request("GET", "/api/task/1?x=" + "a" * 20_000),
        request("GET", "/api/task/1", "X-Long: " + "a" * 20_000),
        request("GET", "/api/task/1", *(f"X-Many-{i}: v" for i in range(200))),
        request("POST", "/api/task", "Content-Length: 4", "Transfer-Encoding: chunked", close=False)
        + b"0\r\n\r\n" + SMUGGLED,
        request("POST", "/api/task", "Content-Length: 5", "Content-Length: 6", close=False) + b"<a/>\n" + SMUGGLED,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS ClientHello
        b"\x00" * 1000,
        b"GARBAGE\r\n\r\n",
        b"GET /api/task/1 HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /api/task/1 HTTP/1.1\nHost: 127.0.0.1\n\n",
    ]

    async def one(raw: bytes) -> int | None:
        reply = await exchange(port, raw)
        no_injection(reply)
        return reply.status

    statuses = await asyncio.gather(*(one(raw) for raw in hostile))
    for raw, status in zip(hostile, statuses):
        assert status is None or 400 <= status < 500, (raw[:80], status)
    assert stack.recorder.calls == []
    await asyncio.sleep(0.1)
    await still_serves(port, stack)
