"""Reference data: countries, currencies, track definitions, pipelines and milestones."""

from __future__ import annotations

from proxy.emulator import refdata

from .helpers import auth, call, ids_of, links

MILESTONE_KEYS = {"id", "name", "description", "probability", "complete", "displayOrder", "pipeline",
                  "createdAt", "updatedAt"}


async def test_countries(emulator):
    resp = await emulator.get("/api/v2/countries", headers=auth("tok-phillip"))
    assert "Link" not in resp.headers and "X-RateLimit-Limit" in resp.headers
    countries = (await resp.json())["countries"]
    names = [c["name"] for c in countries]
    assert all(set(c) == {"name"} for c in countries)
    assert len(names) == len(set(names)) == 249  # every ISO 3166-1 entry
    assert {"United Kingdom", "United States", "Italy", "Côte d'Ivoire", "Åland Islands"} <= set(names)


async def test_currencies(emulator):
    currencies = (await call(emulator, "GET", "/api/v2/currencies"))["currencies"]
    codes = [c["code"] for c in currencies]
    assert all(set(c) == {"code"} for c in currencies)
    assert codes == sorted(codes) and len(codes) > 170
    assert {"GBP", "EUR", "USD", "JPY", "CHF", "ZWG"} <= set(codes) and "HRK" not in codes


def test_reference_lists_are_read_from_the_package():
    assert refdata.country_name("united KINGDOM") == "United Kingdom" and refdata.country_name("Narnia") is None
    assert refdata.currency_code(" eur ") == "EUR" and refdata.currency_code("EURO") is None


async def test_track_definitions(emulator):
    body = await call(emulator, "GET", "/api/v2/trackdefinitions")
    assert body == {"trackDefinitions": [
        {"id": 1, "description": "Sales follow up", "captureRule": "opportunity", "direction": "start"},
        {"id": 2, "description": "Customer service feedback", "captureRule": "kase", "direction": "end"}]}
    assert await ids_of(emulator, "/api/v2/trackdefinitions?perPage=1", "trackDefinitions") == [1, 2]


async def test_pipelines(emulator):
    pipelines = (await call(emulator, "GET", "/api/v2/pipelines"))["pipelines"]
    assert [(p["id"], p["name"], p["archived"]) for p in pipelines] == [
        (1, "Sales", False), (2, "Trade shows 2024", True)]
    assert set(pipelines[0]) == {"id", "name", "description", "archived", "createdAt", "updatedAt"}
    assert await call(emulator, "GET", "/api/v2/pipelines/2") == {"pipeline": pipelines[1]}
    await call(emulator, "GET", "/api/v2/pipelines/9", status=404)


async def test_milestones_of_a_pipeline(emulator):
    milestones = (await call(emulator, "GET", "/api/v2/pipelines/1/milestones"))["milestones"]
    assert [(m["name"], m["probability"], m["complete"]) for m in milestones] == [
        ("New", 10, False), ("Bid", 50, False), ("Won", 100, True), ("Lost", 0, True)]
    assert all(set(m) == MILESTONE_KEYS for m in milestones)
    assert milestones[0]["pipeline"] == {"id": 1, "name": "Sales"} and milestones[0]["displayOrder"] == 1
    assert milestones[0]["description"] == "You have a potential buyer for your offering"
    archived = (await call(emulator, "GET", "/api/v2/pipelines/2/milestones"))["milestones"]
    assert [m["id"] for m in archived] == [5, 6]
    resp = await emulator.get("/api/v2/pipelines/1/milestones?perPage=3", headers=auth("tok-phillip"))
    assert "next" in links(resp.headers)
    await call(emulator, "GET", "/api/v2/pipelines/9/milestones", status=404)


async def test_milestones_are_the_oldest_active_pipelines(emulator):
    assert (await call(emulator, "GET", "/api/v2/milestones")) == \
           await call(emulator, "GET", "/api/v2/pipelines/1/milestones")


async def test_milestones_skip_archived_pipelines(make_emulator):
    client = await make_emulator('[[users]]\nusername = "ann"\ntoken = "tok-ann"\n'
                                 '[[pipelines]]\nid = 1\nname = "Old"\narchived = true\n'
                                 '[[pipelines]]\nid = 2\nname = "Current"\n'
                                 '[[milestones]]\nname = "Gone"\npipeline = 1\n'
                                 '[[milestones]]\nname = "Here"\npipeline = 2\nprobability = 40\n')
    body = await call(client, "GET", "/api/v2/milestones", headers=auth("tok-ann"))
    assert [(m["id"], m["name"], m["probability"], m["pipeline"]["name"]) for m in body["milestones"]] == [
        (2, "Here", 40, "Current")]


async def test_a_seed_without_pipelines_gets_the_default_one(make_emulator):
    client = await make_emulator('[[users]]\nusername = "ann"\ntoken = "tok-ann"\n')
    headers = auth("tok-ann")
    assert (await call(client, "GET", "/api/v2/pipelines", headers=headers))["pipelines"][0]["name"] == "Sales"
    milestones = (await call(client, "GET", "/api/v2/milestones", headers=headers))["milestones"]
    assert [(m["id"], m["name"], m["probability"], m["complete"]) for m in milestones] == [
        (1, "New", 10, False), (2, "Bid", 50, False), (3, "Won", 100, True), (4, "Lost", 0, True)]
    assert (await call(client, "GET", "/api/v2/trackdefinitions", headers=headers)) == {"trackDefinitions": []}
