"""People and organisations through the proxy, in front of the emulator (demo seed: party 1 is
Eric Jones, a person at party 2, ABC Furniture)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lxml import etree

from .conftest import JSON, JSON_BODY, PHILLIP, XML_BODY

XML = {"Content-Type": "application/xml"}


async def xml(proxy, path: str, status: int = 200) -> etree._Element:
    response = await proxy.get(path, headers=PHILLIP)
    body = await response.read()
    assert response.status == status, body
    return etree.fromstring(body)


async def v2(upstream, path: str) -> dict[str, Any]:
    async with upstream_session(upstream) as session:
        async with session.get(path) as response:
            return await response.json()


def upstream_session(upstream):
    import aiohttp
    return aiohttp.ClientSession(base_url=str(upstream.make_url("")), headers={"Authorization": "Bearer tok-phillip"})


def children(element: etree._Element) -> list[str]:
    return [child.tag for child in element]


async def created(proxy, path: str, body: bytes | str, headers=XML_BODY) -> int:
    response = await proxy.post(path, data=body, headers={**PHILLIP, **headers})
    assert response.status == 201, await response.text()
    assert await response.read() == b""                       # v1 clients read a body as the answer
    location = response.headers["Location"]
    assert location.startswith(str(proxy.make_url("/api/party/")))
    return int(location.rsplit("/", 1)[1])


# --- reads ------------------------------------------------------------------------------------

async def test_a_person_is_answered_as_v1_wrote_it(proxy):
    person = await xml(proxy, "/api/party/1")
    assert person.tag == "person"
    assert children(person)[:3] == ["id", "contacts", "pictureURL"]       # the recorded order
    assert person.findtext("organisationId") == "2" and person.findtext("organisationName") == "ABC Furniture"
    contacts = person.find("contacts")
    assert children(contacts) == ["address", "email", "phone", "website"]  # grouped by kind
    assert contacts.findtext("email/emailAddress") == "eric@abcfurniture.example"
    assert contacts.find("website/url").text.startswith("http")


async def test_an_organisation_has_its_own_root(proxy):
    organisation = await xml(proxy, "/api/party/2")
    assert organisation.tag == "organisation" and organisation.findtext("name") == "ABC Furniture"
    assert organisation.find("firstName") is None
    types = [a.findtext("type") for a in organisation.iterfind("contacts/address")]
    assert "Billing" in types                    # v2's widened types pass through (PA3)


async def test_json_follows_v1s_envelope(proxy):
    body = await (await proxy.get("/api/party/1", headers={**PHILLIP, **JSON})).json()
    person = body["person"]
    assert isinstance(person["contacts"]["email"], dict)       # one element: a bare object
    assert all(isinstance(v, str) for k, v in person.items() if k != "contacts")
    listing = await (await proxy.get("/api/party", headers={**PHILLIP, **JSON})).json()
    parties = listing["parties"]
    assert int(parties["@size"]) == len(_as_list(parties.get("person"))) + len(_as_list(parties.get("organisation")))
    assert set(parties) <= {"@size", "person", "organisation"}      # grouped by element name


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


async def test_a_missing_party_is_404(proxy):
    await xml(proxy, "/api/party/999999", 404)
    await xml(proxy, "/api/party/999999/people", 404)


async def test_lists_keep_v2s_order_of_people_and_organisations(proxy):
    parties = await xml(proxy, "/api/party")
    assert parties.get("size") == str(len(parties))
    assert {"person", "organisation"} <= set(children(parties))
    window = await xml(proxy, "/api/party?start=1&limit=2")
    assert window.get("size") == "2"
    assert [p.findtext("id") for p in window] == [p.findtext("id") for p in parties][1:3]


async def test_people_of_an_organisation(proxy):
    people = await xml(proxy, "/api/party/2/people")
    assert children(people) and set(children(people)) == {"person"}
    assert "1" in [p.findtext("id") for p in people]


@pytest.mark.parametrize("query, v2_path", [
    ("q=eric", "/api/v2/parties/search?q=eric&page=1&perPage=100"),
    ("email=eric@abcfurniture.example", "/api/v2/parties/filters/results?page=1&perPage=100"),
    ("tag=VIP", "/api/v2/parties/filters/results?page=1&perPage=100"),
    ("lastmodified=20200101T000000", "/api/v2/parties?since=2020-01-01T00:00:00Z&page=1&perPage=100"),
    ("lastModified=20200101T000000", "/api/v2/parties?since=2020-01-01T00:00:00Z&page=1&perPage=100"),
])
async def test_list_filters_become_v2_search_filters_and_since(proxy, recorder, query, v2_path):
    response = await proxy.get(f"/api/party?{query}", headers=PHILLIP)
    assert response.status == 200, await response.text()
    assert recorder.paths() == [v2_path]


async def test_email_finds_the_person(proxy):
    found = await xml(proxy, "/api/party?email=eric@abcfurniture.example")
    assert [p.findtext("id") for p in found] == ["1"]


@pytest.mark.parametrize("query, named", [
    ("lastmodified=20090631T000000", "lastmodified"),     # v1's own example: 31 June does not exist
    ("lastmodified=yesterday", "lastmodified"),
    ("q=eric&email=a@b.c", "email"),
    ("limit=x", "limit"),
    ("email=a&email=b", "email"),
])
async def test_bad_list_parameters_are_400_and_call_nothing(proxy, recorder, query, named):
    response = await proxy.get(f"/api/party?{query}", headers=PHILLIP)
    assert response.status == 400
    assert named in await response.text()
    assert recorder.calls == []


async def test_persons_and_organisations_list_forms(proxy):
    people = await xml(proxy, "/api/person")
    assert set(children(people)) == {"person"}
    organisations = await xml(proxy, "/api/organisation")
    assert set(children(organisations)) == {"organisation"}


# --- writes -----------------------------------------------------------------------------------

async def test_create_a_person_as_the_recorded_client_did(proxy):
    # ahmedrb's recorded POST /api/person (April 2011): 201, empty body, Location /api/party/{id}.
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<person>\n  <lastName>Simpson</lastName>\n'
            "  <firstName>Homer</firstName>\n</person>\n")
    new_id = await created(proxy, "/api/person", body, {"Content-Type": "text/xml"})
    person = await xml(proxy, f"/api/party/{new_id}")
    assert (person.findtext("firstName"), person.findtext("lastName")) == ("Homer", "Simpson")
    assert person.find("contacts") is not None and len(person.find("contacts")) == 0   # <contacts/>


async def test_create_a_person_with_contacts_in_json(proxy):
    body = json.dumps({"person": {"firstName": "Eric", "lastName": "Schmidt", "contacts": {
        "email": {"type": "Home", "emailAddress": "e.schmidt@example.com"},
        "phone": [{"type": "Mobile", "phoneNumber": "+1 888 555555"}, {"phoneNumber": "+1 888 555556"}],
        "website": {"webService": "URL", "webAddress": "www.example.com"}}}})
    new_id = await created(proxy, "/api/person", body, JSON_BODY)
    contacts = (await xml(proxy, f"/api/party/{new_id}")).find("contacts")
    assert [p.findtext("phoneNumber") for p in contacts.iterfind("phone")] == ["+1 888 555555", "+1 888 555556"]
    assert contacts.findtext("email/type") == "Home"


async def test_organisation_name_joins_an_existing_organisation_or_creates_one(proxy):
    joined = await created(proxy, "/api/person", "<person><firstName>Ann</firstName>"
                                                 "<organisationName>ABC Furniture</organisationName></person>")
    assert (await xml(proxy, f"/api/party/{joined}")).findtext("organisationId") == "2"
    made = await created(proxy, "/api/person", "<person><firstName>Bo</firstName>"
                                               "<organisationName>Brand New Ltd</organisationName></person>")
    organisation_id = (await xml(proxy, f"/api/party/{made}")).findtext("organisationId")
    assert organisation_id not in (None, "2")
    assert (await xml(proxy, f"/api/party/{organisation_id}")).findtext("name") == "Brand New Ltd"


async def test_create_an_organisation_and_its_duplicate_is_refused(proxy):
    await created(proxy, "/api/organisation", "<organisation><name>Widgets Inc</name></organisation>")
    response = await proxy.post("/api/organisation", data="<organisation><name>Widgets Inc</name></organisation>",
                                headers={**PHILLIP, **XML_BODY})
    assert response.status == 400 and "Location" not in response.headers
    assert "an organisation named 'Widgets Inc' already exists" in await response.text()


async def test_partial_update_adds_updates_and_deletes_contacts(proxy):
    new_id = await created(proxy, "/api/person", "<person><firstName>Cy</firstName><contacts>"
                                                 "<email><emailAddress>cy@old.example</emailAddress></email>"
                                                 "<phone><phoneNumber>111</phoneNumber></phone></contacts></person>")
    before = (await xml(proxy, f"/api/party/{new_id}")).find("contacts")
    email_id, phone_id = before.findtext("email/id"), before.findtext("phone/id")
    body = (f"<person><contacts><email><id>{email_id}</id><emailAddress>cy@new.example</emailAddress></email>"
            f'<phone delete="true"><id>{phone_id}</id></phone>'
            "<website><webService>URL</webService><webAddress>cy.example</webAddress></website></contacts></person>")
    response = await proxy.put(f"/api/person/{new_id}", data=body, headers={**PHILLIP, **XML_BODY})
    assert response.status == 200 and await response.read() == b""
    after = await xml(proxy, f"/api/party/{new_id}")
    assert after.findtext("firstName") == "Cy"                        # untouched: the PUT is partial
    contacts = after.find("contacts")
    assert contacts.findtext("email/emailAddress") == "cy@new.example" and contacts.findtext("email/id") == email_id
    assert contacts.find("phone") is None
    assert contacts.findtext("website/webAddress") == "cy.example"


async def test_json_delete_flag_as_gravity_forms_sends_it(proxy):
    new_id = await created(proxy, "/api/person", "<person><firstName>Di</firstName><contacts>"
                                                 "<email><emailAddress>di@example.com</emailAddress></email>"
                                                 "</contacts></person>")
    email_id = (await xml(proxy, f"/api/party/{new_id}")).findtext("contacts/email/id")
    body = json.dumps({"person": {"contacts": {"email": {"id": email_id, "@delete": True}}}})
    response = await proxy.put(f"/api/person/{new_id}", data=body, headers={**PHILLIP, **JSON_BODY})
    assert response.status == 200, await response.text()
    assert (await xml(proxy, f"/api/party/{new_id}")).find("contacts/email") is None


async def test_a_put_of_what_get_answered_changes_nothing(proxy, upstream):
    before = await (await proxy.get("/api/party/1", headers=PHILLIP)).read()
    stored = await v2(upstream, "/api/v2/parties/1")
    response = await proxy.put("/api/person/1", data=before, headers={**PHILLIP, **XML_BODY})
    assert response.status == 200, await response.text()
    after = await v2(upstream, "/api/v2/parties/1")
    for key in ("firstName", "lastName", "title", "jobTitle", "about", "organisation",
                "emailAddresses", "phoneNumbers", "addresses", "websites"):
        assert after["party"][key] == stored["party"][key], key


async def test_the_wrong_type_is_a_400(proxy, recorder):
    response = await proxy.put("/api/organisation/1", data="<organisation><name>X</name></organisation>",
                               headers={**PHILLIP, **XML_BODY})
    assert response.status == 400
    assert "person" in await response.text()
    assert [m for m, _ in recorder.calls] == ["GET"]                    # nothing was written


async def test_a_contact_id_of_another_party_is_a_400(proxy, recorder):
    other = (await xml(proxy, "/api/party/2")).findtext("contacts/email/id")
    recorder.clear()
    response = await proxy.put("/api/person/1", data=f"<person><contacts><email><id>{other}</id>"
                                                     "<emailAddress>x@y.z</emailAddress></email></contacts></person>",
                               headers={**PHILLIP, **XML_BODY})
    assert response.status == 400 and f"no email with id {other}" in await response.text()
    assert [m for m, _ in recorder.calls] == ["GET"]


@pytest.mark.parametrize("path, body, named", [
    ("/api/person", "<person><colour>red</colour></person>", "colour"),
    ("/api/person", "<organisation><name>x</name></organisation>", "person"),
    ("/api/organisation", "<organisation><about>no name</about></organisation>", "name"),
    ("/api/organisation", "<organisation><name> </name></organisation>", "name"),
    ("/api/person", "<person><contacts><email/></contacts></person>", "email"),
    ("/api/person", '<person><contacts><email delete="true"><emailAddress>a</emailAddress></email>'
                    "</contacts></person>", "id"),
    ("/api/person", "<person><organisationId>abc</organisationId></person>", "organisationId"),
])
async def test_bad_documents_are_400_naming_the_element_and_send_nothing(proxy, recorder, path, body, named):
    response = await proxy.post(path, data=body, headers={**PHILLIP, **XML_BODY})
    assert response.status == 400
    assert named in await response.text()
    assert recorder.calls == []


async def test_delete_a_contact_then_the_party(proxy, recorder):
    new_id = await created(proxy, "/api/person", "<person><firstName>Ed</firstName><contacts>"
                                                 "<phone><phoneNumber>1</phoneNumber></phone></contacts></person>")
    phone_id = (await xml(proxy, f"/api/party/{new_id}")).findtext("contacts/phone/id")
    recorder.clear()
    response = await proxy.delete(f"/api/party/{new_id}/contact/{phone_id}", headers=PHILLIP)
    assert response.status == 200 and await response.read() == b""
    assert [m for m, _ in recorder.calls] == ["GET", "PUT"]            # which array holds it, then remove
    assert (await xml(proxy, f"/api/party/{new_id}")).find("contacts/phone") is None
    missing = await proxy.delete(f"/api/party/{new_id}/contact/{phone_id}", headers=PHILLIP)
    assert missing.status == 404
    assert (await proxy.delete(f"/api/party/{new_id}", headers=PHILLIP)).status == 200
    await xml(proxy, f"/api/party/{new_id}", 404)
