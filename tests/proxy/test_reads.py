"""v1 reads through the proxy: one task, users, categories, in XML and v1 JSON."""

from __future__ import annotations

import pytest
from lxml import etree

from .conftest import JSON, PHILLIP, SOFIA


def xml_task(body: bytes) -> dict[str, str]:
    root = etree.fromstring(body)
    assert root.tag == "task"
    return {child.tag: child.text for child in root}


async def get(proxy, path, headers=PHILLIP, status=200):
    response = await proxy.get(path, headers=headers)
    assert response.status == status, await response.text()
    return response


async def test_show_task_xml(proxy):
    response = await get(proxy, "/api/task/1")
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    body = await response.read()
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    task = xml_task(body)
    assert task["id"] == "1"
    assert task["description"] == "Call Eric about the renewal"
    assert task["category"] == "Call"
    # 15:00 in phillip's zone (America/New_York, EST in December) is 20:00 UTC.
    assert task["dueDateTime"] == "2026-12-01T20:00:00Z"
    assert "dueDate" not in task
    assert task["owner"] == "phillip"
    assert (task["partyId"], task["partyName"]) == ("1", "Eric Jones")
    assert task["status"] == "OPEN"
    assert task["createdOn"].endswith("Z") and "completedOn" not in task
    assert all(value for value in task.values()), "no empty elements"


async def test_due_time_is_read_in_the_owners_zone_whoever_reads_it(proxy):
    # Task 1 is phillip's (America/New_York), due 15:00 his time: one instant for every reader (P1).
    for reader in (PHILLIP, SOFIA):
        task = xml_task(await (await get(proxy, "/api/task/1", reader)).read())
        assert task["dueDateTime"] == "2026-12-01T20:00:00Z"


async def test_timezone_override_replaces_the_users_zone(make_proxy):
    proxy = await make_proxy(translate={"timezone": "Asia/Kolkata"})
    task = xml_task(await (await get(proxy, "/api/task/1")).read())
    assert task["dueDateTime"] == "2026-12-01T09:30:00Z"


async def test_date_only_task_and_opportunity_link(proxy):
    task = xml_task(await (await get(proxy, "/api/task/2")).read())
    assert task["dueDate"] == "2026-12-03T00:00:00Z" and "dueDateTime" not in task
    assert (task["opportunityId"], task["opportunityName"]) == ("1", "CRM System")
    assert "partyId" not in task and "caseId" not in task
    assert task["detail"] == "Pricing for 25 seats"


async def test_kase_link_becomes_case_elements(proxy):
    task = xml_task(await (await get(proxy, "/api/task/3")).read())
    assert (task["caseId"], task["caseName"]) == ("1", "Invoicing")
    assert task["dueDateTime"] == "2026-11-30T08:30:00Z"  # 09:30 in Rome: sofia owns it


async def test_show_task_json(proxy):
    response = await get(proxy, "/api/task/1", {**PHILLIP, **JSON})
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = await response.json()
    task = body["task"]
    assert task["id"] == "1" and task["partyId"] == "1"
    assert all(isinstance(value, str) for value in task.values())
    assert task["dueDateTime"] == "2026-12-01T20:00:00Z"


@pytest.mark.parametrize("raw", ["1,2", "abc", "-1", "%2C", "0", "01", "1.0", "%31%2C2",
                                 "99999999999999999999999"])
async def test_bad_ids_are_404_and_never_sent_upstream(proxy, recorder, raw):
    response = await get(proxy, f"/api/task/{raw}", status=404)
    assert b"<error><message>" in await response.read()
    assert not [path for path in recorder.paths() if path.startswith("/api/v2/tasks")]


async def test_missing_task_is_404_error_document(proxy):
    response = await get(proxy, "/api/task/999", status=404)
    root = etree.fromstring(await response.read())
    assert root.tag == "error" and root.findtext("message")
    response = await get(proxy, "/api/task/999", {**PHILLIP, **JSON}, status=404)
    assert set(await response.json()) == {"message"}


async def test_users_xml_and_json(proxy):
    root = etree.fromstring(await (await get(proxy, "/api/users")).read())
    assert root.tag == "users"
    users = [{child.tag: child.text for child in user} for user in root]
    assert [(u["username"], u["name"], u["timezone"]) for u in users] == [
        ("phillip", "Phillip Smith", "America/New_York"), ("sofia", "Sofia Rossi", "Europe/Rome")]
    assert users[0].get("loggedIn") == "true" and "loggedIn" not in users[1]
    body = await (await get(proxy, "/api/users", {**PHILLIP, **JSON})).json()
    assert [u["username"] for u in body["users"]["user"]] == ["phillip", "sofia"]


async def test_categories_xml_and_json(proxy):
    root = etree.fromstring(await (await get(proxy, "/api/task/categories")).read())
    assert root.tag == "taskCategories"
    assert [c.text for c in root] == ["Call", "Email", "Follow-up", "Meeting"]
    body = await (await get(proxy, "/api/task/categories", {**PHILLIP, **JSON})).json()
    assert body == {"taskCategories": {"@size": "4", "taskCategory": ["Call", "Email", "Follow-up", "Meeting"]}}


async def test_healthz_and_readyz(proxy):
    assert (await proxy.get("/healthz")).status == 200
    assert (await proxy.get("/readyz")).status == 200
