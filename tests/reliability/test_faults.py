"""The proxy against a misbehaving Capsule v2 (tests/reliability/chaos.py), fault by fault.

For every fault the test checks, through the proxy: the v1 status and `<error><message>`, that
the answer came within the configured budget, that no connection was left behind (none held
in the proxy's pool, none open at the upstream once the proxy is closed), and, for creates,
that the upstream saw the POST exactly as often as it should (never twice). tests/proxy/
test_upstream_failures.py checks the simpler status mapping; these go through retries, the
circuit breaker, back-pressure and the rate-limit bookkeeping.

Budgets are small (BUDGET) and time assertions generous (MARGIN): these machines are slow.
No answer of the proxy in this file may be a 500 (`no_500`, autouse).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import tracemalloc
from typing import Any

import pytest
from aiohttp import web
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from proxy.app import create_app
from proxy.config import load_settings
from proxy.keys import SERVICES
from proxy.upstream.client import Upstream
from proxy.upstream.resilience import RetryPolicy

from .chaos import Chaos, SilentServer, gzip_bomb, refused_port

BUDGET = {"total_timeout": 1.0, "read_timeout": 0.5, "connect_timeout": 0.5,
          "backoff_base": 0.01, "backoff_max": 0.05}
MARGIN = 1.0  # seconds of slack on every "within the budget" assertion

PHILLIP = {"Authorization": "Basic dG9rLXBoaWxsaXA6eA=="}  # tok-phillip:x
SOFIA = {"Authorization": "Basic dG9rLXNvZmlhOng="}        # tok-sofia:x
JSON = {"Accept": "application/json"}
XML_BODY = {"Content-Type": "application/xml"}
TASK_XML = b"<task><description>Call back</description><dueDate>2026-01-05</dueDate></task>"
MAYBE = "may have been created"
TASK_1 = "/api/v2/tasks/1"
TASKS = "/api/v2/tasks"


# --- fixtures and helpers ---

class Answers:
    """Every status the proxies of one test answered (500 for an exception that escaped)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            self.statuses.append(exc.status)
            raise
        except BaseException:
            self.statuses.append(500)
            raise
        self.statuses.append(response.status)
        return response


@pytest.fixture(autouse=True)
def no_500():
    answers = Answers()
    yield answers
    assert 500 not in answers.statuses, answers.statuses


@pytest.fixture
async def chaos():
    server = await Chaos(tasks=3).start()
    yield server
    await server.close()


@pytest.fixture
async def silent():
    server = await SilentServer().start()
    yield server
    await server.close()


@pytest.fixture
def make_proxy(aiohttp_client, no_500):
    """make_proxy(upstream_url, upstream={...}): a proxy with BUDGET (overridable)."""
    async def make(upstream_url: str, **sections: dict[str, Any]):
        sections["upstream"] = {**BUDGET, **sections.get("upstream", {})}
        app = create_app(load_settings(environ={}, flags=sections), upstream_url)
        app.middlewares.insert(0, no_500.middleware)
        return await aiohttp_client(app)
    return make


def upstream_of(proxy) -> Upstream:
    return proxy.server.app[SERVICES].upstream


def acquired(proxy) -> int:
    """Upstream connections the proxy holds for a call in progress (not idle keep-alive ones)."""
    session = upstream_of(proxy)._session
    assert session is not None
    return len(session.connector._acquired)


async def closes_cleanly(proxy, server) -> None:
    """Nothing is held by the proxy, and once it is closed nothing stays open at the upstream."""
    upstream = upstream_of(proxy)
    assert acquired(proxy) == 0
    assert upstream.gate.in_flight == 0 and upstream.gate.waiting == 0
    await proxy.close()
    assert await server.wait_for_no_connections() == 0


async def timed(request) -> tuple[Any, float, bytes]:
    started = time.monotonic()
    response = await request
    body = await response.read()
    return response, time.monotonic() - started, body


def v1_message(response, body: bytes, status: int) -> str:
    """The message of the v1 error document (XML or JSON, as asked), checking its form."""
    assert response.status != 500, body
    assert response.status == status, body
    if response.headers["Content-Type"].startswith("application/json"):
        document = json.loads(body)
        assert list(document) == ["message"], body
        return document["message"]
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8", body
    root = etree.fromstring(body)
    assert root.tag == "error" and [child.tag for child in root] == ["message"], body
    return root.findtext("message")


def budget(upstream: dict[str, Any] | None = None) -> float:
    return {**BUDGET, **(upstream or {})}["total_timeout"] + MARGIN


# --- the harness itself ---

async def test_the_connection_check_sees_keep_alive_connections(make_proxy, chaos):
    """closes_cleanly would notice a pooled connection the proxy failed to close."""
    proxy = await make_proxy(chaos.url)
    assert (await proxy.get("/api/task/1", headers=PHILLIP)).status == 200
    assert acquired(proxy) == 0          # released to the pool...
    assert chaos.open_connections == 1   # ...and kept alive there
    await closes_cleanly(proxy, chaos)


# --- GET: retried when that is safe, within the budget ---

@pytest.mark.parametrize("failures", [1, 2])
@pytest.mark.parametrize("kind, status", [("status", 502), ("status", 503), ("status", 504),
                                          ("reset", None), ("reset_before", None)],
                         ids=["502", "503", "504", "reset-mid-body", "reset-before-answer"])
async def test_a_get_is_retried_after_a_transient_failure_and_succeeds(make_proxy, chaos, kind, status,
                                                                       failures):
    chaos.inject(kind, times=failures, path=TASK_1, **({"status": status} if status else {}))
    proxy = await make_proxy(chaos.url)
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
    assert response.status == 200, body
    assert etree.fromstring(body).findtext("id") == "1"
    assert chaos.seen("GET", TASK_1) == failures + 1  # succeeded on attempt 2 or 3
    assert elapsed < budget()
    await closes_cleanly(proxy, chaos)


@pytest.mark.parametrize("method, path, v2_method", [("PUT", "/api/task/1", "PUT"),
                                                     ("DELETE", "/api/task/1", "DELETE"),
                                                     ("POST", "/api/task/1/complete", "PUT")])
async def test_idempotent_writes_are_retried_too(make_proxy, chaos, method, path, v2_method):
    chaos.inject("status", status=503, times=1, path=TASK_1)
    chaos.inject("reset_before", times=1, path=TASK_1)  # lost before the upstream acted on it
    proxy = await make_proxy(chaos.url)
    response, elapsed, body = await timed(
        proxy.request(method, path, data=TASK_XML, headers={**PHILLIP, **XML_BODY}))
    assert response.status == 200, body
    assert chaos.seen(v2_method, TASK_1) == 3
    assert elapsed < budget()
    await closes_cleanly(proxy, chaos)


@pytest.mark.parametrize("retries", [1, 2, 3])
async def test_a_get_gives_up_after_the_configured_attempts(make_proxy, chaos, retries):
    chaos.inject("status", status=503, path=TASK_1)
    proxy = await make_proxy(chaos.url, upstream={"retries": retries})
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
    assert "503" in v1_message(response, body, 502)
    assert chaos.seen("GET", TASK_1) == retries
    assert elapsed < budget()
    await closes_cleanly(proxy, chaos)


async def metric_sum(proxy, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`, from GET /metrics."""
    text = await (await proxy.get("/metrics")).text()
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())


@pytest.mark.parametrize("retries", [1, 3])
@pytest.mark.parametrize("method, path, v2_method", [("PUT", "/api/task/1", "PUT"),
                                                     ("DELETE", "/api/task/1", "DELETE"),
                                                     ("GET", "/api/task/1", "GET")])
async def test_a_dropped_connection_is_sent_exactly_retries_times_and_counted(
        make_proxy, chaos, method, path, v2_method, retries):
    """aiohttp's client would resend an idempotent request once on its own after a dropped
    connection: `retries` is the number of attempts that reach Capsule, and the retry metric
    counts every attempt after the first."""
    chaos.inject("reset_before", path=TASK_1)
    proxy = await make_proxy(chaos.url, upstream={"retries": retries})
    response, elapsed, body = await timed(
        proxy.request(method, path, data=TASK_XML, headers={**PHILLIP, **XML_BODY}))
    v1_message(response, body, 502)
    assert chaos.seen(v2_method, TASK_1) == retries
    labels = {"route": "/api/v2/tasks/{id}", "method": v2_method}
    assert await metric_sum(proxy, "capsule_proxy_upstream_retries_total", **labels) == retries - 1
    assert await metric_sum(proxy, "capsule_proxy_upstream_requests_total", **labels) == retries
    assert elapsed < budget()
    await closes_cleanly(proxy, chaos)


async def test_retries_never_exceed_the_total_budget(make_proxy, chaos):
    # Each attempt takes 0.3 s; 10 attempts would be 3 s, but the call has 1 s.
    chaos.inject("status", status=502, delay=0.3, path=TASK_1)
    proxy = await make_proxy(chaos.url, upstream={"retries": 10})
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers={**PHILLIP, **JSON}))
    assert response.status in (502, 504), body
    v1_message(response, body, response.status)
    assert 2 <= chaos.seen("GET", TASK_1) <= 4
    assert elapsed < budget()  # well under the 3 s that 10 attempts would take
    await closes_cleanly(proxy, chaos)


# --- POST: never sent twice ---

@pytest.mark.parametrize("kind, extra, status", [
    ("reset", {}, 502),                      # 201 headers and half the body, then a reset
    ("reset_before", {}, 502),               # the request was read, then a reset
    ("status", {"status": 502}, 502),
    ("status", {"status": 503}, 502),
    ("status", {"status": 504}, 502),
    ("status", {"status": 500}, 502),
    ("status", {"status": 502, "body": b"<html>Bad gateway</html>"}, 502),
    ("hang", {}, 504),                       # read, never answered
    ("drip", {"interval": 0.2}, 504),        # answered too slowly
    ("invalid_json", {}, 502),               # a 2xx that cannot be read
], ids=["reset-mid-body", "reset-before-answer", "502", "503", "504", "500", "502-html", "hang",
        "drip", "invalid-json"])
async def test_a_create_that_fails_after_sending_is_sent_once_and_may_have_been_created(
        make_proxy, chaos, kind, extra, status):
    chaos.inject(kind, method="POST", path=TASKS, **extra)
    proxy = await make_proxy(chaos.url)
    response, elapsed, body = await timed(proxy.post("/api/task", data=TASK_XML,
                                                     headers={**PHILLIP, **XML_BODY}))
    assert MAYBE in v1_message(response, body, status)
    assert "Location" not in response.headers
    assert chaos.posts == 1
    assert elapsed < budget()
    await closes_cleanly(proxy, chaos)


async def test_a_create_in_json_that_is_reset_says_so_in_json(make_proxy, chaos):
    chaos.inject("reset", method="POST", path=TASKS)
    proxy = await make_proxy(chaos.url)
    body = json.dumps({"task": {"description": "Call back", "dueDate": "2026-01-05"}}).encode()
    response, _, answer = await timed(proxy.post("/api/task", data=body, headers={
        **PHILLIP, "Content-Type": "application/json", "Accept": "application/json"}))
    assert MAYBE in v1_message(response, answer, 502)
    assert chaos.posts == 1
    await closes_cleanly(proxy, chaos)


async def test_a_create_to_a_silent_upstream_is_504_and_sent_once(make_proxy, silent):
    proxy = await make_proxy(silent.url)
    response, elapsed, body = await timed(proxy.post("/api/task", data=TASK_XML,
                                                     headers={**PHILLIP, **XML_BODY}))
    assert MAYBE in v1_message(response, body, 504)
    assert silent.request_lines == ["POST /api/v2/tasks HTTP/1.1"]
    assert elapsed < budget()
    await closes_cleanly(proxy, silent)


async def test_a_create_to_a_refused_port_is_retried_and_never_sent(make_proxy, caplog):
    caplog.set_level(logging.INFO, logger="capsule_proxy.upstream")
    proxy = await make_proxy(f"http://127.0.0.1:{refused_port()}", upstream={"retries": 3})
    response, elapsed, body = await timed(proxy.post("/api/task", data=TASK_XML,
                                                     headers={**PHILLIP, **XML_BODY}))
    message = v1_message(response, body, 502)
    assert "could not be reached" in message and MAYBE not in message
    retried = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying POST")]
    assert len(retried) == 2, retried  # 3 connection attempts: safe, nothing was sent
    assert elapsed < budget()
    assert acquired(proxy) == 0


class PausingRetry:
    """RetryPolicy's rules with a fixed pause; `failed` is set when the first attempt failed."""

    attempts = 3

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.failed = asyncio.Event()

    def may_retry(self, method: str, *, sent: bool) -> bool:
        return RetryPolicy().may_retry(method, sent=sent)

    def delay(self, attempt: int) -> float:
        self.failed.set()
        return self.pause


async def test_a_create_refused_then_accepted_is_created_exactly_once(make_proxy):
    port = refused_port()
    proxy = await make_proxy(f"http://127.0.0.1:{port}", upstream={"total_timeout": 3.0})
    retry = upstream_of(proxy).retry = PausingRetry(0.5)
    sending = asyncio.create_task(proxy.post("/api/task", data=TASK_XML, headers={**PHILLIP, **XML_BODY}))
    await asyncio.wait_for(retry.failed.wait(), 2)  # the first connection was refused
    late = await Chaos(tasks=3).start(port=port)     # the upstream comes up before the retry
    try:
        response = await sending
        assert response.status == 201, await response.text()
        assert response.headers["Location"].endswith("/api/task/4")
        assert late.posts == 1
        await closes_cleanly(proxy, late)
    finally:
        await late.close()


# --- no answer, slow answers, huge answers ---

@pytest.mark.parametrize("accept", [{}, JSON], ids=["xml", "json"])
async def test_never_answering_is_504_within_the_total_timeout(make_proxy, silent, accept):
    proxy = await make_proxy(silent.url)
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers={**PHILLIP, **accept}))
    assert "in time" in v1_message(response, body, 504)
    assert elapsed < budget()
    # read_timeout (0.5 s) ends the first attempt; a retry fits in what is left of the second.
    assert 1 <= len(silent.request_lines) <= 3
    assert set(silent.request_lines) == {"GET /api/v2/tasks/1 HTTP/1.1"}
    await closes_cleanly(proxy, silent)


async def test_a_hanging_aiohttp_upstream_is_504_and_its_connections_are_closed(make_proxy, chaos):
    chaos.inject("hang", path=TASK_1)
    proxy = await make_proxy(chaos.url)
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
    v1_message(response, body, 504)
    assert elapsed < budget()
    await closes_cleanly(proxy, chaos)


async def test_dripping_bytes_is_504_within_the_budget(make_proxy, chaos):
    # A byte every 0.1 s never trips the 0.5 s read timeout; the 1 s total does.
    chaos.inject("drip", interval=0.1, path=TASK_1)
    proxy = await make_proxy(chaos.url)
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
    assert "in time" in v1_message(response, body, 504)
    assert elapsed < budget()
    assert chaos.seen("GET", TASK_1) == 1  # the whole budget went on the one attempt
    await closes_cleanly(proxy, chaos)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_answer_over_16_mib_is_502_quickly_and_not_retried(make_proxy, chaos, chunked):
    chaos.inject("huge", size=20 * 1024 * 1024, chunked=chunked, path=TASK_1)
    settings = {"total_timeout": 10.0, "read_timeout": 5.0}
    proxy = await make_proxy(chaos.url, upstream=settings)
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
    assert "too large" in v1_message(response, body, 502)
    assert chaos.seen("GET", TASK_1) == 1
    assert elapsed < (1.5 if not chunked else 5.0)
    await closes_cleanly(proxy, chaos)


async def test_a_gzip_bomb_is_502_and_inflating_it_stops_near_the_limit(make_proxy, chaos):
    """A 128 KiB gzip body with an honest Content-Length that inflates to 128 MiB: the 16 MiB
    limit holds for the inflated answer, and the proxy never holds much more than that."""
    size = 128 * 1024 * 1024
    gzip_bomb(size)  # built (and cached) before memory is measured
    chaos.inject("gzip_bomb", size=size, path=TASK_1)
    proxy = await make_proxy(chaos.url, upstream={"total_timeout": 30.0, "read_timeout": 20.0})
    tracemalloc.start()
    try:
        response, _, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "too large" in v1_message(response, body, 502)
    # The 16 MiB kept, while it is joined, and aiohttp's buffers: far from the 128 MiB inflated.
    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    assert chaos.seen("GET", TASK_1) == 1  # a broken answer is not retried
    await closes_cleanly(proxy, chaos)


# --- rate limits ---

@pytest.mark.parametrize("accept", [{}, JSON], ids=["xml", "json"])
async def test_a_429_is_passed_on_with_retry_after_and_the_rate_headers(make_proxy, chaos, accept):
    reset = int(time.time()) + 30
    chaos.inject("rate_limit", reset_at=reset)
    proxy = await make_proxy(chaos.url)
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers={**PHILLIP, **accept}))
    message = v1_message(response, body, 429)
    assert "rate limit" in message and response.headers["Retry-After"] in message
    assert 28 <= int(response.headers["Retry-After"]) <= 30
    assert response.headers["X-RateLimit-Limit"] == "4000"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Reset"] == str(reset)
    assert chaos.seen() == 1  # a 429 is not retried
    assert elapsed < 0.8
    await closes_cleanly(proxy, chaos)


async def test_a_get_waits_out_a_short_rate_limit_and_succeeds(make_proxy, chaos):
    reset = math.ceil(time.time()) + 1  # 1-2 s away
    limited = chaos.inject("rate_limit", reset_at=reset)
    proxy = await make_proxy(chaos.url, upstream={"rate_limit_wait": 2, "total_timeout": 4.0})
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
    assert response.status == 200, (body, limited.hits)
    assert time.time() >= reset - 0.05
    # One 429, then a wait (a second 429 only if the sleep ended a hair before the reset):
    # not a burst of calls until the reset.
    assert limited.hits <= 2
    assert chaos.seen("GET", TASK_1) == limited.hits + 1
    assert elapsed < 4.0
    await closes_cleanly(proxy, chaos)


async def test_a_create_is_not_held_for_a_rate_limit_reset(make_proxy, chaos):
    reset = math.ceil(time.time()) + 1
    chaos.inject("rate_limit", reset_at=reset)
    proxy = await make_proxy(chaos.url, upstream={"rate_limit_wait": 2, "total_timeout": 4.0})
    for reached in (1, 1):  # the second is refused by the proxy, which knows none are left
        response, elapsed, body = await timed(proxy.post("/api/task", data=TASK_XML,
                                                         headers={**PHILLIP, **XML_BODY}))
        message = v1_message(response, body, 429)
        assert MAYBE not in message
        assert 1 <= int(response.headers["Retry-After"]) <= 2
        assert elapsed < 0.8  # not held until the reset, 1-2 s away
        assert chaos.posts == reached
    await closes_cleanly(proxy, chaos)


@pytest.mark.parametrize("how", ["429", "200-with-remaining-0"])
async def test_a_spent_token_is_refused_without_an_upstream_call_and_others_are_not(make_proxy, chaos, how):
    reset = int(time.time()) + 60
    if how == "429":
        chaos.inject("rate_limit", reset_at=reset, token="tok-phillip")
    else:
        chaos.inject("ok", token="tok-phillip", times=1, headers={
            "X-RateLimit-Limit": "4000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    proxy = await make_proxy(chaos.url)
    first = await proxy.get("/api/task/1", headers=PHILLIP)
    assert first.status == (429 if how == "429" else 200)
    assert chaos.seen() == 1
    response, elapsed, body = await timed(proxy.get("/api/task/2", headers=PHILLIP))
    v1_message(response, body, 429)
    assert 58 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert chaos.seen() == 1  # refused by the proxy itself
    assert elapsed < 0.8
    other = await proxy.get("/api/task/2", headers=SOFIA)
    assert other.status == 200, await other.text()
    assert chaos.seen() == 2
    await closes_cleanly(proxy, chaos)


def absurd_resets() -> list[str]:
    return ["9" * 400, "inf", "nan", "-5", "1e400", str(int(time.time()) + 100 * 365 * 86400)]


@pytest.mark.parametrize("how", ["429", "200-with-remaining-0"])
@pytest.mark.parametrize("reset", absurd_resets(),
                         ids=["400-digits", "inf", "nan", "negative", "1e400", "100-years"])
async def test_an_absurd_rate_limit_reset_is_never_a_500_nor_a_lockout_past_an_hour(
        make_proxy, chaos, how, reset):
    limited = {"X-RateLimit-Limit": "4000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    if how == "429":
        chaos.inject("status", status=429, times=1, headers=limited, body={"error": "rate limit reached"})
    else:
        chaos.inject("ok", times=1, headers=limited)
    proxy = await make_proxy(chaos.url)
    for _ in range(2):  # the upstream's answer, then (if the token is held back) the proxy's own
        response, _, body = await timed(proxy.get("/api/task/1", headers={**PHILLIP, **JSON}))
        assert response.status in (200, 429), body
        if response.status == 429:
            v1_message(response, body, 429)
            assert 1 <= int(response.headers["Retry-After"]) <= 3600
            passed_on = response.headers.get("X-RateLimit-Reset")  # only when it is plain digits
            assert passed_on is None or int(passed_on) <= time.time() + 3600 + 1
    assert upstream_of(proxy).rate_limits.exhausted_for("tok-phillip") <= 3600
    metrics = await proxy.get("/metrics")
    assert metrics.status == 200, await metrics.text()
    await closes_cleanly(proxy, chaos)


# --- lists: all or nothing ---

@pytest.fixture
async def chaos250():
    server = await Chaos(tasks=250).start()
    yield server
    await server.close()


def page_calls(chaos: Chaos, page: int) -> int:
    return sum(1 for method, path in chaos.requests
               if method == "GET" and path.startswith(TASKS + "?") and f"page={page}&" in path + "&")


@pytest.mark.parametrize("accept", [{}, JSON], ids=["xml", "json"])
@pytest.mark.parametrize("kind, extra, status, attempts", [
    ("status", {"status": 502}, 502, 3),
    ("reset", {}, 502, 3),
    ("shape", {"body": {"tasks": "nope"}}, 502, 1),
    ("rate_limit", {"reset_at": time.time() + 3600}, 429, 1),
], ids=["502", "reset", "wrong-shape", "429"])
async def test_a_list_whose_second_page_fails_fails_whole(make_proxy, chaos250, kind, extra, status,
                                                          attempts, accept):
    chaos250.inject(kind, path=TASKS, method="GET", page=2, **extra)
    proxy = await make_proxy(chaos250.url)
    response, elapsed, body = await timed(proxy.get("/api/tasks", headers={**PHILLIP, **accept}))
    v1_message(response, body, status)  # an error document, never a partial list
    assert b"<tasks" not in body and b"Chaos task" not in body
    assert page_calls(chaos250, 1) == 1
    assert page_calls(chaos250, 2) == attempts
    assert page_calls(chaos250, 3) == 0
    assert elapsed < 2 * budget()
    await closes_cleanly(proxy, chaos250)


async def test_a_list_page_that_fails_once_is_retried_and_the_list_is_complete(make_proxy, chaos250):
    chaos250.inject("status", status=503, times=1, path=TASKS, page=2)
    chaos250.inject("reset", times=1, path=TASKS, page=3)
    proxy = await make_proxy(chaos250.url)
    response = await proxy.get("/api/tasks", headers=PHILLIP)
    body = await response.read()
    assert response.status == 200, body
    root = etree.fromstring(body)
    assert root.get("size") == "250"
    assert [task.findtext("id") for task in root] == [str(i) for i in range(1, 251)]
    assert [page_calls(chaos250, page) for page in (1, 2, 3)] == [1, 2, 2]
    await closes_cleanly(proxy, chaos250)


# --- the circuit breaker ---

BREAKER = {"breaker_threshold": 3, "breaker_cooldown": 0.5, "retries": 1}


async def open_the_circuit(proxy, chaos: Chaos) -> None:
    # Capsule out of reach: every connection dropped before an answer, whoever calls.
    chaos.inject("reset_before", path="/api/v2/tasks*")
    for _ in range(3):
        response, _, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
        v1_message(response, body, 502)
    assert chaos.seen("GET", TASK_1) == 3
    assert upstream_of(proxy).breaker.state == "open"


async def test_the_circuit_opens_fails_fast_and_closes_when_capsule_is_back(make_proxy, chaos):
    proxy = await make_proxy(chaos.url, upstream=BREAKER)
    assert (await proxy.get("/readyz")).status == 200
    await open_the_circuit(proxy, chaos)

    response, elapsed, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
    assert "circuit open" in v1_message(response, body, 503)
    assert response.headers["Retry-After"] == "1"
    assert elapsed < 0.5
    assert chaos.seen("GET", TASK_1) == 3  # not called
    ready = await proxy.get("/readyz")
    assert ready.status == 503, await ready.text()

    chaos.heal()
    await asyncio.sleep(0.6)  # the cool-down
    response = await proxy.get("/api/task/1", headers=PHILLIP)
    assert response.status == 200, await response.text()
    assert chaos.seen("GET", TASK_1) == 4  # the probe
    assert upstream_of(proxy).breaker.state == "closed"
    assert (await proxy.get("/readyz")).status == 200
    for _ in range(3):
        assert (await proxy.get("/api/task/2", headers=PHILLIP)).status == 200
    await closes_cleanly(proxy, chaos)


async def test_after_the_cooldown_one_probe_goes_through(make_proxy, chaos):
    proxy = await make_proxy(chaos.url, upstream={**BREAKER, "read_timeout": 2.0, "total_timeout": 2.0})
    await open_the_circuit(proxy, chaos)
    chaos.heal()
    chaos.inject("ok", delay=0.5, path=TASK_1)  # the probe takes a while, and succeeds
    await asyncio.sleep(0.6)
    responses = await asyncio.gather(*(proxy.get("/api/task/1", headers=PHILLIP) for _ in range(4)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200, 503, 503, 503], statuses
    for response in responses:
        if response.status == 503:
            assert "probe" in v1_message(response, await response.read(), 503)
            assert response.headers["Retry-After"] == "1"
    assert chaos.seen("GET", TASK_1) == 4  # 3 failures + 1 probe
    assert upstream_of(proxy).breaker.state == "closed"
    assert (await proxy.get("/api/task/1", headers=PHILLIP)).status == 200
    await closes_cleanly(proxy, chaos)


async def test_a_failed_probe_opens_the_circuit_again(make_proxy, chaos):
    proxy = await make_proxy(chaos.url, upstream=BREAKER)
    await open_the_circuit(proxy, chaos)
    await asyncio.sleep(0.6)
    response, _, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
    v1_message(response, body, 502)  # the probe reached a still-failing Capsule
    assert chaos.seen("GET", TASK_1) == 4
    response, elapsed, body = await timed(proxy.get("/api/task/1", headers={**PHILLIP, **JSON}))
    assert "circuit open" in v1_message(response, body, 503)
    assert elapsed < 0.5 and chaos.seen("GET", TASK_1) == 4
    assert (await proxy.get("/readyz")).status == 503
    await closes_cleanly(proxy, chaos)


async def test_a_poison_record_for_one_token_does_not_refuse_other_tokens(make_proxy, chaos):
    """Capsule answers 500 for one record of one account: that account is held back after
    `breaker_threshold` such answers in a row, and every other account keeps being served."""
    chaos.inject("status", status=500, path=TASK_1, token="tok-phillip")
    proxy = await make_proxy(chaos.url, upstream=BREAKER)
    for _ in range(3):
        response, _, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
        assert "500" in v1_message(response, body, 502)
    assert chaos.seen("GET", TASK_1) == 3

    response, elapsed, body = await timed(proxy.get("/api/task/1", headers={**PHILLIP, **JSON}))
    assert "circuit open" in v1_message(response, body, 503)
    assert response.headers["Retry-After"] == "1" and elapsed < 0.5
    assert chaos.seen("GET", TASK_1) == 3  # Phillip's hammering no longer reaches Capsule
    for path in ("/api/task/1", "/api/task/2", "/api/tasks"):
        response = await proxy.get(path, headers=SOFIA)
        assert response.status == 200, await response.text()
    assert upstream_of(proxy).breaker.state == "closed"
    assert (await proxy.get("/readyz")).status == 200

    chaos.heal()
    await asyncio.sleep(0.6)  # the cool-down: one probe for Phillip, and it succeeds
    assert (await proxy.get("/api/task/1", headers=PHILLIP)).status == 200
    assert (await proxy.get("/api/task/2", headers=PHILLIP)).status == 200
    await closes_cleanly(proxy, chaos)


@pytest.mark.parametrize("dead", ["reset", "refused"])
async def test_a_dead_upstream_opens_the_circuit_for_every_token(make_proxy, chaos, dead):
    url = chaos.url if dead == "reset" else f"http://127.0.0.1:{refused_port()}"
    chaos.inject("reset_before")
    proxy = await make_proxy(url, upstream=BREAKER)
    for _ in range(3):
        response, _, body = await timed(proxy.get("/api/task/1", headers=PHILLIP))
        v1_message(response, body, 502)
    seen = chaos.seen()
    response, elapsed, body = await timed(proxy.get("/api/task/2", headers=SOFIA))
    assert "circuit open" in v1_message(response, body, 503)
    assert elapsed < 0.5 and chaos.seen() == seen  # Sofia's call was not even tried
    assert upstream_of(proxy).breaker.state == "open"
    assert (await proxy.get("/readyz")).status == 503
    assert acquired(proxy) == 0
    await closes_cleanly(proxy, chaos)


async def test_5xx_for_every_token_holds_each_back_and_readiness_says_capsule_fails(make_proxy, chaos):
    """A Capsule that answers 503 to everyone (its load balancer, say): each account is held back
    after its own `breaker_threshold` answers, and /readyz reports the upstream as failing."""
    chaos.inject("status", status=503)
    proxy = await make_proxy(chaos.url, upstream=BREAKER)
    for headers in (PHILLIP, SOFIA):
        for _ in range(3):
            response, _, body = await timed(proxy.get("/api/task/1", headers=headers))
            v1_message(response, body, 502)
        response, _, body = await timed(proxy.get("/api/task/1", headers=headers))
        assert "circuit open" in v1_message(response, body, 503)
    assert chaos.seen("GET", TASK_1) == 6
    assert (await proxy.get("/readyz")).status == 503  # its check of /api/v2/site got a 503 too
    await closes_cleanly(proxy, chaos)


# --- back-pressure ---

async def test_overflow_gets_503_quickly_and_the_upstream_sees_at_most_the_pool(make_proxy, chaos):
    chaos.inject("ok", delay=1.0, path=TASK_1)  # each call is held for a second
    proxy = await make_proxy(chaos.url, upstream={"pool_size": 2, "queue_timeout": 0.2, "max_queue": 2,
                                                  "total_timeout": 5.0, "read_timeout": 3.0})
    results = await asyncio.gather(*(timed(proxy.get("/api/task/1", headers=PHILLIP)) for _ in range(10)))
    statuses = sorted(response.status for response, _, _ in results)
    assert statuses == [200] * 2 + [503] * 8, statuses
    for response, elapsed, body in results:
        if response.status == 503:
            assert "limit of concurrent" in v1_message(response, body, 503)
            assert response.headers["Retry-After"] == "1"
            assert elapsed < 0.8  # the queue wait (0.2 s) at most, well before the held calls end
    assert chaos.max_in_flight <= 2
    assert chaos.seen("GET", TASK_1) == 2
    assert upstream_of(proxy).breaker.state == "closed"  # being busy is not Capsule failing
    chaos.heal()
    for _ in range(3):
        response = await proxy.get("/api/task/1", headers=PHILLIP)
        assert response.status == 200, await response.text()
    await closes_cleanly(proxy, chaos)


# --- broken 200 answers: 502, and not retried ---

@pytest.mark.parametrize("path, v2_path, kind, body, says", [
    ("/api/task/1", TASK_1, "html", None, "not JSON"),
    ("/api/task/1", TASK_1, "invalid_json", None, "not JSON"),
    ("/api/task/1", TASK_1, "shape", {"task": []}, "task"),
    ("/api/task/1", TASK_1, "shape", {"task": "nope"}, "task"),
    ("/api/tasks", TASKS, "shape", {"tasks": "nope"}, "tasks"),
    ("/api/tasks", TASKS, "html", None, "not JSON"),
    ("/api/users", "/api/v2/users", "shape", {"users": "nope"}, "users"),
    ("/api/task/categories", "/api/v2/categories", "invalid_json", None, "not JSON"),
], ids=["task-html", "task-invalid-json", "task-list", "task-string", "tasks-string", "tasks-html",
        "users-string", "categories-invalid-json"])
async def test_a_broken_200_is_502_without_a_retry_storm(make_proxy, chaos, path, v2_path, kind, body, says):
    chaos.inject(kind, path=v2_path, **({"body": body} if body is not None else {}))
    proxy = await make_proxy(chaos.url)
    response, elapsed, answer = await timed(proxy.get(path, headers=PHILLIP))
    assert says in v1_message(response, answer, 502)
    assert chaos.seen("GET", v2_path) == 1
    assert elapsed < budget()
    await closes_cleanly(proxy, chaos)


async def test_a_broken_200_in_json(make_proxy, chaos):
    chaos.inject("html", path=TASK_1)
    proxy = await make_proxy(chaos.url)
    response, _, body = await timed(proxy.get("/api/task/1", headers={**PHILLIP, **JSON}))
    assert "not JSON" in v1_message(response, body, 502)
    assert chaos.seen() == 1
    await closes_cleanly(proxy, chaos)
