"""The `capsule-proxy` command line: `serve` (the v1 proxy) and `emulator` (Capsule v2 stand-in)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any, Sequence

from . import server
from .app import create_app as create_proxy_app
from .config import ConfigError, Settings, load_settings
from .emulator.app import create_app as create_emulator_app
from .emulator.seed import Seed, SeedError, load_seed
from .emulator.store import StoreError
from .workers import serve_workers

DEMO_TOKENS = "tok-phillip (user phillip, America/New_York) and tok-sofia (user sofia, Europe/Rome)"

log = logging.getLogger("capsule_proxy")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capsule-proxy",
        description="Keeps legacy Capsule CRM API v1 clients (XML and v1 JSON) working against API v2.",
        epilog="Settings come from the config file < CAPSULE_PROXY_<SECTION>_<KEY> environment "
               "variables < these flags. See config.example.toml.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the v1 -> v2 proxy",
        description="Run the v1 -> v2 proxy. By default it stands in front of an embedded Capsule v2 "
                    f"emulator loaded with the demo seed, whose tokens are {DEMO_TOKENS}.")
    serve.add_argument("--config", metavar="FILE", help="TOML config file")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", help="port to listen on (default 8080)")
    serve.add_argument("--upstream", metavar="URL|embedded",
                       help="base URL of the v2 API, e.g. https://api.capsulecrm.com, "
                            "or 'embedded' (default) for the built-in emulator")
    serve.add_argument("--seed", metavar="FILE",
                       help="seed file for the embedded emulator (default: the demo seed)")
    serve.add_argument("--db", metavar="PATH",
                       help="SQLite file for the embedded emulator (default: in memory)")
    serve.add_argument("--workers", metavar="N",
                       help="proxy processes sharing the port (default 1; SO_REUSEPORT)")

    emulator = commands.add_parser(
        "emulator", help="run only the Capsule v2 emulator",
        description="Run only the Capsule API v2 emulator. Without --seed it loads the demo seed, "
                    f"whose tokens are {DEMO_TOKENS}.")
    emulator.add_argument("--config", metavar="FILE", help="TOML config file")
    emulator.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    emulator.add_argument("--port", help="port to listen on (default 9090)")
    emulator.add_argument("--seed", metavar="FILE", help="seed TOML file (default: the demo seed)")
    emulator.add_argument("--db", metavar="PATH",
                          help="SQLite file that keeps data across restarts (default: in memory)")
    return parser


def _flags(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Map the given flags onto settings; a flag that was not given is None and is skipped."""
    if args.command == "serve":
        return {"server": {"host": args.host, "port": args.port, "workers": args.workers},
                "upstream": {"url": args.upstream},
                "emulator": {"seed": args.seed, "db": args.db}}
    return {"emulator": {"host": args.host, "port": args.port, "seed": args.seed, "db": args.db}}


def _announce(line: str) -> None:
    print(line, flush=True)


async def _start_embedded(settings: Settings, seed: Seed) -> server.Listener:
    return await server.start(create_emulator_app(seed, settings.get("emulator", "db")), "127.0.0.1",
                              settings.get("emulator", "embedded_port"),
                              settings.get("server", "shutdown_timeout"))


async def _serve_workers(settings: Settings, seed: Seed | None) -> int:
    """Several worker processes; an embedded emulator runs once, here, for all of them."""
    upstream, note, emulator = settings.get("upstream", "url"), settings.get("upstream", "url"), None
    if seed is not None:
        emulator = await _start_embedded(settings, seed)
        upstream, note = emulator.url, f"embedded emulator at {emulator.url}, seed {seed.source}"
    try:
        return await serve_workers(settings, upstream, settings.get("server", "workers"), _announce, note)
    finally:
        if emulator is not None:
            await emulator.runner.cleanup()


async def _serve(settings: Settings, seed: Seed | None) -> None:
    timeout = settings.get("server", "shutdown_timeout")

    async def start_all() -> list[server.Listener]:
        listeners: list[server.Listener] = []
        upstream = settings.get("upstream", "url")
        note = upstream
        if seed is not None:
            emulator = await _start_embedded(settings, seed)
            listeners.append(emulator)
            upstream = emulator.url
            note = f"embedded emulator at {upstream}, seed {seed.source}"
        try:
            proxy = await server.start(create_proxy_app(settings, upstream),
                                       settings.get("server", "host"), settings.get("server", "port"),
                                       timeout, settings.get("server", "keepalive_timeout"))
        except BaseException:
            for listener in listeners:
                await listener.runner.cleanup()
            raise
        # The proxy stops first, so its in-flight requests can still reach the emulator.
        listeners.insert(0, proxy)
        _announce(f"capsule-proxy listening on {proxy.url} (upstream: {note})")
        return listeners

    await server.run_until_signal(start_all)


async def _emulate(settings: Settings, seed: Seed) -> None:
    async def start_all() -> list[server.Listener]:
        listener = await server.start(
            create_emulator_app(seed, settings.get("emulator", "db")),
            settings.get("emulator", "host"), settings.get("emulator", "port"),
            settings.get("server", "shutdown_timeout"))
        db = settings.get("emulator", "db") or "in memory"
        _announce(f"capsule-proxy emulator listening on {listener.url} (seed {seed.source}, data {db})")
        return [listener]

    await server.run_until_signal(start_all)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config, flags=_flags(args))
    except ConfigError as exc:
        print(f"capsule-proxy: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.get("log", "level").upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            embedded = settings.get("upstream", "url") == "embedded"
            seed = load_seed(settings.get("emulator", "seed")) if embedded else None
            if settings.get("server", "workers") > 1:
                return asyncio.run(_serve_workers(settings, seed))
            asyncio.run(_serve(settings, seed))
        else:
            asyncio.run(_emulate(settings, load_seed(settings.get("emulator", "seed"))))
    except (SeedError, StoreError) as exc:
        print(f"capsule-proxy: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"capsule-proxy: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
