"""A proxy in front of a real emulator, both on real HTTP; the emulator records what reached it."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from aiohttp import web

from proxy.app import create_app as create_proxy_app
from proxy.config import load_settings
from proxy.emulator.app import create_app as create_emulator_app
from proxy.emulator.seed import load_seed, parse_seed


def basic(token: str = "tok-phillip", password: str = "x") -> dict[str, str]:
    encoded = base64.b64encode(f"{token}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


PHILLIP = basic("tok-phillip")          # America/New_York
SOFIA = basic("tok-sofia")              # Europe/Rome
JSON = {"Accept": "application/json"}
XML_BODY = {"Content-Type": "application/xml"}
JSON_BODY = {"Content-Type": "application/json", "Accept": "application/json"}


class Recorder:
    """What reached the upstream: (method, path with query) per request, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.calls.append((request.method, request.path_qs))
        return await handler(request)

    def clear(self) -> None:
        self.calls.clear()

    def paths(self, method: str | None = None) -> list[str]:
        return [path for m, path in self.calls if method is None or m == method]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def seed_text() -> str | None:
    """Override in a test module to run against another seed; None is the demo seed."""
    return None


@pytest.fixture
async def upstream(aiohttp_server, recorder, seed_text):
    seed = load_seed(None) if seed_text is None else parse_seed(seed_text, "test seed")
    app = create_emulator_app(seed)
    app.middlewares.insert(0, recorder.middleware)
    return await aiohttp_server(app)


@pytest.fixture
def make_proxy(aiohttp_client, upstream):
    async def make(**sections: dict[str, Any]):
        settings = load_settings(environ={}, flags=sections)
        return await aiohttp_client(create_proxy_app(settings, str(upstream.make_url("")).rstrip("/")))
    return make


@pytest.fixture
async def proxy(make_proxy):
    return await make_proxy()
