"""`serve --workers N`: N proxy processes on one port, spread by the kernel (SO_REUSEPORT).

The parent holds the port so that `--port 0` names one port for all, runs the embedded emulator
when there is one (a single database for every worker), prints the ready line once every worker
listens, and on SIGTERM/SIGINT passes the signal on and waits for the workers to drain. A worker
that dies stops the whole service with status 1, so the supervisor (systemd, Kubernetes) restarts
it cleanly rather than running short-handed.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
from typing import Any, Callable

from . import server
from .config import Settings

log = logging.getLogger("capsule_proxy")
READY_TIMEOUT = 60.0


def reserve_port(host: str, port: int) -> socket.socket:
    """A bound (not listening) SO_REUSEPORT socket that keeps the port for the workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _worker(settings: Settings, upstream_url: str, port: int, ready: Any,
            load: Callable[[], Settings]) -> None:
    """One worker process: the proxy app on the shared port until SIGTERM/SIGINT; SIGHUP reloads."""
    from .app import start_proxy  # imported here: the parent needs none of the proxy's modules
    from .logs import setup_logging
    from .reload import reloader
    from .keys import SERVICES

    setup_logging(settings.get("log", "level"), settings.get("log", "format"))
    settings = Settings({**settings.values, "server": {**settings.values["server"], "port": port}},
                        settings.sources)
    services: list[Any] = []

    async def start_all() -> list[server.Listener]:
        listeners = await start_proxy(settings, upstream_url, reuse_port=True)
        services.append(listeners[0].runner.app[SERVICES])
        ready.put(os.getpid())
        return listeners

    asyncio.run(server.run_until_signal(start_all, lambda: reloader(services[0], load)()))


async def serve_workers(settings: Settings, upstream_url: str, workers: int,
                        announce: Callable[[str], None], note: str, load: Callable[[], Settings]) -> int:
    """Run `workers` proxy processes; returns the exit status."""
    host = settings.get("server", "host")
    holder = reserve_port(host, settings.get("server", "port"))
    port = holder.getsockname()[1]
    context = multiprocessing.get_context("spawn")  # no forked event loop or open sockets
    ready = context.Queue()
    processes = [context.Process(target=_worker, args=(settings, upstream_url, port, ready, load),
                                 name=f"capsule-proxy-worker-{n}") for n in range(workers)]
    try:
        for process in processes:
            process.start()
        for _ in processes:
            await asyncio.to_thread(ready.get, True, READY_TIMEOUT)
        shown = f"[{host}]" if ":" in host else host
        announce(f"capsule-proxy listening on http://{shown}:{port} with {workers} workers "
                 f"(upstream: {note})")
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, _pass_on, processes, signal.SIGHUP)
        return await _supervise(processes)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            await asyncio.to_thread(process.join, settings.get("server", "shutdown_timeout") + 5)
            if process.is_alive():
                process.kill()
        holder.close()


def _pass_on(processes: list[multiprocessing.process.BaseProcess], sig: signal.Signals) -> None:
    for process in processes:
        if process.is_alive():
            os.kill(process.pid, sig)


async def _supervise(processes: list[multiprocessing.process.BaseProcess]) -> int:
    """Wait for a signal (→ pass it on, 0) or for a worker to die (→ 1)."""
    signalled = asyncio.ensure_future(server.wait_for_signal())
    died = asyncio.ensure_future(asyncio.to_thread(_first_death, processes, signalled))
    done, _ = await asyncio.wait({signalled, died}, return_when=asyncio.FIRST_COMPLETED)
    if signalled in done:
        log.info("received %s: passing it to the workers and waiting for them to drain",
                 signalled.result().name)
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        await died
        return 0
    log.error("a worker stopped unexpectedly (exit code %s); stopping the service", died.result())
    signalled.cancel()
    return 1


def _first_death(processes: list[multiprocessing.process.BaseProcess], stop: asyncio.Future) -> int | None:
    """Block until every worker has exited after a signal, or until one exits on its own."""
    from multiprocessing.connection import wait

    pending = {process.sentinel: process for process in processes}
    while pending:
        for sentinel in wait(list(pending), timeout=0.2):
            process = pending.pop(sentinel)
            if not stop.done():
                return process.exitcode
    return None
