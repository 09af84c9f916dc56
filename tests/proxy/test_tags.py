"""Tags on parties, opportunities and cases through the proxy, in XML and v1 JSON (decisions
TG1-TG4). Demo seed: party 1 has VIP and Staff (a datatag), opportunity 1 Hot, kase 1 Urgent."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .conftest import PHILLIP
from .subrecords import KINDS, as_json, as_list, error, send, v2, warnings, xml

TAGS = {"party": ["VIP", "Staff"], "opportunity": ["Hot"], "kase": ["Urgent"]}
ITEM = {"party": "party", "opportunity": "opportunity", "kase": "kase"}


async def names_in_v2(upstream, collection: str, ident: int) -> list[str]:
    record = await v2(upstream, "GET", f"/api/v2/{collection}/{ident}?embed=tags")
    return [tag["name"] for tag in next(iter(record.values()))["tags"]]


@pytest.mark.parametrize("kind, parent, collection", KINDS)
async def test_list_a_records_tags_in_one_call(proxy, recorder, kind, parent, collection):
    tags = await xml(proxy, f"/api/{kind}/{parent}/tag")
    assert tags.tag == "tags" and tags.get("size") == str(len(TAGS[kind]))
    assert [[child.tag for child in tag] for tag in tags] == [["name"]] * len(TAGS[kind])
    assert [tag.findtext("name") for tag in tags] == TAGS[kind]
    assert recorder.paths() == [f"/api/v2/{collection}/{parent}?embed=tags"]
    body = await as_json(proxy, f"/api/{kind}/{parent}/tag")
    assert body["tags"]["@size"] == str(len(TAGS[kind]))
    assert [tag["name"] for tag in as_list(body["tags"]["tag"])] == TAGS[kind]


async def test_one_tag_is_a_bare_object_and_none_is_size_0(proxy):
    assert await as_json(proxy, "/api/kase/1/tag") == {"tags": {"@size": "1", "tag": {"name": "Urgent"}}}
    assert await as_json(proxy, "/api/party/5/tag") == {"tags": {"@size": "0"}}
    empty = await xml(proxy, "/api/party/5/tag")
    assert empty.get("size") == "0" and len(empty) == 0


@pytest.mark.parametrize("kind, parent, collection", KINDS)
async def test_add_then_add_again_then_remove(proxy, upstream, recorder, kind, parent, collection):
    recorder.clear()
    response = await send(proxy, "POST", f"/api/{kind}/{parent}/tag/New%20tag", status=201)
    # TG2: the record read with its tags, then the record's PUT: two calls, whatever the cache.
    assert recorder.calls == [("GET", f"/api/v2/{collection}/{parent}?embed=tags"),
                              ("PUT", f"/api/v2/{collection}/{parent}")]
    assert response.headers["Location"] == str(proxy.make_url(f"/api/{kind}/{parent}/tag/New%20tag"))
    assert await names_in_v2(upstream, collection, parent) == TAGS[kind] + ["New tag"]
    recorder.clear()
    await send(proxy, "POST", f"/api/{kind}/{parent}/tag/new%20TAG", status=200)   # already there (TG1)
    assert recorder.calls == [("GET", f"/api/v2/{collection}/{parent}?embed=tags")]
    recorder.clear()
    response = await send(proxy, "DELETE", f"/api/{kind}/{parent}/tag/NEW%20tag")
    assert recorder.calls == [("GET", f"/api/v2/{collection}/{parent}?embed=tags"),
                              ("PUT", f"/api/v2/{collection}/{parent}")]
    assert warnings(response) == ""
    assert await names_in_v2(upstream, collection, parent) == TAGS[kind]


async def test_an_existing_definition_is_attached_not_defined_again(proxy, upstream):
    await send(proxy, "POST", "/api/party/5/tag/vip", status=201)
    tags = (await v2(upstream, "GET", "/api/v2/parties/5?embed=tags"))["party"]["tags"]
    assert [(t["id"], t["name"]) for t in tags] == [(1, "VIP")]     # v2's spelling, no second VIP
    await send(proxy, "DELETE", "/api/party/5/tag/VIP")
    assert (await v2(upstream, "GET", "/api/v2/parties/5?embed=tags"))["party"]["tags"] == []


async def test_removing_a_tag_that_is_not_there_is_200_with_a_warning(proxy, recorder):
    # TG3: the state the client asked for holds; nothing is written.
    response = await send(proxy, "DELETE", "/api/party/1/tag/Hot")
    assert "party 1 has no tag 'Hot'; nothing was removed" in warnings(response)
    assert recorder.paths("PUT") == []


@pytest.mark.parametrize("name", ["a/b", "50% off", "Straße", "x+y", "new tag"])
async def test_names_are_percent_decoded_once(proxy, upstream, name):
    encoded = quote(name, safe="")
    response = await send(proxy, "POST", f"/api/party/6/tag/{encoded}", status=201)
    assert response.headers["Location"].endswith(f"/api/party/6/tag/{encoded}")
    assert [tag.findtext("name") for tag in await xml(proxy, "/api/party/6/tag")] == [name]
    await send(proxy, "DELETE", f"/api/party/6/tag/{encoded}")
    assert await names_in_v2(upstream, "parties", 6) == []


async def test_a_blank_name_is_a_400_and_sends_nothing(proxy, recorder):
    response = await send(proxy, "POST", "/api/party/1/tag/%20%20", status=400)
    assert "tag name" in await error(response)
    assert recorder.calls == []


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/party/999/tag"), ("GET", "/api/opportunity/999/tag"), ("GET", "/api/kase/999/tag"),
    ("POST", "/api/party/999/tag/VIP"), ("DELETE", "/api/kase/999/tag/Urgent"), ("GET", "/api/party/abc/tag"),
])
async def test_a_missing_record_is_404(proxy, recorder, method, path):
    await send(proxy, method, path, status=404)
    assert recorder.paths("PUT") == []


async def test_the_tag_filter_matches_names_as_adding_does(proxy):
    # TG1: one rule for names, whatever the letter case: ?tag= (a v2 filter) and POST .../tag/{name}.
    found = await xml(proxy, "/api/party?tag=vip")
    assert "1" in [party.findtext("id") for party in found]
    await send(proxy, "POST", "/api/party/1/tag/vIp", status=200)


async def test_the_recorded_client_reads_the_tag_list(proxy):
    # ahmedrb's recorded GET /api/party/{id}/tag: <tags size="N"><tag><name>...</name></tag>...
    for name in ("TMT", "Mid-cap"):
        await send(proxy, "POST", f"/api/party/4/tag/{name}", status=201)
    response = await proxy.get("/api/party/4/tag", headers=PHILLIP)
    body = await response.read()
    assert body.endswith(b'<tags size="2"><tag><name>TMT</name></tag><tag><name>Mid-cap</name></tag></tags>')
