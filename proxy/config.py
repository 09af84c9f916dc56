"""Settings: defaults < TOML file < CAPSULE_PROXY_<SECTION>_<KEY> environment < command-line flags.

Every setting is declared once, in SECTIONS below, with its type, default and a one-line help
text; the loader, `check-config`, the example config and the tests all read that table.
Errors name the key (`server.port`) and the source it came from, never a bare traceback.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

ENV_PREFIX = "CAPSULE_PROXY_"
ENV_CONFIG_FILE = ENV_PREFIX + "CONFIG"


class ConfigError(Exception):
    """A setting is unknown or has a bad value; the message names it."""


@dataclass(frozen=True)
class Setting:
    default: Any
    kind: Callable[[Any, str], Any]
    help: str
    secret: bool = False


# --- value checkers: take (raw value, key) and return the clean value or raise ConfigError ---

def _int_in(lo: int, hi: int) -> Callable[[Any, str], int]:
    def check(value: Any, key: str) -> int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, str):
            try:
                value = int(value.strip(), 10)
            except ValueError:
                raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
        if not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if not lo <= value <= hi:
            raise ConfigError(f"{key}: must be between {lo} and {hi}, got {value}")
        return value
    return check


def _positive_float(value: Any, key: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a number of seconds, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a number of seconds, got {value!r}") from None
    if not number >= 0:
        raise ConfigError(f"{key}: must not be negative, got {value!r}")
    return number


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _choice(*choices: str) -> Callable[[Any, str], str]:
    def check(value: Any, key: str) -> str:
        text = _text(value, key).strip().lower()
        if text not in choices:
            raise ConfigError(f"{key}: must be one of {', '.join(choices)}; got {value!r}")
        return text
    return check


def _upstream_url(value: Any, key: str) -> str:
    text = _text(value, key).strip()
    if text == "embedded":
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key}: must be 'embedded' or an http(s) URL such as "
                          f"https://api.capsulecrm.com; got {value!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"{key}: must not carry a query or fragment; got {value!r}")
    # The proxy appends /api/v2/...; a trailing slash would double it.
    return text.rstrip("/")


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.strip().lower() in ("true", "1", "yes", "on")
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _text_list(value: Any, key: str) -> tuple[str, ...]:
    """A TOML array of strings, or a comma-separated string (how environment variables say it)."""
    if isinstance(value, str):
        value = [item for item in value.split(",")]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{key}: expected a list of strings")
    return tuple(item.strip() for item in value if item.strip())


def _public_url(value: Any, key: str) -> str:
    text = _text(value, key).strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{key}: must be empty or an http(s) URL such as https://capsule.example.com; "
                          f"got {value!r}")
    return text.rstrip("/")


def _timezone(value: Any, key: str) -> str:
    text = _text(value, key).strip()
    if text:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{key}: unknown IANA time zone {value!r}") from None
    return text


PORT = _int_in(0, 65535)

SECTIONS: dict[str, dict[str, Setting]] = {
    "server": {
        "host": Setting("127.0.0.1", _text, "address the proxy listens on"),
        "port": Setting(8080, PORT, "port the proxy listens on"),
        "workers": Setting(1, _int_in(1, 64), "proxy processes sharing the port (SO_REUSEPORT)"),
        "shutdown_timeout": Setting(10.0, _positive_float,
                                    "seconds in-flight requests get to finish on SIGTERM/SIGINT"),
        "public_url": Setting("", _public_url,
                              "base URL clients reach the proxy at, used in Location headers; "
                              "empty: the request's own scheme and host"),
        "trust_forwarded": Setting(False, _flag,
                                   "honour X-Forwarded-Proto/-Host (only behind a trusted reverse proxy)"),
        "max_body": Setting(1024 * 1024, _int_in(1024, 64 * 1024 * 1024),
                            "largest request body in bytes; larger ones get 413"),
        "keepalive_timeout": Setting(15.0, _positive_float,
                                     "seconds an idle client connection stays open; also the longest "
                                     "a client may take to send a request head"),
        "body_timeout": Setting(30.0, _positive_float,
                                "seconds a request body may take to arrive; slower ones get 408"),
        "request_timeout": Setting(120.0, _positive_float,
                                   "seconds one v1 request may take in all, upstream calls and paging "
                                   "included; longer ones get 504 (0: no limit)"),
        "max_list_items": Setting(6_000, _int_in(100, 10_000_000),
                                  "most v1 list records all lists being answered may hold at once (per "
                                  "worker); each list reserves its window (limit, or max_pages of records "
                                  "without one) and waits its turn beyond it"),
    },
    "upstream": {
        "url": Setting("embedded", _upstream_url,
                       "base of the Capsule v2 API (the proxy appends /api/v2/...), or 'embedded'"),
        "connect_timeout": Setting(5.0, _positive_float, "seconds to open a connection (0: no limit)"),
        "read_timeout": Setting(30.0, _positive_float, "seconds to wait for each read (0: no limit)"),
        "total_timeout": Setting(60.0, _positive_float, "seconds for a whole upstream call (0: no limit)"),
        "pool_size": Setting(100, _int_in(1, 10_000),
                             "most upstream calls (and connections) at once; more wait in a queue"),
        "queue_timeout": Setting(5.0, _positive_float,
                                 "seconds a request waits for a free upstream slot before a 503"),
        "max_queue": Setting(1000, _int_in(0, 1_000_000),
                             "most requests waiting for a slot; beyond it, an immediate 503"),
        "retries": Setting(3, _int_in(1, 10),
                           "attempts for a call that may be retried (GET/PUT/DELETE; POST only "
                           "when nothing was sent), within total_timeout"),
        "backoff_base": Setting(0.1, _positive_float, "seconds: the first retry waits up to this"),
        "backoff_max": Setting(2.0, _positive_float, "seconds: no retry waits longer"),
        "breaker_threshold": Setting(5, _int_in(0, 1000),
                                     "consecutive upstream failures that open the circuit (0: never)"),
        "breaker_cooldown": Setting(10.0, _positive_float,
                                    "seconds the open circuit answers 503 before one probe"),
        "rate_limit_wait": Setting(0.0, _positive_float,
                                   "seconds an idempotent request may wait for Capsule's rate limit "
                                   "to reset (0: answer 429 at once)"),
        "max_pages": Setting(200, _int_in(1, 100_000),
                             "most v2 pages one v1 request reads (a list, or a look-up); a longer list "
                             "gets 502 asking for start and limit"),
    },
    "auth": {
        "mode": Setting("passthrough", _choice("passthrough", "static"),
                        "passthrough: the client's v1 token is sent upstream as a bearer token; "
                        "static: the proxy sends static_token for clients in allowed_clients"),
        "static_token": Setting("", _text, "the v2 token sent upstream in static mode", secret=True),
        "allowed_clients": Setting((), _text_list,
                                   "v1 tokens accepted in static mode (comma-separated in the environment)",
                                   secret=True),
    },
    "translate": {
        "timezone": Setting("", _timezone,
                            "IANA zone for dueTime; empty: the zone of the user whose token made the request"),
        "json_always_list": Setting(False, _flag,
                                    "v1 JSON lists always as arrays; false: one element as a bare object, as v1 did"),
    },
    "cache": {
        "users_ttl": Setting(300.0, _positive_float, "seconds the username → id look-up is kept"),
        "categories_ttl": Setting(300.0, _positive_float, "seconds the category name → id look-up is kept"),
        "timezone_ttl": Setting(3600.0, _positive_float, "seconds a token's own user (GET /users/current) is kept"),
        "reference_ttl": Setting(300.0, _positive_float,
                                 "seconds other look-ups are kept: milestones, custom field definitions, "
                                 "countries, currencies"),
    },
    "emulator": {
        "host": Setting("127.0.0.1", _text, "address the standalone emulator listens on"),
        "port": Setting(9090, PORT, "port the standalone emulator listens on"),
        "embedded_port": Setting(0, PORT,
                                 "loopback port of the emulator embedded in `serve` (0: any free port)"),
        "seed": Setting("", _text, "seed TOML file; empty: the demo seed shipped in the package"),
        "db": Setting("", _text, "SQLite file that keeps emulator data across restarts; empty: in memory"),
    },
    "usage": {
        "file": Setting("", _text, "JSON file that keeps the usage inventory (calls per v1 route, status "
                                   "and client) across restarts, shared by --workers; empty: in memory only"),
        "salt": Setting("", _text, "salt for the clients' token hashes in the usage inventory; empty: "
                                   "made once and kept in [usage] file", secret=True),
        "max_clients": Setting(200, _int_in(1, 100_000),
                               "distinct clients the usage inventory and its metric tell apart; a client "
                               "joins after its first successful call while there is room, the rest count "
                               "as \"(other clients)\""),
    },
    "ops": {
        "host": Setting("127.0.0.1", _text,
                        "address of the separate operations listener (use 0.0.0.0 in a pod)"),
        "port": Setting(0, PORT, "port for /healthz, /readyz, /metrics and /_proxy/usage on their own listener; "
                                 "0: serve them on the main port"),
    },
    "log": {
        "level": Setting("info", _choice("debug", "info", "warning", "error"), "log level"),
        "format": Setting("auto", _choice("auto", "json", "text"),
                          "json: one JSON line per event; text: human-readable; "
                          "auto: text on a terminal, JSON otherwise"),
    },
}


@dataclass(frozen=True)
class Settings:
    """The effective settings, as nested plain dicts: settings.get("server", "port")."""

    values: dict[str, dict[str, Any]]
    sources: dict[str, str] = field(default_factory=dict)  # "server.port" -> "file"/"env"/"flag"

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def masked(self) -> dict[str, dict[str, Any]]:
        """The values with secrets replaced, for printing and logging."""
        return {
            section: {
                key: ("***" if SECTIONS[section][key].secret and value else value)
                for key, value in keys.items()
            }
            for section, keys in self.values.items()
        }


def _check_file_type(setting: Setting, value: Any, key: str) -> None:
    """TOML has numbers, so a quoted one in the file (`port = "8080"`) is a mistake, named here.
    Environment variables and flags are always text, and the checkers convert them."""
    default = setting.default
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if isinstance(default, int) else "a number"
        raise ConfigError(f"{key}: expected {kind}, written without quotes; got {value!r}")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None


def _from_env(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """CAPSULE_PROXY_SERVER_PORT=8081 -> {"server": {"port": "8081"}}.

    Variables whose section is not ours are ignored, not rejected: Kubernetes injects
    CAPSULE_PROXY_PORT / CAPSULE_PROXY_SERVICE_HOST for a Service named capsule-proxy.
    An unknown key inside one of our sections is a typo and is rejected.
    """
    found: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_FILE:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("_")
        if section not in SECTIONS:
            continue
        if key not in SECTIONS[section]:
            raise ConfigError(f"environment variable {name}: unknown setting {section}.{key}")
        found.setdefault(section, {})[key] = value
    return found


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Merge the three layers over the defaults and validate every value."""
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get(ENV_CONFIG_FILE):
        config_file = environ[ENV_CONFIG_FILE]
    layers: list[tuple[str, Mapping[str, Any]]] = []
    file_origin = f"file {config_file}"
    if config_file:
        layers.append((file_origin, _read_file(Path(config_file))))
    layers.append(("environment", _from_env(environ)))
    layers.append(("command line", flags or {}))

    values = {section: {key: s.default for key, s in keys.items()} for section, keys in SECTIONS.items()}
    sources: dict[str, str] = {}
    for origin, layer in layers:
        for section, keys in layer.items():
            if section not in SECTIONS:
                raise ConfigError(f"{origin}: unknown section [{section}]; "
                                  f"known sections: {', '.join(SECTIONS)}")
            if not isinstance(keys, Mapping):
                raise ConfigError(f"{origin}: [{section}] must be a table, got {keys!r}")
            for key, raw in keys.items():
                if raw is None:
                    continue  # a flag that was not given
                dotted = f"{section}.{key}"
                setting = SECTIONS[section].get(key)
                if setting is None:
                    known = ", ".join(SECTIONS[section])
                    raise ConfigError(f"{origin}: unknown key {dotted}; keys of [{section}]: {known}")
                try:
                    if origin == file_origin:
                        _check_file_type(setting, raw, dotted)
                    values[section][key] = setting.kind(raw, dotted)
                except ConfigError as exc:
                    raise ConfigError(f"{origin}: {exc}") from None
                sources[dotted] = origin
    _check_together(values)
    return Settings(values, sources)


def _check_together(values: dict[str, dict[str, Any]]) -> None:
    """Rules that tie several keys together."""
    auth = values["auth"]
    if auth["mode"] == "static":
        if not auth["static_token"]:
            raise ConfigError("auth.static_token: required when auth.mode is 'static'")
        if not auth["allowed_clients"]:
            raise ConfigError("auth.allowed_clients: required when auth.mode is 'static' "
                              "(the v1 tokens the proxy accepts)")


def cache_ttls(settings: Settings) -> dict[str, float]:
    """The look-up caches' lifetimes: every `[cache] *_ttl` key (the look-up table names them)."""
    return {key: settings.get("cache", key) for key in SECTIONS["cache"] if key.endswith("_ttl")}
