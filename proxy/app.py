"""The composition root: builds the proxy's services and aiohttp application, and its listeners."""

from __future__ import annotations

from typing import AsyncIterator

from aiohttp import web

from . import ops, server
from .auth import Authenticator
from .config import Settings, cache_ttls
from .http.budget import ListBudget
from .http.middleware import ROUTER, defer_expect, dispatch, v1_middleware
from .http.router import Router
from .keys import SERVICES
from .logs import SERVER_LOG, access_log
from .metrics import Metrics
from .migrate import explain, usage
from .resources import RESOURCES, UNTRANSLATED
from .resources.base import PAGE_SIZE
from .resources.lookups import LOOKUPS
from .services import Services
from .upstream.client import Upstream
from .upstream.lookups import Lookups
from .upstream.resilience import CircuitBreaker, RetryPolicy


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
    lookups = Lookups(upstream, LOOKUPS, cache_ttls(settings), page_size=PAGE_SIZE,
                      max_pages=get("upstream", "max_pages"))
    lists = ListBudget(get("server", "max_list_items"))
    metrics = Metrics(upstream, lookups, lists)
    upstream.on_call = metrics.observe_upstream
    upstream.on_retry = metrics.observe_retry
    return Services(
        settings=settings, upstream=upstream, lookups=lookups, metrics=metrics,
        auth=Authenticator(get("auth", "mode"), get("auth", "static_token"), get("auth", "allowed_clients")),
        observers=[metrics.observe_request, access_log], lists=lists)


async def _services_context(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await services.upstream.start()
    try:
        yield
    finally:
        await services.upstream.close()


def create_app(settings: Settings, upstream_url: str) -> web.Application:
    """The v1 face of the proxy, talking to the v2 API at upstream_url."""
    app = web.Application(middlewares=[v1_middleware], client_max_size=settings.get("server", "max_body"),
                          handler_args={"logger": SERVER_LOG})
    app[SERVICES] = build_services(settings, upstream_url)
    app[ROUTER] = Router(RESOURCES, UNTRANSLATED)
    app.cleanup_ctx.append(_services_context)
    if settings.get("ops", "port") == 0:
        ops.add_routes(app)
    app.router.add_route("*", "/api/{tail:.*}", dispatch, expect_handler=defer_expect)
    usage.install(app)      # GET /_proxy/usage and the usage inventory
    explain.install(app, create_app)   # POST /_proxy/explain runs this very app on a dry run
    return app


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
