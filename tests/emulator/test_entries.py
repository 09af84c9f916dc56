"""Entries (history): a record's list, notes created, shown, updated and deleted, seeded emails,
and the entry a completed task leaves."""

from __future__ import annotations

import pytest

from .helpers import PHILLIP, SOFIA, assert_422, call, create_task, ids_of, links, post_created, put_task

ENTRY_KEYS = {"id", "type", "content", "subject", "activityType", "entryAt", "creator", "party", "opportunity",
              "kase", "participants", "attachments", "createdAt", "updatedAt"}


async def _note(client, headers=PHILLIP, **fields):
    return await post_created(client, "/api/v2/entries", "entry",
                              {"type": "note", "content": "A note", "party": {"id": 5}} | fields, headers)


async def test_a_partys_entries_newest_first(emulator):
    entries = (await call(emulator, "GET", "/api/v2/parties/1/entries"))["entries"]
    assert [e["id"] for e in entries] == [2, 1]
    email, note = entries
    assert set(email) == set(note) == ENTRY_KEYS
    assert email["type"] == "email" and email["subject"] == "CRM System proposal"
    assert email["activityType"] == {"id": -2, "name": "Email"}
    assert email["participants"] == [
        {"address": "phillip@sample.example", "name": "Phillip Smith", "role": "FROM"},
        {"address": "eric@abcfurniture.example", "name": "Eric Jones", "role": "TO"},
        {"address": "sofia@sample.example", "name": "Sofia Rossi", "role": "CC"}]
    assert note["type"] == "note" and note["subject"] is None and note["participants"] == note["attachments"] == []
    assert note["activityType"] == {"id": -1, "name": "Note"}
    assert note["entryAt"] == "2026-10-05T14:30:00Z" and note["creator"]["username"] == "phillip"
    assert note["party"]["id"] == 1 and note["party"]["firstName"] == "Eric"
    assert note["opportunity"] is None and note["kase"] is None
    assert await call(emulator, "GET", "/api/v2/entries/1") == {"entry": note}


@pytest.mark.parametrize("path, expected, link", [
    ("/api/v2/opportunities/1/entries", [4], ("opportunity", {"id": 1, "name": "CRM System"})),
    ("/api/v2/kases/1/entries", [5], ("kase", {"id": 1, "name": "Invoicing"})),
    ("/api/v2/parties/2/entries", [3], None),
    ("/api/v2/parties/6/entries", [], None),
])
async def test_each_parent_has_its_entries(emulator, path, expected, link):
    entries = (await call(emulator, "GET", path))["entries"]
    assert [e["id"] for e in entries] == expected
    if link:
        assert entries[0][link[0]] == link[1] and entries[0]["party"] is None


@pytest.mark.parametrize("path", ["/api/v2/parties/99/entries", "/api/v2/opportunities/99/entries",
                                  "/api/v2/kases/99/entries", "/api/v2/parties/abc/entries"])
async def test_a_missing_parents_entries_are_404(emulator, path):
    await call(emulator, "GET", path, status=404)


async def test_entries_page_at_most_50(emulator):
    for i in range(3):
        await _note(emulator, content=f"note {i}", entryAt=f"2026-01-0{i + 1}T00:00:00Z")
    resp = await emulator.get("/api/v2/parties/5/entries?perPage=2", headers=PHILLIP)
    assert [e["content"] for e in (await resp.json())["entries"]] == ["note 2", "note 1"]
    assert set(links(resp.headers)) == {"next"}
    assert len(await ids_of(emulator, "/api/v2/parties/5/entries?perPage=2", "entries")) == 3
    assert len(await ids_of(emulator, "/api/v2/parties/5/entries?perPage=50", "entries")) == 3
    body = await call(emulator, "GET", "/api/v2/parties/5/entries?perPage=51", status=400)
    assert "50" in body["message"]


async def test_create_note(account_clock, make_emulator):
    client = await make_emulator()
    note = await _note(client, content="Rang Tom", creator={"id": 2}, subject="ignored", id=99)
    assert set(note) == ENTRY_KEYS and note["id"] == 6
    assert note["creator"]["username"] == "phillip"  # always the token's user
    assert (note["content"], note["subject"], note["type"]) == ("Rang Tom", None, "note")
    assert note["entryAt"] == note["createdAt"] == note["updatedAt"] == account_clock()
    assert note["party"]["id"] == 5
    dated = await _note(client, headers=SOFIA, opportunity={"id": 2}, party=None,
                        entryAt="2026-02-01T10:00:00+02:00")
    assert dated["entryAt"] == "2026-02-01T08:00:00Z" and dated["creator"]["username"] == "sofia"
    assert dated["opportunity"] == {"id": 2, "name": "Office chairs"} and dated["party"] is None
    assert await ids_of(client, "/api/v2/parties/5/entries", "entries") == [6]


@pytest.mark.parametrize("fields, bad", [
    ({"content": "x", "party": {"id": 5}}, ["type"]),
    ({"type": "email", "content": "x", "party": {"id": 5}}, ["type"]),
    ({"type": "task", "content": "x", "party": {"id": 5}}, ["type"]),
    ({"type": "note", "party": {"id": 5}}, ["content"]),
    ({"type": "note", "content": "  ", "party": {"id": 5}}, ["content"]),
    ({"type": "note", "content": 5, "party": {"id": 5}}, ["content"]),
    ({"type": "note", "content": "x"}, ["party"]),
    ({"type": "note", "content": "x", "party": None, "kase": None}, ["party"]),
    ({"type": "note", "content": "x", "party": {"id": 5}, "kase": {"id": 1}}, ["kase"]),
    ({"type": "note", "content": "x", "party": {"id": 99}}, ["party"]),
    ({"type": "note", "content": "x", "opportunity": {"id": 99}}, ["opportunity"]),
    ({"type": "note", "content": "x", "kase": 1}, ["kase"]),
    ({"type": "note", "content": "x", "party": {"id": 5}, "entryAt": "yesterday"}, ["entryAt"]),
    ({"type": "note", "content": "x", "party": {"id": 5}, "entryAt": "2026-01-01T10:00:00"}, ["entryAt"]),
    ({}, ["type", "content", "party"]),
])
async def test_invalid_entry_is_422(emulator, fields, bad):
    assert_422(await call(emulator, "POST", "/api/v2/entries", {"entry": fields}, 422), "entry", bad)
    assert await ids_of(emulator, "/api/v2/parties/5/entries", "entries") == []


async def test_update_and_delete(account_clock, make_emulator):
    client = await make_emulator()
    account_clock.advance()
    changes = {"content": "Edited", "entryAt": "2026-10-06T09:00:00Z", "type": "email"}
    updated = (await call(client, "PUT", "/api/v2/entries/1", {"entry": changes}))["entry"]
    assert (updated["content"], updated["entryAt"], updated["type"]) == ("Edited", "2026-10-06T09:00:00Z", "note")
    assert updated["updatedAt"] == account_clock() != updated["createdAt"]
    email = (await call(client, "PUT", "/api/v2/entries/2", {"entry": {"content": "Edited email"}}))["entry"]
    assert email["subject"] == "CRM System proposal" and email["content"] == "Edited email"
    body = await call(client, "PUT", "/api/v2/entries/1", {"entry": {"content": "", "entryAt": "x"}}, 422)
    assert_422(body, "entry", ["content", "entryAt"])
    await call(client, "PUT", "/api/v2/entries/99", {"entry": {"content": "x"}}, 404)
    assert await call(client, "DELETE", "/api/v2/entries/1", status=204) is None
    await call(client, "GET", "/api/v2/entries/1", status=404)
    await call(client, "DELETE", "/api/v2/entries/1", status=404)
    assert await ids_of(client, "/api/v2/parties/1/entries", "entries") == [2]


@pytest.mark.parametrize("path", ["/api/v2/entries/1,2", "/api/v2/entries/abc", "/api/v2/entries/99"])
async def test_show_needs_one_existing_entry(emulator, path):
    await call(emulator, "GET", path, status=404)


async def test_entry_embed_is_checked(emulator):
    await call(emulator, "GET", "/api/v2/entries/1?embed=party,creator")
    await call(emulator, "GET", "/api/v2/entries/1?embed=tags", status=400)


async def test_completing_a_linked_task_adds_a_task_entry(account_clock, make_emulator):
    client = await make_emulator()
    account_clock.advance()
    task = (await put_task(client, 1, {"status": "COMPLETED"}, headers=SOFIA))["task"]
    entries = (await call(client, "GET", "/api/v2/parties/1/entries"))["entries"]
    assert [e["type"] for e in entries] == ["email", "note", "task"]  # the clock is before the seeded ones
    entry = entries[-1]
    assert set(entry) == ENTRY_KEYS
    assert entry["content"] == "Call Eric about the renewal" and entry["subject"] is None
    assert entry["activityType"] == {"id": -4, "name": "Task completed"}
    assert entry["creator"]["username"] == "sofia" and entry["entryAt"] == task["completedAt"]
    assert_422(await call(client, "PUT", f"/api/v2/entries/{entry['id']}", {"entry": {"content": "x"}}, 422),
               "entry", ["type"])
    await put_task(client, 1, {"status": "COMPLETED", "detail": "again"})  # already completed: no second entry
    await put_task(client, 1, {"status": "OPEN"})
    assert len(await ids_of(client, "/api/v2/parties/1/entries", "entries")) == 3
    await put_task(client, 2, {"status": "COMPLETED", "completedAt": "2026-02-02T02:02:02Z"})
    on_deal = (await call(client, "GET", "/api/v2/opportunities/1/entries"))["entries"]
    assert on_deal[0]["type"] == "note" and on_deal[-1]["content"] == "Send the CRM System proposal"
    assert [e["entryAt"] for e in on_deal] == ["2026-11-02T11:15:00Z", "2026-02-02T02:02:02Z"]
    unlinked = await create_task(client)
    await put_task(client, unlinked["id"], {"status": "COMPLETED"})
    created_done = await create_task(client, kase={"id": 1}, status="COMPLETED")
    assert created_done["status"] == "COMPLETED"
    assert await ids_of(client, "/api/v2/kases/1/entries", "entries") == [5]  # only PUT completes into history
