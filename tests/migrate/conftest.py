"""Fixtures for the migration tools: the real v1 fixtures (read in place), a recording emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from proxy.emulator.app import create_app as create_emulator_app
from proxy.emulator.seed import load_seed


@pytest.fixture
def v1_real(shared: Path) -> Path:
    folder = shared / "fixtures" / "v1-real"
    if not folder.is_dir():
        pytest.fail(f"missing {folder}")
    return folder


class BodyRecorder:
    """What reached an upstream: (method, path with query, JSON body or None), in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        self.calls.append((request.method, request.path_qs, json.loads(raw) if raw else None))
        return await handler(request)


@pytest.fixture
def body_recorder() -> BodyRecorder:
    return BodyRecorder()


@pytest.fixture
async def recording_emulator(aiohttp_server, body_recorder):
    """The demo-seed emulator on a real port, recording every request with its body."""
    app = create_emulator_app(load_seed(None))
    app.middlewares.insert(0, body_recorder.middleware)
    return await aiohttp_server(app)
