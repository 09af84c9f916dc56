"""Running aiohttp applications until SIGINT/SIGTERM, then shutting down gracefully.

On a signal each listener stops accepting, in-flight requests get `shutdown_timeout` seconds to
finish (their answers say `Connection: close`), and the process exits 0. Listeners stop in order,
so a proxy stops before the embedded emulator its in-flight requests still need. A request that
cannot be parsed gets the proxy's own v1 error, which quotes nothing of it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from dataclasses import dataclass, field
from typing import Awaitable, Callable
from xml.sax.saxutils import escape

from aiohttp import hdrs, http_exceptions, web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("capsule_proxy")

# What a request aiohttp cannot parse did wrong, most specific first. aiohttp's own answer quotes
# the offending line, which can be an `Authorization: Basic ...` one; these quote nothing.
_PARSE_PROBLEMS: tuple[tuple[type[http_exceptions.HttpProcessingError], int, str], ...] = (
    (http_exceptions.LineTooLong, 400, "a request line or header field is longer than the proxy accepts"),
    (http_exceptions.InvalidHeader, 400, "a request header field is malformed (its name, value or a character in it)"),
    (http_exceptions.BadHttpMethod, 400, "the request method is malformed"),
    (http_exceptions.BadStatusLine, 400, "the request line is malformed"),
    (http_exceptions.InvalidURLError, 400, "the request target is not a valid URL"),
    # Raised while the headers are read, for an encoding aiohttp cannot undo (br without Brotli).
    (http_exceptions.ContentEncodingError, 415,
     "the request's Content-Encoding is not one the proxy reads: send the body plain, gzip or deflate"),
    (http_exceptions.PayloadEncodingError, 400, "the request body's framing or encoding is malformed"),
)


def parse_error_answer(exc: http_exceptions.HttpProcessingError) -> web.Response:
    """The v1 error document for a request that could not be parsed; the connection is closed."""
    status, problem = next(((status, text) for kind, status, text in _PARSE_PROBLEMS if isinstance(exc, kind)),
                           (400, "the request is not valid HTTP/1.1 (a malformed request line or header)"))
    body = ('<?xml version="1.0" encoding="UTF-8"?><error><message>'
            f"the proxy cannot parse this request: {escape(problem)}</message></error>")
    response = web.Response(status=status, text=body, content_type="application/xml", charset="utf-8")
    response.force_close()
    return response


class _RequestHandler(RequestHandler):
    __slots__ = ()

    def handle_error(self, request, status=500, exc=None, message=None):  # type: ignore[no-untyped-def]
        answer = super().handle_error(request, status, exc, message)  # logs it, as before
        if isinstance(exc, http_exceptions.HttpProcessingError):
            return parse_error_answer(exc)
        return answer


class _Server(web.Server):
    """aiohttp's low-level server, with connections handled by _RequestHandler."""

    def __call__(self) -> RequestHandler:
        return _RequestHandler(self, loop=self._loop, **self._kwargs)


class _AppRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp has no switch for the parser-error answer, nor for the handler class: the
        # server it built keeps its state and gets a __call__ that makes our handlers.
        server.__class__ = _Server
        return server


class Drain:
    """Set when a listener starts draining: every answer prepared from then on carries
    `Connection: close`, so keep-alive clients take their next request elsewhere instead of
    sending it into a connection that is about to close."""

    def __init__(self) -> None:
        self.active = False

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        if self.active:
            response.force_close()
            # aiohttp runs this hook after it wrote the Connection header: say it here too.
            response.headers[hdrs.CONNECTION] = "close"


@dataclass
class Listener:
    runner: web.AppRunner
    site: web.TCPSite
    drain: Drain = field(default_factory=Drain)

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to shutdown_timeout), clean up."""
        self.drain.active = True
        await self.runner.cleanup()

    @property
    def url(self) -> str:
        host, port = self.runner.addresses[0][:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"


async def start(app: web.Application, host: str, port: int, shutdown_timeout: float,
                keepalive_timeout: float = 75.0, reuse_port: bool = False) -> Listener:
    """Start serving app; runs its start-up hooks and binds the port (0: any free port).

    aiohttp arms the keep-alive timer when a connection opens and only re-arms it after a
    request, so a client that drips its request head (slowloris) is closed after
    `keepalive_timeout` seconds, like an idle one.
    """
    drain = Drain()
    app.on_response_prepare.append(drain.on_response_prepare)
    runner = _AppRunner(app, shutdown_timeout=shutdown_timeout, access_log=None,
                        handle_signals=False, keepalive_timeout=keepalive_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, reuse_port=reuse_port or None)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return Listener(runner, site, drain)


async def wait_for_signal() -> signal.Signals:
    """The first SIGINT or SIGTERM. Later ones are ignored rather than fatal: a drain already
    under way is bounded by shutdown_timeout, and a Ctrl-C reaches workers and their parent both."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def on_signal(sig: signal.Signals) -> None:
        if received.done():
            log.info("received %s again: already stopping", sig.name)
        else:
            received.set_result(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    return await received


def _settle_garbage_collector() -> None:
    """What start-up built (schemas, declarations, the app) lives as long as the process: frozen,
    the collector stops walking it on every full collection (issue 14)."""
    gc.collect()
    gc.freeze()


async def run_until_signal(start_all: Callable[[], Awaitable[list[Listener]]],
                           on_reload: Callable[[], None] | None = None) -> None:
    """Start the listeners, wait for SIGINT/SIGTERM, then stop them in the order given.
    SIGHUP calls on_reload, when there is one."""
    listeners = await start_all()
    _settle_garbage_collector()
    if on_reload is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_reload)
    try:
        sig = await wait_for_signal()
        log.info("received %s: finishing in-flight requests, then stopping", sig.name)
    finally:
        for listener in listeners:
            await listener.stop()
    log.info("stopped")
