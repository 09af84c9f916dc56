"""Bearer auth (401s, acting as the token's user) and the per-user hourly rate limit."""

from __future__ import annotations

import time

import pytest

from .helpers import LIMITED_SEED, PHILLIP, SOFIA, auth, create_task, list_ids, put_task

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


# --- auth ---

@pytest.mark.parametrize("headers", [
    pytest.param({}, id="missing"),
    pytest.param({"Authorization": "Basic dG9rLXBoaWxsaXA6eA=="}, id="basic-scheme"),
    pytest.param({"Authorization": "Token tok-phillip"}, id="other-scheme"),
    pytest.param({"Authorization": "Bearer"}, id="scheme-only"),
    pytest.param({"Authorization": "Bearer "}, id="empty-token"),
    pytest.param({"Authorization": "Bearer    "}, id="blank-token"),
    pytest.param({"Authorization": "Bearer tok-nobody"}, id="unknown-token"),
    pytest.param({"Authorization": "tok-phillip"}, id="token-without-scheme"),
])
@pytest.mark.parametrize("method, path", [("GET", "/api/v2/tasks"), ("GET", "/api/v2/users/current"),
                                          ("POST", "/api/v2/tasks"), ("DELETE", "/api/v2/tasks/1"),
                                          ("GET", "/api/v2/parties"), ("PUT", "/api/v2/parties/1"),
                                          ("DELETE", "/api/v2/opportunities/1"), ("GET", "/api/v2/countries"),
                                          ("POST", "/api/v2/entries"), ("GET", "/api/v2/kases/tags")])
async def test_bad_credentials_get_401_with_bearer_challenge(emulator, headers, method, path):
    resp = await emulator.request(method, path, headers=headers,
                                  json={"task": {"description": "x", "dueOn": "2026-01-01"}})
    assert resp.status == 401
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"message"}
    assert isinstance(body["message"], str) and body["message"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer ")


async def test_rejected_requests_change_nothing(emulator):
    before = await list_ids(emulator)
    resp = await emulator.post("/api/v2/tasks", headers=auth("tok-nobody"),
                               json={"task": {"description": "x", "dueOn": "2026-01-01"}})
    assert resp.status == 401
    resp = await emulator.delete("/api/v2/tasks/1", headers={})
    assert resp.status == 401
    assert await list_ids(emulator) == before


async def test_scheme_is_case_insensitive(emulator):
    resp = await emulator.get("/api/v2/users/current", headers={"Authorization": "bearer tok-sofia"})
    assert resp.status == 200
    assert (await resp.json())["user"]["username"] == "sofia"


@pytest.mark.parametrize("headers, user_id, username, name, timezone", [
    (PHILLIP, 1, "phillip", "Phillip Smith", "America/New_York"),
    (SOFIA, 2, "sofia", "Sofia Rossi", "Europe/Rome"),
])
async def test_token_acts_as_its_user(emulator, headers, user_id, username, name, timezone):
    resp = await emulator.get("/api/v2/users/current", headers=headers)
    assert resp.status == 200
    user = (await resp.json())["user"]
    assert (user["id"], user["username"], user["name"], user["timezone"]) == (user_id, username, name, timezone)
    assert "token" not in user


@pytest.mark.parametrize("headers, user_id", [(PHILLIP, 1), (SOFIA, 2)])
async def test_created_task_owner_defaults_to_token_user(emulator, headers, user_id):
    task = await create_task(emulator, headers=headers)
    assert task["owner"]["id"] == user_id


@pytest.mark.parametrize("completer, user_id, username", [(PHILLIP, 1, "phillip"), (SOFIA, 2, "sofia")])
async def test_completing_sets_completed_by_to_token_user(emulator, completer, user_id, username):
    task = await create_task(emulator, headers=PHILLIP, owner={"id": 1})
    done = (await put_task(emulator, task["id"], {"status": "COMPLETED"}, headers=completer))["task"]
    assert done["completedBy"] == username  # the documented model: a username string
    assert done["owner"]["id"] == 1  # completing does not reassign


# --- rate limit ---

@pytest.mark.parametrize("method, path, body, status", [
    ("GET", "/api/v2/tasks", None, 200),
    ("GET", "/api/v2/tasks/1", None, 200),
    ("GET", "/api/v2/tasks/999", None, 404),
    ("GET", "/api/v2/tasks?perPage=0", None, 400),
    ("POST", "/api/v2/tasks", {"task": {"description": "x", "dueOn": "2026-01-01"}}, 201),
    ("POST", "/api/v2/tasks", {"task": {"description": "x"}}, 422),
    ("PUT", "/api/v2/tasks/1", {"task": {"status": "PENDING"}}, 422),
    ("DELETE", "/api/v2/tasks/2", None, 204),
    ("PATCH", "/api/v2/tasks", None, 405),
    ("GET", "/api/v2/nothing-here", None, 404),
    ("GET", "/api/v2/users", None, 200),
    ("GET", "/api/v2/site", None, 200),
    ("GET", "/api/v2/parties/99", None, 404),
    ("GET", "/api/v2/parties/1,2?embed=tags", None, 200),
    ("PUT", "/api/v2/parties/1", {"party": {"jobTitle": "CEO"}}, 200),
    ("POST", "/api/v2/parties", {"party": {"type": "robot"}}, 422),
    ("GET", "/api/v2/parties/search?q=eric", None, 200),
    ("POST", "/api/v2/parties/filters/results", {"filter": {"conditions": []}}, 200),
    ("GET", "/api/v2/parties/deleted", None, 400),
    ("POST", "/api/v2/opportunities/1/parties/3", None, 204),
    ("DELETE", "/api/v2/kases/1", None, 204),
    ("GET", "/api/v2/kases/1/entries", None, 200),
    ("POST", "/api/v2/entries", {"entry": {"type": "note", "content": "x", "party": {"id": 1}}}, 201),
    ("GET", "/api/v2/opportunities/tags", None, 200),
    ("GET", "/api/v2/kases/fields/definitions", None, 200),
    ("GET", "/api/v2/countries", None, 200),
    ("GET", "/api/v2/currencies", None, 200),
    ("GET", "/api/v2/milestones", None, 200),
    ("GET", "/api/v2/pipelines/1/milestones", None, 200),
    ("GET", "/api/v2/trackdefinitions", None, 200),
])
async def test_rate_headers_on_every_authenticated_answer(emulator, method, path, body, status):
    resp = await emulator.request(method, path, headers=PHILLIP, json=body)
    assert resp.status == status, await resp.text()
    assert resp.headers["X-RateLimit-Limit"] == "4000"
    assert resp.headers["X-RateLimit-Remaining"] == "3999"  # a fresh emulator: the first request
    reset = int(resp.headers["X-RateLimit-Reset"])
    assert reset % 3600 == 0


async def test_remaining_decreases_with_each_request(emulator):
    seen = []
    for _ in range(4):
        resp = await emulator.get("/api/v2/tasks", headers=PHILLIP)
        seen.append(int(resp.headers["X-RateLimit-Remaining"]))
    assert seen == [3999, 3998, 3997, 3996]


async def test_reset_is_the_next_whole_hour(emulator):
    before = time.time()
    resp = await emulator.get("/api/v2/tasks", headers=PHILLIP)
    reset = int(resp.headers["X-RateLimit-Reset"])
    assert reset % 3600 == 0
    assert before < reset <= before + 3600


async def test_reset_follows_the_fake_clock(make_emulator):
    t = [1_800_000_000.0 + 1234.5]  # 1_800_000_000 is a whole hour
    client = await make_emulator(clock=lambda: t[0])
    resp = await client.get("/api/v2/tasks", headers=PHILLIP)
    assert resp.headers["X-RateLimit-Reset"] == "1800003600"


async def test_requests_past_the_limit_get_429(make_emulator):
    t = [1_800_000_000.0]
    client = await make_emulator(LIMITED_SEED, clock=lambda: t[0])
    remaining = []
    for _ in range(3):
        resp = await client.get("/api/v2/tasks", headers=auth("tok-ann"))
        assert resp.status == 200
        assert resp.headers["X-RateLimit-Limit"] == "3"
        remaining.append(resp.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    for _ in range(2):
        resp = await client.get("/api/v2/tasks", headers=auth("tok-ann"))
        assert resp.status == 429
        assert resp.content_type == "application/json"
        assert await resp.json() == {"error": "rate limit reached"}
        assert resp.headers["X-RateLimit-Limit"] == "3"
        assert resp.headers["X-RateLimit-Remaining"] == "0"
        assert resp.headers["X-RateLimit-Reset"] == "1800003600"


async def test_a_refused_request_does_nothing(make_emulator):
    client = await make_emulator(LIMITED_SEED)
    for _ in range(3):
        assert (await client.get("/api/v2/tasks", headers=auth("tok-ann"))).status == 200
    resp = await client.post("/api/v2/tasks", headers=auth("tok-ann"),
                             json={"task": {"description": "x", "dueOn": "2026-01-01"}})
    assert resp.status == 429
    assert await list_ids(client, headers=auth("tok-bob")) == []


async def test_limit_counts_per_user(make_emulator):
    client = await make_emulator(LIMITED_SEED)
    for _ in range(4):
        await client.get("/api/v2/tasks", headers=auth("tok-ann"))
    assert (await client.get("/api/v2/tasks", headers=auth("tok-ann"))).status == 429
    resp = await client.get("/api/v2/tasks", headers=auth("tok-bob"))
    assert resp.status == 200
    assert resp.headers["X-RateLimit-Remaining"] == "2"


async def test_limit_resets_in_the_next_hour(make_emulator):
    t = [1_800_000_000.0 + 10]
    client = await make_emulator(LIMITED_SEED, clock=lambda: t[0])
    for _ in range(3):
        assert (await client.get("/api/v2/tasks", headers=auth("tok-ann"))).status == 200
    assert (await client.get("/api/v2/tasks", headers=auth("tok-ann"))).status == 429
    t[0] = 1_800_003_599.9  # still the same hour
    assert (await client.get("/api/v2/tasks", headers=auth("tok-ann"))).status == 429
    t[0] = 1_800_003_600.0  # the next hour
    resp = await client.get("/api/v2/tasks", headers=auth("tok-ann"))
    assert resp.status == 200
    assert resp.headers["X-RateLimit-Remaining"] == "2"
    assert resp.headers["X-RateLimit-Reset"] == "1800007200"
