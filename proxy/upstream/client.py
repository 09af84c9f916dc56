"""The v2 client: one keep-alive ClientSession for the app's lifetime, bearer auth, timeouts.

Every answer is classified here, so the v1 layer sees only three outcomes: a parsed 2xx answer,
an `UpstreamError` (v2 answered with an error status), or `UpstreamUnavailable` /
`UpstreamTimeout` (no usable answer). The token is sent upstream and never logged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping

import aiohttp
import orjson
from multidict import CIMultiDictProxy

log = logging.getLogger("capsule_proxy.upstream")

MAX_ANSWER_BYTES = 16 * 1024 * 1024
PAGE_SIZE = 100  # v2's largest page: the fewest calls for a scan


class UpstreamUnavailable(Exception):
    """No usable answer: connection refused or reset, or a body that is not v2 JSON (→ 502)."""


class UpstreamTimeout(Exception):
    """The upstream did not answer within the configured time (→ 504)."""


@dataclass
class UpstreamError(Exception):
    """v2 answered with an error status; `message` and `errors` come from its JSON body."""

    status: int
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"upstream {self.status}: {self.message}"


@dataclass
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    data: Any

    @property
    def has_next_page(self) -> bool:
        # Page numbers are computed here, never taken from the Link URL: the link only says
        # whether another page exists.
        return 'rel="next"' in self.headers.get("Link", "")


class Upstream:
    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float,
                 total_timeout: float, pool_size: int):
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=total_timeout or None,
                                              sock_connect=connect_timeout or None,
                                              sock_read=read_timeout or None)
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, raise_for_status=False,
            headers={"Accept": "application/json", "User-Agent": "capsule-proxy"})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, path: str, token: str, *,
                   params: Mapping[str, str] | None = None, json: Any = None) -> Answer:
        """One v2 call. `path` starts with /api/v2/. Raises on any non-2xx answer."""
        assert self._session is not None, "upstream client is not started"
        headers = {"Authorization": f"Bearer {token}"}
        body = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        try:
            async with self._session.request(method, url, params=params, data=body,
                                             headers=headers) as response:
                raw = await _read_bounded(response, f"{method} {path}")
                return _classify(method, path, response.status, response.headers, raw)
        except asyncio.TimeoutError:
            raise UpstreamTimeout(f"the upstream did not answer {method} {path} in time") from None
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(f"cannot reach the upstream for {method} {path}: "
                                      f"{type(exc).__name__}") from None

    async def pages(self, path: str, token: str, key: str, params: Mapping[str, str] | None = None,
                    first_page: int = 1) -> AsyncIterator[tuple[int, list[Any], bool]]:
        """Yield (page number, items, has_next) for pages of PAGE_SIZE, from first_page on."""
        page = first_page
        while True:
            answer = await self.call("GET", path, token,
                                     params={**(params or {}), "page": str(page), "perPage": str(PAGE_SIZE)})
            items = _items(answer.data, key, path)
            yield page, items, answer.has_next_page
            if not answer.has_next_page:
                return
            page += 1

    async def get_all(self, path: str, token: str, key: str) -> list[Any]:
        """Every item of a paged collection; a failure on any page fails the whole list."""
        items: list[Any] = []
        async for _, page_items, _ in self.pages(path, token, key):
            items.extend(page_items)
        return items


async def _read_bounded(response: aiohttp.ClientResponse, what: str) -> bytes:
    """The whole body, refusing one over MAX_ANSWER_BYTES before it fills memory."""
    if (response.content_length or 0) > MAX_ANSWER_BYTES:
        raise UpstreamUnavailable(f"the upstream answer to {what} is too large")
    chunks, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise UpstreamUnavailable(f"the upstream answer to {what} is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _items(data: Any, key: str, path: str) -> list[Any]:
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise UpstreamUnavailable(f"the upstream answer to GET {path} has no {key!r} list")
    return items


def _classify(method: str, path: str, status: int, headers: CIMultiDictProxy[str], raw: bytes) -> Answer:
    data: Any = None
    if raw:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if status < 500:  # a 5xx page from a load balancer is expected to be HTML
                raise UpstreamUnavailable(f"the upstream answered {method} {path} with "
                                          f"{status} and a body that is not JSON") from None
    if 200 <= status < 300:
        return Answer(status, headers, data)
    body = data if isinstance(data, dict) else {}
    message = body.get("message") or body.get("error") or f"upstream answered {status}"
    errors = [e for e in body.get("errors", []) if isinstance(e, dict)] if isinstance(
        body.get("errors"), list) else []
    rate = {k: v for k, v in headers.items() if k.lower().startswith("x-ratelimit-")}
    raise UpstreamError(status, str(message), errors, rate)
