"""Seeds beyond users and tasks: parties with contacts, pipelines, tags, fields, opportunities,
kases, entries, track definitions; errors that name the entry; seed_from_dict; the demo account."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from proxy.emulator.seed import SeedError, load_seed, parse_seed, seed_from_dict

from .helpers import auth, call, ids_of

USER = '[[users]]\nusername = "ann"\ntoken = "tok-ann"\n[[users]]\nusername = "bob"\ntoken = "tok-bob"\n'
ANN = auth("tok-ann")
PERSON = '[[parties]]\nid = 1\ntype = "person"\nfirstName = "Eric"\n'
ORG = '[[parties]]\nid = 2\ntype = "organisation"\nname = "ABC"\n'
DEAL = '[[opportunities]]\nid = 1\nname = "Deal"\nparty = 1\n'
FIELD = '[[fields]]\nentity = "parties"\nname = "Size"\ntype = "number"\n'

# Everything a seed can say, in few lines.
FULL = USER + '''
[[trackdefinitions]]
description = "Onboarding"
captureRule = "kase"

[[tags]]
entity = "parties"
name = "VIP"

[[fields]]
id = 5
entity = "parties"
name = "NI Number"
type = "text"
tag = "Staff"

[[fields]]
entity = "opportunities"
name = "Source"
type = "list"
options = ["web", "fair"]

[[parties]]
id = 1
type = "person"
title = "Mr"
firstName = "Eric"
lastName = "Jones"
jobTitle = "CTO"
about = "Met at the trade fair"
organisation = 2
owner = "bob"
emailAddresses = [{ type = "Work", address = "eric@example.com" }]
phoneNumbers = [{ type = "Mobile", number = "+44 7700 900123" }]
addresses = [{ type = "Office", street = "1 High Street", city = "London", zip = "N1 1AA", country = "united kingdom" }]
websites = [{ service = "URL", address = "www.example.com" }]
tags = ["vip", "Customer"]
fields = [{ definition = "NI Number", value = "AB123456C" }]

[[parties]]
id = 2
type = "organisation"
name = "ABC Furniture"

[[opportunities]]
id = 2
name = "CRM System"
party = 1
milestone = "Won"
value = { amount = 500.25, currency = "eur" }
expectedCloseOn = 2026-12-31
owner = "bob"
additionalParties = [2]
description = "Big one"
probability = 90
durationBasis = "MONTH"
duration = 6
tags = ["Hot"]
fields = [{ definition = "source", value = "fair" }]

[[opportunities]]
name = "Small"
party = 2

[[kases]]
id = 3
name = "Invoicing"
party = 1
status = "closed"
owner = "ann"
description = "Disputed"
closedOn = "2026-10-01"
opportunity = 2
additionalParties = [2]

[[entries]]
type = "email"
subject = "Hello"
content = "Hi Eric"
party = 1
creator = "bob"
entryAt = 2026-11-01T10:00:00+01:00
participants = [{ address = "eric@example.com", name = "Eric", role = "TO" },
                { address = "bob@x.example", role = "FROM" }]

[[entries]]
id = 59
content = "Called"
kase = 3
entryAt = "2026-11-02T10:00:00Z"
'''


async def test_a_full_seed_through_the_api(make_emulator):
    client = await make_emulator(FULL)
    eric = (await call(client, "GET", "/api/v2/parties/1?embed=tags,fields", headers=ANN))["party"]
    assert (eric["title"], eric["jobTitle"], eric["about"]) == ("Mr", "CTO", "Met at the trade fair")
    assert eric["organisation"]["name"] == "ABC Furniture" and eric["owner"]["username"] == "bob"
    assert eric["emailAddresses"] == [{"id": 1, "type": "Work", "address": "eric@example.com"}]
    assert eric["addresses"][0]["country"] == "United Kingdom"
    assert eric["websites"][0]["url"] == "http://www.example.com"
    assert [(t["id"], t["name"], t["dataTag"]) for t in eric["tags"]] == [(1, "VIP", False), (3, "Customer", False)]
    assert eric["fields"] == [{"id": 1, "definition": {"id": 5, "name": "NI Number"}, "value": "AB123456C",
                               "tagId": 2}]
    staff = (await call(client, "GET", "/api/v2/parties/tags/2", headers=ANN))["tag"]
    assert staff == {"id": 2, "name": "Staff", "description": None, "dataTag": True}  # defined by the field
    deal = (await call(client, "GET", "/api/v2/opportunities/2?embed=tags,fields", headers=ANN))["opportunity"]
    assert deal["milestone"] == {"id": 3, "name": "Won"} and deal["closedOn"] is not None  # default pipeline
    assert deal["value"] == {"amount": 500.25, "currency": "EUR"} and deal["probability"] == 90
    assert (deal["durationBasis"], deal["duration"], deal["expectedCloseOn"]) == ("MONTH", 6, "2026-12-31")
    assert deal["owner"]["username"] == "bob" and deal["description"] == "Big one"
    assert [t["name"] for t in deal["tags"]] == ["Hot"] and deal["fields"][0]["value"] == "fair"
    assert await ids_of(client, "/api/v2/opportunities/2/parties", "parties", headers=ANN) == [2]
    small = (await call(client, "GET", "/api/v2/opportunities/3", headers=ANN))["opportunity"]
    assert small["milestone"]["name"] == "New" and small["owner"]["username"] == "ann"  # defaults
    kase = (await call(client, "GET", "/api/v2/kases/3", headers=ANN))["kase"]
    assert (kase["status"], kase["closedOn"], kase["owner"]["username"]) == ("CLOSED", "2026-10-01", "ann")
    assert kase["opportunity"] == {"id": 2, "name": "CRM System"}
    email = (await call(client, "GET", "/api/v2/parties/1/entries", headers=ANN))["entries"][0]
    assert (email["type"], email["subject"], email["entryAt"]) == ("email", "Hello", "2026-11-01T09:00:00Z")
    assert email["creator"]["username"] == "bob"
    assert email["participants"] == [{"address": "eric@example.com", "name": "Eric", "role": "TO"},
                                     {"address": "bob@x.example", "name": None, "role": "FROM"}]
    note = (await call(client, "GET", "/api/v2/kases/3/entries", headers=ANN))["entries"][0]
    assert note["type"] == "note" and note["creator"]["username"] == "ann"
    # A seeded id is kept; entries without one are numbered after the highest, as for every table.
    assert note["id"] == 59 and email["id"] == 60
    new = await call(client, "POST", "/api/v2/entries", {"entry": {"type": "note", "content": "Later",
                                                                    "kase": {"id": 3}}}, 201, headers=ANN)
    assert new["entry"]["id"] == 61
    assert (await call(client, "GET", "/api/v2/trackdefinitions", headers=ANN))["trackDefinitions"] == [
        {"id": 1, "description": "Onboarding", "captureRule": "kase", "direction": "start"}]


async def test_minimal_opportunity_and_kase_forms_stay_valid(make_emulator):
    client = await make_emulator(USER + PERSON + '[[opportunities]]\nname = "CRM System"\nparty = 1\n'
                                 '[[kases]]\nname = "Invoicing"\nparty = 1\n')
    deal = (await call(client, "GET", "/api/v2/opportunities/1", headers=ANN))["opportunity"]
    assert (deal["milestone"]["name"], deal["probability"], deal["value"]) == ("New", 10, None)
    kase = (await call(client, "GET", "/api/v2/kases/1", headers=ANN))["kase"]
    assert (kase["status"], kase["owner"], kase["closedOn"]) == ("OPEN", None, None)


def test_seed_from_dict_builds_the_same_seed_as_toml():
    data = {"users": [{"username": "ann", "token": "tok-ann"}],
            "parties": [{"id": 1, "type": "person", "firstName": "Eric"}],
            "opportunities": [{"name": "Deal", "party": 1, "expectedCloseOn": date(2026, 12, 31)}],
            "entries": [{"content": "Hi", "party": 1, "entryAt": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}]}
    seed = seed_from_dict(data, "plugin")
    text = (USER.split("[[users]]\nusername = \"bob\"")[0] + PERSON + DEAL.replace("id = 1\n", "") +
            "expectedCloseOn = 2026-12-31\n[[entries]]\ncontent = \"Hi\"\nparty = 1\nentryAt = 2026-01-02T03:04:05Z\n")
    assert vars(seed) | {"source": ""} == vars(parse_seed(text, "toml")) | {"source": ""}
    assert seed.source == "plugin" and seed.entries[0]["entryAt"] == "2026-01-02T03:04:05Z"
    with pytest.raises(SeedError, match=r"^seed plugin: parties\[1\]\.type"):
        seed_from_dict({"users": data["users"], "parties": [{"type": "robot"}]}, "plugin")
    with pytest.raises(SeedError, match="^seed plugin: expected a table"):
        seed_from_dict([], "plugin")  # type: ignore[arg-type]
    with pytest.raises(SeedError, match="unknown key 'partys'"):
        seed_from_dict({"users": data["users"], "partys": []}, "plugin")


BAD = [
    (PERSON + '[[parties]]\ntype = "person"\nfirstName = "X"\nemailAddresses = [{ type = "Office", '
     'address = "a@b.c" }, { type = "Pager", address = "x@y.z" }]\n', "parties[2].emailAddresses[1].type"),
    (PERSON.replace('"Eric"\n', '"Eric"\nemailAddresses = [{ address = "a@b.c" }, { type = "Home" }]\n'),
     "parties[1].emailAddresses[2].address"),
    (PERSON.replace('"Eric"\n', '"Eric"\nemailAddresses = [{ email = "a@b.c" }]\n'),
     "parties[1].emailAddresses[1]: unknown key 'email'"),
    (PERSON.replace('"Eric"\n', '"Eric"\nemailAddresses = "a@b.c"\n'), "parties[1].emailAddresses"),
    (PERSON.replace('"Eric"\n', '"Eric"\nphoneNumbers = [{ type = "Mobile" }]\n'), "parties[1].phoneNumbers[1].number"),
    (PERSON.replace('"Eric"\n', '"Eric"\naddresses = [{ country = "Atlantis" }]\n'), "parties[1].addresses[1].country"),
    (PERSON.replace('"Eric"\n', '"Eric"\naddresses = [{ type = "Home" }]\n'), "parties[1].addresses[1].street"),
    (PERSON.replace('"Eric"\n', '"Eric"\nwebsites = [{ service = "ICQ", address = "1" }]\n'),
     "parties[1].websites[1].service"),
    (PERSON.replace('"Eric"\n', '"Eric"\nwebsites = [{ address = "x.example" }]\n'), "parties[1].websites[1].service"),
    (PERSON.replace('"Eric"\n', '"Eric"\norganisation = 1\n'), "parties[1].organisation: no organisation"),
    (PERSON.replace('"Eric"\n', '"Eric"\norganisation = 9\n'), "parties[1].organisation"),
    (ORG.replace('"ABC"\n', '"ABC"\norganisation = 2\n'), "parties[1]: an organisation"),
    (PERSON.replace('"Eric"\n', '"Eric"\nowner = "zed"\n'), "parties[1].owner: no user named 'zed'"),
    (PERSON.replace('"Eric"\n', '"Eric"\nowner = 7\n'), "parties[1].owner: no user with id 7"),
    (ORG + ORG.replace("id = 2", "id = 3"), "parties[2].name: duplicate value 'ABC'"),
    (PERSON.replace('"Eric"\n', '"Eric"\ntags = ["A", 5]\n'), "parties[1].tags"),
    (PERSON.replace('"Eric"\n', '"Eric"\ntags = [""]\n'), "parties[1].tags"),
    (FIELD + PERSON.replace('"Eric"\n', '"Eric"\nfields = [{ definition = "Height", value = 1 }]\n'),
     "parties[1].fields[1].definition"),
    (FIELD + PERSON.replace('"Eric"\n', '"Eric"\nfields = [{ definition = "size", value = "big" }]\n'),
     "parties[1].fields[1].value: Size"),
    (FIELD + PERSON.replace('"Eric"\n', '"Eric"\nfields = [{ definition = 1 }]\n'),
     "parties[1].fields[1]: missing required key 'value'"),
    (FIELD + PERSON.replace('"Eric"\n', '"Eric"\nfields = [{ definition = 1, value = 1 }, { definition = "Size", '
                                        'value = 2 }]\n'), "parties[1].fields[2].definition"),
    (FIELD.replace('"parties"', '"kases"') + PERSON.replace('"Eric"\n', '"Eric"\nfields = [{ definition = 1, '
                                                            'value = 1 }]\n'), "parties[1].fields[1].definition"),
    ('[[pipelines]]\nname = "P"\n[[milestones]]\nname = "M"\npipeline = 2\n', "milestones[1].pipeline"),
    ('[[pipelines]]\nname = "P"\n[[milestones]]\nname = "M"\npipeline = 1\nprobability = 150\n',
     "milestones[1].probability"),
    ('[[milestones]]\nname = "M"\npipeline = 1\n', "milestones[1].pipeline"),
    (PERSON + DEAL + 'milestone = "Signed"\n', "opportunities[1].milestone"),
    (PERSON + DEAL + 'milestone = 9\n', "opportunities[1].milestone: no milestone with id 9"),
    (PERSON + '[[pipelines]]\nname = "P"\narchived = true\n[[milestones]]\nname = "M"\npipeline = 1\n' + DEAL,
     "opportunities[1].milestone: every pipeline is archived"),
    (PERSON + '[[pipelines]]\nname = "P"\n' + DEAL, "opportunities[1].milestone: no milestone in pipeline 1"),
    (PERSON + DEAL + 'value = { amount = 5, currency = "XYZ" }\n', "opportunities[1].value.currency"),
    (PERSON + DEAL + 'value = { amount = -5 }\n', "opportunities[1].value.amount"),
    (PERSON + DEAL + 'value = { amount = "5" }\n', "opportunities[1].value.amount: wrong type"),
    (PERSON + DEAL + 'value = { amount = 5, cents = 1 }\n', "unknown key 'cents'"),
    (PERSON + DEAL + 'expectedCloseOn = "soon"\n', "opportunities[1].expectedCloseOn"),
    (PERSON + DEAL + 'expectedCloseOn = 2026-01-01T10:00:00Z\n', "opportunities[1].expectedCloseOn"),
    (PERSON + DEAL + 'additionalParties = [1]\n', "opportunities[1].additionalParties[1]: party 1 is already"),
    (PERSON + DEAL + 'additionalParties = [9]\n', "opportunities[1].additionalParties[1]: no party"),
    (PERSON + DEAL + 'durationBasis = "DECADE"\n', "opportunities[1].durationBasis"),
    (PERSON + DEAL + 'duration = 5\n', "opportunities[1].duration"),
    (PERSON + DEAL + 'probability = 101\n', "opportunities[1].probability"),
    (PERSON + DEAL + 'owner = "zed"\n', "opportunities[1].owner"),
    (PERSON + DEAL + 'tags = "Hot"\n', "opportunities[1].tags: wrong type"),
    (PERSON + '[[kases]]\nname = "K"\nparty = 1\nstatus = "DONE"\n', "kases[1].status"),
    (PERSON + '[[kases]]\nname = "K"\nparty = 1\nowner = "zed"\n', "kases[1].owner"),
    (PERSON + '[[kases]]\nname = "K"\nparty = 1\nopportunity = 4\n', "kases[1].opportunity"),
    (PERSON + '[[kases]]\nname = "K"\nparty = 1\nclosedOn = 2026-02-30\n', "not valid TOML"),
    (PERSON + '[[entries]]\ncontent = "x"\nparty = 1\nkase = 1\n', "entries[1]: an entry belongs to exactly one"),
    (PERSON + '[[entries]]\ncontent = "x"\n', "entries[1]: an entry belongs to exactly one"),
    (PERSON + '[[entries]]\ntype = "call"\ncontent = "x"\nparty = 1\n', "entries[1].type"),
    (PERSON + '[[entries]]\ncontent = "x"\nparty = 9\n', "entries[1].party: no party with id 9"),
    (PERSON + '[[entries]]\ncontent = " "\nparty = 1\n', "entries[1].content"),
    (PERSON + '[[entries]]\ncontent = "x"\nparty = 1\ncreator = "zed"\n', "entries[1].creator"),
    (PERSON + '[[entries]]\ncontent = "x"\nparty = 1\nentryAt = 2026-01-01T10:00:00\n', "entries[1].entryAt"),
    (PERSON + '[[entries]]\ncontent = "x"\nparty = 1\nentryAt = "yesterday"\n', "entries[1].entryAt"),
    (PERSON + '[[entries]]\ncontent = "x"\nparty = 1\nsubject = "s"\n', "entries[1]: only an email"),
    (PERSON + '[[entries]]\ntype = "email"\ncontent = "x"\nparty = 1\nparticipants = [{ address = "a@b.c", '
              'role = "BCC" }]\n', "entries[1].participants[1].role"),
    ('[[tags]]\nentity = "people"\nname = "X"\n', "tags[1].entity"),
    ('[[tags]]\nentity = "kases"\nname = "X"\n[[tags]]\nentity = "kases"\nname = "x"\n', "tags[2].name: duplicate"),
    ('[[tags]]\nentity = "kases"\nname = " "\n', "tags[1].name"),
    ('[[fields]]\nentity = "parties"\nname = "X"\ntype = "colour"\n', "fields[1].type"),
    ('[[fields]]\nentity = "parties"\nname = "X"\ntype = "list"\n', "fields[1].options"),
    ('[[fields]]\nentity = "parties"\nname = "X"\ntype = "list"\noptions = ["a", "a"]\n', "fields[1].options"),
    ('[[fields]]\nentity = "parties"\nname = "X"\ntype = "text"\noptions = ["a"]\n', "fields[1].options"),
    (FIELD + FIELD.replace('"Size"', '"SIZE"'), "fields[2].name: duplicate"),
    ('[[tags]]\nentity = "parties"\nname = "T"\n[[fields]]\nentity = "parties"\nname = "X"\ntype = "text"\n'
     'tag = "T"\n', "fields[1].tag: tag 'T' is not a datatag"),
    ('[[fields]]\nid = 3\nentity = "parties"\nname = "X"\ntype = "text"\n[[fields]]\nid = 3\nentity = "kases"\n'
     'name = "Y"\ntype = "text"\n', "fields[2].id: duplicate id 3"),
    ('[[trackdefinitions]]\ndescription = "T"\ncaptureRule = "party"\n', "trackdefinitions[1].captureRule"),
    ('[[trackdefinitions]]\ndescription = "T"\ncaptureRule = "kase"\ndirection = "up"\n',
     "trackdefinitions[1].direction"),
    ('[[tasks]]\ndescription = "d"\ndueOn = 2026-01-01\nparty = 1\n', "tasks[1].party"),
]


@pytest.mark.parametrize("text, named", BAD)
def test_bad_seed_is_rejected_naming_the_entry(text, named):
    with pytest.raises(SeedError) as caught:
        parse_seed(USER + text, "bad.toml")
    assert str(caught.value).startswith("seed bad.toml: ")
    assert named in str(caught.value)


def test_due_times_in_a_seed_lose_their_seconds():
    seed = parse_seed(USER + '[[tasks]]\ndescription = "d"\ndueOn = 2026-01-01\ndueTime = "18:00:48"\n', "x")
    assert seed.tasks[0]["dueTime"] == "18:00:00"


def test_an_unchanged_seed_parses_to_the_same_seed():
    """The database remembers a digest of the seed, so parsing must give the same result each time."""
    assert vars(parse_seed(FULL, "a")) == vars(parse_seed(FULL, "a"))
    assert vars(load_seed(None)) == vars(load_seed(None))


def test_demo_account():
    seed = load_seed(None)
    parties = {p["id"]: p for p in seed.parties}
    assert (parties[1]["firstName"], parties[1]["lastName"], parties[1]["organisation"]) == ("Eric", "Jones", 2)
    assert all(parties[1][kind] for kind in ("emailAddresses", "phoneNumbers", "addresses", "websites"))
    assert parties[2]["type"] == "organisation" and parties[2]["name"] == "ABC Furniture"
    assert sum(p["type"] == "person" for p in seed.parties) >= 3
    assert sum(p["type"] == "organisation" for p in seed.parties) >= 3
    assert [p["archived"] for p in seed.pipelines] == [False, True]
    assert [(m["name"], m["probability"], m["complete"]) for m in seed.milestones if m["pipeline"] == 1] == [
        ("New", 10, False), ("Bid", 50, False), ("Won", 100, True), ("Lost", 0, True)]
    assert {f["type"] for f in seed.fields if f["entity"] == "parties"} == {"text", "number", "date", "boolean",
                                                                              "list"}
    assert {f["entity"] for f in seed.fields} == {"parties", "opportunities", "kases"}
    deal = next(o for o in seed.opportunities if o["id"] == 1)
    assert deal["milestone"] and deal["value"] and deal["expectedCloseOn"] and deal["owner"]
    assert len(seed.opportunities) >= 2
    kase = next(k for k in seed.kases if k["id"] == 1)
    assert kase["owner"] == 2  # sofia
    assert {e["parent"][0] for e in seed.entries if e["type"] == "note"} == {"party", "opportunity", "kase"}
    assert [e["type"] for e in seed.entries].count("email") == 1
    assert {t["captureRule"] for t in seed.trackdefinitions} == {"opportunity", "kase"}
    assert any(p["tags"] for p in seed.parties) and any(p["fields"] for p in seed.parties)
