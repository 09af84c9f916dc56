"""Tag definitions and tags on records; custom field definitions and values on records."""

from __future__ import annotations

import pytest

from .helpers import assert_422, call, ids_of, post_created

ENTITIES = [("parties", "party", 5), ("opportunities", "opportunity", 2), ("kases", "kase", 1)]


async def _put(client, entity, resource, record_id, fields, status=200):
    body = await call(client, "PUT", f"/api/v2/{entity}/{record_id}?embed=tags,fields", {resource: fields}, status)
    return body[resource] if status == 200 else body


# --- tag definitions ---

@pytest.mark.parametrize("entity, names", [("parties", ["VIP", "Staff"]), ("opportunities", ["Hot"]),
                                           ("kases", ["Urgent"])])
async def test_tag_definitions_per_entity(emulator, entity, names):
    tags = (await call(emulator, "GET", f"/api/v2/{entity}/tags"))["tags"]
    assert [t["name"] for t in tags] == names
    assert all(set(t) == {"id", "name", "description", "dataTag"} for t in tags)
    for tag in tags:
        assert await call(emulator, "GET", f"/api/v2/{entity}/tags/{tag['id']}") == {"tag": tag}


async def test_tag_definition_shape_and_paging(emulator):
    assert (await call(emulator, "GET", "/api/v2/parties/tags/2"))["tag"] == {
        "id": 2, "name": "Staff", "description": None, "dataTag": True}
    assert await ids_of(emulator, "/api/v2/parties/tags?perPage=1", "tags") == [1, 2]
    await call(emulator, "GET", "/api/v2/opportunities/tags/1", status=404)  # a party tag
    await call(emulator, "GET", "/api/v2/parties/tags/99", status=404)


async def test_create_tag_definitions(emulator):
    partner = await post_created(emulator, "/api/v2/parties/tags", "tag",
                                 {"name": " Partner ", "description": "Resellers", "dataTag": True})
    assert partner == {"id": 5, "name": "Partner", "description": "Resellers", "dataTag": True}
    # ids are global, names are per entity
    assert (await post_created(emulator, "/api/v2/kases/tags", "tag", {"name": "Partner"}))["id"] == 6
    assert await ids_of(emulator, "/api/v2/parties/tags", "tags") == [1, 2, 5]


@pytest.mark.parametrize("fields, bad", [
    ({"name": "vip"}, ["name"]),
    ({"name": ""}, ["name"]),
    ({}, ["name"]),
    ({"name": "X", "dataTag": "yes"}, ["dataTag"]),
    ({"name": "X", "description": 5}, ["description"]),
])
async def test_invalid_tag_definition_is_422(emulator, fields, bad):
    assert_422(await call(emulator, "POST", "/api/v2/parties/tags", {"tag": fields}, 422), "tag", bad)


async def test_deleting_a_tag_detaches_it_everywhere(emulator):
    assert await call(emulator, "DELETE", "/api/v2/parties/tags/1", status=204) is None
    await call(emulator, "GET", "/api/v2/parties/tags/1", status=404)
    await call(emulator, "DELETE", "/api/v2/parties/tags/1", status=404)
    eric = (await call(emulator, "GET", "/api/v2/parties/1?embed=tags"))["party"]
    assert [t["name"] for t in eric["tags"]] == ["Staff"]
    await call(emulator, "DELETE", "/api/v2/opportunities/tags/4", status=404)  # a kase tag


async def test_deleting_a_datatag_removes_its_fields(emulator):
    await call(emulator, "DELETE", "/api/v2/parties/tags/2", status=204)
    definitions = (await call(emulator, "GET", "/api/v2/parties/fields/definitions"))["definitions"]
    assert "NI Number" not in [d["name"] for d in definitions]
    eric = (await call(emulator, "GET", "/api/v2/parties/1?embed=fields"))["party"]
    assert [f["definition"]["name"] for f in eric["fields"]] == ["Newsletter", "Lead Source"]


# --- tags on records ---

@pytest.mark.parametrize("entity, resource, record_id", ENTITIES)
async def test_attach_and_detach_tags(emulator, entity, resource, record_id):
    existing = (await call(emulator, "GET", f"/api/v2/{entity}/tags"))["tags"][0]
    record = await _put(emulator, entity, resource, record_id, {"tags": [
        {"name": existing["name"].lower()}, {"name": "Brand New"}, {"name": "brand new"}]})
    # a name matches its definition in any letter case, and is attached once
    assert [t["name"] for t in record["tags"]] == [existing["name"], "Brand New"]
    new = record["tags"][1]
    assert new["id"] == 5 and new["dataTag"] is False  # the definition was created
    assert (await call(emulator, "GET", f"/api/v2/{entity}/tags/5"))["tag"] == new
    again = await _put(emulator, entity, resource, record_id, {"tags": [{"id": 5}]})
    assert again["tags"] == record["tags"]  # attaching twice changes nothing
    detached = await _put(emulator, entity, resource, record_id, {"tags": [{"id": 5, "_delete": True}]})
    assert [t["name"] for t in detached["tags"]] == [existing["name"]]
    body = await _put(emulator, entity, resource, record_id, {"tags": [{"id": 5, "_delete": True}]}, 422)
    assert body["errors"] == [{"message": "tag not found to delete", "resource": resource, "field": "tags[0].id"}]


async def test_tag_ids_belong_to_one_entity(emulator):
    body = await _put(emulator, "parties", "party", 5, {"tags": [{"id": 3}]}, 422)  # Hot is an opportunity tag
    assert_422(body, "party", ["tags[0].id"])
    deal = await _put(emulator, "opportunities", "opportunity", 2, {"tags": [{"name": "VIP"}]})
    assert deal["tags"][0]["id"] == 5 != 1  # a new opportunity tag, not the party tag VIP
    assert await ids_of(emulator, "/api/v2/opportunities/tags", "tags") == [3, 5]


async def test_setting_a_datatag_field_does_not_attach_the_tag(emulator):
    tom = await _put(emulator, "parties", "party", 5, {"fields": [{"definition": {"id": 1}, "value": "ZZ"}]})
    assert tom["tags"] == [] and tom["fields"][0]["tagId"] == 2


# --- custom field definitions ---

async def test_field_definitions(emulator):
    definitions = (await call(emulator, "GET", "/api/v2/parties/fields/definitions"))["definitions"]
    assert [(d["id"], d["name"], d["type"]) for d in definitions] == [
        (1, "NI Number", "text"), (2, "Employees", "number"), (3, "Renewal Date", "date"),
        (4, "Newsletter", "boolean"), (5, "Lead Source", "list")]
    assert definitions[0] == {"id": 1, "name": "NI Number", "description": None, "type": "text", "options": None,
                              "tag": {"id": 2, "name": "Staff", "dataTag": True}, "important": False,
                              "displayOrder": 1, "captureRule": None}
    assert definitions[4]["options"] == ["website", "newsletter", "referral"] and definitions[4]["tag"] is None
    assert definitions[2]["important"] is True
    assert [d["displayOrder"] for d in definitions] == [1, 2, 3, 4, 5]
    assert await ids_of(emulator, "/api/v2/parties/fields/definitions?perPage=2", "definitions") == [1, 2, 3, 4, 5]
    assert await ids_of(emulator, "/api/v2/opportunities/fields/definitions", "definitions") == [6]
    assert await ids_of(emulator, "/api/v2/kases/fields/definitions", "definitions") == [7]
    assert await call(emulator, "GET", "/api/v2/parties/fields/definitions/3") == {"definition": definitions[2]}
    await call(emulator, "GET", "/api/v2/kases/fields/definitions/3", status=404)


# --- custom field values ---

@pytest.mark.parametrize("definition, value, shown", [
    ({"id": 1}, "QQ123456C", "QQ123456C"),
    ({"id": 2}, 12, "12"),
    ({"id": 2}, 12.5, "12.5"),
    ({"id": 2}, "0042.50", "42.50"),
    ({"id": 2}, "-3", "-3"),
    ({"name": "employees"}, 7, "7"),
    ({"id": 3}, "2027-01-31", "2027-01-31"),
    ({"id": 4}, True, True),
    ({"id": 4}, False, False),
    ({"id": 5}, "referral", "referral"),
    ({"name": "Lead Source"}, "newsletter", "newsletter"),
])
async def test_set_a_value(emulator, definition, value, shown):
    tom = await _put(emulator, "parties", "party", 5, {"fields": [{"definition": definition, "value": value}]})
    (field,) = tom["fields"]
    assert field["value"] == shown and field["id"] == 9
    assert set(field) == {"id", "definition", "value", "tagId"}


async def test_replace_clear_and_delete_values(emulator):
    eric = (await call(emulator, "GET", "/api/v2/parties/1?embed=fields"))["party"]
    assert [(f["id"], f["value"]) for f in eric["fields"]] == [(1, "AB123456C"), (3, True), (2, "website")]
    eric = await _put(emulator, "parties", "party", 1, {"fields": [
        {"definition": {"id": 1}, "value": "CD654321A"},  # replaces, keeping the value id
        {"id": 2, "value": "newsletter"},  # by value id
        {"id": 3, "value": False}]})
    assert [(f["id"], f["value"]) for f in eric["fields"]] == [(1, "CD654321A"), (3, False), (2, "newsletter")]
    eric = await _put(emulator, "parties", "party", 1, {"fields": [{"definition": {"id": 1}, "value": None},
                                                                   {"id": 2, "_delete": True}]})
    assert [(f["id"], f["value"]) for f in eric["fields"]] == [(3, False)]
    body = await _put(emulator, "parties", "party", 1, {"fields": [{"definition": {"id": 4}, "value": None}]}, 422)
    assert_422(body, "party", ["fields[0].value"])
    assert "boolean" in body["errors"][0]["message"]
    assert_422(await _put(emulator, "parties", "party", 1, {"fields": [{"id": 5, "_delete": True}]}, 422),
               "party", ["fields[0].id"])  # value 5 belongs to another party


async def test_important_fields(emulator):
    shown = await call(emulator, "GET", "/api/v2/parties/1?embed=missingImportantFields")
    assert shown["party"]["missingImportantFields"] is True
    await _put(emulator, "parties", "party", 1, {"fields": [{"definition": {"name": "Renewal Date"},
                                                             "value": "2027-01-01"}]})
    shown = await call(emulator, "GET", "/api/v2/parties/1?embed=missingImportantFields")
    assert shown["party"]["missingImportantFields"] is False


@pytest.mark.parametrize("item, bad, named", [
    ({"definition": {"id": 1}, "value": 5}, "fields[0].value", "NI Number"),
    ({"definition": {"id": 2}, "value": "many"}, "fields[0].value", "Employees"),
    ({"definition": {"id": 2}, "value": True}, "fields[0].value", "Employees"),
    ({"definition": {"id": 3}, "value": "31/01/2027"}, "fields[0].value", "Renewal Date"),
    ({"definition": {"id": 3}, "value": "2027-02-30"}, "fields[0].value", "Renewal Date"),
    ({"definition": {"id": 4}, "value": "true"}, "fields[0].value", "Newsletter"),
    ({"definition": {"id": 4}, "value": 1}, "fields[0].value", "Newsletter"),
    ({"definition": {"id": 5}, "value": "fax"}, "fields[0].value", "Lead Source"),
    ({"definition": {"id": 99}, "value": "x"}, "fields[0].definition", "99"),
    ({"definition": {"id": 6}, "value": "x"}, "fields[0].definition", "6"),
    ({"definition": {"name": "Shoe Size"}, "value": "x"}, "fields[0].definition", "Shoe Size"),
    ({"definition": 1, "value": "x"}, "fields[0].definition", "definition"),
    ({"definition": {"id": 1}}, "fields[0].value", "value"),
    ({"value": "x"}, "fields[0].definition", "definition"),
    ({"id": 1, "value": "x"}, "fields[0].id", "1"),
])
async def test_invalid_value_is_422_naming_the_field(emulator, item, bad, named):
    before = (await call(emulator, "GET", "/api/v2/parties/5?embed=fields"))["party"]
    body = await _put(emulator, "parties", "party", 5, {"fields": [item]}, 422)
    assert_422(body, "party", [bad])
    assert named in body["errors"][0]["message"]
    assert (await call(emulator, "GET", "/api/v2/parties/5?embed=fields"))["party"] == before


@pytest.mark.parametrize("entity, resource, record_id", ENTITIES[1:])
async def test_values_on_opportunities_and_kases(emulator, entity, resource, record_id):
    definition = (await call(emulator, "GET", f"/api/v2/{entity}/fields/definitions"))["definitions"][0]
    record = await _put(emulator, entity, resource, record_id,
                        {"fields": [{"definition": {"name": definition["name"]}, "value": "set"}]})
    assert [(f["definition"], f["value"]) for f in record["fields"]] == [
        ({"id": definition["id"], "name": definition["name"]}, "set")]
    assert_422(await _put(emulator, entity, resource, record_id, {"fields": [{"definition": {"id": 1}, "value": "x"}]},
                          422), resource, ["fields[0].definition"])
