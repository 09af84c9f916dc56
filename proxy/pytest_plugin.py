"""A pytest plugin: the Capsule v2 emulator as a fixture, for tests of code written against v2.

Registered through the `pytest11` entry point `capsule_proxy`, so pytest loads it wherever
capsule-proxy is installed. Loading it does nothing: it defines fixtures, an ini option and a
marker, and imports neither aiohttp nor the emulator. An emulator starts only for a test that
requests `capsule_v2` (a fresh one per test) or `capsule_v2_session` (one for the whole run).
`-p no:capsule_proxy` removes the plugin altogether.

    def test_tasks(capsule_v2):
        r = requests.get(capsule_v2.url("tasks"), headers=capsule_v2.headers())
        assert r.status_code == 200

The seed, first match wins: `@pytest.mark.capsule_v2(seed=...)` on the test (`capsule_v2` only),
the project's own `capsule_v2_seed` fixture, the `capsule_v2_seed` ini option, the demo seed.
A seed is a dict (TOML's shape), a `pathlib.Path`, a `str` holding TOML (it contains a `=`
or a line break) or a file path (it does not), or a `Seed`. Relative paths are relative to the
directory of the ini file (the rootdir when there is none).
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the heavy imports wait until an emulator is asked for
    import asyncio

    from proxy.emulator.seed import Seed

__all__ = ["CapsuleV2", "EmulatorThread", "resolve_seed"]

INI_SEED = "capsule_v2_seed"
MARKER = "capsule_v2"
THREAD_NAME = "capsule-v2-emulator"
HOST = "127.0.0.1"
# How long stopping an emulator waits for requests still running; idle keep-alive connections
# (a requests.Session) are closed at once.
SHUTDOWN_TIMEOUT = 5.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI_SEED, "capsule_v2 fixtures: the seed (a TOML file, relative to the ini file); "
                            "default: the emulator's demo seed", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(seed=...): the seed of this test's capsule_v2 emulator: a dict, "
                   "a TOML string, a path to a TOML file, or a Seed")


class CapsuleV2:
    """A running emulator, as a test sees it."""

    def __init__(self, root_url: str, seed: Seed):
        self.root_url = root_url  # http://127.0.0.1:PORT, where /healthz is
        self.base_url = f"{root_url}/api/v2"  # what a v2 client is configured with
        self.host, _, port = root_url.removeprefix("http://").rpartition(":")
        self.port = int(port)
        self.seed = seed
        self.tokens: dict[str, str] = {u["username"]: u["token"] for u in seed.users}
        self.username: str = seed.users[0]["username"]
        self.token: str = self.tokens[self.username]

    def url(self, path: str = "") -> str:
        """`url("tasks")` → `http://127.0.0.1:PORT/api/v2/tasks`."""
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    def headers(self, username: str | None = None) -> dict[str, str]:
        """The Bearer header of that user (of the seed's first user by default)."""
        if username is None:
            return {"Authorization": f"Bearer {self.token}"}
        try:
            return {"Authorization": f"Bearer {self.tokens[username]}"}
        except KeyError:
            raise KeyError(f"no user {username!r} in the seed; users: {', '.join(self.tokens)}") from None

    def __repr__(self) -> str:
        return f"<CapsuleV2 {self.base_url} seed={self.seed.source}>"


class EmulatorThread:
    """One emulator on a loopback port, served by its own event loop in a background thread.

    `start()` returns once the port accepts connections (or raises what start-up raised, e.g.
    a bad seed); `stop()` closes the listener and the connections, closes the database and joins
    the thread.
    """

    def __init__(self, seed: Seed, db_path: str | None = None, host: str = HOST, port: int = 0):
        self.seed, self.db_path, self.host, self.port = seed, db_path, host, port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 30) -> CapsuleV2:
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the capsule_v2 emulator did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise self._error
        return CapsuleV2(f"http://{self.host}:{self.port}", self.seed)

    def stop(self, timeout: float = 30) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop closed in between
                pass
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"the capsule_v2 emulator did not stop within {timeout} s")
        self._thread = None
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        import asyncio
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start() or stop() in the test's thread
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        import asyncio

        from aiohttp import web

        from proxy.emulator.app import create_app

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        runner = web.AppRunner(create_app(self.seed, self.db_path), access_log=None,
                               shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()


def resolve_seed(value: Any, base: Path, where: str) -> Seed:
    """A Seed from what a project gives: None (the demo seed), a Seed, a dict, TOML text or a path."""
    from proxy.emulator.seed import Seed, load_seed, parse_seed, seed_from_dict

    if value is None or value == "":
        return load_seed(None)
    if isinstance(value, Seed):
        return value
    if isinstance(value, dict):  # a copy: a module-level dict is shared by the tests that use it
        return seed_from_dict(copy.deepcopy(value), where)
    if isinstance(value, str) and ("=" in value or "\n" in value):
        return parse_seed(value, where)
    if isinstance(value, (str, os.PathLike)):
        return load_seed(base / Path(value))
    raise TypeError(f"{where}: a seed is a dict, TOML text, a path or a Seed, not {type(value).__name__}")


def _base(config: pytest.Config) -> Path:
    return config.inipath.parent if config.inipath else config.rootpath


@pytest.fixture(scope="session")
def capsule_v2_seed(pytestconfig: pytest.Config) -> Any:
    """The seed of the capsule_v2 emulators: the `capsule_v2_seed` ini option, else the demo seed.
    Override it in a conftest.py to return a dict, TOML text, a path or a Seed; keep it
    session-scoped if `capsule_v2_session` uses it."""
    return pytestconfig.getini(INI_SEED) or None


def _start(seed: Seed) -> tuple[EmulatorThread, CapsuleV2]:
    server = EmulatorThread(seed)
    return server, server.start()


@pytest.fixture
def capsule_v2(request: pytest.FixtureRequest, capsule_v2_seed: Any):
    """A Capsule v2 emulator of this test's own, with a fresh in-memory database, on a loopback
    port: `.base_url` (…/api/v2), `.url(path)`, `.tokens`, `.token`, `.headers(username=None)`."""
    marker = request.node.get_closest_marker(MARKER)
    value, where = capsule_v2_seed, "capsule_v2_seed"
    if marker is not None:
        if len(marker.args) + len(marker.kwargs) != 1 or set(marker.kwargs) - {"seed"}:
            raise pytest.UsageError(f"{request.node.nodeid}: write @pytest.mark.{MARKER}(seed=...)")
        value = marker.kwargs["seed"] if marker.kwargs else marker.args[0]
        where = f"@pytest.mark.{MARKER} on {request.node.nodeid}"
    server, emulator = _start(resolve_seed(value, _base(request.config), where))
    try:
        yield emulator
    finally:
        server.stop()


@pytest.fixture(scope="session")
def capsule_v2_session(pytestconfig: pytest.Config, capsule_v2_seed: Any):
    """One Capsule v2 emulator for the whole run, seeded from `capsule_v2_seed`; what a test writes
    stays for the tests after it."""
    server, emulator = _start(resolve_seed(capsule_v2_seed, _base(pytestconfig), "capsule_v2_seed"))
    try:
        yield emulator
    finally:
        server.stop()
