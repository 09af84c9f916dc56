"""v2 paging: `page` (from 1) and `perPage` (1-100, default 50), with RFC 5988 Link headers."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .errors import V2Error

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
MAX_OFFSET = 2**63 - 1  # SQLite's largest integer; any page past it is empty anyway


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return min((self.number - 1) * self.size, MAX_OFFSET)


def _positive_int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not raw.isascii():
        raise V2Error(400, f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def page_from(request: web.Request, max_per_page: int = MAX_PER_PAGE) -> Page:
    """The page asked for; entry lists allow at most 50 a page, the others 100."""
    number = _positive_int(request, "page", 1)
    if number < 1:
        raise V2Error(400, f"page must be 1 or more, got {number}")
    size = _positive_int(request, "perPage", min(DEFAULT_PER_PAGE, max_per_page))
    if not 1 <= size <= max_per_page:
        raise V2Error(400, f"perPage must be between 1 and {max_per_page}, got {size}")
    return Page(number, size)


def link_header(request: web.Request, page: Page, has_next: bool) -> dict[str, str]:
    """Absolute next/prev links that keep the request's other query parameters."""
    links = []
    base = request.url  # absolute: aiohttp builds it from the scheme and the Host header
    if page.number > 1:
        links.append(f'<{base.update_query(page=page.number - 1)}>; rel="prev"')
    if has_next:
        links.append(f'<{base.update_query(page=page.number + 1)}>; rel="next"')
    return {"Link": ", ".join(links)} if links else {}
