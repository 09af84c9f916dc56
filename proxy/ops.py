"""Operational endpoints: /healthz, /readyz, /metrics, on the main port or their own listener.
With an ops listener (`[ops] port`), the usage inventory's `GET /_proxy/usage` moves there too.

Readiness means: the config is loaded (the app exists), the circuit is closed, and the upstream
answered recently. A real request that got an HTTP answer counts, so a busy proxy never probes;
an idle one checks the upstream at most once every READY_TTL seconds, so probes never hammer it.
"""

from __future__ import annotations

import time

from aiohttp import web

from .keys import SERVICES
from .metrics import CONTENT_TYPE
from .migrate import usage

READY_TTL = 10.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    upstream = services.upstream
    if upstream.breaker.state != "closed":
        return web.json_response({"status": "not ready", "reason": "circuit open: Capsule is failing"},
                                 status=503)
    now = time.monotonic()
    if now - upstream.last_answer_at > READY_TTL and now - services.ready_checked_at > READY_TTL:
        services.ready_checked_at = now
        services.ready = await upstream.probe()
    ready = now - upstream.last_answer_at <= READY_TTL or services.ready
    if not ready:
        return web.json_response({"status": "not ready", "reason": "the upstream is not answering"},
                                 status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[SERVICES].metrics.render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def create_ops_app(main: web.Application) -> web.Application:
    """The probes, metrics and usage inventory on their own listener, reading the main app's state."""
    app = web.Application()
    app[SERVICES] = main[SERVICES]
    add_routes(app)
    inventory = usage.inventory_of(main)
    if inventory is not None:
        # An operator's port, like /metrics: the clients' side never sees who else calls (M3).
        usage.add_routes(app, inventory)
    return app
