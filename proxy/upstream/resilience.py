"""The upstream's safety rules, each small and testable without HTTP.

- `RetryPolicy`: which failures may be retried, and the backoff between attempts.
- `CircuitBreaker`: after N consecutive failures, fail fast for a cool-down, then one probe;
  Capsule out of reach holds back every call, answers in error only the account that gets them.
- `Gate`: back-pressure, a bounded number of calls in flight and a bounded, timed queue.
- `RateLimits`: the last `X-RateLimit-*` seen per token, so a known-exhausted token is refused
  before it costs an upstream call.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Mapping

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})
# Capsule's limits are per hour, so no reset is further away than this; a later one is nonsense
# and must not lock a token out (100 years, "inf", 400 digits).
RATE_LIMIT_WINDOW = 3600.0
_MAX_COUNT = 10**9  # far above any real hourly limit; keeps gauges and headers finite


def seconds_until_reset(reset: object, now: float) -> float | None:
    """Seconds from `now` to an X-RateLimit-Reset (UTC epoch seconds), held to [0, one hour];
    None when it is not a number at all (or NaN)."""
    try:
        at = float(reset)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if math.isnan(at):
        return None
    return min(max(at - now, 0.0), RATE_LIMIT_WINDOW)


class UpstreamBusy(Exception):
    """The proxy will not call the upstream now (circuit open, or too many calls) → 503."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, round(retry_after))


@dataclass(frozen=True)
class RetryPolicy:
    """Retry only what cannot do harm twice.

    GET, PUT and DELETE are idempotent, so a connection error, a timeout or a 502/503/504 is
    retried. A POST creates a task: it is retried only when the connection failed before any byte
    of the request was sent; after that, Capsule may have created the task.
    """

    attempts: int = 3
    base_delay: float = 0.1
    max_delay: float = 2.0

    def may_retry(self, method: str, *, sent: bool) -> bool:
        return method in IDEMPOTENT or not sent

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Exponential backoff with full jitter before attempt `attempt + 1` (attempt from 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling * rng()


class _Circuit:
    """closed → (threshold consecutive failures) → open → (cool-down) → half-open: one probe."""

    __slots__ = ("failures", "opened_at", "probing")

    def __init__(self) -> None:
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False

    def state(self, now: float, cooldown: float) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if now - self.opened_at >= cooldown else "open"

    def admit(self, now: float, cooldown: float, refused: str) -> bool:
        """Raise UpstreamBusy when no call may go; True when this call is the probe."""
        if self.opened_at is None:
            return False
        remaining = self.opened_at + cooldown - now
        if remaining > 0:
            raise UpstreamBusy(f"{refused}; the proxy is not calling it for a moment (circuit open)",
                               remaining)
        if self.probing:
            raise UpstreamBusy(f"{refused}; one probe request is checking whether it is back", 1)
        self.probing = True
        return True

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self, now: float, threshold: int) -> None:
        self.failures += 1
        if self.probing or (threshold > 0 and self.failures >= threshold):
            self.opened_at = now
        self.probing = False


class CircuitBreaker:
    """Two kinds of circuit (decisions.md R5), each closed → open → half-open: one probe.

    The global circuit counts what says Capsule cannot be reached: connection failures and
    timeouts. When it is open every call is refused. An answer in error (a 5xx, or one that
    cannot be read) proves Capsule reachable, but may belong to one account's broken record, so
    it is counted in that account's own circuit (by account_key, never the token): a client
    hammering a record that makes Capsule fail holds back only itself. Any answer below 500 is a
    success for both: the upstream is alive, a 4xx means the request was wrong.
    """

    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic,
                 max_accounts: int = 10_000):
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._max_accounts = max_accounts
        self._global = _Circuit()
        self.accounts: dict[str, _Circuit] = {}  # only accounts with failures or an open circuit

    @property
    def state(self) -> str:
        """The global circuit's state (what /readyz and the circuit metric report)."""
        return self._global.state(self._clock(), self.cooldown)

    def state_for(self, account: str) -> str:
        circuit = self.accounts.get(account)
        return "closed" if circuit is None else circuit.state(self._clock(), self.cooldown)

    def before_call(self, account: str | None = None) -> None:
        """Raise UpstreamBusy when the call must not be made; otherwise let it through."""
        if self.threshold <= 0:
            return
        now = self._clock()
        probe = self._global.admit(now, self.cooldown, "Capsule is failing")
        circuit = self.accounts.get(account) if account is not None else None
        if circuit is not None:
            try:
                circuit.admit(now, self.cooldown, "Capsule keeps failing for this account's requests")
            except UpstreamBusy:
                if probe:
                    self._global.probing = False  # the global probe slot goes to another call
                raise

    def record_success(self, account: str | None = None) -> None:
        self._global.success()
        if account is not None:
            self.accounts.pop(account, None)

    def record_failure(self, account: str | None = None) -> None:
        """Capsule could not be reached (connection failure or timeout): counted for everyone."""
        self._global.failure(self._clock(), self.threshold)
        circuit = self.accounts.get(account) if account is not None else None
        if circuit is not None:
            circuit.probing = False  # says nothing about the account: another probe may go

    def record_error_answer(self, account: str) -> None:
        """Capsule answered, in error (5xx or unreadable): counted for this account only."""
        self._global.success()
        if self.threshold <= 0:
            return
        circuit = self.accounts.get(account)
        if circuit is None:
            if len(self.accounts) >= self._max_accounts:
                self.accounts.pop(next(iter(self.accounts)))
            circuit = self.accounts[account] = _Circuit()
        circuit.failure(self._clock(), self.threshold)

    def abandon(self, account: str | None = None) -> None:
        """The call ended with no verdict on the upstream (e.g. the client went away)."""
        self._global.probing = False
        circuit = self.accounts.get(account) if account is not None else None
        if circuit is not None:
            circuit.probing = False


class Gate:
    """At most `limit` upstream calls at once; others wait up to `timeout`, at most `max_queue`."""

    def __init__(self, limit: int, timeout: float, max_queue: int):
        self._semaphore = asyncio.Semaphore(limit)
        self._timeout = timeout
        self._max_queue = max_queue
        self.waiting = 0
        self.in_flight = 0

    def slot(self) -> Gate:
        """`async with gate.slot():` holds one of the `limit` places for the call."""
        return self  # a plain async context manager: this runs on every upstream call

    async def __aenter__(self) -> None:
        if self._semaphore.locked():
            if self.waiting >= self._max_queue:
                raise UpstreamBusy("the proxy is at its limit of concurrent Capsule calls", 1)
            self.waiting += 1
            try:
                await asyncio.wait_for(self._semaphore.acquire(), self._timeout)
            except TimeoutError:
                raise UpstreamBusy("the proxy is at its limit of concurrent Capsule calls", 1) from None
            finally:
                self.waiting -= 1
        else:
            await self._semaphore.acquire()
        self.in_flight += 1

    async def __aexit__(self, *exc_info: object) -> None:
        self.in_flight -= 1
        self._semaphore.release()


@functools.lru_cache(maxsize=4096)  # hashed on every call otherwise: twice per request
def account_key(token: str) -> str:
    """A stable, non-reversible name for a token: rate-limit state is kept and shown by this."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class RateLimitState:
    limit: int | None
    remaining: int
    reset: float  # UTC epoch seconds


class RateLimits:
    """The last X-RateLimit-* headers seen per token (kept by account_key, never by token)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_accounts: int = 10_000):
        self._clock = clock
        self._max_accounts = max_accounts
        self.accounts: dict[str, RateLimitState] = {}

    def update(self, token: str, headers: Mapping[str, str]) -> None:
        now = self._clock()
        try:
            remaining = int(headers["X-RateLimit-Remaining"])
            wait = seconds_until_reset(headers["X-RateLimit-Reset"], now)
        except (KeyError, ValueError):
            return
        if wait is None or not 0 <= remaining <= _MAX_COUNT:
            return
        try:
            limit: int | None = int(headers.get("X-RateLimit-Limit", ""))
        except ValueError:
            limit = None
        if limit is not None and not 0 <= limit <= _MAX_COUNT:
            limit = None
        reset = now + wait
        key = account_key(token)
        if key not in self.accounts and len(self.accounts) >= self._max_accounts:
            self.accounts.pop(next(iter(self.accounts)))
        self.accounts[key] = RateLimitState(limit, remaining, reset)

    def exhausted_for(self, token: str) -> float:
        """Seconds until the token may call again; 0 when it may call now."""
        state = self.accounts.get(account_key(token))
        if state is None or state.remaining > 0:
            return 0.0
        return max(state.reset - self._clock(), 0.0)

    def headers_for(self, token: str) -> dict[str, str]:
        state = self.accounts.get(account_key(token))
        if state is None:
            return {}
        headers = {"X-RateLimit-Remaining": str(state.remaining), "X-RateLimit-Reset": str(int(state.reset))}
        if state.limit is not None:
            headers["X-RateLimit-Limit"] = str(state.limit)
        return headers
