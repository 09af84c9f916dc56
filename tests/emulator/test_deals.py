"""Opportunities and kases: shapes, create and update rules, milestones, value, tracks, search,
filters, a party's lists, delete, and additional parties."""

from __future__ import annotations

import pytest

from .helpers import PHILLIP, SOFIA, assert_422, call, ids_of, links, post_created

OPPORTUNITY_KEYS = {"id", "name", "description", "party", "owner", "team", "milestone", "value", "expectedCloseOn",
                    "probability", "durationBasis", "duration", "closedOn", "lostReason", "lastOpenMilestone",
                    "lastStageChangedAt", "createdAt", "updatedAt", "lastContactedAt"}
KASE_KEYS = {"id", "name", "description", "status", "party", "owner", "team", "opportunity", "stage",
             "expectedCloseOn", "closedOn", "createdAt", "updatedAt", "lastContactedAt"}
ENTITIES = [("opportunities", "opportunity"), ("kases", "kase")]


async def _get(client, entity, resource, record_id, query=""):
    return (await call(client, "GET", f"/api/v2/{entity}/{record_id}{query}"))[resource]


async def _put(client, entity, resource, record_id, fields, status=200):
    body = await call(client, "PUT", f"/api/v2/{entity}/{record_id}", {resource: fields}, status)
    return body[resource] if status == 200 else body


async def _opportunity(client, headers=PHILLIP, **fields):
    return await post_created(client, "/api/v2/opportunities", "opportunity",
                              {"name": "Deal", "party": {"id": 5}, "milestone": {"id": 1}} | fields, headers)


async def _kase(client, headers=PHILLIP, **fields):
    return await post_created(client, "/api/v2/kases", "kase", {"name": "Case", "party": {"id": 5}} | fields, headers)


# --- opportunities ---

async def test_opportunity_shape(emulator):
    listed = (await call(emulator, "GET", "/api/v2/opportunities"))["opportunities"]
    assert [o["id"] for o in listed] == [1, 2]
    crm = await _get(emulator, "opportunities", "opportunity", 1)
    assert crm == listed[0] and set(crm) == OPPORTUNITY_KEYS
    assert crm["party"] == {"id": 2, "type": "organisation", "name": "ABC Furniture",
                            "pictureURL": "https://capsulecrm.com/theme/default/images/org_avatar_70.png"}
    assert crm["owner"]["username"] == "phillip" and crm["team"] is None
    assert crm["milestone"] == crm["lastOpenMilestone"] == {"id": 2, "name": "Bid"}
    assert crm["value"] == {"amount": 12500.5, "currency": "GBP"}
    assert (crm["probability"], crm["durationBasis"], crm["duration"], crm["closedOn"]) == (50, "FIXED", None, None)
    assert crm["expectedCloseOn"] == "2026-12-31" and crm["lostReason"] is None
    chairs = await _get(emulator, "opportunities", "opportunity", 2)
    assert (chairs["durationBasis"], chairs["duration"], chairs["value"]) == ("MONTH", 12, {"amount": 3200,
                                                                                           "currency": "EUR"})


async def test_create_opportunity_defaults(account_clock, make_emulator):
    client = await make_emulator()
    deal = await _opportunity(client, headers=SOFIA)
    assert set(deal) == OPPORTUNITY_KEYS
    assert deal["owner"]["username"] == "sofia"  # the token's user, not the party's owner
    assert deal["milestone"] == deal["lastOpenMilestone"] == {"id": 1, "name": "New"}
    assert (deal["probability"], deal["value"], deal["closedOn"], deal["durationBasis"]) == (10, None, None, "FIXED")
    assert deal["lastStageChangedAt"] == deal["createdAt"] == deal["updatedAt"] == account_clock()
    assert deal["party"]["firstName"] == "Tom"


async def test_milestone_by_name_in_the_oldest_active_pipeline(account_clock, make_emulator):
    client = await make_emulator()
    won = await _opportunity(client, milestone={"name": "won"})
    assert won["milestone"] == {"id": 3, "name": "Won"}
    assert (won["probability"], won["closedOn"], won["lastOpenMilestone"]) == (100, "2026-03-01", None)
    body = await call(client, "POST", "/api/v2/opportunities",
                      {"opportunity": {"name": "X", "party": {"id": 5}, "milestone": {"name": "Lead"}}}, 422)
    assert_422(body, "opportunity", ["milestone"])  # Lead is in the archived pipeline
    archived = await _opportunity(client, milestone={"id": 5})  # by id, any pipeline
    assert archived["milestone"] == {"id": 5, "name": "Lead"} and archived["probability"] == 5


async def test_a_milestone_name_matching_several_is_422(make_emulator):
    client = await make_emulator('[[users]]\nusername = "ann"\ntoken = "tok-ann"\n'
                                 '[[parties]]\ntype = "person"\nfirstName = "P"\n'
                                 '[[pipelines]]\nname = "Main"\n'
                                 '[[milestones]]\nname = "Call"\npipeline = 1\n'
                                 '[[milestones]]\nname = "call"\npipeline = 1\nprobability = 20\n')
    headers = {"Authorization": "Bearer tok-ann"}
    body = await call(client, "POST", "/api/v2/opportunities", {"opportunity": {
        "name": "X", "party": {"id": 1}, "milestone": {"name": "Call"}}}, 422, headers)
    assert_422(body, "opportunity", ["milestone"])
    assert "2 milestones" in body["errors"][0]["message"]


@pytest.mark.parametrize("raw, shown", [
    ("12345678.91", "12345678.91"), ("0.1", "0.1"), ("500", "500"), ("99.99", "99.99"), ("0", "0"),
    ("1234567.8912", "1234567.8912"), ("0.30000000000000004", "0.30000000000000004"),
])
async def test_value_amount_keeps_its_decimal_text(emulator, raw, shown):
    body = ('{"opportunity": {"name": "Exact", "party": {"id": 5}, "milestone": {"id": 1}, '
            f'"value": {{"amount": {raw}}}}}}}')
    resp = await emulator.post("/api/v2/opportunities", data=body,
                               headers=PHILLIP | {"Content-Type": "application/json"})
    assert resp.status == 201, await resp.text()
    assert f'"value":{{"amount":{shown},"currency":"GBP"}}' in await resp.text()
    shown_again = await emulator.get(f"/api/v2/opportunities/{(await resp.json())['opportunity']['id']}",
                                     headers=PHILLIP)
    assert f'"amount":{shown},' in await shown_again.text()


async def test_value_currency_and_clearing(emulator):
    deal = await _opportunity(emulator, value={"amount": 10, "currency": "usd"})
    assert deal["value"] == {"amount": 10, "currency": "USD"}
    updated = await _put(emulator, "opportunities", "opportunity", deal["id"], {"value": None})
    assert updated["value"] is None


async def test_milestone_moves_set_probability_closed_on_and_stage_times(account_clock, make_emulator):
    client = await make_emulator()
    account_clock.advance(86400)
    won = await _put(client, "opportunities", "opportunity", 1, {"milestone": {"name": "Won"}})
    assert won["milestone"]["name"] == "Won" and won["probability"] == 100
    assert won["closedOn"] == "2026-03-02" and won["lastOpenMilestone"] == {"id": 2, "name": "Bid"}
    assert won["lastStageChangedAt"] == won["updatedAt"] == account_clock()
    account_clock.advance(86400)
    lost = await _put(client, "opportunities", "opportunity", 1, {"milestone": {"id": 4}})
    assert (lost["probability"], lost["closedOn"], lost["lastOpenMilestone"]["name"]) == (0, "2026-03-02", "Bid")
    reopened = await _put(client, "opportunities", "opportunity", 1, {"milestone": {"name": "New"}, "probability": 30})
    assert (reopened["probability"], reopened["closedOn"]) == (30, None)
    assert reopened["lastOpenMilestone"] == {"id": 1, "name": "New"}
    closed = await _put(client, "opportunities", "opportunity", 1,
                        {"milestone": {"name": "Won"}, "closedOn": "2026-01-15"})
    assert closed["closedOn"] == "2026-01-15"
    account_clock.advance()
    same = await _put(client, "opportunities", "opportunity", 1, {"milestone": {"id": 3}, "name": "CRM System"})
    assert same == closed  # nothing changed


async def test_duration_must_be_null_when_fixed(emulator):
    deal = await _opportunity(emulator, durationBasis="DAY", duration=5)
    assert (deal["durationBasis"], deal["duration"]) == ("DAY", 5)
    assert_422(await _put(emulator, "opportunities", "opportunity", 2, {"durationBasis": "FIXED"}, 422),
               "opportunity", ["duration"])
    fixed = await _put(emulator, "opportunities", "opportunity", 2, {"durationBasis": "FIXED", "duration": None})
    assert (fixed["durationBasis"], fixed["duration"]) == ("FIXED", None)


@pytest.mark.parametrize("fields, bad", [
    ({"party": {"id": 5}, "milestone": {"id": 1}}, ["name"]),
    ({"name": " ", "party": {"id": 5}, "milestone": {"id": 1}}, ["name"]),
    ({"name": "X", "milestone": {"id": 1}}, ["party"]),
    ({"name": "X", "party": None, "milestone": {"id": 1}}, ["party"]),
    ({"name": "X", "party": {"id": 99}, "milestone": {"id": 1}}, ["party"]),
    ({"name": "X", "party": {"id": 5}}, ["milestone"]),
    ({"name": "X", "party": {"id": 5}, "milestone": None}, ["milestone"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 99}}, ["milestone"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"name": "Nope"}}, ["milestone"]),
    ({"name": "X", "party": {"id": 5}, "milestone": "Bid"}, ["milestone"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "owner": None}, ["owner"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "owner": {"id": 9}}, ["owner"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "team": {"id": 1}}, ["team"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "value": {"amount": "100"}}, ["value.amount"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "value": {"amount": -1}}, ["value.amount"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "value": {"currency": "GBP"}}, ["value.amount"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "value": {"amount": 1, "currency": "XYZ"}},
     ["value.currency"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "value": 100}, ["value"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "probability": 101}, ["probability"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "probability": "50"}, ["probability"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "durationBasis": "DECADE"}, ["durationBasis"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "duration": 3}, ["duration"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "durationBasis": "DAY", "duration": -3},
     ["duration"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "expectedCloseOn": "31/12/2026"},
     ["expectedCloseOn"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "closedOn": "2026-02-30"}, ["closedOn"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "tags": [{"id": 1}]}, ["tags[0].id"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "fields": [{"definition": {"id": 1}, "value": "x"}]},
     ["fields[0].definition"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "fields": [{"definition": {"id": 6}, "value": 5}]},
     ["fields[0].value"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "tracks": [{"definition": {"id": 2}}]},
     ["tracks[0].definition"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "tracks": [{"definition": {"id": 99}}]},
     ["tracks[0].definition"]),
    ({"name": "X", "party": {"id": 5}, "milestone": {"id": 1}, "tracks": [{"id": 1}]}, ["tracks[0].definition"]),
    ({"party": {"id": 99}, "milestone": {"name": "Nope"}, "probability": -1}, ["name", "party", "milestone",
                                                                                "probability"]),
])
async def test_invalid_opportunity_is_422(emulator, fields, bad):
    body = await call(emulator, "POST", "/api/v2/opportunities", {"opportunity": fields}, 422)
    assert_422(body, "opportunity", bad)
    assert len((await call(emulator, "GET", "/api/v2/opportunities"))["opportunities"]) == 2


async def test_changing_the_party_moves_the_opportunity(emulator):
    moved = await _put(emulator, "opportunities", "opportunity", 1, {"party": {"id": 1}})
    assert moved["party"]["id"] == 1
    assert await ids_of(emulator, "/api/v2/parties/1/opportunities", "opportunities") == [1]
    assert await ids_of(emulator, "/api/v2/parties/2/opportunities", "opportunities") == []
    # the new main party is no longer listed among the additional ones
    assert await ids_of(emulator, "/api/v2/opportunities/1/parties", "parties") == []


async def test_tracks_are_applied_on_create_only(emulator):
    deal = await _opportunity(emulator, tracks=[{"definition": {"id": 1}}, {"definition": 1}])
    assert "tracks" not in deal
    tracked = await _get(emulator, "opportunities", "opportunity", deal["id"], "?embed=tracks")
    assert [t["definition"] for t in tracked["tracks"]] == [
        {"id": 1, "description": "Sales follow up", "captureRule": "opportunity", "direction": "start"}] * 2
    assert tracked["tracks"][0]["id"] < tracked["tracks"][1]["id"]
    await _put(emulator, "opportunities", "opportunity", deal["id"], {"tracks": [{"definition": {"id": 1}}]})
    again = await _get(emulator, "opportunities", "opportunity", deal["id"], "?embed=tracks")
    assert len(again["tracks"]) == 2
    kase = await _kase(emulator, tracks=[{"definition": {"id": 2}}])
    shown = await _get(emulator, "kases", "kase", kase["id"], "?embed=tracks")
    assert shown["tracks"][0]["definition"]["captureRule"] == "kase"
    assert (await _get(emulator, "kases", "kase", 1, "?embed=tracks"))["tracks"] == []


async def test_opportunity_embeds(emulator):
    full = await _get(emulator, "opportunities", "opportunity", 1, "?embed=party,milestone,tags,fields,"
                                                                   "missingImportantFields")
    assert full["party"] == (await call(emulator, "GET", "/api/v2/parties/2"))["party"]
    assert full["milestone"]["probability"] == 50 and full["milestone"]["pipeline"] == {"id": 1, "name": "Sales"}
    assert [t["name"] for t in full["tags"]] == ["Hot"]
    assert full["fields"] == [{"id": 7, "definition": {"id": 6, "name": "Competitor"}, "value": "Initech",
                               "tagId": None}]
    assert full["missingImportantFields"] is False
    await call(emulator, "GET", "/api/v2/opportunities/1?embed=organisation", status=400)
    await call(emulator, "GET", "/api/v2/kases/1?embed=milestone", status=400)
    kase = await _get(emulator, "kases", "kase", 1, "?embed=opportunity,party")
    assert kase["opportunity"] == await _get(emulator, "opportunities", "opportunity", 1)


@pytest.mark.parametrize("path, key, expected", [
    ("/api/v2/opportunities/search?q=crm", "opportunities", [1]),
    ("/api/v2/opportunities/search?q=CHAIRS", "opportunities", [2]),
    ("/api/v2/opportunities/search?q=zzz", "opportunities", []),
    ("/api/v2/kases/search?q=voic", "kases", [1]),
    ("/api/v2/parties/2/opportunities", "opportunities", [1]),
    ("/api/v2/parties/4/opportunities", "opportunities", [2]),
    ("/api/v2/parties/1/opportunities", "opportunities", []),
    ("/api/v2/parties/2/kases", "kases", [1]),
    ("/api/v2/parties/4/kases", "kases", []),
])
async def test_search_and_a_partys_records(emulator, path, key, expected):
    assert await ids_of(emulator, path, key) == expected


@pytest.mark.parametrize("path", ["/api/v2/parties/99/opportunities", "/api/v2/parties/99/kases",
                                  "/api/v2/parties/abc/kases"])
async def test_a_missing_partys_records_are_404(emulator, path):
    await call(emulator, "GET", path, status=404)


def _filter(*conditions):
    return {"filter": {"conditions": [{"field": f, "operator": o, "value": v} for f, o, v in conditions]}}


@pytest.mark.parametrize("entity, conditions, expected", [
    ("opportunities", [("milestone", "is", "bid")], [1]),
    ("opportunities", [("milestone", "is", 1)], [2]),
    ("opportunities", [("milestone", "is not", "Bid")], [2]),
    ("opportunities", [("milestone", "is", "Won")], []),
    ("opportunities", [("pipeline", "is", "Sales")], [1, 2]),
    ("opportunities", [("tag", "is", "HOT")], [1]),
    ("opportunities", [("tag", "is", 3)], [1]),
    ("opportunities", [("name", "is", "office chairs")], [2]),
    ("opportunities", [("expectedCloseOn", "is before", "2027-01-01")], [1]),
    ("opportunities", [("updatedOn", "is after", "2000-01-01"), ("tag", "is", "Hot")], [1]),
    ("kases", [("status", "is", "open")], [1]),
    ("kases", [("status", "is", "CLOSED")], []),
    ("kases", [("tag", "is", "urgent")], [1]),
    ("kases", [("name", "is", "Invoicing")], [1]),
    ("kases", [("updatedOn", "is after", "2999-01-01")], []),
])
async def test_filters(emulator, entity, conditions, expected):
    assert await ids_of(emulator, f"/api/v2/{entity}/filters/results", entity, _filter(*conditions)) == expected


@pytest.mark.parametrize("entity, conditions, named", [
    ("opportunities", [("status", "is", "OPEN")], "'status'"),
    ("kases", [("milestone", "is", "Bid")], "'milestone'"),
    ("kases", [("status", "is", "PENDING")], "status"),
    ("opportunities", [("milestone", "contains", "B")], "'contains'"),
])
async def test_bad_filter_is_400(emulator, entity, conditions, named):
    body = await call(emulator, "POST", f"/api/v2/{entity}/filters/results", _filter(*conditions), 400)
    assert named in body["message"]


async def test_filter_results_are_paged(emulator):
    for _ in range(3):
        await _opportunity(emulator, milestone={"name": "Bid"})
    resp = await emulator.post("/api/v2/opportunities/filters/results?perPage=2", headers=PHILLIP,
                               json=_filter(("milestone", "is", "Bid")))
    assert [o["id"] for o in (await resp.json())["opportunities"]] == [1, 3]
    assert "next" in links(resp.headers)
    assert await ids_of(emulator, "/api/v2/opportunities/filters/results?perPage=2", "opportunities",
                        _filter(("milestone", "is", "Bid"))) == [1, 3, 4, 5]


async def test_delete_opportunity_cascades(account_clock, make_emulator):
    client = await make_emulator()
    assert await call(client, "DELETE", "/api/v2/opportunities/1", status=204) is None
    await call(client, "GET", "/api/v2/opportunities/1", status=404)
    await call(client, "GET", "/api/v2/tasks/2", status=404)  # its task
    await call(client, "GET", "/api/v2/entries/4", status=404)  # its note
    assert (await _get(client, "kases", "kase", 1))["opportunity"] is None
    body = await call(client, "GET", "/api/v2/opportunities/deleted?since=2026-03-01T00:00:00Z")
    assert body == {"opportunities": [{"id": 1, "deletedAt": account_clock()}], "restrictedOpportunities": []}
    await call(client, "DELETE", "/api/v2/opportunities/1", status=404)
    await call(client, "GET", "/api/v2/parties/2")  # the party stays


# --- kases ---

async def test_kase_shape(emulator):
    kase = await _get(emulator, "kases", "kase", 1)
    assert set(kase) == KASE_KEYS
    assert (kase["status"], kase["owner"]["username"], kase["stage"], kase["closedOn"]) == ("OPEN", "sofia", None,
                                                                                            None)
    assert kase["opportunity"] == {"id": 1, "name": "CRM System"} and kase["party"]["name"] == "ABC Furniture"
    assert kase == (await call(emulator, "GET", "/api/v2/kases"))["kases"][0]


async def test_create_kase_defaults_to_no_owner(account_clock, make_emulator):
    client = await make_emulator()
    kase = await _kase(client)
    assert set(kase) == KASE_KEYS
    assert (kase["owner"], kase["status"], kase["closedOn"], kase["opportunity"]) == (None, "OPEN", None, None)
    closed = await _kase(client, status="CLOSED", owner={"id": 1}, opportunity={"id": 2}, expectedCloseOn="2026-05-01")
    assert (closed["closedOn"], closed["owner"]["id"], closed["opportunity"]["id"]) == ("2026-03-01", 1, 2)
    given = await _kase(client, status="CLOSED", closedOn="2025-12-24")
    assert given["closedOn"] == "2025-12-24"


async def test_kase_status_sets_closed_on(account_clock, make_emulator):
    client = await make_emulator()
    account_clock.advance(86400)
    closed = await _put(client, "kases", "kase", 1, {"status": "CLOSED"})
    assert (closed["status"], closed["closedOn"]) == ("CLOSED", "2026-03-02")
    reopened = await _put(client, "kases", "kase", 1, {"status": "OPEN"})
    assert (reopened["status"], reopened["closedOn"]) == ("OPEN", None)


@pytest.mark.parametrize("fields, owner", [
    ({"team": None}, None),  # naming only the team clears the owner
    ({"owner": {"id": 1}}, "phillip"),  # naming only the owner clears the team (there is none)
    ({"owner": {"id": 1}, "team": None}, "phillip"),
    ({"owner": None}, None),
    ({"name": "Renamed", "status": "OPEN"}, "sofia"),  # naming neither keeps both
])
async def test_kase_owner_and_team_are_written_as_a_pair(emulator, fields, owner):
    kase = await _put(emulator, "kases", "kase", 1, fields)
    assert (kase["owner"] or {}).get("username") == owner and kase["team"] is None


@pytest.mark.parametrize("fields, bad", [
    ({"party": {"id": 5}}, ["name"]),
    ({"name": "X"}, ["party"]),
    ({"name": "X", "party": {"id": 5}, "status": "DONE"}, ["status"]),
    ({"name": "X", "party": {"id": 5}, "status": "open"}, ["status"]),
    ({"name": "X", "party": {"id": 5}, "opportunity": {"id": 99}}, ["opportunity"]),
    ({"name": "X", "party": {"id": 5}, "stage": {"id": 1}}, ["stage"]),
    ({"name": "X", "party": {"id": 5}, "team": {"id": 1}}, ["team"]),
    ({"name": "X", "party": {"id": 5}, "owner": {"id": 99}}, ["owner"]),
    ({"name": "X", "party": {"id": 5}, "tracks": [{"definition": {"id": 1}}]}, ["tracks[0].definition"]),
    ({"name": "X", "party": {"id": 5}, "fields": [{"definition": {"name": "Ticket"}, "value": 1}]},
     ["fields[0].value"]),
    ({"name": "X", "party": {"id": 5}, "closedOn": "soon"}, ["closedOn"]),
])
async def test_invalid_kase_is_422(emulator, fields, bad):
    assert_422(await call(emulator, "POST", "/api/v2/kases", {"kase": fields}, 422), "kase", bad)
    assert len((await call(emulator, "GET", "/api/v2/kases"))["kases"]) == 1


@pytest.mark.parametrize("entity, resource", ENTITIES)
async def test_update_is_partial(entity, resource, account_clock, make_emulator):
    client = await make_emulator()
    before = await _get(client, entity, resource, 1)
    account_clock.advance()
    after = await _put(client, entity, resource, 1, {"description": "changed", "expectedCloseOn": "2027-06-30"})
    assert after["description"] == "changed" and after["expectedCloseOn"] == "2027-06-30"
    assert after["updatedAt"] == account_clock() != before["updatedAt"]
    assert {k: v for k, v in after.items() if k not in ("description", "expectedCloseOn", "updatedAt")} == \
           {k: v for k, v in before.items() if k not in ("description", "expectedCloseOn", "updatedAt")}
    await _put(client, entity, resource, 99, {"name": "x"}, 404)
    assert_422(await _put(client, entity, resource, 1, {"name": "", "party": {"id": 99}}, 422), resource,
               ["name", "party"])


@pytest.mark.parametrize("entity, resource", ENTITIES)
async def test_batch_show_and_missing(emulator, entity, resource):
    await (_opportunity if entity == "opportunities" else _kase)(emulator)
    body = await call(emulator, "GET", f"/api/v2/{entity}/{3 if entity == 'opportunities' else 2},1")
    assert [r["id"] for r in body[entity]] == ([3, 1] if entity == "opportunities" else [2, 1])
    await call(emulator, "GET", f"/api/v2/{entity}/1,99", status=404)
    await call(emulator, "GET", f"/api/v2/{entity}/" + ",".join(str(i) for i in range(1, 12)), status=400)
    await call(emulator, "GET", f"/api/v2/{entity}/abc", status=404)


async def test_delete_kase(account_clock, make_emulator):
    client = await make_emulator()
    await call(client, "DELETE", "/api/v2/kases/1", status=204)
    await call(client, "GET", "/api/v2/kases/1", status=404)
    await call(client, "GET", "/api/v2/tasks/3", status=404)
    await call(client, "GET", "/api/v2/entries/5", status=404)
    assert await ids_of(client, "/api/v2/kases/deleted?since=2026-03-01T12:00:00Z", "kases") == [1]
    await call(client, "GET", "/api/v2/opportunities/1")


# --- additional parties ---

@pytest.mark.parametrize("entity, resource", ENTITIES)
async def test_additional_parties(emulator, entity, resource):
    base = f"/api/v2/{entity}/1/parties"
    assert (await call(emulator, "GET", base))["parties"] == [(await call(emulator, "GET", "/api/v2/parties/1"))[
        "party"]]
    assert await call(emulator, "POST", f"{base}/3", status=204) is None
    assert await call(emulator, "POST", f"{base}/5", status=204) is None
    assert await ids_of(emulator, f"{base}?perPage=2", "parties") == [1, 3, 5]
    for party_id in (3, 2):  # already related, and the main party
        body = await call(emulator, "POST", f"{base}/{party_id}", status=422)
        assert body["errors"] == [{"message": f"party is already related to this {resource}",
                                   "resource": resource, "field": "party"}]
    assert await call(emulator, "DELETE", f"{base}/3", status=204) is None
    body = await call(emulator, "DELETE", f"{base}/3", status=422)
    assert body["errors"][0]["message"] == f"party is not related to this {resource}"
    await call(emulator, "POST", f"{base}/99", status=404)
    await call(emulator, "DELETE", f"{base}/99", status=404)
    await call(emulator, "POST", f"/api/v2/{entity}/99/parties/3", status=404)
    await call(emulator, "GET", f"/api/v2/{entity}/99/parties", status=404)
    await call(emulator, "DELETE", "/api/v2/parties/5", status=204)  # a deleted party leaves the list
    assert await ids_of(emulator, base, "parties") == [1]
    tagged = (await call(emulator, "GET", f"{base}?embed=tags"))["parties"]
    assert [t["name"] for t in tagged[0]["tags"]] == ["VIP", "Staff"]
