"""Prometheus metrics for the proxy, one registry per app.

Counters and histograms are updated as requests finish (the request observer and the upstream
client's call hook). Everything that is state rather than an event (look-up caches, rate-limit
headroom, the circuit, the queue) is read by a collector only when /metrics is scraped, so the
request path pays nothing for it. Nothing is ever labelled by token: rate limits are labelled by
`account`, a short hash of it.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .http.budget import ListBudget
from .observe import RequestRecord
from .upstream.client import Upstream
from .upstream.lookups import Lookups

# Seconds: a sidecar hop is milliseconds; the tail reaches the upstream timeouts.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
PAGE_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)
#: Rate-limit gauges are shown for this many accounts, those nearest their limit: a gauge per
#: token would grow with the number of clients (O1).
RATE_LIMIT_ACCOUNTS_SHOWN = 10


class Metrics:
    def __init__(self, upstream: Upstream, lookups: Lookups, lists: ListBudget | None = None):
        self.in_flight = 0   # v1 requests being answered now (the middleware counts them)
        self.lists = lists
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "capsule_proxy_requests", "v1 requests answered, by v1 route template, method and status",
            ["route", "method", "status"], registry=registry)
        self.request_seconds = Histogram(
            "capsule_proxy_request_duration_seconds", "Time to answer a v1 request",
            ["route", "method"], buckets=BUCKETS, registry=registry)
        self.upstream_requests = Counter(
            "capsule_proxy_upstream_requests",
            "Calls to the v2 API by route template, method and status (timeout/unreachable: no answer)",
            ["route", "method", "status"], registry=registry)
        self.upstream_seconds = Histogram(
            "capsule_proxy_upstream_request_duration_seconds", "Time of one call to the v2 API",
            ["route", "method"], buckets=BUCKETS, registry=registry)
        self.retries = Counter(
            "capsule_proxy_upstream_retries", "v2 calls retried after a connection error, timeout or 502/503/504",
            ["route", "method"], registry=registry)
        self.rejected_documents = Counter(
            "capsule_proxy_rejected_documents",
            "v1 request bodies refused before any upstream call, by reason "
            "(schema, malformed, doctype, encoding, too_large, ...)",
            ["reason"], registry=registry)
        self.unexpected_errors = Counter(
            "capsule_proxy_unexpected_errors", "v1 requests that met an unexpected exception (answered 500)",
            registry=registry)
        self.list_pages = Histogram(
            "capsule_proxy_list_pages", "v2 pages read to answer one v1 list, by v1 route",
            ["route"], buckets=PAGE_BUCKETS, registry=registry)
        registry.register(_StateCollector(self, upstream, lookups))
        # labels() validates and hashes on every call; the label sets are few, so keep the children.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._upstream_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe_request(self, record: RequestRecord) -> None:
        key = (record.route, record.method, record.status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (
                self.requests.labels(record.route, record.method, str(record.status)),
                self.request_seconds.labels(record.route, record.method))
        children[0].inc()
        children[1].observe(record.duration)
        if record.pages:
            self.list_pages.labels(record.route).observe(record.pages)

    def observe_upstream(self, method: str, route: str, status: str, seconds: float) -> None:
        key = (route, method, status)
        children = self._upstream_children.get(key)
        if children is None:
            children = self._upstream_children[key] = (self.upstream_requests.labels(route, method, status),
                                                       self.upstream_seconds.labels(route, method))
        children[0].inc()
        children[1].observe(seconds)

    def observe_retry(self, method: str, route: str) -> None:
        self.retries.labels(route, method).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Reads the proxy's live state at scrape time."""

    def __init__(self, metrics: Metrics, upstream: Upstream, lookups: Lookups):
        self._metrics, self._upstream, self._lookups = metrics, upstream, lookups

    def collect(self) -> Iterator[Metric]:
        upstream, lookups = self._upstream, self._lookups

        in_flight = GaugeMetricFamily("capsule_proxy_requests_in_flight", "v1 requests being answered now")
        in_flight.add_metric([], self._metrics.in_flight)
        yield in_flight
        calls = GaugeMetricFamily("capsule_proxy_upstream_in_flight", "v2 calls under way now")
        calls.add_metric([], upstream.gate.in_flight)
        yield calls
        queued = GaugeMetricFamily("capsule_proxy_upstream_queued",
                                   "v1 requests waiting for a free upstream slot (back-pressure)")
        queued.add_metric([], upstream.gate.waiting)
        yield queued
        lists = self._metrics.lists
        if lists is not None:
            held = GaugeMetricFamily("capsule_proxy_list_records_reserved",
                                     "v1 list records the lists being answered have reserved ([server] max_list_items)")
            held.add_metric([], lists.held)
            yield held
            waiting = GaugeMetricFamily("capsule_proxy_lists_waiting",
                                        "v1 lists waiting for their share of [server] max_list_items")
            waiting.add_metric([], lists.waiting)
            yield waiting

        circuit = GaugeMetricFamily("capsule_proxy_circuit_open",
                                    "1 while the circuit breaker refuses upstream calls (open or probing)")
        circuit.add_metric([], 0 if upstream.breaker.state == "closed" else 1)
        yield circuit

        remaining = GaugeMetricFamily("capsule_proxy_rate_limit_remaining",
                                      "Requests left in the current hour, for the accounts (hashes of tokens) "
                                      f"nearest their limit, at most {RATE_LIMIT_ACCOUNTS_SHOWN}",
                                      labels=["account"])
        limit = GaugeMetricFamily("capsule_proxy_rate_limit_limit",
                                  "Requests allowed per hour, per account", labels=["account"])
        reset = GaugeMetricFamily("capsule_proxy_rate_limit_reset_seconds",
                                  "Seconds until the rate limit resets, per account", labels=["account"])
        now = time.time()
        accounts = sorted(upstream.rate_limits.accounts.items(), key=lambda item: item[1].remaining)
        for account, state in accounts[:RATE_LIMIT_ACCOUNTS_SHOWN]:
            remaining.add_metric([account], state.remaining)
            if state.limit is not None:
                limit.add_metric([account], state.limit)
            reset.add_metric([account], max(state.reset - now, 0))
        yield remaining
        yield limit
        yield reset
        tracked = GaugeMetricFamily("capsule_proxy_rate_limit_accounts",
                                    "Accounts whose rate-limit headroom the proxy tracks")
        tracked.add_metric([], len(accounts))
        yield tracked
        lowest = GaugeMetricFamily("capsule_proxy_rate_limit_remaining_min",
                                   "The fewest requests any tracked account has left this hour")
        if accounts:
            lowest.add_metric([], accounts[0][1].remaining)
            yield lowest

        hits = CounterMetricFamily("capsule_proxy_lookup_cache_hits", "Look-ups answered from cache",
                                   labels=["cache"])
        misses = CounterMetricFamily("capsule_proxy_lookup_cache_misses",
                                     "Look-ups that called the upstream", labels=["cache"])
        for name, cache in lookups.caches.items():
            hits.add_metric([name], cache.hits)
            misses.add_metric([name], cache.misses)
        yield hits
        yield misses
