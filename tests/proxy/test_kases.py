"""Cases (v1 kase, v2 kases) through the proxy, in front of the emulator (demo seed: case 1 is
Invoicing of ABC Furniture (party 2), OPEN, sofia's, tagged Urgent)."""

from __future__ import annotations

import json

import pytest

from proxy.resources.kase import KASE_SHAPE
from proxy.translate.fields import Context, to_v2

from .conftest import JSON_BODY, PHILLIP, SOFIA
from .deals import BodyRecorder, as_json, children, created, record, refused, v2, write, xml


@pytest.fixture
def recorder() -> BodyRecorder:
    return BodyRecorder()


def kase(**fields: str) -> str:
    return "<kase>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</kase>"


async def make(proxy, party: int = 5, auth=PHILLIP, **fields: str) -> int:
    return await created(proxy, f"/api/party/{party}/kase", kase(**({"name": "Case"} | fields)), "kase", auth=auth)


# --- reads --------------------------------------------------------------------------------------

async def test_a_case_as_v1_wrote_it(proxy, recorder):
    invoicing = await xml(proxy, "/api/kase/1")
    assert invoicing.tag == "kase"
    assert children(invoicing) == ["id", "status", "name", "description", "partyId", "owner", "createdOn",
                                   "updatedOn"]
    got = record(invoicing)
    assert (got["status"], got["name"], got["partyId"], got["owner"]) == ("OPEN", "Invoicing", "2", "sofia")
    assert recorder.paths() == ["/api/v2/kases/1"]
    body = await as_json(proxy, "/api/kase/1")
    assert all(isinstance(value, str) for value in body["kase"].values())
    await xml(proxy, "/api/kase/999999", 404)


async def test_lists(proxy, recorder):
    everything = await xml(proxy, "/api/kase")
    assert everything.tag == "kases" and everything.get("size") == str(len(everything)) == "1"
    recorder.clear()
    assert [k.findtext("id") for k in await xml(proxy, "/api/kase?tag=Urgent")] == ["1"]
    assert len(await xml(proxy, "/api/kase?tag=Hot")) == 0
    assert len(await xml(proxy, "/api/kase?lastModified=20990101T000000")) == 0
    assert recorder.paths() == ["/api/v2/kases/filters/results?page=1&perPage=100"] * 2 + [
        "/api/v2/kases?since=2099-01-01T00:00:00Z&page=1&perPage=100"]
    assert [k.findtext("id") for k in await xml(proxy, "/api/party/2/kase")] == ["1"]
    assert (await as_json(proxy, "/api/party/5/kase")) == {"kases": {"@size": "0"}}
    await xml(proxy, "/api/party/999999/kase", 404)


# --- create -------------------------------------------------------------------------------------

async def test_a_new_case_is_the_callers_as_in_v1(proxy, upstream, recorder):
    new_id = await make(proxy, auth=SOFIA)
    # cold: the caller (v2 would leave the owner empty), the party, the create
    assert recorder.paths() == ["/api/v2/users/current", "/api/v2/parties/5", "/api/v2/kases"]
    assert recorder.written("POST") == [{"kase": {"name": "Case", "owner": {"id": 2}, "party": {"id": 5}}}]
    stored = (await v2(upstream, f"/api/v2/kases/{new_id}"))["kase"]
    assert stored["owner"]["username"] == "sofia" and stored["status"] == "OPEN"
    recorder.clear()
    await make(proxy, auth=SOFIA)
    assert recorder.paths() == ["/api/v2/parties/5", "/api/v2/kases"]                # warm


async def test_create_with_an_owner_status_and_close_date(proxy, upstream):
    new_id = await make(proxy, owner="sofia", status="closed", closeDate="2026-11-30T00:00:00Z",
                        description="Done")
    got = record(await xml(proxy, f"/api/kase/{new_id}"))
    assert (got["owner"], got["status"], got["closeDate"], got["description"]) == (
        "sofia", "CLOSED", "2026-11-30T00:00:00Z", "Done")


async def test_a_close_date_on_an_open_new_case_is_ignored_as_v1_did(proxy, upstream):
    response = await write(proxy, "POST", "/api/party/5/kase", kase(name="Open", closeDate="2026-11-30"), 201)
    assert "closeDate was ignored" in response.headers["Warning"]
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert (await v2(upstream, f"/api/v2/kases/{new_id}"))["kase"]["closedOn"] is None


async def test_create_in_json_with_a_track(proxy, upstream):
    body = json.dumps({"kase": {"name": "Tracked", "closeDate": ""}})
    new_id = await created(proxy, "/api/party/5/kase?trackId=2", body, "kase", JSON_BODY)
    stored = (await v2(upstream, f"/api/v2/kases/{new_id}?embed=tracks"))["kase"]
    assert [track["definition"]["id"] for track in stored["tracks"]] == [2]
    await refused(proxy, "POST", "/api/party/5/kase?trackId=1", kase(name="X"), "trackId")   # an opportunity's


@pytest.mark.parametrize("body, named", [
    (kase(description="no name"), "name"),
    (kase(name="X", status="PENDING"), "status"),
    (kase(name="X", status=""), "status"),
    (kase(name="X", status="CLOSED", closeDate="2026-11-30T12:00:00Z"), "closeDate"),
    (kase(name="X", closeDate="30/11/2026"), "closeDate"),
    (kase(name="X", partyId="x"), "partyId"),
])
async def test_invalid_documents_are_400_and_call_nothing(proxy, recorder, body, named):
    await refused(proxy, "POST", "/api/party/5/kase", body, named)
    assert recorder.calls == []


async def test_unknown_owner_is_a_400_naming_it(proxy, recorder):
    await refused(proxy, "POST", "/api/party/5/kase", kase(name="X", owner="nobody"), "nobody")
    assert recorder.written("POST") == []
    await refused(proxy, "POST", "/api/party/999999/kase", kase(name="X"), "999999", 404)
    assert recorder.written("POST") == []


# --- update ---------------------------------------------------------------------------------------

async def test_a_put_of_what_get_answered_changes_nothing(proxy, upstream, recorder):
    before = (await v2(upstream, "/api/v2/kases/1"))["kase"]
    body = await (await proxy.get("/api/kase/1", headers=PHILLIP)).read()
    recorder.clear()
    await write(proxy, "PUT", "/api/kase/1", body, 200)
    # cold: the users and the stored case (the owner is named), the PUT
    assert sorted(recorder.paths("GET")) == ["/api/v2/kases/1", "/api/v2/users"]
    # the owner named is the stored one: nothing about owner or team is sent
    assert recorder.written() == [{"kase": {"status": "OPEN", "name": "Invoicing",
                                            "description": "November invoice disputed"}}]
    after = (await v2(upstream, "/api/v2/kases/1"))["kase"]
    assert after == before
    recorder.clear()
    await write(proxy, "PUT", "/api/kase/1", body, 200)
    assert recorder.calls == [("GET", "/api/v2/kases/1"), ("PUT", "/api/v2/kases/1")]    # warm


async def test_an_owner_change_sends_the_stored_team_along(proxy, upstream, recorder):
    new_id = await make(proxy)
    recorder.clear()
    await write(proxy, "PUT", f"/api/kase/{new_id}", kase(owner="sofia"), 200)
    # the stored case says which team to keep: v2 would clear a team a PUT does not name (KA1)
    assert sorted(recorder.paths("GET")) == sorted(["/api/v2/users", f"/api/v2/kases/{new_id}"])
    assert recorder.calls[-1] == ("PUT", f"/api/v2/kases/{new_id}")
    assert recorder.written() == [{"kase": {"owner": {"id": 2}, "team": None}}]
    assert (await v2(upstream, f"/api/v2/kases/{new_id}"))["kase"]["owner"]["username"] == "sofia"
    await write(proxy, "PUT", f"/api/kase/{new_id}", kase(owner=""), 200)        # blank: no owner
    assert (await v2(upstream, f"/api/v2/kases/{new_id}"))["kase"]["owner"] is None


def test_the_team_a_v1_client_never_saw_is_kept():
    stored = {"id": 9, "owner": {"id": 1, "username": "phillip"}, "team": {"id": 7, "name": "Support"}}
    users = [{"id": 1, "username": "phillip"}, {"id": 2, "username": "sofia"}]
    ctx = Context(lists={"users": users}, current=stored)
    assert to_v2(KASE_SHAPE, {"owner": "sofia"}, ctx) == {"owner": {"id": 2}, "team": {"id": 7}}
    assert to_v2(KASE_SHAPE, {"owner": " "}, ctx) == {"owner": None, "team": {"id": 7}}
    assert to_v2(KASE_SHAPE, {"owner": "phillip", "name": "Same"}, ctx) == {"name": "Same"}
    assert to_v2(KASE_SHAPE, {"name": "No owner"}, ctx) == {"name": "No owner"}


async def test_status_and_close_date(proxy, upstream):
    new_id = await make(proxy)
    await write(proxy, "PUT", f"/api/kase/{new_id}", kase(status="CLOSED", closeDate="2026-10-01"), 200)
    got = record(await xml(proxy, f"/api/kase/{new_id}"))
    assert (got["status"], got["closeDate"]) == ("CLOSED", "2026-10-01T00:00:00Z")
    await write(proxy, "PUT", f"/api/kase/{new_id}", kase(status="open"), 200)
    got = record(await xml(proxy, f"/api/kase/{new_id}"))
    assert got["status"] == "OPEN" and "closeDate" not in got


async def test_put_under_a_party_moves_it(proxy, upstream, recorder):
    new_id = await make(proxy)
    recorder.clear()
    await write(proxy, "PUT", f"/api/party/6/kase/{new_id}", kase(description="Moved"), 200)
    assert recorder.paths() == ["/api/v2/parties/6", f"/api/v2/kases/{new_id}"]
    assert record(await xml(proxy, f"/api/kase/{new_id}"))["partyId"] == "6"
    await refused(proxy, "PUT", f"/api/party/999999/kase/{new_id}", kase(name="X"), "999999", 404)


async def test_delete(proxy, recorder):
    new_id = await make(proxy)
    recorder.clear()
    await write(proxy, "DELETE", f"/api/kase/{new_id}", b"", 200)
    assert recorder.calls == [("DELETE", f"/api/v2/kases/{new_id}")]
    await xml(proxy, f"/api/kase/{new_id}", 404)


async def test_post_api_kase_is_501(proxy, recorder):
    response = await proxy.post("/api/kase", data=kase(name="X"), headers=PHILLIP)
    assert response.status == 501 and "POST /api/kase" in await response.text()
    assert recorder.calls == []
