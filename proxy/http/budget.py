"""How many v1 list records the lists being answered may hold at once, in one worker.

A list is answered whole (its `size` attribute comes first, so it cannot be streamed), and 2,000
parties cost about 8 MB while they are translated and rendered: fifty such requests at once would
take a 192 MiB container past its limit. Each list therefore reserves its window, at most
`[server] max_list_items` records, before its first page, and gives it back when its answer is
made. Reservations are served first come, first served: a whole-account read (no `limit`) that
reserves the lot does not wait behind a stream of small windows, and nobody ever holds part of
the budget while waiting for more, so there is no deadlock. The wait is bounded by
`[server] request_timeout`, as the rest of the request is.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ListBudget:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.held = 0
        self._queue: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @asynccontextmanager
    async def reserve(self, records: int) -> AsyncIterator[None]:
        amount = max(1, min(records, self.capacity))
        if self._queue or self.held + amount > self.capacity:
            ticket = asyncio.get_running_loop().create_future()
            self._queue.append((amount, ticket))
            try:
                await ticket
            except BaseException:
                if ticket.done() and not ticket.cancelled():
                    self._release(amount)         # granted as it was cancelled: hand it on
                else:
                    if (amount, ticket) in self._queue:
                        self._queue.remove((amount, ticket))
                    self._grant()                 # it may have been blocking the queue
                raise
        else:
            self.held += amount
        try:
            yield
        finally:
            self._release(amount)

    def _release(self, amount: int) -> None:
        self.held -= amount
        self._grant()

    def _grant(self) -> None:
        while self._queue and self.held + self._queue[0][0] <= self.capacity:
            amount, ticket = self._queue.popleft()
            if ticket.cancelled():               # its request gave up (timeout, client gone)
                continue
            self.held += amount
            ticket.set_result(None)
