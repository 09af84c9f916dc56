"""Reading a v1 list window from v2 pages with the fewest upstream calls (decision P7).

Without a local filter, only the pages that cover `[start, start + limit)` are read. With one
(a per-parent task list, `user=`, `category=`), pages are read from the first until
`start + limit` matches are found. Each page is translated as it arrives and its v2 objects
dropped, so a request holds v1 records only. Bounds, whatever the client asks: at most
`[upstream] max_pages` pages (an upstream that always says `rel="next"` cannot hold the proxy),
a `start` past them is refused before any call, the scan stops when the client goes away, and
the whole request is bounded by `[server] request_timeout` (middleware). A failure on any page
fails the whole list: a partial list is never answered as if it were complete.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..resources.base import ListPlan
from ..translate.errors import InvalidField
from ..translate.paging import Window, pages_for_window
from ..upstream.client import Upstream
from .errors import V1Error

Translate = Callable[[list[dict[str, Any]]], Awaitable[list[Any]]]


def check_start(start: int, plan: ListPlan, max_pages: int) -> None:
    """A window that starts past what the proxy would ever read is refused before any call."""
    if start >= max_pages * plan.page_size:
        raise InvalidField("start", f"start must be below {max_pages * plan.page_size}: the proxy reads at "
                                    f"most {max_pages} pages of {plan.page_size} ([upstream] max_pages)")


async def scan(upstream: Upstream, token: str, plan: ListPlan, start: int, limit: int | None, *,
               translate: Translate, max_pages: int, client_gone: Callable[[], bool],
               on_page: Callable[[], None]) -> list[Any]:
    """The v1 records of the window, translated page by page."""
    if limit == 0:
        return []
    check_start(start, plan, max_pages)
    if plan.keep is None:
        pages = pages_for_window(start, limit, plan.page_size)
        window, page, last = Window.for_pages(start, limit, plan.page_size), pages.start, pages[-1]
    else:
        window, page, last = Window(start, limit), 1, None
    read = 0
    while True:
        if client_gone():
            raise V1Error(499, "the client closed the connection; the list was not finished")
        if read >= max_pages:
            raise V1Error(502, f"the list is longer than the {max_pages} pages of {plan.page_size} the proxy "
                               "reads for one request ([upstream] max_pages); ask for it in parts with "
                               "start and limit")
        params = {**plan.params, "page": str(page), "perPage": str(plan.page_size)}
        if plan.filter is None:
            answer = await upstream.call("GET", plan.path, token, params=params)
        else:
            answer = await upstream.call("POST", plan.path, token, params=params, json=plan.filter)
        read += 1
        on_page()
        items = answer.items(plan.key, plan.path)
        before = len(window.items)
        full = window.feed(items if plan.keep is None else [item for item in items if plan.keep(item)])
        window.items[before:] = await translate(window.items[before:])
        if full or not answer.has_next_page or (last is not None and page >= last):
            return window.items
        page += 1
