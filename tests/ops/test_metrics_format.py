"""/metrics of a live proxy, read by prometheus_client's own text parser (and `promtool check
metrics` where Prometheus' promtool is installed), against Prometheus' naming conventions
(https://prometheus.io/docs/practices/naming/): base units in the name (`_seconds`, `_bytes`),
`_total` on counters and only on counters, HELP and TYPE for every metric, and labels from a small
fixed set whose values are bounded: route templates, never raw ids, tokens or paths.

The proxy runs in front of the emulator (tests/proxy/conftest.py) and answers a few requests first,
a 404 and upstream calls among them, so that every labelled family has samples to check.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from proxy.keys import SERVICES
from tests.proxy.conftest import PHILLIP

PREFIX = "capsule_proxy_"
# A histogram of a count names what it counts, in the plural (Prometheus: "a unit ... in plural form").
COUNTED_UNITS = ("_pages",)
# Every label a metric may carry, and what its values may be. `account` is a 12-hex-digit hash of a
# token (proxy.upstream.resilience.account_key), at most RateLimits.max_accounts of them.
LABEL_VALUES = {
    "route": re.compile(r"unmatched|/[\w./{}-]*"),
    "method": re.compile(r"GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|OTHER"),
    "status_class": re.compile(r"[1-5]xx"),
    "client": re.compile(r"[0-9a-f]{8}|other"),     # an admitted client's salted hash, bounded (M3)
    "status": re.compile(r"[1-5]\d\d|timeout|unreachable"),
    "reason": re.compile(r"[a-z][a-z0-9_]*"),
    "cache": re.compile(r"[a-z][a-z0-9_]*"),
    "account": re.compile(r"[0-9a-f]{12}"),
    "le": re.compile(r"[0-9.e+-]+|\+Inf"),
}
RAW_ID = re.compile(r"/(?:\d+|[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16,})(?=/|$)")  # /123, a UUID, a long hex
TIME_WORDS = re.compile(r"\b(?:time|duration|latency|elapsed|age|seconds?)\b", re.I)
SIZE_WORDS = re.compile(r"\b(?:size|bytes?|length)\b", re.I)
OTHER_UNITS = re.compile(r"_(?:milliseconds|millis|ms|microseconds|us|nanoseconds|ns|minutes|hours|days|"
                         r"kilobytes|kb|megabytes|mb|bits|percent)(?:_|$)")
SAMPLE_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)")


def metric_problems(text: str) -> list[str]:
    """Everything in a Prometheus text exposition that breaks the naming conventions."""
    problems: list[str] = []
    declared = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    helped = set(re.findall(r"^# HELP (\S+) ", text, re.M))
    # prometheus_client's parser renames a counter's samples to <name>_total whatever the text
    # says, so the counter names are read off the TYPE lines and sample lines themselves.
    for name, kind in declared.items():
        if kind == "counter" and not name.endswith("_total"):
            problems.append(f"{name}: a counter's name ends in _total")
        if kind != "counter" and name.endswith("_total"):
            problems.append(f"{name}: only counters end in _total ({kind})")
        if name not in helped:
            problems.append(f"{name}: no HELP")
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = family
        name, kind = family.name, family.type
        parent = name.removesuffix("_created")
        if parent != name and declared.get(parent, declared.get(parent + "_total")) in ("counter", "histogram",
                                                                                          "summary"):
            continue  # the creation timestamp prometheus_client writes beside a counter or histogram
        if kind == "unknown":
            problems.append(f"{name}: no TYPE")
        if not family.documentation.strip():
            problems.append(f"{name}: no HELP text")
        if not re.fullmatch(rf"{PREFIX}[a-z0-9_]+", name) or "__" in name:
            problems.append(f"{name}: not a snake_case name starting {PREFIX}")
        base = name.removesuffix("_total")
        if OTHER_UNITS.search(base):
            problems.append(f"{name}: use base units in names (_seconds, _bytes), not {OTHER_UNITS.search(base)[0]}")
        if kind in ("histogram", "summary") and not base.endswith(("_seconds", "_bytes") + COUNTED_UNITS):
            problems.append(f"{name}: a {kind} names its unit (_seconds or _bytes, or what it counts)")
        if TIME_WORDS.search(family.documentation) and not base.endswith("_seconds"):
            problems.append(f"{name}: measures time ({family.documentation!r}), so it ends in _seconds")
        if (SIZE_WORDS.search(family.documentation) or re.search(r"_(?:size|length)$", base)) \
                and not base.endswith("_bytes"):
            problems.append(f"{name}: measures a size ({family.documentation!r}), so it ends in _bytes")
        for sample in family.samples:
            for label, value in sample.labels.items():
                allowed = LABEL_VALUES.get(label)
                if allowed is None:
                    problems.append(f"{name}: label {label!r} is not one of {sorted(LABEL_VALUES)} "
                                    "(per-user, per-token, per-request or per-path labels are unbounded)")
                elif not allowed.fullmatch(value):
                    problems.append(f"{name}: {label}={value!r} is not a bounded {label} value")
                elif label == "route" and RAW_ID.search(value):
                    problems.append(f"{name}: route={value!r} holds a raw id, not a template such as /api/task/{{id}}")
    for line in text.splitlines():
        match = SAMPLE_NAME.match(line)
        if match and not line.startswith("#") and not any(
                match[1] == f or match[1].startswith(f + "_") or match[1] == d for f in families for d in declared):
            problems.append(f"{match[1]}: a sample of no declared metric")
    return sorted(set(problems))


async def traffic(proxy) -> None:
    """A few requests, so that every labelled family has samples: reads that call the upstream, a
    404 from the upstream, an unmatched route, a refused document."""
    assert (await proxy.get("/api/task/1", headers=PHILLIP)).status == 200
    assert (await proxy.get("/api/task/999", headers=PHILLIP)).status == 404
    assert (await proxy.get("/api/users", headers=PHILLIP)).status == 200
    assert (await proxy.get("/api/no-such-thing/12345", headers=PHILLIP)).status == 404
    assert (await proxy.post("/api/task", data=b"<task><nope/></task>", headers=PHILLIP)).status == 400


async def scrape(proxy) -> str:
    response = await proxy.get("/metrics")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
    return await response.text()


async def test_the_live_metrics_follow_the_prometheus_conventions(proxy):
    await traffic(proxy)
    text = await scrape(proxy)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # The traffic reached the labelled families the checks below are about.
    routes = {s.labels.get("route") for f in families.values() for s in f.samples} - {None}
    assert {"unmatched", "/api/task/{id}"} <= routes and any(r.startswith("/api/v2/") for r in routes), routes
    assert any(s.labels.get("status") == "404" for s in families[PREFIX + "requests"].samples)
    assert families[PREFIX + "rate_limit_remaining"].samples, "no upstream call was made"
    assert "tok-phillip" not in text
    problems = metric_problems(text)
    assert not problems, "/metrics breaks the Prometheus naming conventions:\n  " + "\n  ".join(problems)


async def test_the_check_sees_a_badly_named_metric_in_the_live_scrape(proxy):
    """The check is live: metrics added to the running proxy's own registry are caught by name."""
    registry = proxy.app[SERVICES].metrics.registry
    Gauge("capsule_proxy_upstream_latency_ms", "Upstream latency in milliseconds", registry=registry).set(3)
    Histogram("capsule_proxy_body", "Size of v1 bodies", registry=registry).observe(10)
    Counter("capsule_proxy_calls", "Calls per user", ["user_id", "route"],
            registry=registry).labels("u-42", "/api/task/17").inc()
    await traffic(proxy)
    found = "\n".join(metric_problems(await scrape(proxy)))
    for expected in ("capsule_proxy_upstream_latency_ms: use base units", "capsule_proxy_upstream_latency_ms: "
                     "measures time", "capsule_proxy_body: a histogram names its unit", "label 'user_id'",
                     "route='/api/task/17' holds a raw id"):
        assert expected in found, f"missed {expected!r} in:\n{found}"


@pytest.mark.parametrize("text, expected", [
    ("# HELP capsule_proxy_calls Calls\n# TYPE capsule_proxy_calls counter\ncapsule_proxy_calls 1\n",
     "a counter's name ends in _total"),
    ("# HELP capsule_proxy_open_total Open\n# TYPE capsule_proxy_open_total gauge\ncapsule_proxy_open_total 1\n",
     "only counters end in _total"),
    ("# TYPE capsule_proxy_open gauge\ncapsule_proxy_open 1\n", "no HELP"),
    ("# HELP capsule_proxy_open Open\ncapsule_proxy_open 1\n", "no TYPE"),
    ("# HELP capsule_proxy_wait Time spent waiting\n# TYPE capsule_proxy_wait gauge\ncapsule_proxy_wait 1\n",
     "measures time"),
    ("# HELP capsule_proxy_body_size Request body size\n# TYPE capsule_proxy_body_size gauge\n"
     "capsule_proxy_body_size 1\n", "measures a size"),
    ("# HELP capsule_proxy_open Open\n# TYPE capsule_proxy_open gauge\ncapsule_proxy_open{token=\"abc\"} 1\n",
     "label 'token'"),
    ("# HELP capsule_proxy_open Open\n# TYPE capsule_proxy_open gauge\n"
     "capsule_proxy_open{route=\"/api/party/123/tasks\"} 1\n", "holds a raw id"),
    ("# HELP capsule_proxy_open Open\n# TYPE capsule_proxy_open gauge\ncapsule_proxy_open{status=\"oops\"} 1\n",
     "not a bounded status value"),
    ("# HELP requests_total Requests\n# TYPE requests_total counter\nrequests_total 1\n", "snake_case name starting"),
])
def test_the_check_reports_each_kind_of_bad_name(text, expected):
    problems = metric_problems(text)
    assert any(expected in p for p in problems), problems


async def test_promtool_check_metrics_accepts_the_scrape(proxy):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Prometheus) is not installed: `promtool check metrics` is not run; "
                    "prometheus_client's parser and the checks above still are")
    await traffic(proxy)
    text = await scrape(proxy)
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"promtool check metrics:\n{result.stdout}{result.stderr}"
    # The check is live: promtool refuses a counter without _total.
    bad = "# HELP capsule_proxy_calls Calls\n# TYPE capsule_proxy_calls counter\ncapsule_proxy_calls 1\n"
    result = subprocess.run([promtool, "check", "metrics"], input=bad, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "_total" in result.stdout + result.stderr, result
