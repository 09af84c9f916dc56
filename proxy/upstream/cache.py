"""A small TTL cache with single flight: concurrent misses for one key make one upstream call."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000):
        self.ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._values: dict[Hashable, tuple[float, V]] = {}
        self._loading: dict[Hashable, asyncio.Future[V]] = {}
        self.hits = 0
        self.misses = 0

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]], *, refresh: bool = False) -> V:
        """The cached value, or load() once for all concurrent callers when missing or stale."""
        if not refresh:
            entry = self._values.get(key)
            if entry is not None and entry[0] > self._clock():
                self.hits += 1
                return entry[1]
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        self.misses += 1
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # marks it retrieved when no one else was waiting
            raise
        else:
            future.set_result(value)
            if len(self._values) >= self._max_entries:
                self._values.pop(next(iter(self._values)))  # bounded memory: drop the oldest
            self._values[key] = (self._clock() + self.ttl, value)
            return value
        finally:
            del self._loading[key]
