"""Opportunities through the proxy, in front of the emulator (demo seed: opportunity 1 is CRM
System of ABC Furniture (party 2) at Bid, 12500.50 GBP, phillip's; 2 is Office chairs of Globex
Italia (party 4) at New, 3200 EUR, sofia's, 12 months). Milestones of the Sales pipeline: New (1),
Bid (2), Won (3), Lost (4); the archived Trade shows pipeline has Lead (5) and Signed (6)."""

from __future__ import annotations

import json

import pytest

from .conftest import JSON_BODY, PHILLIP, SOFIA
from .deals import BodyRecorder, as_json, children, created, record, refused, v2, write, xml

ORDER = ["id", "name", "description", "partyId", "currency", "value", "durationBasis", "duration",
         "expectedCloseDate", "actualCloseDate", "milestoneId", "milestone", "probability", "owner",
         "createdOn", "updatedOn"]


@pytest.fixture
def recorder() -> BodyRecorder:
    return BodyRecorder()


def deal(**fields: str) -> str:
    return "<opportunity>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</opportunity>"


async def make(proxy, party: int = 5, **fields: str) -> int:
    return await created(proxy, f"/api/party/{party}/opportunity", deal(**({"name": "Deal", "milestone": "New"} | fields)),
                         "opportunity")


# --- reads --------------------------------------------------------------------------------------

async def test_an_opportunity_as_v1_wrote_it(proxy, recorder):
    crm = await xml(proxy, "/api/opportunity/1")
    assert crm.tag == "opportunity"
    assert children(crm) == [name for name in ORDER if name not in ("duration", "actualCloseDate")]
    assert record(crm) | {"createdOn": "", "updatedOn": ""} == {
        "id": "1", "name": "CRM System", "description": "25 seats, three-year licence", "partyId": "2",
        "currency": "GBP", "value": "12500.50", "durationBasis": "FIXED", "expectedCloseDate": "2026-12-31T00:00:00Z",
        "milestoneId": "2", "milestone": "Bid", "probability": "50", "owner": "phillip",
        "createdOn": "", "updatedOn": ""}
    assert recorder.paths() == ["/api/v2/opportunities/1"]          # one call: nothing to look up


async def test_json_is_v1s_envelope(proxy):
    body = await as_json(proxy, "/api/opportunity/2")
    chairs = body["opportunity"]
    assert all(isinstance(value, str) for value in chairs.values())
    assert (chairs["value"], chairs["currency"], chairs["durationBasis"], chairs["duration"]) == (
        "3200.00", "EUR", "MONTH", "12")
    assert set(chairs) <= set(ORDER)


async def test_a_missing_opportunity_is_404(proxy, recorder):
    await xml(proxy, "/api/opportunity/999999", 404)
    await xml(proxy, "/api/opportunity/0x1", 404)
    assert recorder.paths() == ["/api/v2/opportunities/999999"]


async def test_lists_carry_their_size_and_window(proxy):
    everything = await xml(proxy, "/api/opportunity")
    assert everything.get("size") == str(len(everything)) == "2"
    window = await xml(proxy, "/api/opportunity?start=1&limit=1")
    assert window.get("size") == "1" and window.findtext("opportunity/id") == "2"
    empty = await as_json(proxy, "/api/opportunity?milestone=Won")
    assert empty == {"opportunities": {"@size": "0"}}


@pytest.mark.parametrize("query, v2_path, ids", [
    ("milestone=Bid", "/api/v2/opportunities/filters/results?page=1&perPage=100", ["1"]),
    ("tag=Hot", "/api/v2/opportunities/filters/results?page=1&perPage=100", ["1"]),
    ("milestone=new&tag=Hot", "/api/v2/opportunities/filters/results?page=1&perPage=100", []),
    ("lastmodified=20200101T000000", "/api/v2/opportunities?since=2020-01-01T00:00:00Z&page=1&perPage=100",
     ["1", "2"]),
    ("lastModified=20990101T000000", "/api/v2/opportunities?since=2099-01-01T00:00:00Z&page=1&perPage=100", []),
])
async def test_filters_become_v2_filters_and_since(proxy, recorder, query, v2_path, ids):
    found = await xml(proxy, f"/api/opportunity?{query}")
    assert [o.findtext("id") for o in found] == ids
    assert recorder.paths() == [v2_path]


async def test_a_milestone_filter_sends_the_name_as_v2_matches_it(proxy, recorder):
    await xml(proxy, "/api/opportunity?milestone=Bid&tag=Hot")
    [(_, _, body)] = recorder.bodies
    assert body == {"filter": {"conditions": [{"field": "milestone", "operator": "is", "value": "Bid"},
                                              {"field": "tag", "operator": "is", "value": "Hot"}]}}


@pytest.mark.parametrize("query, named", [
    ("lastmodified=20090631T000000", "lastmodified"), ("lastmodified=soon", "lastmodified"),
    ("limit=-1", "limit"), ("tag=a&tag=b", "tag"),
])
async def test_bad_list_parameters_are_400_and_call_nothing(proxy, recorder, query, named):
    response = await proxy.get(f"/api/opportunity?{query}", headers=PHILLIP)
    assert response.status == 400 and named in await response.text()
    assert recorder.calls == []


async def test_a_partys_opportunities(proxy, recorder):
    found = await xml(proxy, "/api/party/4/opportunity")
    assert [o.findtext("id") for o in found] == ["2"] and found.get("size") == "1"
    assert recorder.paths() == ["/api/v2/parties/4/opportunities?page=1&perPage=100"]
    assert len(await xml(proxy, "/api/party/5/opportunity")) == 0
    await xml(proxy, "/api/party/999999/opportunity", 404)


# --- create -------------------------------------------------------------------------------------

async def test_create_as_v1_did(proxy, upstream, recorder):
    body = deal(name="Fit-out", description="Two floors", currency="EUR", value="1234.50",
                expectedCloseDate="2027-01-31T00:00:00Z", milestone="Bid", owner="sofia",
                durationBasis="WEEK", duration="6")
    new_id = await created(proxy, "/api/party/5/opportunity", body, "opportunity")
    # cold: the look-ups it names, the party, the create
    paths = recorder.paths()
    assert sorted(paths[:3]) == ["/api/v2/currencies", "/api/v2/milestones?page=1&perPage=100", "/api/v2/users"]
    assert paths[3:] == ["/api/v2/parties/5", "/api/v2/opportunities"]
    [sent] = recorder.written("POST")
    assert sent == {"opportunity": {"name": "Fit-out", "description": "Two floors",
                                    "value": {"amount": 1234.5, "currency": "EUR"}, "durationBasis": "WEEK",
                                    "duration": 6, "expectedCloseOn": "2027-01-31", "milestone": {"id": 2},
                                    "owner": {"id": 2}, "party": {"id": 5}}}
    stored = (await v2(upstream, f"/api/v2/opportunities/{new_id}"))["opportunity"]
    assert stored["value"] == {"amount": 1234.5, "currency": "EUR"} and stored["probability"] == 50
    again = record(await xml(proxy, f"/api/opportunity/{new_id}"))
    assert (again["value"], again["currency"], again["expectedCloseDate"], again["milestone"], again["owner"],
            again["durationBasis"], again["partyId"]) == ("1234.50", "EUR", "2027-01-31T00:00:00Z", "Bid", "sofia",
                                                          "WEEK", "5")
    recorder.clear()
    await created(proxy, "/api/party/5/opportunity", body, "opportunity")
    assert recorder.paths() == ["/api/v2/parties/5", "/api/v2/opportunities"]          # warm


async def test_a_new_opportunity_is_the_callers_by_default(proxy, upstream, recorder):
    new_id = await created(proxy, "/api/party/5/opportunity", deal(name="Mine", milestoneId="1"), "opportunity",
                           auth=SOFIA)
    assert recorder.paths() == ["/api/v2/parties/5", "/api/v2/opportunities"]     # v2 defaults the owner
    assert (await v2(upstream, f"/api/v2/opportunities/{new_id}"))["opportunity"]["owner"]["username"] == "sofia"


async def test_create_in_v1_json_with_the_gems_float(proxy, upstream):
    # capsule_crm serialises value as a Ruby Float and a Date as YYYY-MM-DD.
    body = json.dumps({"opportunity": {"name": "Gem", "milestone": "bid", "value": 500.0, "currency": "gbp",
                                       "expectedCloseDate": "2027-02-28"}})
    new_id = await created(proxy, "/api/party/5/opportunity", body, "opportunity", JSON_BODY)
    got = (await as_json(proxy, f"/api/opportunity/{new_id}"))["opportunity"]
    assert (got["value"], got["currency"], got["milestone"], got["expectedCloseDate"]) == (
        "500.00", "GBP", "Bid", "2027-02-28T00:00:00Z")


async def test_track_id_applies_the_track(proxy, upstream, recorder):
    new_id = await created(proxy, "/api/party/5/opportunity?trackId=1", deal(name="Tracked", milestone="New"),
                           "opportunity")
    assert recorder.written("POST")[0]["opportunity"]["tracks"] == [{"definition": {"id": 1}}]
    stored = (await v2(upstream, f"/api/v2/opportunities/{new_id}?embed=tracks"))["opportunity"]
    assert [track["definition"]["id"] for track in stored["tracks"]] == [1]
    # a case's track, or none at all: a 400 naming trackId, nothing created
    recorder.clear()
    await refused(proxy, "POST", "/api/party/5/opportunity?trackId=2", deal(name="X", milestone="New"), "trackId")
    await refused(proxy, "POST", "/api/party/5/opportunity?trackId=abc", deal(name="X", milestone="New"), "trackId")
    assert len(recorder.written("POST")) == 1                                  # the first one only


@pytest.mark.parametrize("body, named", [
    (deal(description="no name", milestone="New"), "name"),
    (deal(name="No milestone"), "milestone"),
    (deal(name=" ", milestone="New"), "name"),
    (deal(name="X", milestone="New", value="12,50"), "value"),
    (deal(name="X", milestone="New", value="-5.00"), "value"),
    (deal(name="X", milestone="New", value="1234567890.1234567"), "value"),        # 17 digits: not exact
    (deal(name="X", milestone="New", expectedCloseDate="2027-01-31T10:00:00Z"), "expectedCloseDate"),
    (deal(name="X", milestone="New", expectedCloseDate="2027-02-30"), "expectedCloseDate"),
    (deal(name="X", milestone="New", probability="101"), "probability"),
    (deal(name="X", milestone="New", durationBasis="FORTNIGHT"), "durationBasis"),
    (deal(name="X", milestone="New", milestoneId="two"), "milestoneId"),
    (deal(name="X", milestone="New", colour="red"), "colour"),
    ("<kase><name>X</name></kase>", "opportunity"),
])
async def test_invalid_documents_are_400_naming_the_element_and_call_nothing(proxy, recorder, body, named):
    await refused(proxy, "POST", "/api/party/5/opportunity", body, named)
    assert recorder.calls == []


async def test_unknown_names_are_400s_naming_them_after_one_fresh_read(proxy, recorder):
    await make(proxy, owner="phillip", currency="GBP", value="1")          # the look-ups are cached now
    recorder.clear()
    text = await refused(proxy, "POST", "/api/party/5/opportunity", deal(name="X", milestone="Signed"), "'Signed'")
    assert "/api/opportunity/milestones" in text          # Signed is the archived pipeline's: not v1's set
    assert recorder.paths() == ["/api/v2/milestones?page=1&perPage=100"]  # one fresh read, nothing sent
    recorder.clear()
    await refused(proxy, "POST", "/api/party/5/opportunity", deal(name="X", milestone="New", owner="nobody"), "nobody")
    await refused(proxy, "POST", "/api/party/5/opportunity", deal(name="X", milestone="New", currency="XYZ",
                                                                   value="1.00"), "XYZ")
    assert recorder.paths() == ["/api/v2/users", "/api/v2/currencies"]


async def test_a_missing_party_is_404_and_nothing_is_created(proxy, recorder):
    await refused(proxy, "POST", "/api/party/999999/opportunity", deal(name="X", milestoneId="1"), "999999", 404)
    assert recorder.written("POST") == []


# --- update --------------------------------------------------------------------------------------

async def test_a_put_of_what_get_answered_changes_nothing(proxy, upstream, recorder):
    before = (await v2(upstream, "/api/v2/opportunities/1"))["opportunity"]
    body = await (await proxy.get("/api/opportunity/1", headers=PHILLIP)).read()
    recorder.clear()
    await write(proxy, "PUT", "/api/opportunity/1", body, 200)
    cold = list(recorder.calls)
    after = (await v2(upstream, "/api/v2/opportunities/1"))["opportunity"]
    assert after == before                                          # v2 saw no change at all
    # cold: the milestones (to check the name against the id), the users, the currencies
    recorder.calls[:] = cold
    assert sorted(recorder.paths("GET")) == ["/api/v2/currencies", "/api/v2/milestones?page=1&perPage=100",
                                             "/api/v2/users"]
    assert recorder.paths("PUT") == ["/api/v2/opportunities/1"]
    recorder.clear()
    await write(proxy, "PUT", "/api/opportunity/1", body, 200)
    assert recorder.paths() == ["/api/v2/opportunities/1"]                       # warm: one call


async def test_value_and_currency_are_one_v2_object(proxy, upstream, recorder):
    new_id = await make(proxy, value="10.00", currency="EUR")
    recorder.clear()
    await write(proxy, "PUT", f"/api/opportunity/{new_id}", deal(value="99.99"), 200)
    assert recorder.written() == [{"opportunity": {"value": {"amount": 99.99, "currency": "EUR"}}}]
    assert recorder.paths() == [f"/api/v2/opportunities/{new_id}"] * 2          # the stored currency, the PUT
    await write(proxy, "PUT", f"/api/opportunity/{new_id}", deal(currency="usd"), 200)
    got = record(await xml(proxy, f"/api/opportunity/{new_id}"))
    assert (got["value"], got["currency"]) == ("99.99", "USD")
    await write(proxy, "PUT", f"/api/opportunity/{new_id}", deal(value=""), 200)       # blank clears it
    got = record(await xml(proxy, f"/api/opportunity/{new_id}"))
    assert "value" not in got and "currency" not in got
    response = await write(proxy, "PUT", f"/api/opportunity/{new_id}", deal(currency="GBP"), 200)
    assert "only with a value" in response.headers["Warning"]


@pytest.mark.parametrize("written, read", [
    ("1234.50", "1234.50"), ("1234.5", "1234.50"), ("500", "500.00"), ("0", "0.00"), ("0.125", "0.125"),
    ("999999999999999", "999999999999999.00"), ("0.000000000000001", "0.000000000000001"),
    ("12345678901234.5", "12345678901234.50"),
])
async def test_amounts_are_exact(proxy, written, read):
    new_id = await make(proxy, value=written, currency="GBP")
    assert record(await xml(proxy, f"/api/opportunity/{new_id}"))["value"] == read


async def test_close_dates_are_days_never_shifted(proxy, upstream):
    new_id = await make(proxy, expectedCloseDate="2027-03-01T00:00:00+05:00", actualCloseDate="2027-03-02")
    stored = (await v2(upstream, f"/api/v2/opportunities/{new_id}"))["opportunity"]
    assert (stored["expectedCloseOn"], stored["closedOn"]) == ("2027-03-01", "2027-03-02")
    got = record(await xml(proxy, f"/api/opportunity/{new_id}", headers=SOFIA))   # whoever reads it
    assert (got["expectedCloseDate"], got["actualCloseDate"]) == ("2027-03-01T00:00:00Z", "2027-03-02T00:00:00Z")
    await write(proxy, "PUT", f"/api/opportunity/{new_id}", deal(expectedCloseDate=""), 200)
    assert (await v2(upstream, f"/api/v2/opportunities/{new_id}"))["opportunity"]["expectedCloseOn"] is None


async def test_milestone_by_name_or_id(proxy, upstream, recorder):
    new_id = await make(proxy)
    await write(proxy, "PUT", f"/api/opportunity/{new_id}", deal(milestone="won"), 200)
    stored = (await v2(upstream, f"/api/v2/opportunities/{new_id}"))["opportunity"]
    assert stored["milestone"]["name"] == "Won" and stored["closedOn"] is not None       # v2's own rule
    await write(proxy, "PUT", f"/api/opportunity/{new_id}", deal(milestoneId="5"), 200)  # another pipeline's
    got = record(await xml(proxy, f"/api/opportunity/{new_id}"))
    assert (got["milestoneId"], got["milestone"]) == ("5", "Lead")
    # GET -> PUT of that works: the id decides, its name is not looked for in v1's set
    await write(proxy, "PUT", f"/api/opportunity/{new_id}", deal(milestoneId="5", milestone="Lead"), 200)
    # a name and an id of v1's set that disagree: say so
    recorder.clear()
    await refused(proxy, "PUT", f"/api/opportunity/{new_id}", deal(milestoneId="1", milestone="Bid"), "milestoneId")
    await refused(proxy, "PUT", f"/api/opportunity/{new_id}", deal(milestone=""), "milestone")
    assert recorder.paths("PUT") == []


async def test_owner_by_username(proxy, upstream):
    await write(proxy, "PUT", "/api/opportunity/2", deal(owner="phillip"), 200)
    assert (await v2(upstream, "/api/v2/opportunities/2"))["opportunity"]["owner"]["username"] == "phillip"
    await refused(proxy, "PUT", "/api/opportunity/2", deal(owner=" "), "owner")


async def test_put_under_a_party_moves_it(proxy, upstream, recorder):
    new_id = await make(proxy)
    recorder.clear()
    await write(proxy, "PUT", f"/api/party/6/opportunity/{new_id}", deal(name="Moved"), 200)
    assert recorder.paths() == ["/api/v2/parties/6", f"/api/v2/opportunities/{new_id}"]
    assert recorder.written() == [{"opportunity": {"name": "Moved", "party": {"id": 6}}}]
    got = record(await xml(proxy, f"/api/opportunity/{new_id}"))
    assert (got["name"], got["partyId"]) == ("Moved", "6")
    recorder.clear()
    await refused(proxy, "PUT", f"/api/party/999999/opportunity/{new_id}", deal(name="Lost"), "999999", 404)
    assert recorder.paths("PUT") == []
    await refused(proxy, "PUT", "/api/party/6/opportunity/999999", deal(name="Gone"), "999999", 404)


async def test_partyid_in_a_put_is_ignored(proxy, upstream):
    await write(proxy, "PUT", "/api/opportunity/2", deal(partyId="5"), 200)
    assert (await v2(upstream, "/api/v2/opportunities/2"))["opportunity"]["party"]["id"] == 4


# --- delete, deleted ---------------------------------------------------------------------------------

async def test_delete_then_deleted_since(proxy, recorder):
    new_id = await make(proxy)
    recorder.clear()
    await write(proxy, "DELETE", f"/api/opportunity/{new_id}", b"", 200)
    assert recorder.calls == [("DELETE", f"/api/v2/opportunities/{new_id}")]
    await xml(proxy, f"/api/opportunity/{new_id}", 404)
    await refused(proxy, "DELETE", f"/api/opportunity/{new_id}", b"", str(new_id), 404)
    gone = await xml(proxy, "/api/opportunity/deleted?since=20000101T000000")
    assert gone.tag == "deletedOpportunities" and gone.get("size") == "1"
    entry = record(gone[0])
    assert list(entry) == ["id", "deletedDate"] and entry["id"] == str(new_id)
    assert entry["deletedDate"].endswith("Z")
    assert len(await xml(proxy, "/api/opportunity/deleted?since=2099-01-01T00:00:00Z")) == 0
    body = await as_json(proxy, "/api/opportunity/deleted?since=2000-01-01")
    assert body["deletedOpportunities"]["deletedOpportunity"]["id"] == str(new_id)


async def test_deleted_needs_a_since(proxy, recorder):
    response = await proxy.get("/api/opportunity/deleted", headers=PHILLIP)
    assert response.status == 400 and "since" in await response.text()
    response = await proxy.get("/api/opportunity/deleted?since=2000-13-01", headers=PHILLIP)
    assert response.status == 400 and "since" in await response.text()
    assert recorder.calls == []


async def test_the_gems_since_is_read_too(proxy, recorder):
    # capsule_crm passes a Ruby Time, which Faraday writes as "2013-10-01 12:00:00 +0200".
    await xml(proxy, "/api/opportunity/deleted?since=2013-10-01%2012:00:00%20%2B0200")
    await xml(proxy, "/api/opportunity/deleted?since=2013-10-01+12:00:00++0200")    # the + not encoded
    assert recorder.paths() == ["/api/v2/opportunities/deleted?since=2013-10-01T10:00:00Z&page=1&perPage=100"] * 2


# --- milestones ---------------------------------------------------------------------------------

async def test_milestones_are_v1s_set(proxy, recorder):
    milestones = await xml(proxy, "/api/opportunity/milestones")
    assert milestones.get("size") == "4"
    assert [record(m) for m in milestones][2:] == [
        {"id": "3", "name": "Won", "probability": "100", "complete": "true"},
        {"id": "4", "name": "Lost", "probability": "0", "complete": "true"}]
    assert children(milestones[0]) == ["id", "name", "description", "probability", "complete"]
    body = await as_json(proxy, "/api/opportunity/milestones")
    assert body["milestones"]["milestone"][1] == {"id": "2", "name": "Bid", "probability": "50", "complete": "false",
                                                  "description": "You have put forward a bid for your offering"}
    # read fresh every time (P3), which refreshes the cache names resolve in
    assert recorder.paths() == ["/api/v2/milestones?page=1&perPage=100"] * 2
