"""Typed keys for what the emulator keeps on its app and requests."""

from typing import Any, Callable

from aiohttp import web

from .ratelimit import RateLimiter
from .seed import Seed
from .store import Store

SEED = web.AppKey("seed", Seed)
DB_PATH = web.AppKey("db_path", str)
STORE = web.AppKey("store", Store)
USERS_BY_TOKEN = web.AppKey("users_by_token", dict[str, dict[str, Any]])
LIMITER = web.AppKey("limiter", RateLimiter)
CLOCK = web.AppKey("clock", Callable[[], float])

USER = web.RequestKey("capsule_user", dict[str, Any])  # the user behind the bearer token
