"""Countries, currencies and tracks through the proxy; the milestones are in test_opportunities."""

from __future__ import annotations

import pytest

from .conftest import PHILLIP, XML_BODY
from .deals import as_json, children, record, xml


@pytest.mark.parametrize("path", ["/api/countries", "/api/resource/country", "/api/config/country"])
async def test_countries(proxy, path):
    countries = await xml(proxy, path)
    assert countries.tag == "countries" and set(children(countries)) == {"country"}
    names = [c.text for c in countries]
    assert countries.get("size") == str(len(names)) == "249"
    assert {"United Kingdom", "Italy", "Côte d'Ivoire"} <= set(names)


@pytest.mark.parametrize("path", ["/api/currencies", "/api/resource/currency"])
async def test_currencies_in_json(proxy, path):
    body = await as_json(proxy, path)
    codes = body["currencies"]["currency"]
    assert body["currencies"]["@size"] == str(len(codes)) and {"GBP", "EUR", "USD"} <= set(codes)


async def test_fixed_lists_are_answered_from_the_cache(proxy, recorder):
    # cold: one call each; warm: none (RF1), and a currency check on a write reuses it
    await xml(proxy, "/api/countries")
    await xml(proxy, "/api/currencies")
    assert recorder.paths() == ["/api/v2/countries", "/api/v2/currencies"]
    recorder.clear()
    await xml(proxy, "/api/resource/country")
    await xml(proxy, "/api/currencies")
    response = await proxy.post("/api/party/5/opportunity", data="<opportunity><name>X</name><milestoneId>1"
                                "</milestoneId><currency>EUR</currency><value>1.00</value></opportunity>",
                                headers={**PHILLIP, **XML_BODY})
    assert response.status == 201
    assert recorder.paths() == ["/api/v2/parties/5", "/api/v2/opportunities"]


async def test_tracks(proxy, recorder):
    tracks = await xml(proxy, "/api/tracks")
    assert tracks.get("size") == "2"
    assert [record(t) for t in tracks] == [
        {"id": "1", "description": "Sales follow up", "captureRule": "OPPORTUNITY", "direction": "start"},
        {"id": "2", "description": "Customer service feedback", "captureRule": "CASEFILE", "direction": "end"}]
    await xml(proxy, "/api/tracks")
    assert recorder.paths() == ["/api/v2/trackdefinitions?page=1&perPage=100"] * 2     # read fresh (P3)
