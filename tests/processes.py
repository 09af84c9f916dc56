"""Starting `capsule-proxy` as a real process and reading its ready line, for the tests that need
real signals, real ports and real logs."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "proxy"]


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


class Running:
    """A started `capsule-proxy` process and the URL from its ready line."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, line: str):
        self.process, self.url, self.line = process, url, line

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), 15)


async def start(*args: str, env: dict[str, str] | None = None) -> Running:
    """Start `capsule-proxy ARGS...` and wait (20 s at most) for its `listening on URL` line."""
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
    except asyncio.TimeoutError:
        process.kill()
        raise
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        process.kill()
        _, err = await process.communicate()
        pytest.fail(f"no ready line; stdout {line!r}, stderr {err.decode()!r}")
    return Running(process, match[1], line)
