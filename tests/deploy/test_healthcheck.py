"""deploy/image/healthcheck.py, the image's HEALTHCHECK, against real processes."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys

import pytest

from proxy.config import ENV_CONFIG_FILE, ENV_PREFIX
from tests.deploy.helpers import ROOT, load_healthcheck_module, probe_paths


async def _start(*args: str, **settings: str) -> tuple[asyncio.subprocess.Process, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)} | settings
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT)
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    match = re.search(r"listening on http://[^\s:]+:(\d+)", line)
    if not match:
        process.kill()
        _, err = await process.communicate()
        pytest.fail(f"no ready line from {args}: {line!r} {err.decode()!r}")
    return process, int(match[1])


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_healthcheck_finds_the_port_from_file_and_environment(tmp_path):
    module = load_healthcheck_module()
    config = tmp_path / "config.toml"
    config.write_text('[server]\nport = 8181\n[ops]\nhost = "0.0.0.0"\nport = 9911\n[emulator]\nport = 9191\n')
    env = {ENV_CONFIG_FILE: str(config)}
    assert module.target("serve", env) == ("127.0.0.1", 9911)
    assert module.target("serve", env | {"CAPSULE_PROXY_OPS_PORT": "0"}) == ("127.0.0.1", 8181)
    assert module.target("emulator", env) == ("127.0.0.1", 9191)
    assert module.main(["serve", "/nope"], environ=env) == 2
    assert set(module.PATHS) == probe_paths(), "healthcheck.py and the ops listener disagree on the paths"


async def test_the_healthcheck_script_against_real_processes():
    """The shipped script against `capsule-proxy serve` with its own ops listener, and the emulator."""
    module = load_healthcheck_module()
    ops_port = _free_port()
    proxy, proxy_port = await _start("serve", "--port", "0", CAPSULE_PROXY_OPS_PORT=str(ops_port))
    emulator, emulator_port = await _start("emulator", "--port", "0")
    settings = {"CAPSULE_PROXY_SERVER_PORT": str(proxy_port), "CAPSULE_PROXY_OPS_PORT": str(ops_port)}
    try:
        for path in sorted(probe_paths()):
            assert await asyncio.to_thread(module.main, ["serve", path], settings) == 0, path
        assert await asyncio.to_thread(module.main, [], settings) == 0
        # With an ops listener the main port no longer answers the probes: the check must follow
        # the settings, which is why it reads them rather than hard-coding a port.
        main_port_only = {"CAPSULE_PROXY_SERVER_PORT": str(proxy_port)}
        assert await asyncio.to_thread(module.main, ["serve"], main_port_only) == 1
        assert await asyncio.to_thread(
            module.main, ["emulator"], {"CAPSULE_PROXY_EMULATOR_PORT": str(emulator_port)}) == 0
    finally:
        await _stop(proxy)
        await _stop(emulator)
    # Nothing listens there any more: unhealthy, not a crash.
    assert await asyncio.to_thread(module.main, ["serve"], settings) == 1
