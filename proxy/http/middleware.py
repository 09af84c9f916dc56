"""The v1 middleware: every request's id, route, credentials, bounds and error document.

For `/api/` paths, in this order: the request target and Host are checked (R4); the v1 route
is resolved (404/405/501, see router.py); the credentials are read (401); a declared body over
`[server] max_body` is refused (413); only then is `Expect: 100-continue` answered, so a
refused request never uploads its body. The handler runs within `[server] request_timeout`.
Whatever goes wrong is answered as a v1 error document in the client's format, never a bare
500; an unexpected exception is logged with one line of where it happened.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import traceback
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..auth import AuthError, basic_token
from ..keys import CLIENT_TOKEN, FORMAT, LABEL, NOUN, PAGES, PARAMS, ROUTE, SERVICES, TOKEN, WARNINGS
from ..observe import REQUEST_ID, TRACE, UPSTREAM_CALLS, RequestRecord, notify
from ..tracing import trace_context
from ..translate.errors import InvalidField, UpstreamDataError
from ..upstream.client import UpstreamError, UpstreamUnavailable
from ..upstream.resilience import UpstreamBusy
from ..v1 import codec
from ..v1.documents import DocumentError
from . import respond
from .addresses import VALID_HOST
from .errors import BASIC_CHALLENGE, V1Error, from_upstream
from .operations import OPERATIONS
from .router import Match, Miss, Router

log = logging.getLogger("capsule_proxy")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A client's X-Request-Id is kept when it is this simple; otherwise one is made up (O3).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")
ROUTER = web.AppKey("capsule_router", Router)


def _refuse_odd_requests(request: web.Request) -> None:
    """A reverse proxy has no business with absolute-form targets or malformed Host headers."""
    if not request.raw_path.startswith("/"):  # absolute-form, authority-form (CONNECT) or "*"
        raise V1Error(400, "only origin-form request targets (/path) are accepted: this is not a forward proxy")
    host = request.headers.get("Host")
    if host is None and request.version < (1, 1):
        if request.app[SERVICES].settings.get("server", "public_url"):
            return                            # HTTP/1.0 needs no Host; Location uses public_url
        raise V1Error(400, "this HTTP/1.0 request has no Host header: send one, or set [server] public_url")
    if not VALID_HOST.match(host or ""):
        raise V1Error(400, "the Host header is missing or not a valid host[:port]")


async def _admit(request: web.Request) -> None:
    """Route, credentials and size, then `100 Continue` if the client waits for it."""
    services = request.app[SERVICES]
    found = request.app[ROUTER].resolve(request.method, request.raw_path.split("?", 1)[0])
    request[LABEL] = found.label
    client = request[CLIENT_TOKEN] = basic_token(request.headers.get("Authorization"))
    request[TOKEN] = services.auth.upstream_token_for(client)
    if isinstance(found, Miss):
        raise V1Error(found.status, found.message, {"Allow": ", ".join(found.allow)} if found.allow else None)
    request[ROUTE] = found
    request[PARAMS] = found.params
    if found.resource is not None:
        request[NOUN] = found.resource.noun
    if found.accept is not None:
        request[FORMAT] = codec.response_format(found.accept)
    limit = services.settings.get("server", "max_body")
    if (request.content_length or 0) > limit:
        raise respond.too_large(limit)
    if request.headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0


async def dispatch(request: web.Request) -> web.StreamResponse:
    """The one aiohttp handler of `/api/`: the operation the v1 route declares."""
    match: Match = request[ROUTE]
    assert match.resource is not None and match.route is not None
    return await OPERATIONS[match.route.op](request, match.resource, match.route)


async def defer_expect(request: web.Request) -> None:
    """aiohttp would answer `100 Continue` before any check: `_admit` does it after them."""
    return None


def _where(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}" if frame else "?"


async def _answer(request: web.Request, handler: Handler) -> tuple[web.StreamResponse, str | None]:
    """The handler's answer, or the v1 error document for whatever went wrong (and its message)."""
    services = request.app[SERVICES]
    try:
        _refuse_odd_requests(request)
        if request.path.startswith("/api/"):
            await _admit(request)
        timeout = services.settings.get("server", "request_timeout") or None
        try:
            async with asyncio.timeout(timeout):
                return await handler(request), None
        except TimeoutError:
            raise V1Error(504, f"the request took longer than the proxy allows ([server] request_timeout: "
                               f"{timeout:g} s)") from None
    except V1Error as exc:
        problem = exc
    except AuthError as exc:
        problem = V1Error(401, exc.message, BASIC_CHALLENGE)
    except DocumentError as exc:
        services.metrics.rejected_documents.labels(exc.reason).inc()
        problem = V1Error(exc.status, exc.message)
    except InvalidField as exc:
        problem = V1Error(400, exc.message)
    except UpstreamBusy as exc:
        problem = V1Error(503, exc.message, {"Retry-After": str(exc.retry_after)})
    except (UpstreamError, UpstreamUnavailable, UpstreamDataError) as exc:
        problem = from_upstream(exc, request.get(NOUN, "record"))
        if problem.status >= 500:
            log.warning("%s %s: %s", request.method, request.get(LABEL, request.path), problem.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = {404: f"there is no resource at {request.path}",
                   405: f"{request.method} is not allowed on {request.path}",
                   413: respond.too_large(services.settings.get("server", "max_body")).message,
                   }.get(exc.status, exc.reason)
        problem = V1Error(exc.status, message, {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a bare 500
        services.metrics.unexpected_errors.inc()
        log.error("%s %s: unexpected %s at %s", request.method, request.get(LABEL, "?"), type(exc).__name__,
                  _where(exc))
        problem = V1Error(500, f"the proxy failed to answer this request (request id {REQUEST_ID.get()}); "
                               "it has been logged")
    answer = respond.error(request, problem.status, problem.message, problem.headers)
    if problem.close:
        answer.force_close()
    return answer, problem.message


@web.middleware
async def v1_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tag the request with an id (kept from X-Request-Id or made up, sent upstream and back),
    answer it, and report it to the observers (metrics, access log, usage inventory)."""
    services = request.app[SERVICES]
    started = time.perf_counter()
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.match(given) else os.urandom(16).hex()
    traceparent, tracestate, trace_id = trace_context(request.headers.get("traceparent"),
                                                      request.headers.get("tracestate"))
    calls = [0]
    id_reset, calls_reset = REQUEST_ID.set(request_id), UPSTREAM_CALLS.set(calls)
    trace_reset = TRACE.set((traceparent, tracestate))
    services.metrics.in_flight += 1
    try:
        response, error = await _answer(request, handler)
    finally:
        services.metrics.in_flight -= 1
        REQUEST_ID.reset(id_reset)
        UPSTREAM_CALLS.reset(calls_reset)
        TRACE.reset(trace_reset)
    response.headers["X-Request-Id"] = request_id
    warnings = request.get(WARNINGS)
    if warnings:
        log.warning("%s %s: %s", request.method, request.get(LABEL, "?"), "; ".join(dict.fromkeys(warnings)))
        response.headers["Warning"] = ", ".join(
            '299 capsule-proxy "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in dict.fromkeys(warnings))
    label = request.get(LABEL)
    if label is None:
        resource = request.match_info.route.resource
        label = resource.canonical if resource is not None else "unmatched"
    notify(services.observers, RequestRecord(
        request_id=request_id, client=request.remote or "", user_agent=request.headers.get("User-Agent", ""),
        method=request.method, route=label,
        status=response.status, duration=time.perf_counter() - started, upstream_calls=calls[0],
        bytes_in=request.content_length or 0, bytes_out=response.content_length or 0,
        token=request.get(CLIENT_TOKEN), error=error, pages=request.get(PAGES, [0])[0], trace_id=trace_id))
    return response
