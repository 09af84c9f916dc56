"""Builds the proxy's aiohttp application: routes, middlewares, start-up and shut-down."""

from __future__ import annotations

import logging
import sys
import time
from typing import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .config import Settings
from .services import SERVICES, VALID_HOST, Services
from .translate.errors import InvalidField, UpstreamDataError
from .upstream.client import Upstream, UpstreamError, UpstreamUnavailable
from .upstream.lookups import Lookups
from .upstream.resilience import CircuitBreaker, RetryPolicy, UpstreamBusy
from .v1 import formats
from .v1.auth import Authenticator
from .v1.documents import DocumentError
from .v1.problems import V1Error, from_upstream
from .v1.routes import TOKEN, routes as v1_routes

log = logging.getLogger("capsule_proxy")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READY_TTL = 5.0


class _ServerLog(logging.LoggerAdapter):
    """aiohttp's server log without the bytes of requests it could not parse: its parser errors
    quote the offending header line or value, an `Authorization: Basic <token>` one included.
    Only the kind of error is logged for those."""

    def process(self, msg, kwargs):  # type: ignore[no-untyped-def]
        exc = kwargs.get("exc_info")
        if exc is True:
            exc = sys.exc_info()[1]
        elif isinstance(exc, tuple):
            exc = exc[1]
        if isinstance(exc, HttpProcessingError):
            kwargs["exc_info"] = None
            msg = f"{msg}: {type(exc).__name__} ({exc.code})"
        return msg, kwargs


SERVER_LOG = _ServerLog(logging.getLogger("aiohttp.server"), None)


def _refuse_odd_requests(request: web.Request) -> None:
    """A reverse proxy has no business with absolute-form targets or malformed Host headers."""
    if not request.raw_path.startswith("/"):  # absolute-form, authority-form (CONNECT) or "*"
        raise V1Error(400, "only origin-form request targets (/path) are accepted: this is not a forward proxy")
    host = request.headers.get("Host", "")
    if not VALID_HOST.match(host):
        raise V1Error(400, "the Host header is missing or not a valid host[:port]")


@web.middleware
async def v1_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate /api/ calls, and answer every failure as a v1 error document."""
    try:
        _refuse_odd_requests(request)
        if request.path.startswith("/api/"):
            request[TOKEN] = request.app[SERVICES].auth.upstream_token(request.headers.get("Authorization"))
        return await handler(request)
    except V1Error as exc:
        return formats.error(request, exc.status, exc.message, exc.headers)
    except DocumentError as exc:
        return formats.error(request, exc.status, exc.message)
    except InvalidField as exc:
        return formats.error(request, 400, exc.message)
    except UpstreamBusy as exc:
        return formats.error(request, 503, exc.message, {"Retry-After": str(exc.retry_after)})
    except (UpstreamError, UpstreamUnavailable, UpstreamDataError) as exc:
        problem = from_upstream(exc)
        if problem.status >= 500:
            log.warning("%s %s: %s", request.method, request.path, problem.message)
        return formats.error(request, problem.status, problem.message, problem.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {404: f"no v1 API resource at {request.path}",
                   405: f"{request.method} is not allowed on {request.path}",
                   413: "the request body is larger than the proxy accepts"}.get(exc.status, exc.reason)
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return formats.error(request, exc.status, message, headers)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when the upstream answered HTTP recently (any status below 500), else 503;
    503 while the circuit breaker is open, since every API call would be refused then."""
    services = request.app[SERVICES]
    if services.upstream.breaker.state == "open":
        return web.json_response({"status": "circuit open: Capsule is failing"}, status=503)
    now = time.monotonic()
    if now - services.ready_checked_at > READY_TTL:
        services.ready = await _upstream_answers(services.upstream.base_url)
        services.ready_checked_at = now
    status = 200 if services.ready else 503
    return web.json_response({"status": "ready" if services.ready else "upstream not answering"},
                             status=status)


async def _upstream_answers(base_url: str) -> bool:
    try:
        timeout = aiohttp.ClientTimeout(total=3)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(base_url + "/api/v2/site") as response:
                return response.status < 500
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _services_context(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await services.upstream.start()
    try:
        yield
    finally:
        await services.upstream.close()


def create_app(settings: Settings, upstream_url: str) -> web.Application:
    """The v1 face of the proxy, talking to the v2 API at upstream_url."""
    get = settings.get
    upstream = Upstream(
        upstream_url, connect_timeout=get("upstream", "connect_timeout"),
        read_timeout=get("upstream", "read_timeout"), total_timeout=get("upstream", "total_timeout"),
        pool_size=get("upstream", "pool_size"), queue_timeout=get("upstream", "queue_timeout"),
        max_queue=get("upstream", "max_queue"), rate_limit_wait=get("upstream", "rate_limit_wait"),
        retry=RetryPolicy(get("upstream", "retries"), get("upstream", "backoff_base"),
                          get("upstream", "backoff_max")),
        breaker=CircuitBreaker(get("upstream", "breaker_threshold"), get("upstream", "breaker_cooldown")))
    services = Services(
        settings=settings,
        upstream=upstream,
        lookups=Lookups(upstream, users_ttl=get("cache", "users_ttl"),
                        categories_ttl=get("cache", "categories_ttl"),
                        timezone_ttl=get("cache", "timezone_ttl"),
                        timezone_override=get("translate", "timezone")),
        auth=Authenticator(get("auth", "mode"), get("auth", "static_token"),
                           get("auth", "allowed_clients")),
    )
    app = web.Application(middlewares=[v1_middleware], client_max_size=get("server", "max_body"),
                          handler_args={"logger": SERVER_LOG})
    app[SERVICES] = services
    app.cleanup_ctx.append(_services_context)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_routes(v1_routes)
    return app
