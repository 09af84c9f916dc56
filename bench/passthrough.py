"""The bare baseline: an aiohttp pass-through proxy that does the HTTP work the real proxy does
and none of the translation.

    python -m bench.passthrough --upstream URL [--host 127.0.0.1] [--port 0]

prints ``passthrough listening on http://HOST:PORT (upstream: URL)`` when ready and serves
until SIGTERM/SIGINT. One ClientSession (keep-alive pool of 100, like the proxy's default
``pool_size``) for the process's lifetime. Each request: HTTP Basic (token as the user name)
becomes ``Authorization: Bearer <token>``, the path is mapped, the body is forwarded as it came,
and the upstream's status, body, Content-Type and Location are copied back untranslated:

    GET|PUT /api/task/{id}   -> GET|PUT /api/v2/tasks/{id}
    POST /api/task           -> POST /api/v2/tasks
    GET /api/tasks           -> GET /api/v2/tasks?page=1&perPage=100   (the query is ignored)
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


async def task(request: web.Request) -> web.Response:
    return await _forward(request, request.method, f"/api/v2/tasks/{request.match_info['id']}")


async def create(request: web.Request) -> web.Response:
    return await _forward(request, "POST", "/api/v2/tasks")


async def listing(request: web.Request) -> web.Response:
    return await _forward(request, "GET", "/api/v2/tasks?page=1&perPage=100")


async def _session(app: web.Application):  # type: ignore[no-untyped-def]
    connector = aiohttp.TCPConnector(limit=POOL_SIZE, keepalive_timeout=30)
    app[SESSION] = aiohttp.ClientSession(connector=connector, headers={"Accept": "application/json"})
    yield
    await app[SESSION].close()


def create_app(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")
    app.cleanup_ctx.append(_session)
    app.router.add_get("/api/task/{id}", task)
    app.router.add_put("/api/task/{id}", task)
    app.router.add_post("/api/task", create)
    app.router.add_get("/api/tasks", listing)
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
