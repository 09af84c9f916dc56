"""The upstream safety rules as plain objects: retry policy, circuit breaker, gate, rate limits."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.upstream.resilience import (CircuitBreaker, Gate, RateLimits, RetryPolicy, UpstreamBusy,
                                       account_key)


@pytest.mark.parametrize("method, sent, allowed", [
    ("GET", True, True), ("PUT", True, True), ("DELETE", True, True),
    ("POST", False, True),   # the connection failed before any byte left: nothing was created
    ("POST", True, False),   # sent: Capsule may have created the task
])
def test_retry_policy_retries_only_what_is_safe(method, sent, allowed):
    assert RetryPolicy().may_retry(method, sent=sent) is allowed


@given(attempt=st.integers(1, 30), draw=st.floats(0, 1))
def test_backoff_is_jittered_exponential_and_capped(attempt, draw):
    policy = RetryPolicy(attempts=5, base_delay=0.1, max_delay=2.0)
    delay = policy.delay(attempt, rng=lambda: draw)
    assert 0 <= delay <= min(2.0, 0.1 * 2 ** (attempt - 1))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_then_lets_one_probe_through():
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(UpstreamBusy) as busy:
        breaker.before_call()
    assert busy.value.retry_after == 10
    clock.now += 10
    assert breaker.state == "half-open"
    breaker.before_call()                      # the probe
    with pytest.raises(UpstreamBusy):
        breaker.before_call()                  # only one at a time
    breaker.record_failure()                   # the probe failed: open again
    assert breaker.state == "open"
    clock.now += 10
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.before_call()


def test_breaker_successes_reset_the_count_and_abandoned_probes_free_the_slot():
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cooldown=5, clock=clock)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    clock.now += 5
    breaker.before_call()
    breaker.abandon()                          # e.g. the client went away mid-probe
    breaker.before_call()                      # another probe may go


def test_breaker_threshold_zero_never_opens():
    breaker = CircuitBreaker(threshold=0, cooldown=5)
    for _ in range(100):
        breaker.record_failure()
    breaker.before_call()


async def test_gate_bounds_calls_and_queue():
    gate = Gate(limit=2, timeout=0.05, max_queue=1)
    release = asyncio.Event()

    async def hold():
        async with gate.slot():
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await asyncio.sleep(0)
    assert gate.in_flight == 2
    waiter = asyncio.create_task(hold())          # waits in the queue ...
    await asyncio.sleep(0)
    assert gate.waiting == 1
    with pytest.raises(UpstreamBusy):             # ... which is full: refused at once
        async with gate.slot():
            pass
    with pytest.raises(UpstreamBusy):             # the waiter times out
        await waiter
    release.set()
    await asyncio.gather(*holders)
    assert gate.in_flight == 0 and gate.waiting == 0
    async with gate.slot():
        assert gate.in_flight == 1


def test_rate_limits_are_kept_per_account_never_by_token():
    clock = Clock()
    limits = RateLimits(clock=clock)
    limits.update("secret-token", {"X-RateLimit-Limit": "4000", "X-RateLimit-Remaining": "0",
                                   "X-RateLimit-Reset": str(clock.now + 30)})
    assert "secret-token" not in repr(limits.accounts)
    assert list(limits.accounts) == [account_key("secret-token")]
    assert limits.exhausted_for("secret-token") == 30
    assert limits.exhausted_for("other") == 0
    assert limits.headers_for("secret-token")["X-RateLimit-Remaining"] == "0"
    clock.now += 31
    assert limits.exhausted_for("secret-token") == 0
    limits.update("secret-token", {"X-RateLimit-Remaining": "junk"})   # ignored, not a crash


@pytest.mark.parametrize("reset", ["9" * 400, "inf", "-inf", "nan", "-5", "1e400", "soon", "",
                                   str(1000 + 100 * 365 * 86400)])
def test_a_rate_limit_reset_is_held_to_capsules_one_hour_window(reset):
    clock = Clock()
    limits = RateLimits(clock=clock)
    limits.update("t", {"X-RateLimit-Limit": "4000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    assert 0 <= limits.exhausted_for("t") <= 3600
    headers = limits.headers_for("t")                     # built for the proxy's own 429
    assert int(headers.get("X-RateLimit-Reset", clock.now)) <= clock.now + 3600


@pytest.mark.parametrize("remaining", ["9" * 400, "-1", "1e3"])
def test_an_absurd_remaining_count_is_ignored(remaining):
    limits = RateLimits(clock=Clock())
    limits.update("t", {"X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": "1030"})
    assert limits.accounts == {} and limits.exhausted_for("t") == 0


def test_answers_in_error_count_per_account_and_transport_failures_for_everyone():
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cooldown=5, clock=clock)
    for _ in range(2):
        breaker.before_call("a")
        breaker.record_error_answer("a")        # a 5xx for account a
        breaker.before_call("b")
        breaker.record_success("b")             # b's successes do not reset a's count
    with pytest.raises(UpstreamBusy, match="circuit open"):
        breaker.before_call("a")
    breaker.before_call("b")                    # b is served
    breaker.record_success("b")
    assert breaker.state == "closed" and breaker.state_for("a") == "open"
    clock.now += 5
    breaker.before_call("a")                    # a's probe
    with pytest.raises(UpstreamBusy, match="probe"):
        breaker.before_call("a")
    breaker.record_success("a")
    assert breaker.state_for("a") == "closed"
    for _ in range(2):                          # connection failures: everyone is held back
        breaker.before_call("a")
        breaker.record_failure("a")
    with pytest.raises(UpstreamBusy):
        breaker.before_call("b")
    assert breaker.state == "open"


def test_an_answer_in_error_closes_a_global_probe_and_a_refused_account_frees_it():
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown=5, clock=clock)
    breaker.before_call("a")
    breaker.record_error_answer("a")            # a's circuit opens; Capsule itself answered
    breaker.before_call("b")
    breaker.record_failure("b")                 # a dropped connection: the global circuit opens
    clock.now += 5                              # both cool down
    breaker.before_call("b")                    # b's call is the global probe ...
    breaker.record_error_answer("b")            # ... and Capsule answered: reachable again
    assert breaker.state == "closed" and breaker.state_for("b") == "open"
    breaker.before_call("c")
    breaker.record_failure("c")                 # open again
    clock.now += 5
    breaker.before_call("a")                    # a takes its own probe and the global one
    breaker.abandon("a")                        # the client went away: both are free again
    breaker.before_call("c")
    breaker.record_success("c")
    assert breaker.state == "closed"


def test_account_circuits_are_bounded():
    breaker = CircuitBreaker(threshold=1, cooldown=5, clock=Clock(), max_accounts=3)
    for account in "abcdef":
        breaker.record_error_answer(account)
    assert len(breaker.accounts) <= 3
