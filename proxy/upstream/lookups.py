"""Cached look-ups the translation needs, per upstream token: the caller's time zone,
usernames → user ids, and category names → ids.

Each is cached with a TTL. A name that is missing from a cached map is looked up again once
(users can be renamed and categories added) before the request is refused.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..translate import users
from .cache import TtlCache
from .client import Upstream, UpstreamUnavailable


class Lookups:
    def __init__(self, upstream: Upstream, *, users_ttl: float, categories_ttl: float,
                 timezone_ttl: float, timezone_override: str = ""):
        self._upstream = upstream
        self.zone_override = ZoneInfo(timezone_override) if timezone_override else None
        self.current_users: TtlCache[dict[str, Any]] = TtlCache(timezone_ttl)
        self.users: TtlCache[list[dict[str, Any]]] = TtlCache(users_ttl)
        self.categories: TtlCache[list[dict[str, Any]]] = TtlCache(categories_ttl)

    async def zone(self, token: str) -> ZoneInfo:
        """The zone that dueTime is read and written in: the calling user's, or the override."""
        if self.zone_override is not None:
            return self.zone_override
        user = self.current_users.fresh(token) or await self.current_user(token)
        name = user.get("timezone")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise UpstreamUnavailable(f"the upstream gave the current user an unknown time zone {name!r}") from None

    async def current_user(self, token: str) -> dict[str, Any]:
        """The user behind the token (GET /api/v2/users/current), cached."""
        async def load() -> dict[str, Any]:
            answer = await self._upstream.call("GET", "/api/v2/users/current", token)
            user = answer.data.get("user") if isinstance(answer.data, dict) else None
            if not isinstance(user, dict):
                raise UpstreamUnavailable("the upstream answer to GET /api/v2/users/current has no user")
            return user
        return await self.current_users.get(token, load)

    async def user_list(self, token: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        async def load() -> list[dict[str, Any]]:
            answer = await self._upstream.call("GET", "/api/v2/users", token)
            users = answer.data.get("users") if isinstance(answer.data, dict) else None
            if not isinstance(users, list):
                raise UpstreamUnavailable("the upstream answer to GET /api/v2/users has no 'users' list")
            return users
        return await self.users.get(token, load, refresh=refresh)

    async def category_list(self, token: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        return await self.categories.get(
            token, lambda: self._upstream.get_all("/api/v2/categories", token, "categories"),
            refresh=refresh)

    async def owner_ids(self, token: str, wanted: str, resolves: Resolves) -> dict[str, int]:
        """username -> id; looked up again once when `wanted` does not resolve."""
        return await _map_with_refresh(self.user_list, token, users.owner_ids, wanted, resolves)

    async def category_ids(self, token: str, wanted: str, resolves: Resolves) -> dict[str, int]:
        """category name -> id; looked up again once when `wanted` does not resolve."""
        return await _map_with_refresh(self.category_list, token, users.category_ids, wanted, resolves)


# How a name is matched is a translation rule; the caller passes it in (translate.lookup_id).
Resolves = Callable[[str, Mapping[str, int]], Any]


async def _map_with_refresh(fetch: Callable[..., Any], token: str,
                            as_map: Callable[[list[dict[str, Any]]], dict[str, int]], wanted: str,
                            resolves: Resolves) -> dict[str, int]:
    mapping = as_map(await fetch(token))
    if resolves(wanted, mapping) is None:
        mapping = as_map(await fetch(token, refresh=True))
    return mapping
