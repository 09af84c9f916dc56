"""A misbehaving Capsule v2 for reliability tests.

`Chaos` is a small aiohttp application that answers the v2 endpoints the proxy uses
(`/api/v2/tasks[/{id}]`, `/api/v2/users[/current]`, `/api/v2/categories`, `/api/v2/site`) from
an in-memory task list, and misbehaves on demand: `chaos.inject(kind, ...)` adds a `Fault`
that matching requests get instead of a normal answer, for `times` requests or for ever.

It counts what reached it: requests per (method, path) (`chaos.seen("POST", "/api/v2/tasks")`),
the most requests it held at once (`max_in_flight`) and the connections still open
(`open_connections`), so a test can prove that a create was not sent twice and that no
connection was left behind.

`SilentServer` is a raw asyncio server for what aiohttp will not do: it accepts a connection,
reads the request and never answers a byte. `refused_port()` is a port nothing listens on.

Fault kinds (every kind first waits `delay` seconds, if set):

- ``ok``: the normal answer, plus `headers` (e.g. ``X-RateLimit-Remaining: 0``).
- ``status``: an error `status` (500/502/503/504/...), with a JSON body, or `body` if given.
- ``hang``: accept the request and never answer (until the chaos server closes).
- ``drip``: the status line and headers, then one body byte every `interval` seconds.
- ``reset``: the headers and half of the normal body, then a TCP reset (`transport.abort()`).
- ``reset_before``: read the whole request, then a TCP reset before any answer byte.
- ``rate_limit``: 429 with ``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset: reset_at``
  (UTC epoch seconds); once `reset_at` has passed the fault no longer applies.
- ``html``: 200 with a text/html page.
- ``invalid_json``: 200, application/json, a truncated JSON document.
- ``shape``: 200 with the JSON `body` given (e.g. ``{"tasks": "nope"}``).
- ``huge``: 200 with a JSON body of `size` bytes; with a Content-Length, or chunked when
  `chunked` is set (so the size is only known by reading it).
- ``gzip_bomb``: 200, ``Content-Encoding: gzip``, a small compressed body (with its
  Content-Length) that inflates to a JSON document of `size` bytes.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import json
import socket
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

KINDS = frozenset({"ok", "status", "hang", "drip", "reset", "reset_before", "rate_limit", "html",
                   "invalid_json", "shape", "huge", "gzip_bomb"})
PER_PAGE_MAX = 100


def v2_task(task_id: int, **overrides: Any) -> dict[str, Any]:
    """A well-formed date-only v2 task: no dueTime, so the proxy needs no zone look-up."""
    task = {"id": task_id, "description": f"Chaos task {task_id}", "detail": None,
            "dueOn": "2026-01-05", "dueTime": None, "status": "OPEN",
            "owner": {"id": 1, "username": "phillip", "name": "Phillip"},
            "category": None, "party": None, "opportunity": None, "kase": None,
            "createdAt": "2025-01-01T10:00:00Z", "updatedAt": "2025-01-01T10:00:00Z",
            "completedAt": None}
    task.update(overrides)
    return task


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """A gzip stream of a `size`-byte JSON task (one huge detail): about 1 KiB per MiB inflated."""
    head, tail = b'{"task": {"id": 1, "detail": "', b'"}}'
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip wrapper
    parts, filler, chunk = [packer.compress(head)], size - len(head) - len(tail), b"x" * (1 << 20)
    while filler > 0:
        parts.append(packer.compress(chunk[:filler]))
        filler -= len(chunk)
    parts += [packer.compress(tail), packer.flush()]
    return b"".join(parts)


@dataclass
class Fault:
    """What matching requests get instead of the normal answer.

    A request matches when every given selector matches: `method`; `path` (a glob:
    ``/api/v2/tasks*``); `page` (the ``page`` query parameter); `token` (the bearer token).
    `times` is how many requests get the fault (None: all); `hits` counts those that did.
    """

    kind: str
    times: int | None = None
    method: str | None = None
    path: str | None = None
    page: int | None = None
    token: str | None = None
    status: int = 502
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    interval: float = 0.1
    size: int = 20 * 1024 * 1024
    chunked: bool = False
    reset_at: float = 0.0
    hits: int = 0

    def matches(self, request: web.Request) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.kind == "rate_limit" and time.time() >= self.reset_at:
            return False  # the window has reset: the upstream answers again
        if self.method is not None and request.method != self.method:
            return False
        if self.path is not None and not fnmatch.fnmatchcase(request.path, self.path):
            return False
        if self.page is not None and request.query.get("page") != str(self.page):
            return False
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return False
        return True


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status, headers=headers,
                        content_type="application/json")


class Chaos:
    """The chaos upstream. `await chaos.start()`, `chaos.url`, `await chaos.close()`."""

    def __init__(self, tasks: int = 3) -> None:
        self.tasks: dict[int, dict[str, Any]] = {i: v2_task(i) for i in range(1, tasks + 1)}
        self.faults: list[Fault] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self.requests: list[tuple[str, str]] = []  # (method, path with query), in order
        self.in_flight = 0
        self.max_in_flight = 0
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.app = self._make_app()

    # --- control ---

    def inject(self, kind: str, **selectors: Any) -> Fault:
        assert kind in KINDS, kind
        fault = Fault(kind, **selectors)
        self.faults.append(fault)
        return fault

    def heal(self) -> None:
        """No more faults: every request gets the normal answer."""
        self.faults.clear()

    def seen(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests reached the upstream, optionally only this method and/or path."""
        return sum(n for (m, p), n in self.counts.items()
                   if (method is None or m == method) and (path is None or p == path))

    @property
    def posts(self) -> int:
        return self.seen("POST", "/api/v2/tasks")

    @property
    def open_connections(self) -> int:
        """Client connections the server still holds open."""
        if self._runner is None or self._runner.server is None:
            return 0
        return len(self._runner.server.connections)

    async def wait_for_no_connections(self, timeout: float = 3.0) -> int:
        """The open connection count, after waiting up to `timeout` for it to reach 0."""
        until = time.monotonic() + timeout
        while self.open_connections and time.monotonic() < until:
            await asyncio.sleep(0.02)
        return self.open_connections

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> "Chaos":
        # handler_cancellation: a handler stops when its client goes away, as a real server's would.
        self._runner = web.AppRunner(self.app, handler_cancellation=True, shutdown_timeout=0.5,
                                     access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        self._released.set()  # hanging handlers give up
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the v2 face ---

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/v2/tasks", self._list_tasks)
        app.router.add_post("/api/v2/tasks", self._create_task)
        app.router.add_get("/api/v2/tasks/{id:\\d+}", self._show_task)
        app.router.add_put("/api/v2/tasks/{id:\\d+}", self._update_task)
        app.router.add_delete("/api/v2/tasks/{id:\\d+}", self._delete_task)
        app.router.add_get("/api/v2/users/current", self._current_user)
        app.router.add_get("/api/v2/users", self._users)
        app.router.add_get("/api/v2/categories", self._categories)
        app.router.add_get("/api/v2/site", self._site)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.counts[(request.method, request.path)] += 1
        self.requests.append((request.method, request.path_qs))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            fault = next((f for f in self.faults if f.matches(request)), None)
            if fault is None:
                return await handler(request)
            fault.hits += 1
            return await self._misbehave(fault, request, handler)
        finally:
            self.in_flight -= 1

    async def _misbehave(self, fault: Fault, request: web.Request, handler: Any) -> web.StreamResponse:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        kind = fault.kind
        if kind == "ok":
            response = await handler(request)
            response.headers.update(fault.headers)
            return response
        if kind == "status":
            if fault.body is not None:
                body = fault.body if isinstance(fault.body, bytes) else json.dumps(fault.body).encode()
                return web.Response(body=body, status=fault.status, headers=fault.headers)
            return _json({"message": f"chaos answered {fault.status}"}, fault.status, fault.headers)
        if kind == "rate_limit":
            return _json({"error": "API rate limit exceeded"}, 429, {
                "X-RateLimit-Limit": "4000", "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(fault.reset_at))})
        if kind == "hang":
            await request.read()
            await self._released.wait()
            raise web.HTTPServiceUnavailable()  # only when the chaos server closes
        if kind == "reset_before":
            await request.read()
            return await self._reset(request)
        if kind in ("reset", "drip"):
            normal = await handler(request)
            body = normal.body if isinstance(normal.body, bytes) else b'{"task": {"id": 1}}'
            stream = web.StreamResponse(status=normal.status, headers={
                "Content-Type": "application/json", "Content-Length": str(len(body))})
            if "Location" in normal.headers:
                stream.headers["Location"] = normal.headers["Location"]
            await stream.prepare(request)
            if kind == "reset":
                await stream.write(body[: len(body) // 2])
                return await self._reset(request)
            for i in range(len(body)):
                await stream.write(body[i:i + 1])
                await asyncio.sleep(fault.interval)
            await stream.write_eof()
            return stream
        if kind == "html":
            return web.Response(text="<html><body><h1>Maintenance</h1></body></html>",
                                content_type="text/html")
        if kind == "invalid_json":
            return web.Response(body=b'{"task": {"id": 1, "description": ', content_type="application/json")
        if kind == "shape":
            return _json(fault.body)
        if kind == "huge":
            return await self._huge(fault, request)
        if kind == "gzip_bomb":
            return web.Response(body=gzip_bomb(fault.size), headers={
                "Content-Type": "application/json", "Content-Encoding": "gzip"})
        raise AssertionError(f"unknown fault {kind}")

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        await asyncio.sleep(30)  # cancelled at once: the connection is gone
        raise AssertionError("not reached")

    async def _huge(self, fault: Fault, request: web.Request) -> web.StreamResponse:
        head, tail = b'{"task": {"id": 1, "detail": "', b'"}}'
        filler = fault.size - len(head) - len(tail)
        if not fault.chunked:
            return web.Response(body=head + b"x" * filler + tail, content_type="application/json")
        stream = web.StreamResponse(headers={"Content-Type": "application/json"})
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        await stream.write(head)
        chunk = b"x" * (1024 * 1024)
        while filler > 0:
            await stream.write(chunk[:filler])
            filler -= len(chunk)
        await stream.write(tail)
        await stream.write_eof()
        return stream

    async def _list_tasks(self, request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        per_page = min(int(request.query.get("perPage", "50")), PER_PAGE_MAX)
        tasks = list(self.tasks.values())
        items = tasks[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(tasks):
            next_url = request.url.update_query(page=page + 1)
            headers["Link"] = f'<{next_url}>; rel="next"'
        return _json({"tasks": items}, headers=headers)

    async def _show_task(self, request: web.Request) -> web.Response:
        task = self.tasks.get(int(request.match_info["id"]))
        if task is None:
            return _json({"message": "Could not find task"}, 404)
        return _json({"task": task})

    async def _create_task(self, request: web.Request) -> web.Response:
        sent = (await request.json()).get("task", {})
        new_id = max(self.tasks, default=0) + 1
        self.tasks[new_id] = v2_task(new_id, description=sent.get("description", ""))
        return _json({"task": self.tasks[new_id]}, 201,
                     {"Location": f"{self.url}/api/v2/tasks/{new_id}"})

    async def _update_task(self, request: web.Request) -> web.Response:
        task_id = int(request.match_info["id"])
        if task_id not in self.tasks:
            return _json({"message": "Could not find task"}, 404)
        await request.read()
        return _json({"task": self.tasks[task_id]})

    async def _delete_task(self, request: web.Request) -> web.Response:
        if self.tasks.pop(int(request.match_info["id"]), None) is None:
            return _json({"message": "Could not find task"}, 404)
        return web.Response(status=204)

    async def _current_user(self, request: web.Request) -> web.Response:
        return _json({"user": {"id": 1, "username": "phillip", "name": "Phillip",
                               "timezone": "America/New_York"}})

    async def _users(self, request: web.Request) -> web.Response:
        return _json({"users": [{"id": 1, "username": "phillip", "name": "Phillip"},
                                {"id": 2, "username": "sofia", "name": "Sofia"}]})

    async def _categories(self, request: web.Request) -> web.Response:
        return _json({"categories": [{"id": 1, "name": "Call"}, {"id": 2, "name": "Email"}]})

    async def _site(self, request: web.Request) -> web.Response:
        return _json({"site": {"name": "chaos", "subdomain": "chaos"}})


class _SilentProtocol(asyncio.Protocol):
    def __init__(self, server: "SilentServer") -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)
        self.server.accepted += 1

    def data_received(self, data: bytes) -> None:
        if b"\r\n" not in self.head:
            self.head += data
            if b"\r\n" in self.head:
                self.server.request_lines.append(self.head.split(b"\r\n", 1)[0].decode("latin-1"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)


class SilentServer:
    """Accepts connections and reads requests, and never answers a byte."""

    def __init__(self) -> None:
        self.connections: set[_SilentProtocol] = set()
        self.accepted = 0
        self.request_lines: list[str] = []  # "POST /api/v2/tasks HTTP/1.1", per request read
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def open_connections(self) -> int:
        return len(self.connections)

    async def wait_for_no_connections(self, timeout: float = 3.0) -> int:
        until = time.monotonic() + timeout
        while self.connections and time.monotonic() < until:
            await asyncio.sleep(0.02)
        return len(self.connections)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> "SilentServer":
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _SilentProtocol(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for protocol in list(self.connections):
                if protocol.transport is not None:
                    protocol.transport.close()
            await self._server.wait_closed()
            self._server = None


def refused_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
