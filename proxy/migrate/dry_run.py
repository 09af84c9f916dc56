"""One v1 request through the real proxy, in front of the real emulator, recorded (M1).

Both run in this process on loopback ports: the emulator (`proxy.emulator.app.create_app`)
seeded with the request's synthetic account and a recording middleware in front of it, and
the proxy app built by the factory the caller passes in (`proxy.app.create_app`; passed, not
imported, so that `app -> migrate -> app` is no cycle). The proxy knows only the emulator's
address, so nothing can reach the configured upstream.

The emulator stamps records with the current time; the recorder shows every such stamp as
`FIXED_STAMP`, so the same request always gives the same explanation.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from .. import server
from ..config import Settings
from ..emulator.app import create_app as create_emulator
from ..emulator.seed import Seed
from ..keys import SERVICES
from .account import PLACEHOLDER_TOKEN

AppFactory = Callable[[Settings, str], web.Application]

FIXED_STAMP = "2026-04-01T09:00:00Z"
SHOWN_HEADERS = ("Content-Type", "Location", "Retry-After", "WWW-Authenticate", "Allow")
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
_SLACK = 5.0                     # seconds around the run in which a stamp counts as "now"


@dataclass
class Recorded:
    """One v2 call as the emulator saw it, and its answer."""

    method: str
    path: str                       # path and query, as sent
    body: Any                       # the JSON body sent, or None
    status: int = 0
    answer: Any = None              # the JSON answered, or None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    calls: list[Recorded]
    answer: dict[str, Any]          # the v1 answer: status, reason, headers, body
    emulator_url: str


class Recorder:
    """A middleware for the emulator: records each call and fixes the emulator's "now" stamps."""

    def __init__(self) -> None:
        self.calls: list[Recorded] = []
        self.since = time.time() - _SLACK

    def _fixed(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._fixed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._fixed(item) for item in value]
        if isinstance(value, str) and _STAMP.match(value):
            moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
            if self.since <= moment <= time.time() + _SLACK:
                return FIXED_STAMP
        return value

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = Recorded(request.method, request.path_qs, body)
        self.calls.append(record)
        response = await handler(request)
        record.status = response.status
        record.headers = {name: response.headers[name] for name in ("Location", "Link") if name in response.headers}
        if isinstance(response, web.Response) and isinstance(response.body, bytes) and response.body:
            try:
                record.answer = self._fixed(json.loads(response.body))
            except ValueError:
                return response
            headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
            return web.Response(body=json.dumps(record.answer).encode(), status=response.status, headers=headers,
                                content_type="application/json", charset="utf-8")
        return response


def dry_run_settings(settings: Settings, proxy_base: str) -> Settings:
    """The caller's settings, changed only where a dry run must differ: passthrough auth with a
    placeholder token, one attempt per call, no breaker, no usage file, no ops listener."""
    values = copy.deepcopy(settings.values)
    values["auth"].update(mode="passthrough", static_token="", allowed_clients=())
    values["upstream"].update(retries=1, breaker_threshold=0, rate_limit_wait=0.0, connect_timeout=5.0,
                              read_timeout=10.0, total_timeout=10.0)
    values["server"].update(public_url=proxy_base.rstrip("/"), trust_forwarded=False, workers=1)
    values["usage"]["file"] = ""
    values["ops"]["port"] = 0
    return Settings(values, {})


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def run(seed: Seed, make_app: AppFactory, settings: Settings, method: str, path: str, *,
              body: bytes | None, headers: dict[str, str]) -> Outcome:
    """Send the v1 request through a proxy in front of a seeded, recording emulator."""
    recorder = Recorder()
    emulator = create_emulator(seed)
    emulator.middlewares.insert(0, recorder.middleware)
    listeners: list[server.Listener] = []
    try:
        upstream = await server.start(emulator, "127.0.0.1", 0, 1.0)
        listeners.append(upstream)
        emulator_url = upstream.url
        app = make_app(settings, emulator_url)
        app[SERVICES].observers.clear()           # no metrics, access log or usage for a dry run
        proxy = await server.start(app, "127.0.0.1", 0, 1.0)
        listeners.insert(0, proxy)                # the proxy stops before the emulator it calls
        token = base64.b64encode(f"{PLACEHOLDER_TOKEN}:x".encode()).decode()
        recorder.calls.clear()
        async with aiohttp.ClientSession() as session:
            async with session.request(method, URL(proxy.url + path, encoded=True), data=body or None,
                                       headers={"Authorization": f"Basic {token}", **headers},
                                       allow_redirects=False) as response:
                text = (await response.read()).decode("utf-8", "replace")
                answer = {"status": response.status, "reason": reason(response.status),
                          "headers": {name: response.headers[name] for name in SHOWN_HEADERS
                                      if name in response.headers},
                          "body": text}
    finally:
        for listener in listeners:
            await listener.runner.cleanup()
    return Outcome(recorder.calls, answer, emulator_url)
