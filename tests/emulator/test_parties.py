"""Parties: list, show, batch, create, update (contacts, organisation), delete, search, filters, people."""

from __future__ import annotations

import pytest

from .helpers import (ISO_UTC, PHILLIP, SOFIA, assert_422, call, create_task, ids_of, links, path_of,
                      post_created)

PERSON_KEYS = {"id", "type", "title", "firstName", "lastName", "jobTitle", "organisation", "pictureURL", "about",
               "createdAt", "updatedAt", "lastContactedAt", "owner", "team", "emailAddresses", "phoneNumbers",
               "addresses", "websites"}
ORGANISATION_KEYS = PERSON_KEYS - {"title", "firstName", "lastName", "jobTitle", "organisation"} | {"name"}


async def _party(client, party_id, query=""):
    return (await call(client, "GET", f"/api/v2/parties/{party_id}{query}"))["party"]


async def _put(client, party_id, fields, status=200, query=""):
    return await call(client, "PUT", f"/api/v2/parties/{party_id}{query}", {"party": fields}, status)


# --- reading ---

async def test_list_and_show(emulator):
    parties = (await call(emulator, "GET", "/api/v2/parties"))["parties"]
    assert [(p["id"], p["type"]) for p in parties] == [
        (1, "person"), (2, "organisation"), (3, "person"), (4, "organisation"), (5, "person"), (6, "organisation")]
    for party in parties:
        assert set(party) == (PERSON_KEYS if party["type"] == "person" else ORGANISATION_KEYS)
        assert await _party(emulator, party["id"]) == party


async def test_person_shape(emulator):
    eric = await _party(emulator, 1)
    assert (eric["title"], eric["firstName"], eric["lastName"], eric["jobTitle"]) == ("Mr", "Eric", "Jones", "CTO")
    assert eric["organisation"] == {"id": 2, "type": "organisation", "name": "ABC Furniture",
                                    "pictureURL": "https://capsulecrm.com/theme/default/images/org_avatar_70.png"}
    assert eric["owner"]["username"] == "phillip" and eric["team"] is None and eric["lastContactedAt"] is None
    assert eric["emailAddresses"] == [{"id": 1, "type": "Work", "address": "eric@abcfurniture.example"}]
    assert eric["phoneNumbers"] == [{"id": 2, "type": "Mobile", "number": "+44 7700 900123"}]
    assert eric["addresses"] == [{"id": 3, "type": "Office", "street": "1 High Street", "city": "London",
                                  "state": None, "country": "United Kingdom", "zip": "N1 1AA"}]
    assert eric["websites"] == [{"id": 4, "type": "Work", "service": "URL", "address": "www.abcfurniture.example/eric",
                                 "url": "http://www.abcfurniture.example/eric"}]
    assert ISO_UTC.match(eric["createdAt"]) and ISO_UTC.match(eric["updatedAt"])
    assert (await _party(emulator, 5))["organisation"] is None


async def test_list_is_paged_with_links(emulator):
    resp = await emulator.get("/api/v2/parties?perPage=4", headers=PHILLIP)
    assert [p["id"] for p in (await resp.json())["parties"]] == [1, 2, 3, 4]
    assert set(links(resp.headers)) == {"next"}
    resp = await emulator.get(path_of(links(resp.headers)["next"]), headers=PHILLIP)
    assert [p["id"] for p in (await resp.json())["parties"]] == [5, 6]
    assert set(links(resp.headers)) == {"prev"}
    assert await ids_of(emulator, "/api/v2/parties?perPage=1&embed=tags", "parties") == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("query", ["perPage=0", "perPage=101", "page=0", "page=x"])
async def test_bad_paging_is_400(emulator, query):
    await call(emulator, "GET", f"/api/v2/parties?{query}", status=400)


async def test_batch_show(emulator):
    body = await call(emulator, "GET", "/api/v2/parties/4,1,4")
    assert [p["id"] for p in body["parties"]] == [4, 1]
    assert set(body) == {"parties"}
    ten = ",".join(str(i) for i in [1, 2, 3, 4, 5, 6, 1, 2, 3, 4])
    assert len((await call(emulator, "GET", f"/api/v2/parties/{ten}"))["parties"]) == 6
    eleven = ",".join(str(i) for i in range(1, 12))
    await call(emulator, "GET", f"/api/v2/parties/{eleven}", status=400)
    body = await call(emulator, "GET", "/api/v2/parties/1,99", status=404)
    assert set(body) == {"message"} and "99" in body["message"]


@pytest.mark.parametrize("ident", ["99", "0", "abc", "1,", ",1", "99999999999999999999", "%D9%A1"])
async def test_show_missing_party_is_404(emulator, ident):
    body = await call(emulator, "GET", f"/api/v2/parties/{ident}", status=404)
    assert set(body) == {"message"}


async def test_embeds(emulator):
    plain = await _party(emulator, 1)
    assert "tags" not in plain and "fields" not in plain and "missingImportantFields" not in plain
    eric = await _party(emulator, 1, "?embed=tags,fields,organisation,missingImportantFields")
    assert [t["name"] for t in eric["tags"]] == ["VIP", "Staff"]
    assert eric["tags"][0] == {"id": 1, "name": "VIP", "description": "Key accounts", "dataTag": False}
    assert eric["fields"] == [
        {"id": 1, "definition": {"id": 1, "name": "NI Number"}, "value": "AB123456C", "tagId": 2},
        {"id": 3, "definition": {"id": 4, "name": "Newsletter"}, "value": True, "tagId": None},
        {"id": 2, "definition": {"id": 5, "name": "Lead Source"}, "value": "website", "tagId": None}]
    assert eric["organisation"] == await _party(emulator, 2)  # the full organisation
    assert eric["missingImportantFields"] is True  # Renewal Date is important and empty
    abc = await _party(emulator, 2, "?embed=fields,missingImportantFields")
    assert [f["value"] for f in abc["fields"]] == ["250", "2027-03-31"]  # numbers read back as strings
    assert abc["missingImportantFields"] is False
    listed = (await call(emulator, "GET", "/api/v2/parties?embed=tags"))["parties"]
    assert [len(p["tags"]) for p in listed] == [2, 1, 0, 0, 0, 0]


@pytest.mark.parametrize("path", ["/api/v2/parties?embed=nope", "/api/v2/parties/1?embed=tags,nope",
                                  "/api/v2/parties/search?q=x&embed=party"])
async def test_unknown_embed_is_400(emulator, path):
    body = await call(emulator, "GET", path, status=400)
    assert "embed" in body["message"]


async def test_since_gives_records_updated_at_or_after_it(account_clock, make_emulator):
    client = await make_emulator()
    seeded_at = account_clock()
    changed_at = account_clock.advance(3600)
    await _put(client, 3, {"jobTitle": "Head of Purchasing"})
    assert await ids_of(client, f"/api/v2/parties?since={changed_at}", "parties") == [3]
    assert await ids_of(client, f"/api/v2/parties?since={seeded_at}", "parties") == [1, 2, 3, 4, 5, 6]
    assert await ids_of(client, "/api/v2/parties?since=2026-03-01T13:00:01Z", "parties") == []
    # an offset and a bare date are understood too
    assert await ids_of(client, "/api/v2/parties?since=2026-03-01T14:00:00%2B01:00", "parties") == [3]
    assert await ids_of(client, "/api/v2/parties?since=2026-03-02", "parties") == []


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01T00:00:00Z", "20260301T000000"])
async def test_bad_since_is_400(emulator, since):
    body = await call(emulator, "GET", f"/api/v2/parties?since={since}", status=400)
    assert "since" in body["message"]


# --- creating ---

async def test_create_person_with_everything(emulator):
    person = await post_created(emulator, "/api/v2/parties", "party", {
        "type": "person", "title": "Dr", "firstName": "Ada", "lastName": "Lovelace", "jobTitle": "Analyst",
        "about": "Engines", "organisation": {"id": 4}, "owner": {"id": 2},
        "emailAddresses": [{"type": "Home", "address": "ada@example.com"}, {"address": "ada@work.example"}],
        "phoneNumbers": [{"type": "Fax", "number": "+44 1"}],
        "addresses": [{"type": "Shipping", "city": "London", "country": "united kingdom"}],
        "websites": [{"service": "TWITTER", "address": "@ada"}, {"service": "URL", "address": "https://ada.example"}],
        "tags": [{"name": "vip"}, {"name": "Mathematician"}],
        "fields": [{"definition": {"id": 2}, "value": 3},
                   {"definition": {"name": "renewal date"}, "value": "2027-01-01"}],
    })
    assert person["id"] == 7 and set(person) == PERSON_KEYS
    assert (person["title"], person["firstName"], person["lastName"]) == ("Dr", "Ada", "Lovelace")
    assert person["organisation"]["id"] == 4 and person["owner"]["username"] == "sofia"
    assert [e["id"] for e in person["emailAddresses"]] == [22, 23]  # one id sequence for every contact
    assert person["emailAddresses"][1] == {"id": 23, "type": None, "address": "ada@work.example"}
    assert person["phoneNumbers"][0]["id"] == 24 and person["addresses"][0]["id"] == 25
    assert person["addresses"][0]["country"] == "United Kingdom"  # the list's spelling
    assert [w["url"] for w in person["websites"]] == ["https://twitter.com/ada", "https://ada.example"]
    full = await _party(emulator, 7, "?embed=tags,fields")
    assert [t["name"] for t in full["tags"]] == ["VIP", "Mathematician"]
    assert [(f["definition"]["name"], f["value"]) for f in full["fields"]] == [
        ("Employees", "3"), ("Renewal Date", "2027-01-01")]
    assert full["createdAt"] == full["updatedAt"]
    task = await create_task(emulator, party={"id": 7})
    assert task["party"] == {"id": 7, "type": "person", "firstName": "Ada", "lastName": "Lovelace",
                             "pictureURL": person["pictureURL"]}


@pytest.mark.parametrize("fields, expected", [
    ({"type": "person", "firstName": "Ada"}, {"type": "person", "firstName": "Ada", "lastName": None}),
    ({"type": "person", "lastName": "Lovelace"}, {"type": "person", "firstName": None, "lastName": "Lovelace"}),
    ({"type": "organisation", "name": "Analytical Engines"}, {"type": "organisation", "name": "Analytical Engines"}),
])
async def test_create_defaults(emulator, fields, expected):
    party = await post_created(emulator, "/api/v2/parties", "party", fields, headers=SOFIA)
    assert {k: party[k] for k in expected} == expected
    assert party["owner"]["username"] == "sofia"  # a party made through the API belongs to the token's user
    assert party["emailAddresses"] == party["phoneNumbers"] == party["addresses"] == party["websites"] == []


async def test_create_ignores_read_only_and_other_type_fields(emulator):
    party = await post_created(emulator, "/api/v2/parties", "party", {
        "type": "organisation", "name": "Read Only Ltd", "id": 99, "createdAt": "2001-01-01T00:00:00Z",
        "firstName": "Ignored", "pictureURL": "x", "lastContactedAt": "2001-01-01T00:00:00Z"})
    assert party["id"] != 99 and party["createdAt"] != "2001-01-01T00:00:00Z" and "firstName" not in party


@pytest.mark.parametrize("fields, bad", [
    ({"type": "person"}, ["firstName"]),
    ({"type": "person", "firstName": " ", "lastName": ""}, ["firstName"]),
    ({"type": "person", "name": "Ada Lovelace"}, ["firstName"]),
    ({"type": "person", "firstName": 5}, ["firstName"]),
    ({"type": "organisation"}, ["name"]),
    ({"type": "organisation", "name": "  "}, ["name"]),
    ({"type": "organisation", "firstName": "Ada"}, ["name"]),
    ({"type": "company", "name": "X"}, ["type"]),
    ({"type": "PERSON", "firstName": "Ada"}, ["type"]),
    ({"name": "X"}, ["type"]),
    ({"type": "organisation", "name": "ABC Furniture"}, ["name"]),
    ({"type": "person", "firstName": "A", "owner": {"id": 9}}, ["owner"]),
    ({"type": "person", "firstName": "A", "owner": 1}, ["owner"]),
    ({"type": "person", "firstName": "A", "team": {"id": 1}}, ["team"]),
    ({"type": "person", "firstName": "A", "organisation": {"id": 1}}, ["organisation"]),
    ({"type": "person", "firstName": "A", "organisation": {"id": 99}}, ["organisation"]),
    ({"type": "person", "firstName": "A", "organisation": "ABC"}, ["organisation"]),
    ({"type": "person", "firstName": "A", "emailAddresses": [{"type": "Office", "address": "a@b.c"}]},
     ["emailAddresses[0].type"]),
    ({"type": "person", "firstName": "A", "emailAddresses": [{"type": "Home"}]}, ["emailAddresses[0].address"]),
    ({"type": "person", "firstName": "A", "emailAddresses": {"address": "a@b.c"}}, ["emailAddresses"]),
    ({"type": "person", "firstName": "A", "phoneNumbers": [{"number": "1"}, {"type": "Pager", "number": "2"}]},
     ["phoneNumbers[1].type"]),
    ({"type": "person", "firstName": "A", "phoneNumbers": ["+44 1"]}, ["phoneNumbers[0]"]),
    ({"type": "person", "firstName": "A", "addresses": [{"type": "Work", "city": "X"}]}, ["addresses[0].type"]),
    ({"type": "person", "firstName": "A", "addresses": [{"country": "Atlantis"}]}, ["addresses[0].country"]),
    ({"type": "person", "firstName": "A", "addresses": [{"type": "Home"}]}, ["addresses[0].street"]),
    ({"type": "person", "firstName": "A", "websites": [{"service": "MYSPACE", "address": "a"}]},
     ["websites[0].service"]),
    ({"type": "person", "firstName": "A", "websites": [{"address": "a.example"}]}, ["websites[0].service"]),
    ({"type": "person", "firstName": "A", "websites": [{"service": "URL", "address": " "}]}, ["websites[0].address"]),
    ({"type": "person", "firstName": "A", "emailAddresses": [{"id": 1, "address": "x@y.z"}]},
     ["emailAddresses[0].id"]),
    ({"type": "person", "firstName": "A", "emailAddresses": [{"_delete": True}]}, ["emailAddresses[0].id"]),
    ({"type": "person", "firstName": "A", "tags": [{"id": 3}]}, ["tags[0].id"]),
    ({"type": "person", "firstName": "A", "tags": [{"id": 1, "_delete": True}]}, ["tags[0].id"]),
    ({"type": "person", "firstName": "A", "tags": [{}]}, ["tags[0].name"]),
    ({"type": "person", "firstName": "A", "fields": [{"definition": {"id": 6}, "value": "x"}]},
     ["fields[0].definition"]),
    ({"type": "person", "firstName": "A", "fields": [{"definition": {"id": 2}, "value": "many"}]},
     ["fields[0].value"]),
    ({"type": 7, "firstName": "A"}, ["type"]),
    ({"type": "person", "firstName": 1, "owner": {"id": 9}, "emailAddresses": [{}], "tags": [{"id": 99}]},
     ["firstName", "owner", "emailAddresses[0].address", "tags[0].id"]),
])
async def test_invalid_party_is_422(emulator, fields, bad):
    assert_422(await call(emulator, "POST", "/api/v2/parties", {"party": fields}, 422), "party", bad)
    assert len((await call(emulator, "GET", "/api/v2/parties"))["parties"]) == 6  # nothing was written
    assert len((await call(emulator, "GET", "/api/v2/parties/tags"))["tags"]) == 2


@pytest.mark.parametrize("raw", [b"nope", b"{}", b'{"party": "x"}', b"[]", b'{"person": {}}'])
async def test_malformed_party_body_is_400(emulator, raw):
    resp = await emulator.post("/api/v2/parties", data=raw, headers=PHILLIP | {"Content-Type": "application/json"})
    assert resp.status == 400 and set(await resp.json()) == {"message"}


async def test_organisation_by_name_joins_or_creates(emulator):
    joined = await post_created(emulator, "/api/v2/parties", "party",
                                {"type": "person", "firstName": "Jo", "organisation": {"name": "ABC Furniture"}})
    assert joined["organisation"]["id"] == 2
    made = await post_created(emulator, "/api/v2/parties", "party",
                              {"type": "person", "firstName": "Al", "organisation": {"name": "abc furniture"}})
    # names match exactly; the new organisation is made first, so it has the lower id
    assert (made["id"], made["organisation"]["id"], made["organisation"]["name"]) == (9, 8, "abc furniture")
    new_org = await _party(emulator, 8)
    assert new_org["type"] == "organisation" and new_org["owner"]["username"] == "phillip"
    moved = (await _put(emulator, 7, {"organisation": {"name": "Northwind Traders"}}))["party"]
    assert moved["organisation"]["id"] == 6
    cleared = (await _put(emulator, 7, {"organisation": None}))["party"]
    assert cleared["organisation"] is None


async def test_duplicate_organisation_names_are_refused(emulator):
    assert_422(await _put(emulator, 4, {"name": "ABC Furniture"}, 422), "party", ["name"])
    assert (await _put(emulator, 4, {"name": "Globex Italia", "about": "same name is fine"}))["party"]["name"] == \
        "Globex Italia"
    assert (await _put(emulator, 4, {"name": "  Globex SpA "}))["party"]["name"] == "Globex SpA"


# --- updating ---

async def test_update_is_partial_and_touches_updated_at(account_clock, make_emulator):
    client = await make_emulator()
    before = await _party(client, 1)
    account_clock.advance()
    after = (await _put(client, 1, {"jobTitle": "CEO", "owner": {"id": 2}}))["party"]
    assert after["jobTitle"] == "CEO" and after["owner"]["username"] == "sofia"
    assert after["updatedAt"] == account_clock() != before["updatedAt"]
    assert {k: v for k, v in after.items() if k not in ("jobTitle", "owner", "updatedAt")} == \
           {k: v for k, v in before.items() if k not in ("jobTitle", "owner", "updatedAt")}
    account_clock.advance()
    same = (await _put(client, 1, {"jobTitle": "CEO", "firstName": "Eric", "createdAt": "x", "id": 5}))["party"]
    assert same == after  # nothing changed, so updatedAt stays
    assert await _party(client, 1) == after
    cleared = (await _put(client, 1, {"owner": None, "title": None, "about": None}))["party"]
    assert cleared["owner"] is None and cleared["title"] is None and cleared["about"] is None


@pytest.mark.parametrize("party_id, fields, bad", [
    (1, {"firstName": None, "lastName": " "}, ["firstName"]),
    (1, {"type": "organisation"}, ["type"]),
    (2, {"type": "person"}, ["type"]),
    (2, {"name": ""}, ["name"]),
    (2, {"name": None}, ["name"]),
    (1, {"organisation": {"id": 3}}, ["organisation"]),
    (1, {"emailAddresses": [{"id": 5, "address": "x@y.z"}]}, ["emailAddresses[0].id"]),
    (1, {"emailAddresses": [{"id": 2, "_delete": True}]}, ["emailAddresses[0].id"]),
    (1, {"emailAddresses": [{"id": 99, "_delete": True}]}, ["emailAddresses[0].id"]),
    (1, {"emailAddresses": [{"id": 1, "address": ""}]}, ["emailAddresses[0].address"]),
    (1, {"websites": [{"id": 4, "service": "ICQ"}]}, ["websites[0].service"]),
    (1, {"tags": [{"id": 3, "_delete": True}]}, ["tags[0].id"]),
    (1, {"tags": [{"id": 2, "_delete": True}, {"id": 1}, {"name": "VIP", "_delete": True}]}, ["tags[2].id"]),
])
async def test_invalid_update_is_422_and_changes_nothing(emulator, party_id, fields, bad):
    before = await _party(emulator, party_id, "?embed=tags,fields")
    assert_422(await _put(emulator, party_id, fields, 422), "party", bad)
    assert await _party(emulator, party_id, "?embed=tags,fields") == before


async def test_update_missing_party_is_404(emulator):
    await _put(emulator, 99, {"about": "x"}, 404)
    await call(emulator, "PUT", "/api/v2/parties/1,2", {"party": {"about": "x"}}, 404)


async def test_contacts_are_added_updated_and_removed(emulator):
    party = (await _put(emulator, 1, {
        "emailAddresses": [{"id": 1, "type": "Home"}, {"type": "Work", "address": "eric2@abc.example"}],
        "phoneNumbers": [{"id": 2, "_delete": True}],
        "addresses": [{"id": 3, "street": "2 High Street", "state": None}],
        "websites": [{"id": 4, "service": "GITHUB", "address": "ericj"}],
    }))["party"]
    assert party["emailAddresses"] == [{"id": 1, "type": "Home", "address": "eric@abcfurniture.example"},
                                       {"id": 22, "type": "Work", "address": "eric2@abc.example"}]
    assert party["phoneNumbers"] == []
    assert party["addresses"][0]["street"] == "2 High Street" and party["addresses"][0]["city"] == "London"
    assert party["websites"] == [{"id": 4, "type": "Work", "service": "GITHUB", "address": "ericj",
                                  "url": "https://github.com/ericj"}]
    party = (await _put(emulator, 1, {"phoneNumbers": [{"number": "+1 555"}]}))["party"]
    assert party["phoneNumbers"] == [{"id": 23, "type": None, "number": "+1 555"}]  # 2 is never used again
    # an item sent back whole, as a client read it, changes nothing
    assert (await _put(emulator, 1, {"emailAddresses": party["emailAddresses"]}))["party"] == party


@pytest.mark.parametrize("service, address, url", [
    ("URL", "www.example.com", "http://www.example.com"),
    ("URL", "https://example.com/a", "https://example.com/a"),
    ("LINKED_IN", "www.linkedin.com/in/ada", "http://www.linkedin.com/in/ada"),
    ("FACEBOOK", "https://facebook.com/ada", "https://facebook.com/ada"),
    ("FEED", "example.com/rss", "http://example.com/rss"),
    ("TWITTER", "ada", "https://twitter.com/ada"),
    ("TWITTER", "@ada", "https://twitter.com/ada"),
    ("GITHUB", "ada", "https://github.com/ada"),
    ("YOUTUBE", "ada", "https://www.youtube.com/user/ada"),
    ("INSTAGRAM", "ada", "https://www.instagram.com/ada"),
    ("PINTEREST", "ada", "https://www.pinterest.com/ada"),
    ("SKYPE", "ada.l", "skype:ada.l?call"),
])
async def test_website_url_is_derived(emulator, service, address, url):
    party = (await _put(emulator, 5, {"websites": [{"service": service, "address": address}]}))["party"]
    assert party["websites"][-1] == {"id": 22, "type": None, "service": service, "address": address, "url": url}


# --- deleting ---

async def test_delete_cascades_and_is_recorded(account_clock, make_emulator):
    client = await make_emulator()
    account_clock.advance()
    deleted_at = account_clock()
    kept_entry = (await call(client, "GET", "/api/v2/parties/1/entries"))["entries"][0]
    assert await call(client, "DELETE", "/api/v2/parties/2", status=204) is None
    await call(client, "GET", "/api/v2/parties/2", status=404)
    await call(client, "GET", "/api/v2/opportunities/1", status=404)  # its opportunity
    await call(client, "GET", "/api/v2/kases/1", status=404)  # its kase
    for task_id in (2, 3):  # the tasks of that opportunity and kase
        await call(client, "GET", f"/api/v2/tasks/{task_id}", status=404)
    await call(client, "GET", "/api/v2/tasks/1")  # Eric's task stays
    await call(client, "GET", "/api/v2/entries/3", status=404)  # the organisation's note
    assert await call(client, "GET", f"/api/v2/entries/{kept_entry['id']}")
    eric = await _party(client, 1)
    assert eric["organisation"] is None and eric["updatedAt"] == deleted_at  # people stay, unlinked
    since = "?since=2026-03-01T12:00:00Z"
    assert (await call(client, "GET", f"/api/v2/parties/deleted{since}")) == {
        "parties": [{"id": 2, "deletedAt": deleted_at}]}
    assert (await call(client, "GET", f"/api/v2/opportunities/deleted{since}")) == {
        "opportunities": [{"id": 1, "deletedAt": deleted_at}], "restrictedOpportunities": []}
    assert (await call(client, "GET", f"/api/v2/kases/deleted{since}")) == {
        "kases": [{"id": 1, "deletedAt": deleted_at}]}
    assert (await call(client, "GET", "/api/v2/parties/deleted?since=2026-03-01T12:01:01Z")) == {"parties": []}
    await call(client, "DELETE", "/api/v2/parties/2", status=404)
    assert [t["name"] for t in (await call(client, "GET", "/api/v2/parties/tags"))["tags"]] == ["VIP", "Staff"]


async def test_deleted_needs_since(emulator):
    for entity in ("parties", "opportunities", "kases"):
        body = await call(emulator, "GET", f"/api/v2/{entity}/deleted", status=400)
        assert "since" in body["message"]


@pytest.mark.parametrize("path", ["/api/v2/parties/1,2", "/api/v2/parties/0", "/api/v2/parties/abc"])
async def test_delete_needs_one_existing_id(emulator, path):
    await call(emulator, "DELETE", path, status=404)
    assert len((await call(emulator, "GET", "/api/v2/parties"))["parties"]) == 6


# --- search, filters, people ---

@pytest.mark.parametrize("q, expected", [
    ("eric", [1]),
    ("ERIC JONES", [1]),
    ("globex", [3, 4]),  # the organisation's name, and Maria's email address
    ("@mail.example", [3, 5]),
    ("7700 900123", [1]),
    ("+447700900123", [1]),  # a phone number matches on its digits too
    ("020 7946", []),
    ("nobody", []),
])
async def test_search(emulator, q, expected):
    assert await ids_of(emulator, f"/api/v2/parties/search?q={q.replace('+', '%2B')}", "parties") == expected


async def test_search_is_paged_and_needs_q(emulator):
    resp = await emulator.get("/api/v2/parties/search?q=a&perPage=2", headers=PHILLIP)
    assert len((await resp.json())["parties"]) == 2 and "next" in links(resp.headers)
    assert await ids_of(emulator, "/api/v2/parties/search?q=a&perPage=2", "parties") == [1, 2, 3, 4, 5, 6]
    await call(emulator, "GET", "/api/v2/parties/search", status=400)
    await call(emulator, "GET", "/api/v2/parties/search?q=%20", status=400)


def _filter(*conditions):
    return {"filter": {"conditions": [{"field": f, "operator": o, "value": v} for f, o, v in conditions]}}


@pytest.mark.parametrize("conditions, expected", [
    ([("email", "is", "ERIC@abcfurniture.example")], [1]),
    ([("email", "is", "eric@")], []),
    ([("email", "contains", "globex")], [3]),
    ([("tag", "is", "vip")], [1, 2]),
    ([("tag", "is", 1)], [1, 2]),
    ([("tag", "is", "1")], [1, 2]),
    ([("tag", "is not", "VIP")], [3, 4, 5, 6]),
    ([("name", "is", "eric jones")], [1]),
    ([("name", "is", "Globex Italia")], [4]),
    ([("name", "contains", "or")], [6]),
    ([("type", "is", "organisation")], [2, 4, 6]),
    ([("type", "is", "person"), ("tag", "is", "VIP")], [1]),
    ([("phone", "contains", "+39")], [3, 4]),
    ([("country", "is", "Italy")], [4]),
    ([("updatedOn", "is after", "2000-01-01")], [1, 2, 3, 4, 5, 6]),
    ([("addedOn", "is after", "2999-12-31")], []),
    ([("addedOn", "is before", "2999-12-31"), ("jobTitle", "is", "cto")], [1]),
    ([], [1, 2, 3, 4, 5, 6]),
])
async def test_filters(emulator, conditions, expected):
    assert await ids_of(emulator, "/api/v2/parties/filters/results?perPage=2", "parties",
                        _filter(*conditions)) == expected


async def test_filter_dates_follow_the_clock(account_clock, make_emulator):
    client = await make_emulator()
    account_clock.advance(86400)
    await _put(client, 5, {"about": "changed a day later"})
    body = _filter(("updatedOn", "is after", "2026-03-01"))
    assert await ids_of(client, "/api/v2/parties/filters/results", "parties", body) == [5]
    body = _filter(("addedOn", "is", "2026-03-01"), ("updatedOn", "is", "2026-03-02"))
    assert await ids_of(client, "/api/v2/parties/filters/results", "parties", body) == [5]


@pytest.mark.parametrize("body, named", [
    (_filter(("colour", "is", "red")), "'colour'"),
    (_filter(("name", "sounds like", "x")), "'sounds like'"),
    (_filter(("updatedOn", "is after", "yesterday")), "updatedOn"),
    (_filter(("email", "is", 5)), "email"),
    (_filter(("type", "is", "company")), "type"),
    ({"filter": {"conditions": ["name is x"]}}, "conditions[0]"),
    ({"filter": {}}, "filter"),
    ({"conditions": []}, "filter"),
    ([], "filter"),
])
async def test_bad_filter_is_400_naming_it(emulator, body, named):
    result = await call(emulator, "POST", "/api/v2/parties/filters/results", body, 400)
    assert named in result["message"]


async def test_people_of_an_organisation(emulator):
    assert await ids_of(emulator, "/api/v2/parties/2/people", "parties") == [1]
    assert await ids_of(emulator, "/api/v2/parties/4/people", "parties") == [3]
    await post_created(emulator, "/api/v2/parties", "party",
                       {"type": "person", "lastName": "Two", "organisation": {"id": 4}})
    resp = await emulator.get("/api/v2/parties/4/people?perPage=1&embed=tags", headers=PHILLIP)
    assert "next" in links(resp.headers) and "tags" in (await resp.json())["parties"][0]
    assert await ids_of(emulator, "/api/v2/parties/4/people?perPage=1", "parties") == [3, 7]
    assert await ids_of(emulator, "/api/v2/parties/1/people", "parties") == []  # a person has no people
    await call(emulator, "GET", "/api/v2/parties/99/people", status=404)
