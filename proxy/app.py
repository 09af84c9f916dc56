"""Builds the proxy's aiohttp application: routes, the v1 middleware, start-up and shut-down."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import web

from . import migrate, ops, server
from .config import Settings
from .logs import SERVER_LOG, access_log
from .metrics import Metrics
from .observe import REQUEST_ID, UPSTREAM_CALLS, RequestRecord, notify
from .services import SERVICES, VALID_HOST, Services
from .translate.errors import InvalidField, UpstreamDataError
from .upstream.client import Upstream, UpstreamError, UpstreamUnavailable
from .upstream.lookups import Lookups
from .upstream.resilience import CircuitBreaker, RetryPolicy, UpstreamBusy
from .v1 import formats
from .v1.auth import Authenticator, basic_token
from .v1.documents import DocumentError
from .v1.problems import V1Error, from_upstream
from .v1.routes import TOKEN, routes as v1_routes

log = logging.getLogger("capsule_proxy")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIENT_TOKEN = web.RequestKey("capsule_client_token", str)  # the v1 client's own token
# A client's X-Request-Id is kept when it is this simple; otherwise one is made up.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")


def _refuse_odd_requests(request: web.Request) -> None:
    """A reverse proxy has no business with absolute-form targets or malformed Host headers."""
    if not request.raw_path.startswith("/"):  # absolute-form, authority-form (CONNECT) or "*"
        raise V1Error(400, "only origin-form request targets (/path) are accepted: this is not a forward proxy")
    host = request.headers.get("Host", "")
    if not VALID_HOST.match(host):
        raise V1Error(400, "the Host header is missing or not a valid host[:port]")


async def _answer(request: web.Request, handler: Handler) -> tuple[web.StreamResponse, str | None]:
    """The handler's answer, or the v1 error document for whatever went wrong (and its message)."""
    try:
        _refuse_odd_requests(request)
        if request.path.startswith("/api/"):
            client = request[CLIENT_TOKEN] = basic_token(request.headers.get("Authorization"))
            request[TOKEN] = request.app[SERVICES].auth.upstream_token_for(client)
        return await handler(request), None
    except V1Error as exc:
        problem = exc
    except DocumentError as exc:
        request.app[SERVICES].metrics.rejected_documents.labels(exc.reason).inc()
        problem = V1Error(exc.status, exc.message)
    except InvalidField as exc:
        problem = V1Error(400, exc.message)
    except UpstreamBusy as exc:
        problem = V1Error(503, exc.message, {"Retry-After": str(exc.retry_after)})
    except (UpstreamError, UpstreamUnavailable, UpstreamDataError) as exc:
        problem = from_upstream(exc)
        if problem.status >= 500:
            log.warning("%s %s: %s", request.method, request.path, problem.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {404: f"no v1 API resource at {request.path}",
                   405: f"{request.method} is not allowed on {request.path}",
                   413: "the request body is larger than the proxy accepts"}.get(exc.status, exc.reason)
        problem = V1Error(exc.status, message, {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None)
    return formats.error(request, problem.status, problem.message, problem.headers), problem.message


@web.middleware
async def v1_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate /api/ calls, answer every failure as a v1 error document, tag the request
    with an id (kept from X-Request-Id or made up, sent upstream and back), and report it."""
    services = request.app[SERVICES]
    started = time.perf_counter()
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.match(given) else os.urandom(16).hex()
    calls = [0]
    id_reset, calls_reset = REQUEST_ID.set(request_id), UPSTREAM_CALLS.set(calls)
    services.in_flight += 1
    try:
        response, error = await _answer(request, handler)
    finally:
        services.in_flight -= 1
        REQUEST_ID.reset(id_reset)
        UPSTREAM_CALLS.reset(calls_reset)
    response.headers["X-Request-Id"] = request_id
    resource = request.match_info.route.resource
    route = "unmatched"
    if resource is not None:
        # /api/{kind}/{id}/tasks is three v1 routes: say which one.
        route = resource.canonical.replace("{kind}", request.match_info.get("kind", "{kind}"))
    notify(services.observers, RequestRecord(
        request_id=request_id, client=request.remote or "", user_agent=request.headers.get("User-Agent", ""),
        method=request.method, route=route,
        status=response.status, duration=time.perf_counter() - started, upstream_calls=calls[0],
        bytes_in=request.content_length or 0, bytes_out=response.content_length or 0,
        token=request.get(CLIENT_TOKEN), error=error))
    return response


async def _services_context(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await services.upstream.start()
    try:
        yield
    finally:
        await services.upstream.close()


def build_services(settings: Settings, upstream_url: str) -> Services:
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
    services.metrics = Metrics(services)
    upstream.on_call = services.metrics.observe_upstream
    upstream.on_retry = services.metrics.observe_retry
    services.observers += [services.metrics.observe_request, access_log]
    return services


async def start_proxy(settings: Settings, upstream_url: str, reuse_port: bool = False) -> list[server.Listener]:
    """Listen with the proxy app, and with the ops app when `[ops] port` is set; the proxy first."""
    get = settings.get
    app = create_app(settings, upstream_url)
    timeouts = get("server", "shutdown_timeout"), get("server", "keepalive_timeout")
    listeners = [await server.start(app, get("server", "host"), get("server", "port"), *timeouts,
                                    reuse_port=reuse_port)]
    if get("ops", "port"):
        try:
            listeners.append(await server.start(ops.create_ops_app(app), get("ops", "host"), get("ops", "port"),
                                                *timeouts, reuse_port=reuse_port))
        except BaseException:
            await listeners[0].runner.cleanup()
            raise
    return listeners


def create_app(settings: Settings, upstream_url: str) -> web.Application:
    """The v1 face of the proxy, talking to the v2 API at upstream_url."""
    app = web.Application(middlewares=[v1_middleware], client_max_size=settings.get("server", "max_body"),
                          handler_args={"logger": SERVER_LOG})
    app[SERVICES] = build_services(settings, upstream_url)
    app.cleanup_ctx.append(_services_context)
    if settings.get("ops", "port") == 0:
        ops.add_routes(app)
    app.router.add_routes(v1_routes)
    migrate.install(app)  # POST /_proxy/explain, GET /_proxy/usage and the usage inventory
    return app
