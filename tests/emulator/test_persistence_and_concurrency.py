"""Data in a SQLite file survives a restart; parallel writes neither lose rows nor fields."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest

from proxy.emulator.seed import load_seed
from proxy.emulator.store import Store, StoreError

from .helpers import LIMITED_SEED, PHILLIP, SOFIA, create_task, get_task, list_ids, put_task


async def test_data_survives_a_restart(make_emulator, tmp_path):
    db = tmp_path / "emulator.db"
    first = await make_emulator(db_path=db)
    kept = await create_task(first, description="kept", dueTime="08:00", party={"id": 2})
    gone = await create_task(first, description="gone")
    assert (await first.delete(f"/api/v2/tasks/{gone['id']}", headers=PHILLIP)).status == 204
    kept = (await put_task(first, kept["id"], {"description": "kept and edited", "status": "COMPLETED"},
                           headers=SOFIA))["task"]
    seeded = (await put_task(first, 1, {"detail": "edited seeded task"}))["task"]
    resp = await first.post("/api/v2/categories", headers=PHILLIP, json={"category": {"name": "Lunch"}})
    assert resp.status == 201
    resp = await first.post("/api/v2/parties", headers=PHILLIP,
                            json={"party": {"type": "organisation", "name": "New Org", "tags": [{"name": "Kept"}],
                                            "emailAddresses": [{"address": "kept@new.example"}]}})
    assert resp.status == 201
    org = (await resp.json())["party"]
    resp = await first.post("/api/v2/opportunities", headers=PHILLIP, json={"opportunity": {
        "name": "Kept deal", "party": {"id": org["id"]}, "milestone": {"name": "Won"},
        "value": {"amount": 1234.56, "currency": "EUR"}}})
    assert resp.status == 201
    deal = (await resp.json())["opportunity"]
    resp = await first.post("/api/v2/entries", headers=PHILLIP,
                            json={"entry": {"type": "note", "content": "kept note", "party": {"id": org["id"]}}})
    assert resp.status == 201
    note = (await resp.json())["entry"]
    assert (await first.delete("/api/v2/parties/5", headers=PHILLIP)).status == 204
    await first.close()

    second = await make_emulator(db_path=db)
    assert await get_task(second, kept["id"]) == kept
    assert await get_task(second, 1) == seeded
    assert (await second.get(f"/api/v2/tasks/{gone['id']}", headers=PHILLIP)).status == 404
    assert await list_ids(second, "?status=open,completed") == [1, 2, 3, kept["id"]]
    categories = (await (await second.get("/api/v2/categories", headers=PHILLIP)).json())["categories"]
    assert categories[-1]["name"] == "Lunch"
    shown = (await (await second.get(f"/api/v2/parties/{org['id']}?embed=tags", headers=PHILLIP)).json())["party"]
    assert shown == org | {"tags": shown["tags"]}
    assert [t["name"] for t in shown["tags"]] == ["Kept"]
    assert (await (await second.get(f"/api/v2/opportunities/{deal['id']}", headers=PHILLIP)).json()) == \
        {"opportunity": deal}
    assert (await (await second.get(f"/api/v2/entries/{note['id']}", headers=PHILLIP)).json()) == {"entry": note}
    deleted = await second.get("/api/v2/parties/deleted?since=2000-01-01T00:00:00Z", headers=PHILLIP)
    assert [d["id"] for d in (await deleted.json())["parties"]] == [5]
    fresh = await create_task(second)
    assert fresh["id"] == gone["id"] + 1  # ids continue; the deleted one is not handed out again
    await second.close()

    third = await make_emulator(db_path=db)
    assert (await get_task(third, fresh["id"]))["id"] == fresh["id"]


async def test_a_database_from_an_older_emulator_is_refused(tmp_path):
    """A file written before parties had contacts (no schema_version) is refused, not misread."""
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                       "INSERT INTO meta VALUES ('seed_digest', 'abc');"
                       "CREATE TABLE parties (id INTEGER PRIMARY KEY, type TEXT, first_name TEXT);")
    conn.close()
    store = Store(str(db))
    with pytest.raises(StoreError) as caught:
        await store.open(load_seed(None))
    await store.close()
    message = str(caught.value)
    assert str(db) in message and "delete the file" in message and "schema 1" in message


async def test_same_seed_on_reopen_logs_nothing(make_emulator, tmp_path, caplog):
    db = tmp_path / "emulator.db"
    await (await make_emulator(db_path=db)).close()
    with caplog.at_level(logging.WARNING, logger="capsule_proxy.emulator"):
        client = await make_emulator(db_path=db)
        assert (await client.get("/api/v2/tasks", headers=PHILLIP)).status == 200
    assert not [r for r in caplog.records if r.name == "capsule_proxy.emulator"]


async def test_a_different_seed_keeps_the_data_and_warns(make_emulator, tmp_path, caplog):
    db = tmp_path / "emulator.db"
    first = await make_emulator(db_path=db)
    task = await create_task(first, description="made before the seed changed")
    await first.close()

    with caplog.at_level(logging.WARNING, logger="capsule_proxy.emulator"):
        second = await make_emulator(LIMITED_SEED, db_path=db)
        assert await get_task(second, task["id"]) == task  # old users and tasks still there
    warnings = [r for r in caplog.records if r.name == "capsule_proxy.emulator" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "different seed" in warnings[0].getMessage()
    assert await list_ids(second) == [1, 2, 3, task["id"]]
    resp = await second.get("/api/v2/users", headers=PHILLIP)
    assert [u["username"] for u in (await resp.json())["users"]] == ["phillip", "sofia"]
    assert resp.headers["X-RateLimit-Limit"] == "4000"  # the stored account, not the new seed's


async def test_an_in_memory_emulator_starts_from_the_seed_each_time(make_emulator):
    first = await make_emulator()
    await create_task(first)
    await first.close()
    second = await make_emulator()
    assert await list_ids(second) == [1, 2, 3]


@pytest.mark.parametrize("use_file", [False, True], ids=["memory", "file"])
async def test_parallel_creates_get_distinct_ids(make_emulator, tmp_path, use_file):
    client = await make_emulator(db_path=tmp_path / "emulator.db" if use_file else None)
    before = set(await list_ids(client))

    async def one(i: int) -> tuple[int, dict]:
        resp = await client.post("/api/v2/tasks", headers=PHILLIP if i % 2 else SOFIA,
                                 json={"task": {"description": f"parallel {i}", "dueOn": "2026-07-01"}})
        return resp.status, await resp.json()

    results = await asyncio.gather(*(one(i) for i in range(50)))
    assert [status for status, _ in results] == [201] * 50
    ids = [body["task"]["id"] for _, body in results]
    assert len(set(ids)) == 50
    assert not set(ids) & before
    listed = await list_ids(client, "?perPage=100")
    assert sorted(listed) == sorted(before | set(ids))
    descriptions = {task["description"] for task in
                    (await (await client.get("/api/v2/tasks?perPage=100", headers=PHILLIP)).json())["tasks"]}
    assert {f"parallel {i}" for i in range(50)} <= descriptions


async def test_parallel_partial_updates_lose_no_field(emulator):
    for round_ in range(5):
        task = await create_task(emulator, description="start", dueOn="2026-01-01")
        changes = [
            {"description": f"described {round_}"},
            {"detail": f"detail {round_}"},
            {"dueTime": "17:45:00"},
            {"dueOn": "2026-09-09"},
            {"category": {"id": 3}},
            {"owner": {"id": 2}},
            {"kase": {"id": 1}},
            {"status": "COMPLETED"},
        ]
        results = await asyncio.gather(*(
            emulator.put(f"/api/v2/tasks/{task['id']}", headers=PHILLIP, json={"task": change})
            for change in changes))
        assert [resp.status for resp in results] == [200] * len(changes)
        final = await get_task(emulator, task["id"])
        assert final["description"] == f"described {round_}"
        assert final["detail"] == f"detail {round_}"
        assert final["dueTime"] == "17:45:00"
        assert final["dueOn"] == "2026-09-09"
        assert final["category"]["id"] == 3
        assert final["owner"]["id"] == 2
        assert final["kase"]["id"] == 1
        assert final["status"] == "COMPLETED" and final["completedBy"] == "phillip"


async def test_parallel_deletes_of_one_task_succeed_once(emulator):
    task = await create_task(emulator)
    results = await asyncio.gather(*(emulator.delete(f"/api/v2/tasks/{task['id']}", headers=PHILLIP)
                                     for _ in range(10)))
    assert sorted(resp.status for resp in results) == [204] + [404] * 9
