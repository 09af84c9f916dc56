"""POST, PUT and DELETE on /api/v2/tasks: defaults, nested forms, validation, partial updates."""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from .helpers import (DUE, ISO_UTC, PHILLIP, SOFIA, assert_validation, create_task, get_task,
                      list_ids, path_of, put_task)

# --- create ---


async def test_create_answers_201_with_location_and_the_stored_task(emulator):
    resp = await emulator.post("/api/v2/tasks", headers=PHILLIP,
                               json={"task": {"description": "Ring Eric", "dueOn": "2026-05-20"}})
    assert resp.status == 201
    assert resp.content_type == "application/json"
    task = (await resp.json())["task"]
    location = URL(resp.headers["Location"])
    assert location.is_absolute()
    assert location.path == f"/api/v2/tasks/{task['id']}"
    assert not location.query_string
    assert task["id"] not in (1, 2, 3)
    shown = await emulator.get(path_of(resp.headers["Location"]), headers=PHILLIP)
    assert shown.status == 200
    assert (await shown.json())["task"] == task


async def test_create_defaults(emulator):
    task = await create_task(emulator, headers=SOFIA, description="Ring Eric", dueOn="2026-05-20")
    assert task["description"] == "Ring Eric"
    assert task["dueOn"] == "2026-05-20"
    assert task["status"] == "OPEN"
    assert task["active"] is True
    assert task["owner"]["id"] == 2 and task["owner"]["username"] == "sofia"
    for key in ("category", "dueTime", "detail", "party", "opportunity", "kase",
                "completedAt", "completedBy"):
        assert task[key] is None, key
    assert ISO_UTC.match(task["createdAt"]) and task["createdAt"] == task["updatedAt"]
    assert task["id"] in await list_ids(emulator)


async def test_create_ignores_read_only_fields(emulator):
    task = await create_task(emulator, id=999, createdAt="2001-01-01T00:00:00Z", hasTrack=True)
    assert task["id"] != 999
    assert task["createdAt"] != "2001-01-01T00:00:00Z"
    assert task["hasTrack"] is False


async def test_create_completed_task(emulator):
    task = await create_task(emulator, headers=SOFIA, status="COMPLETED", owner={"id": 1})
    assert task["status"] == "COMPLETED" and task["active"] is False
    assert ISO_UTC.match(task["completedAt"])
    assert task["completedBy"] == "sofia"
    assert task["id"] not in await list_ids(emulator)
    assert task["id"] in await list_ids(emulator, "?status=completed")


@pytest.mark.parametrize("sent, stored", [
    ("18:00:48", "18:00:00"), ("18:00", "18:00:00"), ("00:00", "00:00:00"),
    ("23:59:59", "23:59:00"), ("09:05", "09:05:00"),
])
async def test_due_time_is_kept_to_the_minute(emulator, sent, stored):
    """Capsule drops the seconds of a due time, on create and on update."""
    task = await create_task(emulator, dueTime=sent)
    assert task["dueTime"] == stored
    assert (await get_task(emulator, task["id"]))["dueTime"] == stored
    updated = (await put_task(emulator, task["id"], {"dueTime": "07:08:09"}))["task"]
    assert updated["dueTime"] == "07:08:00"


@pytest.mark.parametrize("fields, key, expected", [
    ({"party": {"id": 1}}, "party",
     {"id": 1, "type": "person", "firstName": "Eric", "lastName": "Jones"}),
    ({"party": {"id": 2}}, "party", {"id": 2, "type": "organisation", "name": "ABC Furniture"}),
    ({"opportunity": {"id": 1}}, "opportunity", {"id": 1, "name": "CRM System"}),
    ({"kase": {"id": 1}}, "kase", {"id": 1, "name": "Invoicing"}),
    ({"category": {"id": 4}}, "category", {"id": 4, "name": "Meeting", "colour": "#ff7700"}),
    ({"owner": {"id": 2}}, "owner", {"id": 2, "username": "sofia", "name": "Sofia Rossi", "deleted": False}),
])
async def test_nested_forms(emulator, fields, key, expected):
    task = await create_task(emulator, **fields)
    nested = task[key]
    assert {k: nested[k] for k in expected} == expected
    if key == "party":
        assert isinstance(nested["pictureURL"], str)
        if expected["type"] == "person":
            assert "name" not in nested
        else:
            assert "firstName" not in nested and "lastName" not in nested
    if key in ("opportunity", "kase", "category"):
        assert set(nested) == set(expected)
    if key == "owner":
        assert set(nested) == {"id", "username", "name", "deleted", "pictureURL"}
    for other in {"party", "opportunity", "kase"} - {key}:
        assert task[other] is None
    assert await get_task(emulator, task["id"]) == task


async def test_owner_can_be_someone_else(emulator):
    task = await create_task(emulator, headers=PHILLIP, owner={"id": 2})
    assert task["owner"]["id"] == 2


# --- validation ---

def _task(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"description": "a task", "dueOn": DUE}
    for key, value in fields.items():
        if value is _DROP:
            base.pop(key)
        else:
            base[key] = value
    return base


_DROP = object()

INVALID_CREATES = [
    pytest.param(_task(description=_DROP), ["description"], id="missing-description"),
    pytest.param(_task(description=""), ["description"], id="empty-description"),
    pytest.param(_task(description="   "), ["description"], id="blank-description"),
    pytest.param(_task(description=None), ["description"], id="null-description"),
    pytest.param(_task(description=5), ["description"], id="number-description"),
    pytest.param(_task(detail=5), ["detail"], id="number-detail"),
    pytest.param(_task(dueOn=_DROP), ["dueOn"], id="missing-dueOn"),
    pytest.param(_task(dueOn=None), ["dueOn"], id="null-dueOn"),
    pytest.param(_task(dueOn="2026-13-01"), ["dueOn"], id="month-13"),
    pytest.param(_task(dueOn="2026-02-30"), ["dueOn"], id="feb-30"),
    pytest.param(_task(dueOn="20260101"), ["dueOn"], id="basic-format"),
    pytest.param(_task(dueOn=20260101), ["dueOn"], id="number-dueOn"),
    pytest.param(_task(dueOn="2026-1-1"), ["dueOn"], id="short-dueOn"),
    pytest.param(_task(dueOn="2026-01-01T10:00:00Z"), ["dueOn"], id="datetime-dueOn"),
    pytest.param(_task(dueOn=""), ["dueOn"], id="empty-dueOn"),
    pytest.param(_task(dueTime="25:00:00"), ["dueTime"], id="hour-25"),
    pytest.param(_task(dueTime="noon"), ["dueTime"], id="noon"),
    pytest.param(_task(dueTime="18:60"), ["dueTime"], id="minute-60"),
    pytest.param(_task(dueTime="1800"), ["dueTime"], id="no-colon"),
    pytest.param(_task(dueTime=1800), ["dueTime"], id="number-dueTime"),
    pytest.param(_task(dueTime="18:00:00:00"), ["dueTime"], id="too-long"),
    pytest.param(_task(dueTime="1\u0668:00"), ["dueTime"], id="non-ascii-digit"),
    pytest.param(_task(party={"id": 999}), ["party"], id="missing-party"),
    pytest.param(_task(opportunity={"id": 999}), ["opportunity"], id="missing-opportunity"),
    pytest.param(_task(kase={"id": 999}), ["kase"], id="missing-kase"),
    pytest.param(_task(owner={"id": 999}), ["owner"], id="missing-owner"),
    pytest.param(_task(category={"id": 999}), ["category"], id="missing-category"),
    pytest.param(_task(party=5), ["party"], id="party-not-object"),
    pytest.param(_task(party="1"), ["party"], id="party-string"),
    pytest.param(_task(party={"id": "1"}), ["party"], id="party-id-string"),
    pytest.param(_task(party={"id": 0}), ["party"], id="party-id-0"),
    pytest.param(_task(party={"id": True}), ["party"], id="party-id-bool"),
    pytest.param(_task(party={}), ["party"], id="party-empty-object"),
    pytest.param(_task(party={"id": 2**63}), ["party"], id="party-id-too-big"),
    pytest.param(_task(opportunity=[1]), ["opportunity"], id="opportunity-list"),
    pytest.param(_task(kase={"name": "Invoicing"}), ["kase"], id="kase-by-name"),
    pytest.param(_task(owner=1), ["owner"], id="owner-not-object"),
    pytest.param(_task(owner=None), ["owner"], id="owner-null"),
    pytest.param(_task(category="Call"), ["category"], id="category-by-name"),
    pytest.param(_task(status="DONE"), ["status"], id="unknown-status"),
    pytest.param(_task(status="open"), ["status"], id="lowercase-status"),
    pytest.param(_task(status="PENDING"), ["status"], id="pending"),
    pytest.param({"dueTime": "noon", "status": "DONE"}, ["description", "dueOn", "dueTime", "status"],
                 id="several"),
    pytest.param(_task(description="", dueOn="2026-02-30", party=5), ["description", "dueOn", "party"],
                 id="several-2"),
]


@pytest.mark.parametrize("fields, bad", INVALID_CREATES)
async def test_invalid_create_is_422_naming_the_fields(emulator, fields, bad):
    resp = await emulator.post("/api/v2/tasks", headers=PHILLIP, json={"task": fields})
    assert resp.status == 422, await resp.text()
    assert "X-RateLimit-Remaining" in resp.headers
    assert_validation(await resp.json(), bad)
    assert await list_ids(emulator, "?status=open,completed,pending") == [1, 2, 3]


async def test_pending_message(emulator):
    resp = await emulator.post("/api/v2/tasks", headers=PHILLIP, json={"task": _task(status="PENDING")})
    body = await resp.json()
    assert body["errors"] == [{"message": "cannot set task status to PENDING", "resource": "task",
                               "field": "status"}]


@pytest.mark.parametrize("links", [
    {"party": {"id": 1}, "opportunity": {"id": 1}},
    {"party": {"id": 2}, "kase": {"id": 1}},
    {"opportunity": {"id": 1}, "kase": {"id": 1}},
    {"party": {"id": 1}, "opportunity": {"id": 1}, "kase": {"id": 1}},
])
async def test_two_links_at_once_is_422(emulator, links):
    resp = await emulator.post("/api/v2/tasks", headers=PHILLIP, json={"task": _task(**links)})
    assert resp.status == 422
    body = await resp.json()
    assert body["message"] == "Validation Failed"
    assert body["errors"] and all(e["resource"] == "task" for e in body["errors"])
    assert {e["field"] for e in body["errors"]} <= set(links)
    assert await list_ids(emulator) == [1, 2, 3]


@pytest.mark.parametrize("raw", [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b'{"task": {"description": "x",', id="truncated"),
    pytest.param(b"[]", id="array"),
    pytest.param(b'[{"task": {"description": "x", "dueOn": "2026-01-01"}}]', id="array-of-envelope"),
    pytest.param(b"{}", id="empty-object"),
    pytest.param(b'{"task": 5}', id="task-number"),
    pytest.param(b'{"task": null}', id="task-null"),
    pytest.param(b'{"task": []}', id="task-array"),
    pytest.param(b'{"tasks": {"description": "x", "dueOn": "2026-01-01"}}', id="wrong-envelope"),
    pytest.param(b'"task"', id="string"),
    pytest.param(b"\xff\xfe", id="not-utf8"),
])
@pytest.mark.parametrize("method, path", [("POST", "/api/v2/tasks"), ("PUT", "/api/v2/tasks/1")])
async def test_malformed_body_is_400(emulator, raw, method, path):
    before = await get_task(emulator, 1)
    resp = await emulator.request(method, path, data=raw,
                                  headers=PHILLIP | {"Content-Type": "application/json"})
    assert resp.status == 400
    body = await resp.json()
    assert set(body) == {"message"} and body["message"]
    assert await list_ids(emulator) == [1, 2, 3]
    assert await get_task(emulator, 1) == before


# --- update ---

async def _full_task(client) -> dict[str, Any]:
    return await create_task(client, description="full", detail="some detail", dueOn="2026-06-01",
                             dueTime="10:30:00", category={"id": 1}, party={"id": 1}, owner={"id": 1})


@pytest.mark.parametrize("fields, expected", [
    ({"description": "new words"}, {"description": "new words"}),
    ({"detail": "other detail"}, {"detail": "other detail"}),
    ({"dueOn": "2027-01-31"}, {"dueOn": "2027-01-31"}),
    ({"dueTime": "07:15"}, {"dueTime": "07:15:00"}),
    ({"category": {"id": 3}}, {"category": {"id": 3, "name": "Follow-up", "colour": "#9c27b0"}}),
    ({"owner": {"id": 2}}, {"owner.id": 2}),
    ({"party": {"id": 2}}, {"party.id": 2}),
    ({"party": None, "kase": {"id": 1}}, {"party": None, "kase": {"id": 1, "name": "Invoicing"}}),
    ({"detail": None}, {"detail": None}),
    ({"dueTime": None}, {"dueTime": None}),
    ({"category": None}, {"category": None}),
    ({"party": None}, {"party": None}),
    ({"description": "two", "detail": None, "dueTime": "23:00:00"},
     {"description": "two", "detail": None, "dueTime": "23:00:00"}),
])
async def test_put_changes_only_the_sent_fields(emulator, task_clock, fields, expected):
    before = await _full_task(emulator)
    task_clock.advance()
    after = (await put_task(emulator, before["id"], fields))["task"]
    changed = {key.split(".")[0] for key in expected} | {"updatedAt"}
    for key, value in expected.items():
        if "." in key:
            outer, inner = key.split(".")
            assert after[outer][inner] == value
        else:
            assert after[key] == value
    assert {k: v for k, v in after.items() if k not in changed} == \
           {k: v for k, v in before.items() if k not in changed}
    assert after["updatedAt"] == task_clock() != before["updatedAt"]
    assert await get_task(emulator, before["id"]) == after


@pytest.mark.parametrize("link", ["opportunity", "kase"])
async def test_null_clears_opportunity_and_kase(emulator, link):
    task = await create_task(emulator, **{link: {"id": 1}})
    after = (await put_task(emulator, task["id"], {link: None}))["task"]
    assert after[link] is None


@pytest.mark.parametrize("fields, bad", [
    ({"description": None}, ["description"]),
    ({"description": "  "}, ["description"]),
    ({"dueOn": None}, ["dueOn"]),
    ({"dueOn": "2026-02-30"}, ["dueOn"]),
    ({"dueTime": "noon"}, ["dueTime"]),
    ({"owner": None}, ["owner"]),
    ({"owner": {"id": 77}}, ["owner"]),
    ({"category": {"id": 77}}, ["category"]),
    ({"party": {"id": 77}}, ["party"]),
    ({"status": "PENDING"}, ["status"]),
    ({"status": "DONE"}, ["status"]),
    ({"status": "PENDING", "dueTime": "25:00"}, ["status", "dueTime"]),
])
async def test_invalid_put_is_422_and_changes_nothing(emulator, fields, bad):
    before = await _full_task(emulator)
    resp = await emulator.put(f"/api/v2/tasks/{before['id']}", headers=PHILLIP, json={"task": fields})
    assert resp.status == 422
    assert_validation(await resp.json(), bad)
    assert await get_task(emulator, before["id"]) == before


async def test_put_pending_message(emulator):
    body = await put_task(emulator, 1, {"status": "PENDING"}, status=422)
    assert body["errors"][0]["message"] == "cannot set task status to PENDING"


@pytest.mark.parametrize("existing, new", [("opportunity", "party"), ("kase", "party"),
                                           ("party", "opportunity"), ("party", "kase")])
async def test_relinking_needs_the_old_link_cleared(emulator, existing, new):
    task = await create_task(emulator, **{existing: {"id": 1}})
    resp = await emulator.put(f"/api/v2/tasks/{task['id']}", headers=PHILLIP,
                              json={"task": {new: {"id": 1}}})
    assert resp.status == 422
    body = await resp.json()
    assert body["message"] == "Validation Failed"
    assert [e["resource"] for e in body["errors"]] == ["task"]
    assert body["errors"][0]["field"] in {existing, new}
    assert await get_task(emulator, task["id"]) == task

    after = (await put_task(emulator, task["id"], {new: {"id": 1}, existing: None}))["task"]
    assert after[existing] is None
    assert after[new]["id"] == 1


async def test_completing_and_reopening(emulator, task_clock):
    task = await create_task(emulator, headers=PHILLIP)
    first = task_clock.advance()
    done = (await put_task(emulator, task["id"], {"status": "COMPLETED"}, headers=SOFIA))["task"]
    assert done["status"] == "COMPLETED" and done["active"] is False
    assert done["completedAt"] == first and ISO_UTC.match(first)
    assert done["completedBy"] == "sofia"
    assert done["updatedAt"] == first

    task_clock.advance()
    again = (await put_task(emulator, task["id"], {"status": "COMPLETED"}, headers=PHILLIP))["task"]
    assert again["completedAt"] == first
    assert again["completedBy"] == "sofia"
    assert again["updatedAt"] == first

    edited = (await put_task(emulator, task["id"], {"description": "still editable"}))["task"]
    assert edited["status"] == "COMPLETED" and edited["completedAt"] == first

    task_clock.advance()
    reopened = (await put_task(emulator, task["id"], {"status": "OPEN"}))["task"]
    assert reopened["status"] == "OPEN" and reopened["active"] is True
    assert reopened["completedAt"] is None and reopened["completedBy"] is None

    later = task_clock.advance()
    redone = (await put_task(emulator, task["id"], {"status": "COMPLETED"}, headers=PHILLIP))["task"]
    assert redone["completedAt"] == later
    assert redone["completedBy"] == "phillip"


@pytest.mark.parametrize("fields", [
    {}, {"description": "same"}, {"status": "OPEN"}, {"dueOn": "2026-06-01"},
    {"detail": None}, {"party": {"id": 1}}, {"id": 5, "createdAt": "2000-01-01T00:00:00Z"},
    {"description": "same", "dueTime": "10:30", "category": None},
])
async def test_no_op_put_leaves_updated_at(emulator, task_clock, fields):
    task = await create_task(emulator, description="same", dueOn="2026-06-01", dueTime="10:30:00",
                             party={"id": 1})
    task_clock.advance()
    after = (await put_task(emulator, task["id"], fields))["task"]
    assert after == task


@pytest.mark.parametrize("path", ["/api/v2/tasks/999", "/api/v2/tasks/1,2", "/api/v2/tasks/abc",
                                  "/api/v2/tasks/0"])
async def test_put_missing_task_is_404(emulator, path):
    resp = await emulator.put(path, headers=PHILLIP, json={"task": {"description": "x"}})
    assert resp.status == 404
    assert set(await resp.json()) == {"message"}
    assert (await get_task(emulator, 1))["description"] == "Call Eric about the renewal"
    assert (await get_task(emulator, 2))["description"] == "Send the CRM System proposal"


# --- delete ---

async def test_delete(emulator):
    resp = await emulator.delete("/api/v2/tasks/2", headers=PHILLIP)
    assert resp.status == 204
    assert await resp.read() == b""
    resp = await emulator.get("/api/v2/tasks/2", headers=PHILLIP)
    assert resp.status == 404
    assert await list_ids(emulator, "?status=open,completed,pending") == [1, 3]
    resp = await emulator.delete("/api/v2/tasks/2", headers=PHILLIP)
    assert resp.status == 404
    assert set(await resp.json()) == {"message"}
    resp = await emulator.put("/api/v2/tasks/2", headers=PHILLIP, json={"task": {"description": "x"}})
    assert resp.status == 404


async def test_deleted_ids_are_not_reused(emulator):
    task = await create_task(emulator)
    assert task["id"] == 4
    assert (await emulator.delete("/api/v2/tasks/4", headers=PHILLIP)).status == 204
    assert (await emulator.delete("/api/v2/tasks/3", headers=PHILLIP)).status == 204
    assert (await create_task(emulator))["id"] == 5
    assert (await emulator.get("/api/v2/tasks/4", headers=PHILLIP)).status == 404


@pytest.mark.parametrize("path", ["/api/v2/tasks/1,2", "/api/v2/tasks/abc", "/api/v2/tasks/0",
                                  "/api/v2/tasks/999"])
async def test_delete_bad_or_missing_id_is_404(emulator, path):
    resp = await emulator.delete(path, headers=PHILLIP)
    assert resp.status == 404
    assert set(await resp.json()) == {"message"}
    assert await list_ids(emulator) == [1, 2, 3]


async def test_completed_at_can_be_given_by_an_offline_client(emulator):
    task = await create_task(emulator, headers=PHILLIP)
    done = (await put_task(emulator, task["id"], {"status": "COMPLETED",
                                                  "completedAt": "2026-03-01T10:15:00+01:00"}))["task"]
    assert done["completedAt"] == "2026-03-01T09:15:00Z"
    moved = (await put_task(emulator, task["id"], {"completedAt": "2026-03-02T08:00:00Z"}))["task"]
    assert moved["completedAt"] == "2026-03-02T08:00:00Z"


async def test_completed_at_on_an_open_task_is_ignored(emulator):
    task = await create_task(emulator, headers=PHILLIP)
    still_open = (await put_task(emulator, task["id"], {"completedAt": "2026-03-02T08:00:00Z"}))["task"]
    assert still_open["status"] == "OPEN" and still_open["completedAt"] is None


@pytest.mark.parametrize("bad", ["yesterday", "2026-03-02", "2026-03-02T08:00:00", 5])
async def test_completed_at_must_be_an_instant(emulator, bad):
    task = await create_task(emulator, headers=PHILLIP)
    response = await emulator.put(f"/api/v2/tasks/{task['id']}", headers=PHILLIP,
                                  json={"task": {"status": "COMPLETED", "completedAt": bad}})
    assert response.status == 422
    body = await response.json()
    assert [e["field"] for e in body["errors"]] == ["completedAt"]
