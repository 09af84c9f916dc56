"""The v2 client: one keep-alive ClientSession for the app's lifetime, bearer auth, timeouts.

Every answer is classified here, so the v1 layer sees only four outcomes: a parsed 2xx answer,
an `UpstreamError` (v2 answered with an error status), `UpstreamUnavailable` /
`UpstreamTimeout` (no usable answer), or `UpstreamBusy` (the proxy will not call now). Retries,
the circuit breaker, back-pressure and rate-limit tracking (resilience.py) are applied here.
The token is sent upstream and never logged, and scrubbed from the error texts built from an
answer, in case the upstream echoes it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from ..observe import REQUEST_ID, TRACE, count_upstream_call
from .resilience import (IDEMPOTENT, RETRYABLE_STATUSES, CircuitBreaker, Gate, RateLimits,
                         RetryPolicy, account_key)

log = logging.getLogger("capsule_proxy.upstream")

MAX_ANSWER_BYTES = 16 * 1024 * 1024
MIN_SCRUBBED = 4  # tokens at least this long are scrubbed from texts built from upstream answers


class UpstreamUnavailable(Exception):
    """No usable answer: connection refused or reset, or a body that is not v2 JSON (→ 502).

    `maybe_created` is set when a create was sent and its fate is unknown.
    """

    def __init__(self, message: str, *, sent: bool = True, transient: bool = True,
                 maybe_created: bool = False):
        super().__init__(message)
        self.message = message
        self.sent = sent
        self.transient = transient  # a connection problem may pass; a broken answer will not
        self.maybe_created = maybe_created

    def __str__(self) -> str:
        return self.message


class UpstreamTimeout(UpstreamUnavailable):
    """The upstream did not answer within the configured time (→ 504)."""


@dataclass
class UpstreamError(Exception):
    """v2 answered with an error status; `message` and `errors` come from its JSON body."""

    status: int
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)
    maybe_created: bool = False

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

    def item(self, key: str, what: str = "") -> dict[str, Any]:
        """The object v2 answered under ``key``; a 502 (UpstreamUnavailable) when there is none.
        ``what`` names the call in the message (``GET /api/v2/users/current``)."""
        found = self.data.get(key) if isinstance(self.data, dict) else None
        if not isinstance(found, dict):
            raise UpstreamUnavailable(f"the upstream answer{_to(what)} has no {key!r} object", transient=False)
        return found

    def items(self, key: str, what: str = "") -> list[dict[str, Any]]:
        """The list of objects v2 answered under ``key``; a 502 when there is none."""
        found = self.data.get(key) if isinstance(self.data, dict) else None
        if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
            raise UpstreamUnavailable(f"the upstream answer{_to(what)} has no {key!r} list of objects",
                                      transient=False)
        return found


def _to(what: str) -> str:
    return f" to {what}" if what else ""


class Upstream:
    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float,
                 total_timeout: float, pool_size: int, retry: RetryPolicy | None = None,
                 breaker: CircuitBreaker | None = None, queue_timeout: float = 2.0,
                 max_queue: int = 1000, rate_limit_wait: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        self.base_url = base_url.rstrip("/")
        self._connect_timeout = connect_timeout or None
        self._read_timeout = read_timeout or None
        self._total_timeout = total_timeout or None
        # A first attempt has the whole budget: one shared timeout object saves work per call.
        self._full_timeout = aiohttp.ClientTimeout(total=self._total_timeout, sock_connect=self._connect_timeout,
                                                   sock_read=self._read_timeout)
        self._pool_size = pool_size
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(threshold=5, cooldown=10.0)
        self.gate = Gate(pool_size, queue_timeout, max_queue)
        self.rate_limits = RateLimits()
        self.rate_limit_wait = rate_limit_wait
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        # Hooks (set by the app): on_call(method, route, status, seconds), on_retry(method, route).
        self.on_call: Callable[[str, str, str, float], None] | None = None
        self.on_retry: Callable[[str, str], None] | None = None
        self.last_answer_at = float("-inf")  # monotonic time of the last HTTP answer below 500

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(
            connector=connector, raise_for_status=False,
            headers={"Accept": "application/json", "User-Agent": "capsule-proxy"})
        # aiohttp resends an idempotent request once, on its own, when the connection drops
        # (aio-libs/aiohttp#10790); only RetryPolicy may retry, so that `retries` is the number of
        # attempts Capsule sees and the retry metric counts them. No public switch exists; aiohttp's
        # own test client sets the same attribute. test_faults.py holds this.
        self._session._retry_connection = False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, path: str, token: str, *,
                   params: Mapping[str, str] | None = None, json: Any = None) -> Answer:
        """One v2 call, retried where that is safe. `path` starts with /api/v2/.

        Raises UpstreamError for an error status, UpstreamUnavailable/UpstreamTimeout when no
        usable answer came, and UpstreamBusy when the proxy will not call now.
        """
        headers = {"Authorization": f"Bearer {token}"}
        request_id = REQUEST_ID.get()
        if request_id is not None:
            headers["X-Request-Id"] = request_id
        trace = TRACE.get()
        if trace is not None:
            headers["traceparent"] = trace[0]
            if trace[1]:
                headers["tracestate"] = trace[1]
        body = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        deadline = self._clock() + (self._total_timeout or float("inf"))
        attempt = 0
        while True:
            attempt += 1
            if self.rate_limits.exhausted_for(token) > 0:
                await self._respect_rate_limit(method, token, deadline)
            try:
                answer = await self._attempt(method, path, params, headers, body, deadline, token)
            except (UpstreamUnavailable, UpstreamError) as failure:
                retryable = (failure.transient if isinstance(failure, UpstreamUnavailable)
                             else failure.status in RETRYABLE_STATUSES)
                if isinstance(failure, UpstreamError) and failure.status == 429:
                    self.rate_limits.update(token, failure.headers)
                    if self._may_wait_for_reset(method, token, deadline):
                        attempt -= 1  # waiting out the limit is not a failed attempt
                        continue
                    raise
                sent = getattr(failure, "sent", True)
                if (retryable and attempt < self.retry.attempts
                        and self.retry.may_retry(method, sent=sent)):
                    pause = self.retry.delay(attempt)
                    if self._clock() + pause < deadline:
                        log.info("retrying %s %s after %s (attempt %d)", method, route_of(path),
                                 type(failure).__name__, attempt)
                        if self.on_retry is not None:
                            self.on_retry(method, route_of(path))
                        await asyncio.sleep(pause)
                        continue
                if method == "POST" and sent and (isinstance(failure, UpstreamUnavailable)
                                                  or failure.status >= 500):
                    failure.maybe_created = True
                raise
            self.rate_limits.update(token, answer.headers)
            return answer

    async def _respect_rate_limit(self, method: str, token: str, deadline: float) -> None:
        """A token known to be out of requests waits for the reset when it may (an idempotent
        call, a short wait), and is otherwise refused here, without an upstream call."""
        wait = self.rate_limits.exhausted_for(token)
        if wait <= 0:
            return
        if not self._may_wait_for_reset(method, token, deadline):
            raise UpstreamError(429, "rate limit reached", headers=self.rate_limits.headers_for(token))
        await asyncio.sleep(wait)

    def _may_wait_for_reset(self, method: str, token: str, deadline: float) -> bool:
        wait = self.rate_limits.exhausted_for(token)
        return (method in IDEMPOTENT and 0 < wait <= self.rate_limit_wait
                and self._clock() + wait < deadline)

    async def _attempt(self, method: str, path: str, params: Mapping[str, str] | None,
                       headers: dict[str, str], body: bytes | None, deadline: float,
                       token: str) -> Answer:
        """One HTTP exchange, counted by the circuit breaker and held to the gate."""
        assert self._session is not None, "upstream client is not started"
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise UpstreamTimeout(f"the upstream did not answer {method} {path} in time")
        timeout = self._full_timeout
        if self._total_timeout is not None and remaining < self._total_timeout - 0.001:
            timeout = aiohttp.ClientTimeout(total=remaining, sock_connect=self._connect_timeout,
                                            sock_read=self._read_timeout)
        account = account_key(token)
        async with self.gate.slot():
            self.breaker.before_call(account)
            count_upstream_call()
            verdict: str | None = None  # alive, error answer, unreachable; None: no verdict
            status, started = "unreachable", time.perf_counter()
            try:
                async with self._session.request(method, self.base_url + path, params=params,
                                                 data=body, headers=headers, timeout=timeout,
                                                 allow_redirects=False) as response:
                    status = str(response.status)
                    raw = await _read_bounded(response, f"{method} {path}")
                    answer = _classify(method, path, response.status, response.headers, raw, token)
                verdict = "alive"
                return answer
            except UpstreamError as exc:
                verdict = "alive" if exc.status < 500 else "error answer"
                raise
            except UpstreamUnavailable:  # an answer came, and cannot be read
                verdict = "error answer"
                raise
            except (asyncio.TimeoutError, aiohttp.ConnectionTimeoutError) as exc:
                verdict, status = "unreachable", "timeout"
                sent = not isinstance(exc, aiohttp.ConnectionTimeoutError)
                raise UpstreamTimeout(f"the upstream did not answer {method} {path} in time",
                                      sent=sent) from None
            except aiohttp.ClientError as exc:
                verdict = "unreachable"
                # Only a failure to connect proves that no byte of the request left.
                sent = not isinstance(exc, aiohttp.ClientConnectorError)
                raise UpstreamUnavailable(f"cannot reach the upstream for {method} {path}: "
                                          f"{type(exc).__name__}", sent=sent) from None
            finally:
                if status.isdigit() and int(status) < 500:
                    self.last_answer_at = self._clock()
                if self.on_call is not None:
                    self.on_call(method, route_of(path), status, time.perf_counter() - started)
                if verdict == "alive":
                    self.breaker.record_success(account)
                elif verdict == "error answer":
                    self.breaker.record_error_answer(account)
                elif verdict == "unreachable":
                    self.breaker.record_failure(account)
                else:
                    self.breaker.abandon(account)

    async def probe(self) -> bool:
        """Whether the upstream answers HTTP at all (any status below 500): GET /api/v2/site
        without credentials, outside the gate and the breaker, for the readiness probe."""
        assert self._session is not None, "upstream client is not started"
        try:
            async with self._session.get(self.base_url + "/api/v2/site", allow_redirects=False,
                                         timeout=aiohttp.ClientTimeout(total=3)) as response:
                alive = response.status < 500
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False
        if alive:
            self.last_answer_at = self._clock()
        return alive


async def _read_bounded(response: aiohttp.ClientResponse, what: str) -> bytes:
    """The whole body, refusing one over MAX_ANSWER_BYTES before it fills memory.

    The limit is on the body as decoded: Content-Length counts compressed bytes, so a gzip
    body is read piece by piece (aiohttp inflates it as it is read) and counted."""
    length = response.content_length
    if length is not None:
        if length > MAX_ANSWER_BYTES:
            raise UpstreamUnavailable(f"the upstream answer to {what} is too large", transient=False)
        if "Content-Encoding" not in response.headers:
            return await response.read()  # the parser stops at Content-Length
    chunks, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise UpstreamUnavailable(f"the upstream answer to {what} is too large", transient=False)
        chunks.append(chunk)
    return b"".join(chunks)


_ID_SEGMENT = re.compile(r"/[0-9][0-9,]*(?=/|$)")


def route_of(path: str) -> str:
    """/api/v2/tasks/42 -> /api/v2/tasks/{id}: a metric label with a bounded set of values."""
    return _ID_SEGMENT.sub("/{id}", path)


def scrub(text: str, token: str) -> str:
    """`text` without `token`: an upstream may echo the bearer token it was sent (in static auth
    mode the proxy's own, shared one) in an error, which then reaches a client and the logs.
    Shorter strings are no real token, and replacing them would garble the message."""
    if len(token) >= MIN_SCRUBBED and token in text:
        return text.replace(token, "[redacted]")
    return text


def _scrubbed(value: Any, token: str) -> Any:
    if isinstance(value, str):
        return scrub(value, token)
    if isinstance(value, dict):
        return {key: _scrubbed(item, token) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, token) for item in value]
    return value


def _classify(method: str, path: str, status: int, headers: CIMultiDictProxy[str], raw: bytes,
              token: str) -> Answer:
    data: Any = None
    if raw:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if status < 500:  # a 5xx page from a load balancer is expected to be HTML
                raise UpstreamUnavailable(f"the upstream answered {method} {path} with "
                                          f"{status} and a body that is not JSON",
                                          transient=False) from None
    if 200 <= status < 300:
        return Answer(status, headers, data)
    body = data if isinstance(data, dict) else {}
    message = scrub(str(body.get("message") or body.get("error") or f"upstream answered {status}"), token)
    errors = [_scrubbed(e, token) for e in body.get("errors", []) if isinstance(e, dict)] if isinstance(
        body.get("errors"), list) else []
    # Passed on to v1 clients, so only plain numbers: nothing the upstream sends can inject a header.
    rate = {name: headers[name] for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
            if headers.get(name, "").isdigit() and headers[name].isascii()}
    raise UpstreamError(status, message, errors, rate)
