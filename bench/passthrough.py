"""The bare baseline: an aiohttp pass-through proxy that does the HTTP work the real proxy does
and none of the translation.

    python -m bench.passthrough --upstream URL [--host 127.0.0.1] [--port 0]

prints ``passthrough listening on http://HOST:PORT (upstream: URL)`` when ready and serves
until SIGTERM/SIGINT. One ClientSession (keep-alive pool of 100, like the proxy's default
``pool_size``) for the process's lifetime. Each request: HTTP Basic (token as the user name)
becomes ``Authorization: Bearer <token>``, the path is mapped, the body is forwarded as it came,
and the upstream's status, body, Content-Type and Location are copied back untranslated.
``ROUTES`` maps each v1 request the suite measures to one v2 call (a list: one page of 100; a
tag or custom-field write: the record's PUT), so every scenario's baseline is the HTTP work of
one upstream call and none of the translation.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import signal
import sys
from typing import Sequence

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
POOL_SIZE = 100


def _bearer(request: web.Request) -> str | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        token = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None
    return f"Bearer {token}" if token else None


async def _forward(request: web.Request, method: str, path: str) -> web.Response:
    bearer = _bearer(request)
    if bearer is None:
        return web.Response(status=401, text="authentication required")
    headers = {"Authorization": bearer}
    body = None
    if request.body_exists:
        body = await request.read()
        headers["Content-Type"] = request.headers.get("Content-Type", "application/octet-stream")
    async with request.app[SESSION].request(method, request.app[UPSTREAM] + path, data=body,
                                            headers=headers, allow_redirects=False) as answer:
        data = await answer.read()
        out = {"Content-Type": answer.headers.get("Content-Type", "application/octet-stream")}
        if "Location" in answer.headers:
            out["Location"] = answer.headers["Location"]
        return web.Response(status=answer.status, body=data, headers=out)


#: (v1 method, v1 path, v2 method, v2 path): {id} and {name} are copied from the v1 path.
PAGE = "?page=1&perPage=100"
ROUTES: tuple[tuple[str, str, str, str], ...] = (
    ("GET", "/api/task/{id}", "GET", "/api/v2/tasks/{id}"),
    ("PUT", "/api/task/{id}", "PUT", "/api/v2/tasks/{id}"),
    ("POST", "/api/task", "POST", "/api/v2/tasks"),
    ("GET", "/api/tasks", "GET", "/api/v2/tasks" + PAGE),
    ("GET", "/api/party/{id}", "GET", "/api/v2/parties/{id}"),
    ("GET", "/api/party", "GET", "/api/v2/parties" + PAGE),
    ("POST", "/api/person", "POST", "/api/v2/parties"),
    ("GET", "/api/opportunity/{id}", "GET", "/api/v2/opportunities/{id}"),
    ("GET", "/api/opportunity", "GET", "/api/v2/opportunities" + PAGE),
    ("POST", "/api/party/{id}/opportunity", "POST", "/api/v2/opportunities"),
    ("GET", "/api/kase/{id}", "GET", "/api/v2/kases/{id}"),
    ("GET", "/api/kase", "GET", "/api/v2/kases" + PAGE),
    ("POST", "/api/party/{id}/kase", "POST", "/api/v2/kases"),
    ("GET", "/api/party/{id}/history", "GET", "/api/v2/parties/{id}/entries" + PAGE),
    ("POST", "/api/party/{id}/history", "POST", "/api/v2/entries"),
    ("GET", "/api/party/{id}/tag", "GET", "/api/v2/parties/{id}?embed=tags"),
    ("POST", "/api/party/{id}/tag/{name}", "PUT", "/api/v2/parties/{id}"),
    ("GET", "/api/party/{id}/customfields", "GET", "/api/v2/parties/{id}?embed=fields"),
    ("PUT", "/api/party/{id}/customfields", "PUT", "/api/v2/parties/{id}"),
)


def target(v2_path: str, match_info: dict[str, str]) -> str:
    """The v2 path with the v1 path's parameters filled in."""
    return v2_path.format(**match_info)


def _handler(v2_method: str, v2_path: str):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        return await _forward(request, v2_method, target(v2_path, dict(request.match_info)))
    return handler


async def _session(app: web.Application):  # type: ignore[no-untyped-def]
    connector = aiohttp.TCPConnector(limit=POOL_SIZE, keepalive_timeout=30)
    app[SESSION] = aiohttp.ClientSession(connector=connector, headers={"Accept": "application/json"})
    yield
    await app[SESSION].close()


def create_app(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")
    app.cleanup_ctx.append(_session)
    for method, path, v2_method, v2_path in ROUTES:
        app.router.add_route(method, path, _handler(v2_method, v2_path))
    return app


async def serve(host: str, port: int, upstream: str) -> None:
    runner = web.AppRunner(create_app(upstream), access_log=None, keepalive_timeout=300,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, backlog=4096)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    print(f"passthrough listening on http://{shown}:{bound_port} (upstream: {upstream})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough", description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, metavar="URL", help="base URL of the v2 API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (default)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, args.upstream))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
