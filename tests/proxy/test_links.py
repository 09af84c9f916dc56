"""Additional parties of opportunities and cases through the proxy (demo seed: Eric Jones, party 1,
is an additional party of opportunity 1 and of case 1)."""

from __future__ import annotations

import pytest

from .conftest import PHILLIP
from .deals import as_json, refused, v2, write, xml


@pytest.mark.parametrize("kind, v2_kind", [("opportunity", "opportunities"), ("kase", "kases")])
async def test_list_the_additional_parties(proxy, recorder, kind, v2_kind):
    parties = await xml(proxy, f"/api/{kind}/1/party")
    assert parties.tag == "parties" and parties.get("size") == "1"
    [eric] = parties
    assert eric.tag == "person" and eric.findtext("id") == "1" and eric.findtext("firstName") == "Eric"
    assert eric.find("contacts") is not None                     # the party family's own shape
    assert recorder.paths() == [f"/api/v2/{v2_kind}/1/parties?page=1&perPage=100"]
    body = await as_json(proxy, f"/api/{kind}/1/party")
    assert body["parties"]["@size"] == "1" and body["parties"]["person"]["id"] == "1"
    await xml(proxy, f"/api/{kind}/999999/party", 404)


@pytest.mark.parametrize("kind, v2_kind", [("opportunity", "opportunities"), ("kase", "kases")])
async def test_add_and_remove(proxy, upstream, recorder, kind, v2_kind):
    response = await write(proxy, "POST", f"/api/{kind}/1/party/6", b"", 201)
    assert response.headers["Location"] == str(proxy.make_url("/api/party/6"))
    assert recorder.calls == [("POST", f"/api/v2/{v2_kind}/1/parties/6")]
    listed = await xml(proxy, f"/api/{kind}/1/party")
    assert [(p.tag, p.findtext("id")) for p in listed] == [("person", "1"), ("organisation", "6")]
    # already there (or the record's own party): nothing changes, 200 (LK1)
    again = await write(proxy, "POST", f"/api/{kind}/1/party/6", b"", 200)
    assert "Location" not in again.headers
    await write(proxy, "POST", f"/api/{kind}/1/party/2", b"", 200)
    recorder.clear()
    await write(proxy, "DELETE", f"/api/{kind}/1/party/6", b"", 200)
    assert recorder.calls == [("DELETE", f"/api/v2/{v2_kind}/1/parties/6")]
    await write(proxy, "DELETE", f"/api/{kind}/1/party/6", b"", 200)         # not there: nothing to do (LK2)
    stored = await v2(upstream, f"/api/v2/{v2_kind}/1/parties")
    assert [p["id"] for p in stored["parties"]] == [1]


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_missing_records_are_404(proxy, recorder, method):
    await refused(proxy, method, "/api/opportunity/999999/party/1", b"", "999999", 404)
    await refused(proxy, method, "/api/kase/1/party/999999", b"", "999999", 404)
    recorder.clear()
    await refused(proxy, method, "/api/kase/1/party/01", b"", "01", 404)
    await refused(proxy, method, "/api/opportunity/x/party/1", b"", "x", 404)
    assert recorder.calls == []


async def test_a_link_answers_empty_bodies_in_json_too(proxy):
    response = await proxy.post("/api/opportunity/2/party/5", headers={**PHILLIP, "Accept": "application/json"})
    assert response.status == 201 and await response.read() == b""
