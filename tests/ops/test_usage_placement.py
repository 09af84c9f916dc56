"""Where `GET /_proxy/usage` is served: with the probes and /metrics (docs/decisions.md M3)."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

from proxy.app import start_proxy
from proxy.config import load_settings
from tests.migrate.helpers import run
from tests.proxy.conftest import PHILLIP


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _serve(upstream, **sections):
    settings = load_settings(environ={}, flags={"server": {"host": "127.0.0.1", "port": 0}, **sections})
    return await start_proxy(settings, str(upstream.make_url("")).rstrip("/"))


async def test_the_inventory_moves_to_the_ops_listener_with_the_metrics(upstream):
    headers = {**PHILLIP, "User-Agent": "billing/2.0"}
    # Without an ops listener: on the main port, as /metrics is, and without auth.
    [main] = await _serve(upstream)
    try:
        async with aiohttp.ClientSession() as session:
            assert (await session.get(main.url + "/api/task/1", headers=headers)).status == 200
            async with session.get(main.url + "/_proxy/usage") as response:
                assert response.status == 200 and (await response.json())["total"] == 1
    finally:
        await main.runner.cleanup()

    # With one: only there. The clients' port answers 404, as it does for /metrics.
    main, ops = await _serve(upstream, ops={"host": "127.0.0.1", "port": _free_port()})
    try:
        async with aiohttp.ClientSession() as session:
            assert (await session.get(main.url + "/api/task/1", headers=headers)).status == 200
            assert (await session.get(main.url + "/api/tracks", headers=headers)).status == 200
            for path in ("/_proxy/usage", "/_proxy/usage?limit=1", "/metrics"):
                assert (await session.get(main.url + path)).status == 404
            async with session.get(ops.url + "/_proxy/usage") as response:
                assert response.status == 200
                body = await response.json()
            assert body["total"] == 2 and {c["route"] for c in body["calls"]} == {"/api/task/{id}", "/api/tracks"}
            text = await (await session.get(ops.url + "/metrics")).text()
            assert 'capsule_proxy_v1_calls_total{client="' in text and 'route="/api/tracks"' in text
        status, out, err = await asyncio.to_thread(run, "usage", "--url", ops.url, "--limit", "1")
        assert status == 0, err
        assert "2 v1 calls since" in out.decode() and "(1 more rows not shown)" in out.decode()
    finally:
        await ops.runner.cleanup()
        await main.runner.cleanup()
