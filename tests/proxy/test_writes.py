"""v1 writes through the proxy: create (plain and linked), update, delete, complete, reopen."""

from __future__ import annotations

import re

import pytest

from tests.conftest import bearer

from .conftest import JSON_BODY, PHILLIP, SOFIA, XML_BODY


def task_xml(**fields: str) -> bytes:
    children = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><task>{children}</task>'.encode()


async def v2_task(upstream_client, task_id: int) -> dict:
    response = await upstream_client.get(f"/api/v2/tasks/{task_id}", headers=bearer())
    assert response.status == 200
    return (await response.json())["task"]


@pytest.fixture
async def v2(aiohttp_client, upstream):
    """A plain v2 client on the same emulator, to see what the proxy stored."""
    from aiohttp.test_utils import TestClient
    client = TestClient(upstream)
    await client.start_server()
    yield client
    await client.close()


def created_id(response, proxy) -> int:
    location = response.headers["Location"]
    match = re.fullmatch(rf"http://127\.0\.0\.1:{proxy.port}/api/task/(\d+)", location)
    assert match, location
    return int(match[1])


async def post(proxy, path, body, headers=PHILLIP, status=201, content=XML_BODY):
    response = await proxy.post(path, data=body, headers={**headers, **content})
    assert response.status == status, await response.text()
    return response


async def test_create_task_xml(proxy, v2, recorder):
    response = await post(proxy, "/api/task", task_xml(description="Call customer",
                                                       dueDateTime="2026-07-01T15:00:00Z"))
    assert await response.read() == b""
    task = await v2_task(v2, created_id(response, proxy))
    assert task["description"] == "Call customer"
    # 15:00Z is 11:00 in New York (EDT) on that day, kept as phillip's wall time.
    assert (task["dueOn"], task["dueTime"]) == ("2026-07-01", "11:00:00")
    assert task["owner"]["username"] == "phillip"
    assert task["party"] is None and task["opportunity"] is None and task["kase"] is None


async def test_create_date_only_task_keeps_the_date(proxy, v2):
    response = await post(proxy, "/api/task", task_xml(description="x", dueDate="2026-03-08T00:00:00Z"))
    task = await v2_task(v2, created_id(response, proxy))
    assert (task["dueOn"], task["dueTime"]) == ("2026-03-08", None)


async def test_create_with_owner_and_category_lookups(proxy, v2):
    response = await post(proxy, "/api/task", task_xml(
        description="Meet", dueDateTime="2026-01-10T09:00:00Z", owner="sofia", category="meeting"))
    task = await v2_task(v2, created_id(response, proxy))
    assert task["owner"]["id"] == 2 and task["category"]["name"] == "Meeting"
    # The zone is the owner's (sofia, Rome), not the caller's (P1).
    assert task["dueTime"] == "10:00:00"


async def test_create_task_json(proxy, v2):
    body = b'{"task": {"description": "From JSON", "dueDateTime": "2026-01-10T09:00:00Z", "category": "Email"}}'
    response = await post(proxy, "/api/task", body, content=JSON_BODY)
    task = await v2_task(v2, created_id(response, proxy))
    assert task["description"] == "From JSON" and task["category"]["name"] == "Email"


@pytest.mark.parametrize("fields, named", [
    ({"description": "x", "dueDateTime": "2026-01-10T09:00:00Z", "category": "Nope"}, "Nope"),
    ({"description": "x", "dueDateTime": "2026-01-10T09:00:00Z", "owner": "ghost"}, "ghost"),
    ({"description": "x", "dueDate": "2026-01-10T00:00:00Z", "dueDateTime": "2026-01-10T09:00:00Z"}, "dueDate"),
    ({"description": "x"}, "dueDate"),
    ({"dueDate": "2026-01-10T00:00:00Z"}, "description"),
    ({"description": "x", "dueDateTime": "tomorrow"}, "dueDateTime"),
    ({"description": "x", "dueDate": "2026-01-10T00:00:00Z", "colour": "red"}, "colour"),
])
async def test_bad_creates_are_400_and_create_nothing(proxy, recorder, fields, named):
    response = await post(proxy, "/api/task", task_xml(**fields), status=400)
    assert named in await response.text()
    assert recorder.paths("POST") == []


@pytest.mark.parametrize("kind, parent, link", [
    ("party", 2, "party"), ("opportunity", 1, "opportunity"), ("kase", 1, "kase")])
async def test_create_linked_task(proxy, v2, kind, parent, link):
    response = await post(proxy, f"/api/{kind}/{parent}/task",
                          task_xml(description="Linked", dueDate="2026-02-02T00:00:00Z"))
    # The Location is always /api/task/{id}, whichever parent URL was used.
    task = await v2_task(v2, created_id(response, proxy))
    assert task[link]["id"] == parent


@pytest.mark.parametrize("kind", ["party", "opportunity", "kase"])
async def test_create_on_a_missing_parent_is_404(proxy, recorder, kind):
    await post(proxy, f"/api/{kind}/999/task", task_xml(description="x", dueDate="2026-02-02T00:00:00Z"),
               status=404)
    assert recorder.paths("POST") == []


async def test_linked_create_with_a_bad_body_never_reaches_upstream(proxy, recorder):
    await post(proxy, "/api/party/1/task", b"<task><description>x</description>", status=400)
    assert recorder.calls == []


async def test_location_uses_public_url(make_proxy):
    proxy = await make_proxy(server={"public_url": "https://capsule.example.com/"})
    response = await post(proxy, "/api/task", task_xml(description="x", dueDate="2026-02-02T00:00:00Z"))
    assert re.fullmatch(r"https://capsule\.example\.com/api/task/\d+", response.headers["Location"])


async def test_forwarded_headers_only_when_trusted(make_proxy):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "crm.example.org"}
    body = task_xml(description="x", dueDate="2026-02-02T00:00:00Z")
    untrusting = await make_proxy()
    response = await post(untrusting, "/api/task", body, headers={**PHILLIP, **forwarded})
    assert response.headers["Location"].startswith(f"http://127.0.0.1:{untrusting.port}/api/task/")
    trusting = await make_proxy(server={"trust_forwarded": True})
    response = await post(trusting, "/api/task", body, headers={**PHILLIP, **forwarded})
    assert re.fullmatch(r"https://crm\.example\.org/api/task/\d+", response.headers["Location"])


async def test_update_changes_only_the_fields_sent(proxy, v2):
    before = await v2_task(v2, 1)
    response = await proxy.put("/api/task/1", data=task_xml(description="Renamed"), headers={**PHILLIP, **XML_BODY})
    assert response.status == 200 and await response.read() == b""
    after = await v2_task(v2, 1)
    assert after["description"] == "Renamed"
    for key in ("dueOn", "dueTime", "category", "party", "owner", "detail"):
        assert after[key] == before[key]


async def test_get_edit_put_round_trip(proxy, v2):
    got = await proxy.get("/api/task/1", headers=PHILLIP)
    document = (await got.read()).replace(b"Call Eric about the renewal", b"Call Eric today")
    response = await proxy.put("/api/task/1", data=document, headers={**PHILLIP, **XML_BODY})
    assert response.status == 200, await response.text()
    after = await v2_task(v2, 1)
    assert after["description"] == "Call Eric today"
    assert (after["dueOn"], after["dueTime"], after["party"]["id"]) == ("2026-12-01", "15:00:00", 1)


async def test_update_to_date_only_clears_the_time(proxy, v2):
    response = await proxy.put("/api/task/1", data=task_xml(dueDate="2026-12-24T00:00:00Z"),
                               headers={**PHILLIP, **XML_BODY})
    assert response.status == 200
    after = await v2_task(v2, 1)
    assert (after["dueOn"], after["dueTime"]) == ("2026-12-24", None)


async def test_update_json_and_unknown_element(proxy, v2):
    response = await proxy.put("/api/task/2", data=b'{"task": {"detail": "New detail"}}', headers={**PHILLIP, **JSON_BODY})
    assert response.status == 200
    assert (await v2_task(v2, 2))["detail"] == "New detail"
    response = await proxy.put("/api/task/2", data=task_xml(priority="high"), headers={**PHILLIP, **XML_BODY})
    assert response.status == 400 and "priority" in await response.text()


async def test_update_missing_task_is_404(proxy):
    response = await proxy.put("/api/task/999", data=task_xml(description="x"), headers={**PHILLIP, **XML_BODY})
    assert response.status == 404


async def test_delete_answers_200_then_404(proxy, recorder):
    response = await proxy.delete("/api/task/2", headers=PHILLIP)
    assert response.status == 200 and await response.read() == b""
    assert ("DELETE", "/api/v2/tasks/2") in recorder.calls
    assert (await proxy.get("/api/task/2", headers=PHILLIP)).status == 404
    assert (await proxy.delete("/api/task/2", headers=PHILLIP)).status == 404


@pytest.mark.parametrize("body, content", [(b"", {}), (b"{}", {"Content-Type": "application/json"}),
                                           (b"<task/>", XML_BODY), (b"not even xml", XML_BODY)])
async def test_complete_and_reopen_ignore_any_body(proxy, v2, body, content):
    response = await proxy.post("/api/task/1/complete", data=body, headers={**SOFIA, **content})
    assert response.status == 200 and await response.read() == b""
    done = await v2_task(v2, 1)
    assert done["status"] == "COMPLETED" and done["completedBy"] == "sofia"
    got = await proxy.get("/api/task/1", headers=PHILLIP)
    assert b"<status>COMPLETED</status>" in await got.read()
    response = await proxy.post("/api/task/1/reopen", data=body, headers={**PHILLIP, **content})
    assert response.status == 200
    assert (await v2_task(v2, 1))["status"] == "OPEN"


async def test_complete_missing_task_is_404(proxy):
    assert (await proxy.post("/api/task/999/complete", headers=PHILLIP)).status == 404


async def test_steady_state_create_makes_no_lookup_calls(proxy, recorder):
    body = task_xml(description="Meet", dueDateTime="2026-01-10T09:00:00Z", owner="sofia", category="Meeting")
    await post(proxy, "/api/task", body)
    cold = recorder.paths()
    assert "/api/v2/users" in cold and "/api/v2/users/current" not in cold   # the owner's zone
    assert any(path.startswith("/api/v2/categories") for path in cold)
    recorder.clear()
    await post(proxy, "/api/task", body)
    assert recorder.calls == [("POST", "/api/v2/tasks")]  # zone, owner and category from the cache
