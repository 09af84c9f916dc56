"""Cached look-ups: the v2 lists translation reads names in (users, categories, milestones, ...),
kept per upstream token with a TTL (decision P3).

Which v2 path each look-up reads is declared in `proxy/resources/lookups.py` and handed in;
how a name matches is the translation's rule. This module only fetches and caches: a list is
read once for all concurrent callers, and `refresh=True` reads it again (a name that was not in
a cached list gets one fresh read before the request is refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .cache import TtlCache
from .client import Upstream, UpstreamUnavailable


class Source(Protocol):
    path: str
    key: str
    ttl: str
    paged: bool
    single: bool


class Lookups:
    def __init__(self, upstream: Upstream, sources: Mapping[str, Source], ttls: Mapping[str, float], *,
                 page_size: int, max_pages: int):
        self._upstream = upstream
        self._sources = dict(sources)
        self._page_size = page_size
        self._max_pages = max_pages
        self.caches: dict[str, TtlCache[Any]] = {name: TtlCache(ttls[source.ttl])
                                                  for name, source in self._sources.items()}

    def configure(self, ttls: Mapping[str, float]) -> None:
        """New TTLs (SIGHUP); cached values keep the expiry they were given."""
        for name, source in self._sources.items():
            self.caches[name].ttl = ttls[source.ttl]

    async def get(self, name: str, token: str, *, refresh: bool = False) -> Any:
        """The look-up's value for this token: a list of v2 objects, or one object (`caller`)."""
        source = self._sources[name]
        return await self.caches[name].get(token, lambda: self._load(source, token), refresh=refresh)

    async def _load(self, source: Source, token: str) -> Any:
        if source.single:
            answer = await self._upstream.call("GET", source.path, token)
            return answer.item(source.key, f"GET {source.path}")
        items: list[Any] = []
        for page in range(1, self._max_pages + 1):
            params = {"page": str(page), "perPage": str(self._page_size)} if source.paged else None
            answer = await self._upstream.call("GET", source.path, token, params=params)
            items.extend(answer.items(source.key, f"GET {source.path}"))
            if not (source.paged and answer.has_next_page):
                return items
        raise UpstreamUnavailable(f"GET {source.path} has more than {self._max_pages} pages; the proxy "
                                  "reads no more ([upstream] max_pages)", transient=False)
