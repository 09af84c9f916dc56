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


def shared_or_skip() -> Path:
    """The shared reference recordings. A user's clone has none beside it: the tests that need them
    skip, saying where they were looked for. CI must run them all, so there it is a failure."""
    if SHARED.is_dir():
        return SHARED
    message = (f"the shared reference recordings are not at {SHARED}: put the shared folder beside "
               "the clone, or point CAPSULE_SHARED at it")
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(message + " (CI runs every test)")
    pytest.skip(message)


@pytest.fixture
def shared() -> Path:
    return shared_or_skip()


@pytest.fixture
async def emulator(aiohttp_client):
    """A test client for an in-memory emulator loaded with the demo seed."""
    return await aiohttp_client(create_emulator_app(load_seed(None)))


def untranslated_call() -> tuple[str, str, str]:
    """(method, path, route label) of a v1 call the proxy knows and does not translate (a 501),
    whichever the declarations still list; tests that need one skip when none is left."""
    import re

    from proxy.resources import UNTRANSLATED
    if not UNTRANSLATED:
        pytest.skip("every v1 call the proxy knows of is translated")
    methods, template = UNTRANSLATED[0]
    method = "GET" if methods == "*" or "GET" in methods.split("|") else methods.split("|")[0]
    kind = re.search(r"\{kind:([a-z]+)", template)
    label = re.sub(r"\{kind:[^}]+\}", kind[1], template) if kind else template
    return method, re.sub(r"\{\w+\}", "7", label), label
