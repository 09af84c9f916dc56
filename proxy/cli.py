"""The `capsule-proxy` command line: `serve` (the v1 proxy) and `emulator` (Capsule v2 stand-in)."""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
from typing import Any, Callable, Sequence

from . import server
from .app import start_proxy
from .logs import setup_logging
from .migrate import commands as migrate_commands
from .reload import reloader
from .keys import SERVICES
from .config import ConfigError, Settings, load_settings
from .emulator.app import create_app as create_emulator_app
from .emulator.seed import Seed, SeedError, load_seed
from .emulator.store import StoreError
from .workers import serve_workers

DEMO_TOKENS = "tok-phillip (user phillip, America/New_York) and tok-sofia (user sofia, Europe/Rome)"



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

    check = commands.add_parser(
        "check-config", help="validate a config file and print the effective settings",
        description="Validate a TOML config file (with CAPSULE_PROXY_* environment variables on top) "
                    "and print the effective settings, secrets masked. Exits 2 naming the bad key.")
    check.add_argument("file", metavar="FILE", help="the TOML config file")

    migrate_commands.add_commands(commands)

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


async def _serve_workers(settings: Settings, seed: Seed | None, load: Callable[[], Settings]) -> int:
    """Several worker processes; an embedded emulator runs once, here, for all of them."""
    upstream, note, emulator = settings.get("upstream", "url"), settings.get("upstream", "url"), None
    if seed is not None:
        emulator = await _start_embedded(settings, seed)
        upstream, note = emulator.url, f"embedded emulator at {emulator.url}, seed {seed.source}"
    try:
        return await serve_workers(settings, upstream, settings.get("server", "workers"), _announce, note,
                                   load)
    finally:
        if emulator is not None:
            await emulator.runner.cleanup()


async def _serve(settings: Settings, seed: Seed | None, load: Callable[[], Settings]) -> None:

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
            proxy = await start_proxy(settings, upstream)
        except BaseException:
            for listener in listeners:
                await listener.runner.cleanup()
            raise
        reload_into.append(proxy[0].runner.app[SERVICES])
        # The proxy stops first, so its in-flight requests can still reach the emulator.
        listeners[:0] = proxy
        ops_note = f"; probes and metrics on {proxy[1].url}" if len(proxy) > 1 else ""
        _announce(f"capsule-proxy listening on {proxy[0].url} (upstream: {note}{ops_note})")
        return listeners

    reload_into: list = []
    await server.run_until_signal(start_all, lambda: reloader(reload_into[0], load)())


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


def _check_config(path: str) -> int:
    """Validate a config file (with the environment on top) and print the effective settings."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        print(f"capsule-proxy: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"# {path}: valid. Effective settings (secrets masked), with where each came from:")
        for section, keys in settings.masked().items():
            print(f"\n[{section}]")
            for key, value in keys.items():
                source = settings.sources.get(f"{section}.{key}", "default")
                shown = value if value == "***" else _toml_value(value)
                print(f"{key} = {shown}  # {source}")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head -1`). Output still buffered would fail again when Python
        # flushes at exit, so stdout now points at /dev/null; the file was valid all the same.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return _check_config(args.file)
    if args.command in migrate_commands.COMMANDS:
        return migrate_commands.run(args)

    # A partial, not a closure: worker processes receive it pickled, to reload on SIGHUP.
    load = functools.partial(load_settings, args.config, None, _flags(args))
    try:
        settings = load()
    except ConfigError as exc:
        print(f"capsule-proxy: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.get("log", "level"), settings.get("log", "format"))
    try:
        if args.command == "serve":
            embedded = settings.get("upstream", "url") == "embedded"
            seed = load_seed(settings.get("emulator", "seed")) if embedded else None
            if settings.get("server", "workers") > 1:
                return asyncio.run(_serve_workers(settings, seed, load))
            asyncio.run(_serve(settings, seed, load))
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
