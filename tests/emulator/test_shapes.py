"""The emulator's JSON matches the bodies recorded from the live API and the Airbyte task schema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from .helpers import PHILLIP, SOFIA, create_task, put_task


def _fixture(shared, name: str) -> Any:
    return json.loads((shared / "fixtures" / "v2-real" / name).read_text("utf-8"))


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", dict: "object",
            list: "array", type(None): "null"}[type(value)]


def _assert_same_shape(ours: dict[str, Any], real: dict[str, Any], where: str = "task") -> None:
    assert set(ours) == set(real), f"{where}: keys differ: {set(ours) ^ set(real)}"
    for key, value in real.items():
        if value is None:
            continue
        assert _json_type(ours[key]) == _json_type(value), f"{where}.{key}: {ours[key]!r} vs {value!r}"
        if isinstance(value, dict):
            _assert_same_shape(ours[key], value, f"{where}.{key}")


async def _variety(client) -> list[dict[str, Any]]:
    """Tasks with every link, a category, a time, completed and not."""
    tasks = [
        await create_task(client),
        await create_task(client, party={"id": 1}, dueTime="12:00", detail="d", category={"id": 2}),
        await create_task(client, party={"id": 2}),
        await create_task(client, opportunity={"id": 1}, owner={"id": 2}),
        await create_task(client, kase={"id": 1}, status="COMPLETED"),
    ]
    tasks.append((await put_task(client, tasks[0]["id"], {"status": "COMPLETED"}, headers=SOFIA))["task"])
    return tasks


async def test_created_task_has_the_live_key_set_and_types(emulator, shared):
    real = _fixture(shared, "amplabs--task-created.json")
    resp = await emulator.post("/api/v2/tasks", headers=PHILLIP,
                               json={"task": {"description": "Brand new task", "dueOn": "2025-05-20"}})
    ours = await resp.json()
    assert set(ours) == set(real) == {"task"}
    _assert_same_shape(ours["task"], real["task"])
    # a task created like the recorded one has nulls in the same places
    assert [k for k, v in ours["task"].items() if v is None] == [k for k, v in real["task"].items() if v is None]


async def test_every_kind_of_task_keeps_the_live_key_set(emulator, shared):
    real = _fixture(shared, "amplabs--task-created.json")["task"]
    for task in await _variety(emulator):
        _assert_same_shape(task, real)


async def test_422_matches_the_live_body(emulator, shared):
    real = _fixture(shared, "amplabs--error-422-validation-failed.json")
    resp = await emulator.post("/api/v2/tasks", headers=PHILLIP, json={"task": {"description": "no date"}})
    assert resp.status == 422
    assert resp.content_type == "application/json"
    ours = await resp.json()
    assert ours == real
    assert ours["errors"] == [{"message": "dueOn is required", "resource": "task", "field": "dueOn"}]


@pytest.mark.parametrize("body", [{"dueTime": "noon"}, {"description": "x", "dueOn": "2026-01-01", "party": {"id": 9}}])
async def test_every_422_has_the_live_keys(emulator, shared, body):
    real = _fixture(shared, "amplabs--error-422-validation-failed.json")
    resp = await emulator.post("/api/v2/tasks", headers=PHILLIP, json={"task": body})
    ours = await resp.json()
    assert set(ours) == set(real)
    assert ours["message"] == real["message"]
    for error in ours["errors"]:
        assert set(error) == set(real["errors"][0])
        assert all(isinstance(value, str) for value in error.values())


@pytest.mark.parametrize("method, path, fixture, exact", [
    ("GET", "/api/v2/nothing", "amplabs--error-404-not-found.json", True),
    ("GET", "/api/v2/tasks/999", "amplabs--error-404-not-found.json", False),
    ("GET", "/api/v2/parties/999", "amplabs--error-404-not-found.json", False),
    ("DELETE", "/api/v2/tasks/999", "amplabs--error-404-not-found.json", False),
    ("PATCH", "/api/v2/tasks", "amplabs--error-405-method-not-allowed.json", True),
    ("POST", "/api/v2/users", "amplabs--error-405-method-not-allowed.json", True),
])
async def test_404_and_405_bodies_match_the_live_ones(emulator, shared, method, path, fixture, exact):
    real = _fixture(shared, fixture)
    resp = await emulator.request(method, path, headers=PHILLIP)
    assert resp.status == (404 if "404" in fixture else 405)
    assert resp.content_type == "application/json"
    ours = await resp.json()
    assert set(ours) == set(real)
    assert isinstance(ours["message"], str)
    if exact:
        assert ours == real


def test_the_schema_accepts_the_live_task_and_rejects_a_broken_one(task_validator, shared):
    real = _fixture(shared, "amplabs--task-created.json")["task"]
    task_validator.validate(real)
    with pytest.raises(jsonschema.ValidationError):
        task_validator.validate(real | {"id": "147248893"})
    with pytest.raises(jsonschema.ValidationError):
        task_validator.validate(real | {"owner": real["owner"] | {"deleted": "no"}})


async def test_every_returned_task_matches_the_schema(emulator, task_validator):
    checked = 0

    def check(task: dict[str, Any]) -> None:
        nonlocal checked
        task_validator.validate(task)
        checked += 1

    created = await _variety(emulator)  # creates and an update
    for task in created:
        check(task)
    updated = (await put_task(emulator, created[1]["id"], {"dueTime": None, "category": None}))["task"]
    check(updated)
    for query in ("", "?status=completed", "?status=open,completed,pending&perPage=2"):
        resp = await emulator.get(f"/api/v2/tasks{query}", headers=PHILLIP)
        for task in (await resp.json())["tasks"]:
            check(task)
    ids = [task["id"] for task in created]
    for task_id in ids:
        resp = await emulator.get(f"/api/v2/tasks/{task_id}", headers=PHILLIP)
        check((await resp.json())["task"])
    resp = await emulator.get("/api/v2/tasks/" + ",".join(map(str, ids[:5])), headers=PHILLIP)
    for task in (await resp.json())["tasks"]:
        check(task)
    assert checked >= 25
