"""Capsule's rate limit: a number of requests per user per clock hour.

Windows are aligned to the hour, so `X-RateLimit-Reset` (UTC epoch seconds) is the start of the
next hour. Counts live in memory and start again when the emulator restarts.
"""

from __future__ import annotations

import time
from typing import Callable

WINDOW = 3600


class RateLimiter:
    def __init__(self, limit: int, clock: Callable[[], float] = time.time):
        self.limit = limit
        self._clock = clock
        self._counts: dict[int, tuple[int, int]] = {}  # user id -> (window start, requests)

    def hit(self, user_id: int) -> tuple[bool, dict[str, str]]:
        """Count one request; returns whether it is allowed and the headers to send."""
        window = int(self._clock()) // WINDOW * WINDOW
        start, used = self._counts.get(user_id, (window, 0))
        if start != window:
            used = 0
        allowed = used < self.limit
        if allowed:
            used += 1
        self._counts[user_id] = (window, used)
        return allowed, {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - used, 0)),
            "X-RateLimit-Reset": str(window + WINDOW),
        }
