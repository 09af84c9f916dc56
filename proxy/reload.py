"""SIGHUP: re-read the settings and apply what can change without dropping a connection.

Safe live: log level and format, look-up TTLs, the static token and the allow-list, the
translation options and the rate-limit wait. Everything else (ports, upstream, pool sizes,
timeouts, ...) needs a restart; those keys are named in the log and keep their old values.
"""

from __future__ import annotations

import logging
from typing import Callable

from .config import ConfigError, Settings, cache_ttls
from .logs import setup_logging
from .services import Services

log = logging.getLogger("capsule_proxy")

RELOADABLE = frozenset({
    "log.level", "log.format", "cache.users_ttl", "cache.categories_ttl", "cache.timezone_ttl",
    "cache.reference_ttl",
    "auth.static_token", "auth.allowed_clients", "translate.timezone", "translate.json_always_list",
    "upstream.rate_limit_wait",
})


def changed_keys(old: Settings, new: Settings) -> list[str]:
    return [f"{section}.{key}" for section, keys in new.values.items()
            for key, value in keys.items() if old.values[section][key] != value]


def apply(services: Services, new: Settings) -> tuple[list[str], list[str]]:
    """Apply the reloadable changes; returns (applied keys, keys that need a restart)."""
    old = services.settings
    changed = changed_keys(old, new)
    applied = [key for key in changed if key in RELOADABLE]
    restart = [key for key in changed if key not in RELOADABLE]
    if not applied:
        return applied, restart
    values = {section: dict(keys) for section, keys in old.values.items()}
    for dotted in applied:
        section, key = dotted.split(".")
        values[section][key] = new.values[section][key]
    merged = Settings(values, {**old.sources, **{k: new.sources.get(k, "default") for k in applied}})
    get = merged.get
    if new.get("auth", "mode") == old.get("auth", "mode"):
        services.auth.update(get("auth", "static_token"), get("auth", "allowed_clients"))
    services.lookups.configure(cache_ttls(merged))
    services.upstream.rate_limit_wait = get("upstream", "rate_limit_wait")
    setup_logging(get("log", "level"), get("log", "format"))
    services.settings = merged
    return applied, restart


def reloader(services: Services, load: Callable[[], Settings]) -> Callable[[], None]:
    """The SIGHUP handler: load the settings again and apply them, logging what happened."""
    def reload() -> None:
        try:
            new = load()
        except ConfigError as exc:
            log.error("SIGHUP: the new configuration is not valid, keeping the old one: %s", exc)
            return
        applied, restart = apply(services, new)
        if applied:
            log.info("SIGHUP: applied %s", ", ".join(applied))
        if restart:
            log.warning("SIGHUP: these settings changed but need a restart: %s", ", ".join(restart))
        if not applied and not restart:
            log.info("SIGHUP: the configuration is unchanged")
    return reload
