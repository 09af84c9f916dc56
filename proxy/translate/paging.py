"""v1 `start`/`limit` windows over v2 `page`/`perPage` pages.

v1 lists take any 0-based `start` and a `limit` with no documented maximum; v2 serves 1-based
pages of at most 100. An unfiltered list fetches only the pages that cover
`[start, start + limit)` (`pages_for_window`) and cuts the window out of them
(a `Window` fed page by page). A filtered list (`category=`, `user=`, or
a per-parent list) cannot know where its matches sit, so it scans from page 1 and feeds only
the matches to a `Window`, stopping as soon as the window is full.

Decisions: `start` defaults to 0 and `limit` to "all"; an empty value counts as absent
(clients often send `?start=&limit=`); anything but a plain non-negative decimal number is
an InvalidField naming the parameter; `limit=0` is an empty window that needs no page.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from .errors import InvalidField

PER_PAGE = 100  # v2's maximum: the fewest upstream requests per v1 list


def _count(name: str, raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    # isascii: str.isdigit() also accepts other scripts' digits and superscripts.
    if not (text.isascii() and text.isdigit()):
        raise InvalidField(name, f"{name} must be a whole number of 0 or more, got {raw!r}")
    try:
        return int(text)
    except ValueError:  # more digits than int() accepts from a string
        raise InvalidField(name, f"{name} is too large: {raw[:20]!r}...") from None


def parse_start(raw: str | None) -> int:
    """v1 `start`: 0-based index of the first task; default 0."""
    start = _count("start", raw)
    return 0 if start is None else start


def parse_limit(raw: str | None) -> int | None:
    """v1 `limit`: the most tasks to return; None (the default) means all."""
    return _count("limit", raw)


def pages_for_window(start: int, limit: int | None, per_page: int = PER_PAGE) -> range:
    """The fewest 1-based v2 pages of `per_page` that cover `[start, start + limit)`.

    limit None -> open-ended: from the first covering page on, with a stop so far away that it
    never matters; iterate and stop at a short page or a missing `rel="next"` link.
    """
    first = start // per_page + 1
    if limit is None:
        return range(first, first + sys.maxsize)
    if limit == 0:
        return range(0)
    return range(first, (start + limit - 1) // per_page + 2)


class Window:
    """Collects the items `[start, start + limit)` of a sequence that arrives in pieces.

    `skipped` is how many items of the sequence come before the first piece fed: for an
    unfiltered list that starts at page p, `(p - 1) * per_page` (see `for_pages`); for a
    filtered scan from page 1, 0 (feed only the matches).
    """

    def __init__(self, start: int, limit: int | None, skipped: int = 0) -> None:
        self.start, self.limit = start, limit
        self.seen = skipped  # how many items of the sequence have gone past so far
        self.items: list[Any] = []

    @classmethod
    def for_pages(cls, start: int, limit: int | None, per_page: int = PER_PAGE) -> Window:
        """A window to feed the pages of `pages_for_window(start, limit, per_page)`, in order."""
        pages = pages_for_window(start, limit, per_page)
        return cls(start, limit, skipped=(pages.start - 1) * per_page if pages else 0)

    @property
    def full(self) -> bool:
        """True once `limit` items are collected; never for an open-ended window."""
        return self.limit is not None and len(self.items) >= self.limit

    def feed(self, items: Iterable[Any]) -> bool:
        """Take the next items of the sequence; returns `full`, so the caller knows to stop."""
        for item in items:
            if self.full:
                break
            if self.seen >= self.start:
                self.items.append(item)
            self.seen += 1
        return self.full
