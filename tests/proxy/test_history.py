"""History (v2 entries) through the proxy, in front of the emulator, for parties, opportunities
and cases, in XML and v1 JSON (decisions HI1-HI6).

Demo seed: party 1 (Eric Jones) has a note (entry 1) and an email (entry 2), opportunity 1 a
note (entry 4), kase 1 a note (entry 5); task 1 is linked to party 1.
"""

from __future__ import annotations

import pytest

from .conftest import JSON, PHILLIP, SOFIA
from .subrecords import KINDS, as_json, as_list, error, send, v2, warnings, xml

LONG_NOTE = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. Nulla mollis ullamcorper "
             "vehicula.")
ENTRIES = {"party": [2, 1], "opportunity": [4], "kase": [5]}
PARENT_ELEMENTS = {"party": ("partyId", "partyName"), "opportunity": ("opportunityId", "opportunityName"),
                   "kase": ("caseId", "caseName")}


async def new_note(proxy, kind: str = "party", parent: int = 1, body: str | dict | None = None, **kw) -> int:
    body = body if body is not None else f"<historyItem><note>{LONG_NOTE}</note></historyItem>"
    response = await send(proxy, "POST", f"/api/{kind}/{parent}/history", body, 201, **kw)
    location = response.headers["Location"]
    assert location.startswith(str(proxy.make_url("/api/history/")))
    return int(location.rsplit("/", 1)[1])


# --- reading -----------------------------------------------------------------------------------

async def test_a_partys_history_newest_first_as_v1_wrote_it(proxy, recorder):
    history = await xml(proxy, "/api/party/1/history")
    assert history.tag == "history" and history.get("size") == "2"
    assert recorder.paths() == ["/api/v2/parties/1/entries?page=1&perPage=50"]     # one call, pages of 50
    email, note = history
    assert [child.tag for child in note] == ["id", "type", "entryDate", "creator", "creatorName", "subject",
                                             "note", "partyId", "partyName", "partyPictureURL"]
    assert note.findtext("id") == "1" and note.findtext("type") == "Note"
    assert note.findtext("entryDate") == "2026-10-05T14:30:00Z"
    assert (note.findtext("creator"), note.findtext("creatorName")) == ("phillip", "Phillip Smith")
    # A short note is its own subject (HI2).
    assert note.findtext("subject") == note.findtext("note") == \
        "Met Eric at the trade fair; he wants a CRM for the sales team."
    assert (note.findtext("partyId"), note.findtext("partyName")) == ("1", "Eric Jones")
    assert email.findtext("type") == "Email" and email.findtext("subject") == "CRM System proposal"
    participants = email.findall("participants/participant")
    assert [(p.findtext("name"), p.findtext("emailAddress"), p.findtext("role")) for p in participants] == [
        ("Phillip Smith", "phillip@sample.example", "FROM"), ("Eric Jones", "eric@abcfurniture.example", "TO"),
        ("Sofia Rossi", "sofia@sample.example", "CC")]


@pytest.mark.parametrize("kind, parent, collection", KINDS)
async def test_every_parent_kind_has_its_history_in_xml_and_json(proxy, recorder, kind, parent, collection):
    history = await xml(proxy, f"/api/{kind}/{parent}/history")
    assert [item.findtext("id") for item in history] == [str(i) for i in ENTRIES[kind]]
    id_element, name_element = PARENT_ELEMENTS[kind]
    assert {item.findtext(id_element) for item in history} == {str(parent)}
    assert all(item.findtext(name_element) for item in history)
    assert recorder.paths() == [f"/api/v2/{collection}/{parent}/entries?page=1&perPage=50"]
    body = await as_json(proxy, f"/api/{kind}/{parent}/history")
    items = as_list(body["history"]["historyItem"])
    assert body["history"]["@size"] == str(len(ENTRIES[kind]))
    assert [item["id"] for item in items] == [str(i) for i in ENTRIES[kind]]
    assert all(isinstance(value, str) for item in items for key, value in item.items()
               if key not in ("participants", "attachments"))


async def test_one_item_as_json_is_a_bare_object(proxy):
    body = await as_json(proxy, "/api/kase/1/history")
    item = body["history"]["historyItem"]
    assert isinstance(item, dict) and (item["caseId"], item["caseName"]) == ("1", "Invoicing")
    assert "partyId" not in item and "opportunityId" not in item
    shown = await as_json(proxy, "/api/history/5")
    assert shown == {"historyItem": item}


async def test_an_empty_history(proxy):
    history = await xml(proxy, "/api/party/6/history")
    assert history.get("size") == "0" and len(history) == 0
    assert await as_json(proxy, "/api/party/6/history") == {"history": {"@size": "0"}}


@pytest.mark.parametrize("path", ["/api/party/999/history", "/api/opportunity/999/history",
                                  "/api/kase/999/history", "/api/history/999", "/api/party/x/history"])
async def test_a_missing_parent_or_item_is_404(proxy, path):
    await xml(proxy, path, 404)


async def test_a_completed_task_is_a_task_item(proxy):
    # HI1: v2's task-completion entries are listed, as type Task, the task's description as the note.
    await send(proxy, "POST", "/api/task/1/complete")
    history = await xml(proxy, "/api/party/1/history")
    tasks = [item for item in history if item.findtext("type") == "Task"]
    assert len(tasks) == 1 and tasks[0].findtext("note") == "Call Eric about the renewal"
    assert tasks[0].findtext("subject") == "Call Eric about the renewal"
    # v2 cannot change one: the proxy passes its refusal on as a 400.
    response = await send(proxy, "PUT", f"/api/history/{tasks[0].findtext('id')}",
                          "<historyItem><note>x</note></historyItem>", 400)
    assert "only note and email" in await error(response)


async def test_a_long_history_is_read_in_pages_of_50(proxy, upstream, recorder):
    for index in range(55):
        await v2(upstream, "POST", "/api/v2/entries",
                 {"entry": {"type": "note", "content": f"n{index}", "party": {"id": 5},
                            "entryAt": f"2026-01-01T00:{index:02d}:00Z"}})
    recorder.clear()
    history = await xml(proxy, "/api/party/5/history")
    assert history.get("size") == "55" and history[0].findtext("note") == "n54"
    assert recorder.paths() == ["/api/v2/parties/5/entries?page=1&perPage=50",
                                "/api/v2/parties/5/entries?page=2&perPage=50"]
    recorder.clear()
    window = await xml(proxy, "/api/party/5/history?start=52&limit=2")
    assert [item.findtext("note") for item in window] == ["n2", "n1"]
    assert recorder.paths() == ["/api/v2/parties/5/entries?page=2&perPage=50"]


# --- writing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, parent, collection", KINDS)
async def test_add_a_note_to_each_kind(proxy, recorder, kind, parent, collection):
    new_id = await new_note(proxy, kind, parent)
    # The parent is checked, then the note created (P5): two calls.
    assert recorder.calls == [("GET", f"/api/v2/{collection}/{parent}"), ("POST", "/api/v2/entries")]
    item = await xml(proxy, f"/api/history/{new_id}")
    assert item.findtext("type") == "Note" and item.findtext("note") == LONG_NOTE
    # HI2: the subject is the note's first 75 characters and "...", as mattbeedle's fixture shows.
    assert item.findtext("subject") == "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Nulla mollis ullam..."
    assert item.findtext("creator") == "phillip"
    assert item.findtext(PARENT_ELEMENTS[kind][0]) == str(parent)
    assert new_id in [int(i.findtext("id")) for i in await xml(proxy, f"/api/{kind}/{parent}/history")]


async def test_add_a_note_in_json_with_its_date(proxy, upstream):
    new_id = await new_note(proxy, "opportunity", 2, {"historyItem": {
        "note": "Called\n  about chairs", "entryDate": "2026-02-01T10:00:00+02:00"}})
    stored = (await v2(upstream, "GET", f"/api/v2/entries/{new_id}"))["entry"]
    assert stored["content"] == "Called\n  about chairs" and stored["entryAt"] == "2026-02-01T08:00:00Z"
    item = (await as_json(proxy, f"/api/history/{new_id}"))["historyItem"]
    assert item["entryDate"] == "2026-02-01T08:00:00Z" and item["subject"] == "Called about chairs"
    dated = await new_note(proxy, "kase", 1, "<historyItem><note>x</note><entryDate>2025-05-05</entryDate>"
                                             "</historyItem>")
    assert (await xml(proxy, f"/api/history/{dated}")).findtext("entryDate") == "2025-05-05T00:00:00Z"


async def test_another_creator_is_kept_as_the_caller_with_a_warning(proxy, recorder):
    # HI3: v2 records the token's user; the caller is looked up (cached) only when creator is sent.
    body = "<historyItem><note>From the old system</note><creator>sofia</creator></historyItem>"
    response = await send(proxy, "POST", "/api/party/1/history", body, 201)
    assert "creator 'sofia' ignored" in warnings(response) and "(phillip)" in warnings(response)
    assert recorder.paths() == ["/api/v2/users/current", "/api/v2/parties/1", "/api/v2/entries"]
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert (await xml(proxy, f"/api/history/{new_id}")).findtext("creator") == "phillip"
    recorder.clear()
    same = await send(proxy, "POST", "/api/party/1/history",
                      "<historyItem><note>Mine</note><creator>Phillip</creator></historyItem>", 201)
    assert warnings(same) == ""                                        # the caller, in any case
    assert recorder.paths() == ["/api/v2/parties/1", "/api/v2/entries"]  # warm: the caller is cached


@pytest.mark.parametrize("body, named", [
    ("<historyItem><entryDate>2026-01-01T00:00:00Z</entryDate></historyItem>", "note"),
    ("<historyItem><note>  </note></historyItem>", "note"),
    ("<historyItem><note>x</note><entryDate>2026-02-30T10:00:00Z</entryDate></historyItem>", "entryDate"),
    ("<historyItem><note>x</note><entryDate>yesterday</entryDate></historyItem>", "entryDate"),
    ("<historyItem><note>x</note><colour>red</colour></historyItem>", "colour"),
    ("<history><historyItem><note>x</note></historyItem></history>", "historyItem"),
    ('{"historyItem": {"note": true}}', "note"),
])
async def test_bad_input_is_a_400_naming_it_and_sends_nothing(proxy, recorder, body, named):
    # Every create translates first (P5): an impossible date costs no call either.
    headers = {"Content-Type": "application/json"} if body.startswith("{") else {"Content-Type": "application/xml"}
    response = await proxy.post("/api/party/1/history", data=body, headers={**PHILLIP, **headers})
    assert response.status == 400
    assert named in await error(response)
    assert recorder.calls == []


async def test_a_note_on_a_missing_parent_is_404_and_creates_nothing(proxy, recorder):
    await send(proxy, "POST", "/api/kase/999/history", "<historyItem><note>x</note></historyItem>", 404)
    assert recorder.paths("POST") == []


async def test_update_by_id_and_a_put_of_what_get_answered(proxy, upstream, recorder):
    response = await send(proxy, "PUT", "/api/history/1",
                          {"historyItem": {"note": "Edited", "entryDate": "2026-10-06T09:00:00Z"}})
    assert recorder.calls == [("PUT", "/api/v2/entries/1")]
    assert warnings(response) == ""
    stored = (await v2(upstream, "GET", "/api/v2/entries/1"))["entry"]
    assert (stored["content"], stored["entryAt"]) == ("Edited", "2026-10-06T09:00:00Z")
    before = await (await proxy.get("/api/history/2", headers=PHILLIP)).read()   # an email, participants and all
    await send(proxy, "PUT", "/api/history/2", before)
    after = await (await proxy.get("/api/history/2", headers=PHILLIP)).read()
    assert after == before
    await send(proxy, "PUT", "/api/history/999", "<historyItem><note>x</note></historyItem>", 404)


@pytest.mark.parametrize("kind, parent, collection", KINDS)
async def test_update_and_delete_under_the_parent(proxy, upstream, recorder, kind, parent, collection):
    item = ENTRIES[kind][0]
    recorder.clear()
    await send(proxy, "PUT", f"/api/{kind}/{parent}/history/{item}", "<historyItem><note>Nested</note></historyItem>")
    assert recorder.calls == [("GET", f"/api/v2/entries/{item}"), ("PUT", f"/api/v2/entries/{item}")]
    assert (await xml(proxy, f"/api/history/{item}")).findtext("note") == "Nested"
    recorder.clear()
    await send(proxy, "DELETE", f"/api/{kind}/{parent}/history/{item}")
    assert recorder.calls == [("GET", f"/api/v2/entries/{item}"), ("DELETE", f"/api/v2/entries/{item}")]
    await xml(proxy, f"/api/history/{item}", 404)
    await send(proxy, "DELETE", f"/api/{kind}/{parent}/history/{item}", status=404)


async def test_an_item_under_another_parent_is_404_and_nothing_changes(proxy, recorder):
    # Entry 3 is party 2's: the nested forms check the parent the path names (HI4).
    response = await send(proxy, "PUT", "/api/party/1/history/3", "<historyItem><note>x</note></historyItem>", 404)
    assert "party 1 has no history item with id 3" in await error(response)
    await send(proxy, "DELETE", "/api/opportunity/1/history/3", status=404)
    await send(proxy, "DELETE", "/api/kase/1/history/4", status=404)
    assert recorder.paths("PUT") == recorder.paths("DELETE") == []
    await xml(proxy, "/api/history/3")


async def test_a_bad_nested_update_sends_nothing(proxy, recorder):
    await send(proxy, "PUT", "/api/party/1/history/1", "<historyItem><note></note></historyItem>", 400)
    assert recorder.calls == []


async def test_delete_by_id(proxy, recorder):
    new_id = await new_note(proxy, headers=SOFIA)
    recorder.clear()
    await send(proxy, "DELETE", f"/api/history/{new_id}")
    assert recorder.calls == [("DELETE", f"/api/v2/entries/{new_id}")]
    await xml(proxy, f"/api/history/{new_id}", 404)
    await send(proxy, "DELETE", f"/api/history/{new_id}", status=404)


async def test_json_answers_follow_the_accept_header(proxy):
    new_id = await new_note(proxy, body={"historyItem": {"note": "json"}}, headers={**PHILLIP, **JSON})
    assert (await as_json(proxy, f"/api/history/{new_id}"))["historyItem"]["note"] == "json"


async def test_v2s_202_on_delete_is_v1s_200(aiohttp_server, aiohttp_client):
    # v2 may delete an entry later and answer 202 Accepted: v1 clients check for 200 (HI5).
    from aiohttp import web

    from proxy.app import create_app
    from proxy.config import load_settings

    async def v2_entries(request: web.Request) -> web.Response:
        if request.method == "DELETE":
            return web.Response(status=202)
        return web.json_response({"entry": {"id": 7, "type": "note", "content": "x", "party": {"id": 1}}})
    app = web.Application()
    app.router.add_route("*", "/api/v2/entries/{id}", v2_entries)
    server = await aiohttp_server(app)
    proxy = await aiohttp_client(create_app(load_settings(environ={}, flags={}), str(server.make_url("")).rstrip("/")))
    await send(proxy, "DELETE", "/api/history/7")
    await send(proxy, "DELETE", "/api/party/1/history/7")
