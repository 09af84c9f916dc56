"""Probes, metrics and logs: what an operator reads to know health, speed, rate-limit headroom
and which legacy calls fail."""

from __future__ import annotations

import io
import json
import logging
import socket

from prometheus_client.parser import text_string_to_metric_families

from proxy.app import create_app
from proxy.config import load_settings
from proxy.logs import redact, setup_logging
from proxy.ops import create_ops_app
from tests.proxy.conftest import PHILLIP, basic


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(client) -> dict[tuple[str, tuple], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(await response.text())


async def test_metrics_appear_after_requests(proxy):
    await proxy.get("/api/task/1", headers=PHILLIP)
    await proxy.get("/api/task/1", headers=PHILLIP)
    await proxy.get("/api/task/999", headers=PHILLIP)
    await proxy.post("/api/task", data=b"<task><nope/></task>", headers=PHILLIP)
    got = await scrape(proxy)
    ok = ("capsule_proxy_requests_total", (("method", "GET"), ("route", "/api/task/{id}"), ("status", "200")))
    assert got[ok] == 2
    assert got[("capsule_proxy_requests_total",
                (("method", "GET"), ("route", "/api/task/{id}"), ("status", "404")))] == 1
    assert got[("capsule_proxy_request_duration_seconds_count", (("method", "GET"), ("route", "/api/task/{id}")))] == 3
    assert got[("capsule_proxy_upstream_requests_total",
                (("method", "GET"), ("route", "/api/v2/tasks/{id}"), ("status", "200")))] == 2
    assert got[("capsule_proxy_rejected_documents_total", (("reason", "schema"),))] == 1
    # The owner's zone (the users list) was looked up once, then came from the cache.
    assert got[("capsule_proxy_lookup_cache_misses_total", (("cache", "users"),))] == 1
    assert got[("capsule_proxy_lookup_cache_hits_total", (("cache", "users"),))] == 1
    remaining = [value for (name, labels), value in got.items() if name == "capsule_proxy_rate_limit_remaining"]
    assert remaining and remaining[0] < 4000
    assert got[("capsule_proxy_circuit_open", ())] == 0
    assert ("capsule_proxy_requests_in_flight", ()) in got


async def test_metrics_never_name_a_token(proxy):
    await proxy.get("/api/task/1", headers=PHILLIP)
    text = await (await proxy.get("/metrics")).text()
    assert "tok-phillip" not in text
    accounts = [line for line in text.splitlines() if line.startswith("capsule_proxy_rate_limit_remaining{")]
    assert accounts and 'account="' in accounts[0]


async def test_request_id_is_kept_or_made(proxy):
    response = await proxy.get("/api/task/2", headers={**PHILLIP, "X-Request-Id": "legacy-job-42"})
    assert response.headers["X-Request-Id"] == "legacy-job-42"
    made = await proxy.get("/api/task/2", headers={**PHILLIP, "X-Request-Id": "bad id\twith spaces"})
    assert made.headers["X-Request-Id"] != "bad id\twith spaces" and len(made.headers["X-Request-Id"]) == 32


async def test_the_upstream_receives_the_request_id(make_proxy, aiohttp_server):
    from aiohttp import web
    seen = []

    async def task(request):
        seen.append(request.headers.get("X-Request-Id"))
        return web.json_response({"task": {"id": 1, "description": "x", "dueOn": "2026-01-01"}})

    app = web.Application()
    app.router.add_get("/api/v2/tasks/{id}", task)
    server = await aiohttp_server(app)
    from aiohttp.test_utils import TestClient, TestServer
    client = TestClient(TestServer(create_app(load_settings(environ={}), str(server.make_url("")).rstrip("/"))))
    await client.start_server()
    try:
        await client.get("/api/task/1", headers={**PHILLIP, "X-Request-Id": "trace-7"})
    finally:
        await client.close()
    assert seen == ["trace-7"]


async def test_access_log_line_has_every_field_and_no_token(proxy, caplog):
    caplog.set_level(logging.INFO, logger="capsule_proxy.access")
    await proxy.get("/api/task/999", headers={**PHILLIP, "User-Agent": "invoicing-job/2.1"})
    [record] = [r for r in caplog.records if r.name == "capsule_proxy.access"]
    for field in ("request_id", "client", "method", "route", "status", "duration_ms", "upstream_calls",
                  "bytes_in", "bytes_out", "user_agent", "error"):
        assert hasattr(record, field), field
    assert (record.route, record.status, record.upstream_calls) == ("/api/task/{id}", 404, 1)
    assert record.user_agent == "invoicing-job/2.1"
    stream = io.StringIO()
    setup_logging("info", "json", stream)
    try:
        logging.getLogger("capsule_proxy.access").handle(record)
    finally:
        setup_logging("warning", "text")
    line = json.loads(stream.getvalue())
    assert line["route"] == "/api/task/{id}" and line["status"] == 404 and line["time"].endswith("Z")
    assert "tok-phillip" not in stream.getvalue() and "dG9rLXBoaWxsaXA6eA" not in stream.getvalue()


def test_redaction_is_a_last_line_of_defence():
    assert redact("sent Authorization: Basic dG9rOng= and Bearer tok-123") == \
        "sent Authorization: Basic [redacted] and Bearer [redacted]"
    stream = io.StringIO()
    setup_logging("info", "json", stream)
    try:
        logging.getLogger("capsule_proxy.test").info("header was %s", "Bearer secret-token")
    finally:
        setup_logging("warning", "text")
    assert "secret-token" not in stream.getvalue() and "[redacted]" in stream.getvalue()


async def test_probes_are_answered_without_auth(proxy):
    assert (await proxy.get("/healthz")).status == 200
    response = await proxy.get("/readyz")
    assert response.status == 200 and (await response.json())["status"] == "ready"


async def test_readiness_flips_when_the_upstream_goes_away(aiohttp_client, upstream):
    proxy = await aiohttp_client(create_app(load_settings(environ={}), str(upstream.make_url("")).rstrip("/")))
    assert (await proxy.get("/readyz")).status == 200
    await upstream.close()
    services = proxy.app[__import__("proxy.keys", fromlist=["SERVICES"]).SERVICES]
    services.upstream.last_answer_at = float("-inf")   # the last answer is now long ago ...
    services.ready_checked_at = float("-inf")          # ... and the cached probe too
    response = await proxy.get("/readyz")
    assert response.status == 503
    assert "not answering" in (await response.json())["reason"]


async def test_readiness_reports_an_open_circuit(make_proxy):
    proxy = await make_proxy()
    breaker = proxy.app[__import__("proxy.keys", fromlist=["SERVICES"]).SERVICES].upstream.breaker
    for _ in range(breaker.threshold):
        breaker.record_failure()
    response = await proxy.get("/readyz")
    assert response.status == 503 and "circuit" in (await response.json())["reason"]
    metrics = await scrape(proxy)
    assert metrics[("capsule_proxy_circuit_open", ())] == 1


async def test_ops_port_moves_probes_and_metrics_off_the_public_port(aiohttp_client, upstream):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(environ={}, flags={"ops": {"port": port}})
    main = create_app(settings, str(upstream.make_url("")).rstrip("/"))
    public = await aiohttp_client(main)
    ops = await aiohttp_client(create_ops_app(main))
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await public.get(path)).status == 404
    await public.get("/api/task/2", headers=basic())
    assert (await ops.get("/healthz")).status == 200
    text = await (await ops.get("/metrics")).text()
    assert 'route="/api/task/{id}"' in text
