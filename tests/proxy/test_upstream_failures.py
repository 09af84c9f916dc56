"""How the proxy answers when the v2 upstream fails, refuses, or answers nonsense.

Small fake upstreams stand in for Capsule v2. The mapping under test (proxy/v1/problems.py):
422 → 400 naming each field error; 400/401/403/404 → the same; 429 → 429 with Retry-After and
the X-RateLimit-* headers; other statuses, 5xx and broken answers → 502; a timeout → 504.
Never a 500: the proxy's own failure status is not an answer to an upstream problem.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from aiohttp import web
from lxml import etree

from proxy.app import create_app
from proxy.config import load_settings
from proxy.emulator.app import create_app as create_emulator_app
from proxy.emulator.seed import parse_seed

from .conftest import JSON, PHILLIP, SOFIA, XML_BODY, Recorder

V2Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TASK_XML = b"<task><description>Call</description><dueDate>2026-01-05</dueDate></task>"


def v2_task(**overrides: Any) -> dict[str, Any]:
    """A well-formed date-only v2 task (no dueTime: no zone look-up is needed)."""
    task = {"id": 1, "description": "Fake task", "detail": None, "dueOn": "2026-01-05", "dueTime": None,
            "status": "OPEN", "owner": {"id": 1, "username": "phillip", "name": "Phillip"},
            "category": None, "party": None, "opportunity": None, "kase": None,
            "createdAt": "2025-01-01T10:00:00Z", "updatedAt": "2025-01-01T10:00:00Z", "completedAt": None}
    task.update(overrides)
    return task


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status, headers=headers,
                        content_type="application/json")


@pytest.fixture
def fake_recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def fake_proxy(aiohttp_server, aiohttp_client, fake_recorder):
    """fake_proxy(handler, **settings): a proxy in front of an upstream that answers every
    request with `handler`; fake_recorder sees what reached it."""
    async def make(handler: V2Handler, **sections: dict[str, Any]):
        app = web.Application(middlewares=[fake_recorder.middleware])
        app.router.add_route("*", "/{tail:.*}", handler)
        server = await aiohttp_server(app)
        settings = load_settings(environ={}, flags=sections)
        return await aiohttp_client(create_app(settings, str(server.make_url("")).rstrip("/")))
    return make


async def error_message(response, status: int) -> str:
    """The message of the v1 error document (XML or JSON, whichever was asked for)."""
    body = await response.read()
    assert response.status == status, body
    assert response.status != 500
    if response.headers["Content-Type"].startswith("application/json"):
        document = json.loads(body)
        assert list(document) == ["message"], body
        return document["message"]
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = etree.fromstring(body)
    assert root.tag == "error" and [child.tag for child in root] == ["message"], body
    return root.findtext("message")


# --- 422 → 400 ---

async def test_422_field_errors_become_one_400_naming_every_field(fake_proxy, fake_recorder):
    async def v2(request):
        return json_answer({"message": "Validation Failed", "errors": [
            {"resource": "task", "field": "description", "message": "is too long"},
            {"resource": "task", "field": "dueOn", "message": "must be in the future"},
            {"resource": "task", "message": "owner is not active"},
        ]}, 422)
    proxy = await fake_proxy(v2)
    response = await proxy.post("/api/task", data=TASK_XML, headers={**PHILLIP, **XML_BODY})
    message = await error_message(response, 400)
    assert "description: is too long" in message
    assert "dueOn: must be in the future" in message
    assert "owner is not active" in message
    assert "Location" not in response.headers
    assert fake_recorder.calls == [("POST", "/api/v2/tasks")]


async def test_422_without_field_errors_uses_the_message(fake_proxy):
    async def v2(request):
        return json_answer({"message": "Task cannot be saved"}, 422)
    proxy = await fake_proxy(v2)
    response = await proxy.put("/api/task/1", data=TASK_XML, headers={**PHILLIP, **XML_BODY, **JSON})
    assert "Task cannot be saved" in await error_message(response, 400)


async def test_422_with_junk_in_the_errors_list_is_still_a_400(fake_proxy):
    async def v2(request):
        return json_answer({"message": "Validation Failed",
                            "errors": ["not an object", 7, None, {"field": "detail", "message": "bad"}]}, 422)
    proxy = await fake_proxy(v2)
    response = await proxy.post("/api/task", data=TASK_XML, headers={**PHILLIP, **XML_BODY})
    assert "detail: bad" in await error_message(response, 400)


# --- passed through ---

@pytest.mark.parametrize("status", [400, 403, 404])
@pytest.mark.parametrize("accept", [{}, JSON], ids=["xml", "json"])
async def test_400_403_404_are_passed_through_with_the_upstream_message(fake_proxy, fake_recorder, status, accept):
    async def v2(request):
        return json_answer({"message": f"upstream says {status}"}, status)
    proxy = await fake_proxy(v2)
    response = await proxy.get("/api/task/1", headers={**PHILLIP, **accept})
    assert await error_message(response, status) == f"upstream says {status}"
    assert "WWW-Authenticate" not in response.headers
    assert fake_recorder.calls == [("GET", "/api/v2/tasks/1")]


async def test_404_on_delete_is_passed_through(fake_proxy, fake_recorder):
    async def v2(request):
        return json_answer({"message": "Could not find task 7"}, 404)
    proxy = await fake_proxy(v2)
    response = await proxy.delete("/api/task/7", headers=PHILLIP)
    assert await error_message(response, 404) == "Could not find task 7"
    assert fake_recorder.calls == [("DELETE", "/api/v2/tasks/7")]


async def test_401_gets_the_basic_challenge_not_the_upstreams(fake_proxy):
    async def v2(request):
        return json_answer({"message": "invalid token"}, 401, {"WWW-Authenticate": 'Bearer realm="v2"'})
    proxy = await fake_proxy(v2)
    response = await proxy.get("/api/task/1", headers=PHILLIP)
    assert await error_message(response, 401) == "invalid token"
    assert response.headers.getall("WWW-Authenticate") == ['Basic realm="Capsule"']


async def test_an_error_status_without_a_body_still_gets_a_message(fake_proxy):
    async def v2(request):
        return web.Response(status=403)
    proxy = await fake_proxy(v2)
    assert await error_message(await proxy.get("/api/task/1", headers=PHILLIP), 403)


# --- 429 ---

async def test_429_gets_retry_after_from_the_reset_time_and_the_rate_headers(fake_proxy):
    reset = int(time.time()) + 120

    async def v2(request):
        return json_answer({"error": "rate limit reached"}, 429, {
            "X-RateLimit-Limit": "4000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    proxy = await fake_proxy(v2)
    response = await proxy.get("/api/task/1", headers={**PHILLIP, **JSON})
    message = await error_message(response, 429)
    assert 115 <= int(response.headers["Retry-After"]) <= 121
    assert response.headers["Retry-After"] in message
    assert response.headers["X-RateLimit-Limit"] == "4000"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Reset"] == str(reset)


@pytest.mark.parametrize("reset_headers, low, high", [
    ({}, 60, 60),                                       # no reset given: a minute
    ({"X-RateLimit-Reset": "soon"}, 60, 60),            # unreadable: a minute
    ({"X-RateLimit-Reset": "1000"}, 1, 1),              # in the past: at least one second
])
async def test_429_retry_after_without_a_usable_reset(fake_proxy, reset_headers, low, high):
    async def v2(request):
        return json_answer({"error": "rate limit reached"}, 429, reset_headers)
    proxy = await fake_proxy(v2)
    response = await proxy.get("/api/tasks", headers=PHILLIP)
    await error_message(response, 429)
    assert low <= int(response.headers["Retry-After"]) <= high


RATE_LIMITED_SEED = (Path(__file__).resolve().parents[2] / "proxy/emulator/demo_seed.toml").read_text(
    encoding="utf-8").replace("requests_per_hour = 4000", "requests_per_hour = 2")


@pytest.fixture
async def rate_limited(aiohttp_server, aiohttp_client):
    """(proxy, v2 client, recorder) on an emulator that allows 2 requests per hour per user."""
    assert "requests_per_hour = 2" in RATE_LIMITED_SEED
    recorder = Recorder()
    emulator = create_emulator_app(parse_seed(RATE_LIMITED_SEED, "rate-limited seed"))
    emulator.middlewares.insert(0, recorder.middleware)
    server = await aiohttp_server(emulator)
    proxy = await aiohttp_client(create_app(load_settings(environ={}), str(server.make_url("")).rstrip("/")))
    v2 = await aiohttp_client(server)
    return proxy, v2, recorder


async def assert_rate_limited(response) -> None:
    message = await error_message(response, 429)
    assert "rate limit" in message
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) % 3600 == 0


async def test_the_third_call_within_the_emulators_limit_is_429(rate_limited):
    proxy, _, recorder = rate_limited
    for _ in range(2):  # task 2 is date-only: one upstream call each
        assert (await proxy.get("/api/task/2", headers=PHILLIP)).status == 200
    await assert_rate_limited(await proxy.get("/api/task/2", headers=PHILLIP))
    # The third call reaches the emulator, or the proxy, knowing none are left, refuses it itself.
    assert recorder.paths() in (["/api/v2/tasks/2"] * 2, ["/api/v2/tasks/2"] * 3)


async def test_the_emulators_own_429_reaches_the_client(rate_limited):
    proxy, v2, recorder = rate_limited
    for _ in range(2):  # phillip's two requests are spent by another client of the account
        assert (await v2.get("/api/v2/site", headers={"Authorization": "Bearer tok-phillip"})).status == 200
    recorder.clear()
    await assert_rate_limited(await proxy.get("/api/task/2", headers={**PHILLIP, **JSON}))
    assert recorder.paths() == ["/api/v2/tasks/2"]
    # The limit is per user: sofia still gets through.
    assert (await proxy.get("/api/task/2", headers=SOFIA)).status == 200


# --- broken upstreams → 502 ---

@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("body", [b'{"message": "boom"}', b"<html><body>Bad gateway</body></html>", b""],
                         ids=["json", "html", "empty"])
async def test_5xx_becomes_502(fake_proxy, fake_recorder, status, body):
    async def v2(request):
        return web.Response(body=body, status=status)
    proxy = await fake_proxy(v2)
    message = await error_message(await proxy.get("/api/task/1", headers=PHILLIP), 502)
    assert str(status) in message
    # A GET may be retried (a few times, within the total timeout); nothing else is called.
    assert 1 <= len(fake_recorder.calls) <= 5
    assert set(fake_recorder.calls) == {("GET", "/api/v2/tasks/1")}


@pytest.mark.parametrize("status", [302, 405, 409, 410, 418])
async def test_other_statuses_become_502(fake_proxy, status):
    async def v2(request):
        return json_answer({"message": "odd"}, status, {"Location": "/elsewhere"} if status == 302 else None)
    proxy = await fake_proxy(v2)
    await error_message(await proxy.get("/api/task/1", headers=PHILLIP), 502)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method, path, body", [("GET", "/api/task/1", None), ("POST", "/api/task", TASK_XML)],
                         ids=["GET", "POST"])
async def test_an_upstream_redirect_is_not_followed(fake_proxy, fake_recorder, status, method, path, body):
    # The target would answer a plausible task: following it would pass off another resource
    # (or, after a 303, a GET in place of the create) as the answer, and resend the token.
    async def v2(request):
        if request.path == "/elsewhere":
            return json_answer({"task": v2_task(id=5, description="redirected")}, 201 if method == "POST" else 200)
        return json_answer({"message": "moved"}, status, {"Location": "/elsewhere"})
    proxy = await fake_proxy(v2)
    response = await proxy.request(method, path, data=body, headers={**PHILLIP, **XML_BODY})
    message = await error_message(response, 502)
    assert str(status) in message
    assert "Location" not in response.headers
    assert "/elsewhere" not in [p for _, p in fake_recorder.calls]


async def test_invalid_json_with_200_is_502(fake_proxy):
    async def v2(request):
        return web.Response(body=b'{"task": {"id": 1,', content_type="application/json")
    proxy = await fake_proxy(v2)
    message = await error_message(await proxy.get("/api/task/1", headers=PHILLIP), 502)
    assert "not JSON" in message


@pytest.mark.parametrize("path, body", [
    ("/api/task/1", {"nope": 1}),
    ("/api/task/1", {"task": None}),
    ("/api/task/1", {"task": [1, 2]}),
    ("/api/task/1", [1, 2, 3]),
    ("/api/task/1", "a string"),
    ("/api/task/1", None),
    ("/api/tasks", {"nope": 1}),
    ("/api/tasks", {"tasks": {"id": 1}}),
    ("/api/tasks", {"tasks": [v2_task(), "not a task"]}),
    ("/api/tasks", {"tasks": [None]}),
    ("/api/tasks", {"tasks": [[v2_task()]]}),
    ("/api/users", {"users": "everyone"}),
    ("/api/task/categories", {"categories": 3}),
], ids=repr)
async def test_json_of_the_wrong_shape_is_502(fake_proxy, path, body):
    async def v2(request):
        return json_answer(body)
    proxy = await fake_proxy(v2)
    await error_message(await proxy.get(path, headers=PHILLIP), 502)


async def test_empty_200_for_a_task_is_502(fake_proxy):
    async def v2(request):
        return web.Response(status=200)
    proxy = await fake_proxy(v2)
    await error_message(await proxy.get("/api/task/1", headers=PHILLIP), 502)


async def test_created_without_an_id_is_502(fake_proxy, fake_recorder):
    async def v2(request):
        return json_answer({"task": {"description": "no id"}}, 201)
    proxy = await fake_proxy(v2)
    response = await proxy.post("/api/task", data=TASK_XML, headers={**PHILLIP, **XML_BODY})
    await error_message(response, 502)
    assert "Location" not in response.headers


@pytest.mark.parametrize("due_on", ["05/01/2026", "2026-13-01", "2026-02-30", "tomorrow", "", 20260105,
                                    ["2026-01-05"], {"date": "2026-01-05"}], ids=repr)
async def test_a_malformed_due_on_is_502_not_400_or_500(fake_proxy, due_on):
    async def v2(request):
        if request.path.startswith("/api/v2/tasks/"):
            return json_answer({"task": v2_task(dueOn=due_on)})
        return json_answer({"tasks": [v2_task(dueOn=due_on)]})
    proxy = await fake_proxy(v2)
    for path in ("/api/task/1", "/api/tasks"):
        response = await proxy.get(path, headers=PHILLIP)
        if due_on == "":  # an empty dueOn is read as "no due date", not as an error
            assert response.status == 200, await response.text()
            continue
        await error_message(response, 502)


@pytest.mark.parametrize("overrides", [
    {"dueTime": "25:61:00"},
    {"dueTime": "noon"},
    {"createdAt": "yesterday"},
    {"updatedAt": 12345},
], ids=repr)
async def test_other_malformed_task_fields_are_502(fake_proxy, overrides):
    async def v2(request):
        if request.path == "/api/v2/users/current":
            return json_answer({"user": {"id": 1, "username": "phillip", "timezone": "Europe/London"}})
        return json_answer({"task": v2_task(**overrides)})
    proxy = await fake_proxy(v2)
    await error_message(await proxy.get("/api/task/1", headers=PHILLIP), 502)


@pytest.mark.parametrize("overrides", [
    {"owner": "phillip"},
    {"category": ["Call"]},
    {"party": 7},
    {"opportunity": "CRM"},
    {"kase": True},
    {"description": {"text": "x"}},
    {"status": True},
    {"detail": 1.5},
], ids=repr)
@pytest.mark.parametrize("path", ["/api/task/1", "/api/tasks", "/api/tasks?category=Call&user=phillip",
                                  "/api/party/1/tasks"])
async def test_wrongly_typed_task_fields_are_502(fake_proxy, overrides, path):
    async def v2(request):
        if request.path == "/api/v2/tasks/1":
            return json_answer({"task": v2_task(**overrides)})
        if request.path == "/api/v2/parties/1":
            return json_answer({"party": {"id": 1, "type": "person", "firstName": "Eric"}})
        return json_answer({"tasks": [v2_task(**overrides)]})
    proxy = await fake_proxy(v2)
    response = await proxy.get(path, headers=PHILLIP)
    assert response.status in (200, 502), await response.text()
    if response.status == 200:  # a filter may have dropped the task before it was translated
        assert etree.fromstring(await response.read()).get("size") == "0"
    else:
        await error_message(response, 502)


@pytest.mark.parametrize("path, body", [
    ("/api/users", {"users": ["phillip"]}),
    ("/api/users", {"users": [{"id": 1, "username": "phillip", "party": "x"}]}),
    ("/api/users", {"users": [{"id": 1, "username": {"a": 1}}]}),
    ("/api/task/categories", {"categories": ["Call"]}),
    ("/api/task/categories", {"categories": [{"id": 1, "name": 5.5}]}),
], ids=repr)
async def test_wrongly_typed_users_and_categories_are_502(fake_proxy, path, body):
    async def v2(request):
        if request.path == "/api/v2/users/current":
            return json_answer({"user": {"id": 1, "username": "phillip", "timezone": "Europe/London"}})
        return json_answer(body)
    proxy = await fake_proxy(v2)
    await error_message(await proxy.get(path, headers=PHILLIP), 502)


async def test_an_unknown_time_zone_for_the_owner_is_502(fake_proxy, fake_recorder):
    async def v2(request):
        if request.path == "/api/v2/users":
            return json_answer({"users": [{"id": 1, "username": "phillip", "timezone": "Mars/Olympus"}]})
        return json_answer({"task": v2_task(dueTime="10:00:00")})
    proxy = await fake_proxy(v2)
    await error_message(await proxy.get("/api/task/1", headers=PHILLIP), 502)
    assert fake_recorder.paths() == ["/api/v2/tasks/1", "/api/v2/users"]


async def test_an_answer_over_the_size_bound_is_502(fake_proxy, monkeypatch):
    from proxy.upstream import client
    monkeypatch.setattr(client, "MAX_ANSWER_BYTES", 4096)

    async def v2(request):
        return json_answer({"task": v2_task(detail="x" * 10_000)})
    proxy = await fake_proxy(v2)
    assert "too large" in await error_message(await proxy.get("/api/task/1", headers=PHILLIP), 502)


# --- no answer ---

async def test_a_slow_upstream_is_504_within_the_total_timeout(fake_proxy):
    async def v2(request):
        await asyncio.sleep(5)
        return json_answer({"task": v2_task()})
    proxy = await fake_proxy(v2, upstream={"total_timeout": 0.3})
    started = time.monotonic()
    response = await proxy.get("/api/task/1", headers={**PHILLIP, **JSON})
    message = await error_message(response, 504)
    assert time.monotonic() - started < 1.0
    assert "in time" in message


async def test_a_slow_write_is_504_too(fake_proxy, fake_recorder):
    async def v2(request):
        await asyncio.sleep(5)
        return web.Response(status=201)
    proxy = await fake_proxy(v2, upstream={"total_timeout": 0.3})
    started = time.monotonic()
    await error_message(await proxy.post("/api/task", data=TASK_XML, headers={**PHILLIP, **XML_BODY}), 504)
    assert time.monotonic() - started < 1.0


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/task/1", None), ("GET", "/api/tasks", None), ("GET", "/api/users", None),
    ("POST", "/api/task", TASK_XML), ("PUT", "/api/task/1", TASK_XML), ("DELETE", "/api/task/1", None),
])
async def test_a_closed_port_is_502_quickly(aiohttp_client, method, path, body):
    proxy = await aiohttp_client(create_app(load_settings(environ={}), f"http://127.0.0.1:{closed_port()}"))
    started = time.monotonic()
    response = await proxy.request(method, path, data=body, headers={**PHILLIP, **XML_BODY})
    message = await error_message(response, 502)
    assert time.monotonic() - started < 1.5
    assert "could not be reached" in message


async def test_a_connection_dropped_mid_answer_is_502(aiohttp_server, aiohttp_client):
    async def v2(request):
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b'{"task": {')
        request.transport.close()
        return response
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", v2)
    server = await aiohttp_server(app)
    proxy = await aiohttp_client(create_app(load_settings(environ={}), str(server.make_url("")).rstrip("/")))
    await error_message(await proxy.get("/api/task/1", headers=PHILLIP), 502)


async def test_readyz_says_503_for_an_unreachable_upstream(aiohttp_client):
    proxy = await aiohttp_client(create_app(load_settings(environ={}), f"http://127.0.0.1:{closed_port()}"))
    response = await proxy.get("/readyz")
    assert response.status == 503
