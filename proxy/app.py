"""Builds the proxy's aiohttp application: routes, middlewares, start-up and shut-down."""

from __future__ import annotations

from aiohttp import web

from .config import Settings

SETTINGS = web.AppKey("settings", Settings)
UPSTREAM_URL = web.AppKey("upstream_url", str)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Settings, upstream_url: str) -> web.Application:
    """The v1 face of the proxy, talking to the v2 API at upstream_url."""
    app = web.Application()
    app[SETTINGS] = settings
    app[UPSTREAM_URL] = upstream_url
    app.router.add_get("/healthz", healthz)
    return app
