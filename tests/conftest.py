"""Fixtures shared by every test: the shared reference data and a running emulator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy.emulator.app import create_app as create_emulator_app
from proxy.emulator.seed import load_seed

ROOT = Path(__file__).resolve().parents[1]
# ../shared sits beside the clone, in CI too; CAPSULE_SHARED points elsewhere if needed.
SHARED = Path(os.environ.get("CAPSULE_SHARED", ROOT.parent / "shared")).resolve()


def bearer(token: str = "tok-phillip") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"the shared reference folder is missing: {SHARED} (set CAPSULE_SHARED)")
    return SHARED


@pytest.fixture
async def emulator(aiohttp_client):
    """A test client for an in-memory emulator loaded with the demo seed."""
    return await aiohttp_client(create_emulator_app(load_seed(None)))
