"""Fetching a v1 list window from v2 pages with the fewest upstream calls.

Unfiltered: only the 100-task pages that cover `[start, start + limit)` are fetched.
Filtered (category, user, or one parent): pages are scanned from the first, and the scan
stops as soon as `start + limit` matches are found. A failure on any page fails the whole
list: a partial list is never answered as if it were complete.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any, Callable

from ..translate.paging import Window, pages_for_window
from ..upstream.client import Upstream, UpstreamUnavailable

Keep = Callable[[dict[str, Any]], bool]


async def scan_tasks(upstream: Upstream, token: str, status: str, start: int, limit: int | None,
                     keep: Keep | None) -> list[dict[str, Any]]:
    if keep is None:
        pages = pages_for_window(start, limit)
        if not pages:
            return []
        window, first, last = Window.for_pages(start, limit), pages.start, pages[-1]
    else:
        if limit == 0:
            return []
        window, first, last = Window(start, limit), 1, None
    pager = upstream.pages("/api/v2/tasks", token, "tasks", {"status": status}, first_page=first)
    async with aclosing(pager):
        async for page, items, _ in pager:
            if not all(isinstance(item, dict) for item in items):
                raise UpstreamUnavailable("the upstream task list holds something that is not a task")
            if window.feed(items if keep is None else [task for task in items if keep(task)]):
                break
            if last is not None and page >= last:
                break
    return window.items
