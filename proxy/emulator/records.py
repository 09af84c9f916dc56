"""What every v2 route shares: ids in the path (one, or a batch of up to 10), `embed`, `since`,
paged answers with Link headers, 201 answers with Location, and running work on the store."""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from aiohttp import web

from .errors import V2Error, json_response, not_found
from .keys import STORE
from .paging import MAX_PER_PAGE, link_header, page_from
from .task_model import parse_timestamp

MAX_BATCH = 10
# Route segments: numeric ids only, so /parties/search and /parties/tags are other routes.
ID = "{id:[0-9]+}"
IDS = "{ids:[0-9][0-9,]*}"
_IDS = re.compile(r"^[1-9]\d{0,17}(,[1-9]\d{0,17})*\Z", re.ASCII)
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?)?\Z", re.ASCII)


async def run(request: web.Request, fn: Callable[..., Any], *args: Any) -> Any:
    return await request.app[STORE].run(fn, *args)


def batch_ids(request: web.Request, resource: str) -> list[int]:
    """`{ids}`: one id or up to 10 comma-separated ids, each shown once, in the order asked."""
    raw = request.match_info["ids"]
    if not _IDS.match(raw):
        raise not_found(resource, raw)
    ids = list(dict.fromkeys(int(part) for part in raw.split(",")))
    if len(ids) > MAX_BATCH:
        raise V2Error(400, f"at most {MAX_BATCH} {resource} ids can be fetched at once, got {len(ids)}")
    return ids


def single_id(request: web.Request, resource: str, key: str = "ids") -> int:
    raw = request.match_info[key]
    if "," in raw or not _IDS.match(raw):
        raise not_found(resource, raw)
    return int(raw)


def comma_list(request: web.Request, name: str) -> list[str]:
    return [item.strip() for item in request.query.get(name, "").split(",") if item.strip()]


def embeds(request: web.Request, allowed: Iterable[str]) -> frozenset[str]:
    """The `embed` values asked for; one the resource does not know is a 400."""
    allowed = set(allowed)
    asked = comma_list(request, "embed")
    unknown = [value for value in asked if value not in allowed]
    if unknown:
        raise V2Error(400, f"embed: unsupported value {unknown[0]!r}; supported: {', '.join(sorted(allowed))}")
    return frozenset(asked)


def since(request: web.Request, required: bool = False) -> str | None:
    """`since` as `YYYY-MM-DDTHH:MM:SSZ`; a time without an offset, or a bare date, is UTC."""
    raw = request.query.get("since")
    if raw is None or not raw.strip():
        if required:
            raise V2Error(400, "since is required: an ISO-8601 date-time such as 2026-01-02T15:04:05Z")
        return None
    text = raw.strip().replace(" ", "+")  # an unencoded '+' in a query string reads as a space
    if _LOCAL.match(text):
        text = text + "Z" if "T" in text else text + "T00:00:00Z"
    stamp = parse_timestamp(text)
    if stamp is None:
        raise V2Error(400, f"since must be an ISO-8601 date-time such as 2026-01-02T15:04:05Z, got {raw!r}")
    return stamp


async def paged(request: web.Request, key: str, fetch: Callable[..., list[Any]], *args: Any,
                max_per_page: int = MAX_PER_PAGE, extra: dict[str, Any] | None = None) -> web.Response:
    """One page of fetch(conn, *args, limit, offset), with Link headers to its neighbours."""
    page = page_from(request, max_per_page)
    # One extra row tells whether a next page exists without a COUNT query.
    items = await run(request, fetch, *args, page.size + 1, page.offset)
    return json_response({key: items[:page.size], **(extra or {})},
                         headers=link_header(request, page, len(items) > page.size))


def created(request: web.Request, key: str, record: dict[str, Any], path: str) -> web.Response:
    location = request.url.with_path(f"{path}/{record['id']}").with_query(None)
    return json_response({key: record}, status=201, headers={"Location": str(location)})


def no_content() -> web.Response:
    return web.Response(status=204)
