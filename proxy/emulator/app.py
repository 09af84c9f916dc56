"""Builds the emulator's aiohttp application: routes, auth, rate limit, JSON errors, lifecycle."""

from __future__ import annotations

import logging
import time
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web

from . import (deal_routes, directory_routes, directory_store, entry_routes, party_routes, record_routes,
               reference_routes, tagfield_routes, task_routes)
from .body import MAX_BODY
from .errors import V2Error, json_response
from .keys import CLOCK, DB_PATH, LIMITER, SEED, STORE, USER, USERS_BY_TOKEN
from .ratelimit import RateLimiter
from .seed import Seed
from .store import Store

log = logging.getLogger("capsule_proxy.emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The bodies the live API sends for routing errors (fixtures/v2-real).
_ROUTING_MESSAGES = {404: "Could not find resource", 405: "Method not allowed"}


def _authenticate(request: web.Request) -> dict:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="Capsule"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise V2Error(401, "authentication required: send Authorization: Bearer <token>", challenge)
    user = request.app[USERS_BY_TOKEN].get(token.strip())
    if user is None:
        raise V2Error(401, "invalid or expired token", challenge)
    return user


def _error_response(exc: web.HTTPException) -> web.Response:
    message = _ROUTING_MESSAGES.get(exc.status) or exc.reason
    headers = {k: v for k, v in exc.headers.items() if k in ("Allow",)}
    return json_response({"message": message}, exc.status, headers)


@web.middleware
async def v2_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, count against the rate limit, and turn every failure into v2 JSON."""
    rate_headers: dict[str, str] = {}
    try:
        if request.path.startswith("/api/"):
            user = _authenticate(request)
            allowed, rate_headers = request.app[LIMITER].hit(user["id"])
            if not allowed:
                return json_response({"error": "rate limit reached"}, 429, rate_headers)
            request[USER] = user
        response = await handler(request)
    except V2Error as exc:
        response = exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error_response(exc)
    except Exception:
        log.exception("emulator: unexpected error on %s %s", request.method, request.path)
        response = json_response({"message": "internal server error"}, 500)
    response.headers.update(rate_headers)
    return response


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _store_context(app: web.Application) -> AsyncIterator[None]:
    store = Store(app[DB_PATH] or None)
    for warning in await store.open(app[SEED]):
        log.warning("emulator: %s", warning)
    app[STORE] = store
    app[USERS_BY_TOKEN] = await store.run(directory_store.users_by_token)
    limit = await store.run(directory_store.requests_per_hour)
    app[LIMITER] = RateLimiter(limit, app[CLOCK])
    try:
        yield
    finally:
        await store.close()


def create_app(seed: Seed, db_path: str | None = None,
               clock: Callable[[], float] = time.time) -> web.Application:
    """The emulator, ready to run; the database opens on start-up and closes on clean-up."""
    app = web.Application(middlewares=[v2_middleware], client_max_size=MAX_BODY)
    app[SEED] = seed
    app[DB_PATH] = db_path or ""
    app[CLOCK] = clock
    app.cleanup_ctx.append(_store_context)
    app.router.add_get("/healthz", healthz)
    for module in (task_routes, directory_routes, reference_routes, tagfield_routes, record_routes,
                   party_routes, deal_routes, entry_routes):
        app.router.add_routes(module.routes)
    return app
