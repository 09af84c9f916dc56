"""The canned upstream answers what the emulator answers (field for field), counts calls by kind,
and every scenario gets a correct answer from the proxy in front of it, within its fewest
upstream calls."""

from __future__ import annotations

import base64

import pytest

from bench import canned
from bench.passthrough import ROUTES, target
from bench.scenarios import SCENARIOS
from proxy.app import create_app as create_proxy_app
from proxy.config import load_settings

BEARER = {"Authorization": "Bearer tok-phillip"}


@pytest.fixture
async def upstream(aiohttp_server):
    app = canned.create_app()
    server = await aiohttp_server(app)
    app[canned.CANNED].base = str(server.make_url("")).rstrip("/")
    return server


@pytest.fixture
async def upstream_client(aiohttp_client, upstream):
    return await aiohttp_client(upstream)


async def _json(client, path: str) -> dict:
    answer = await client.get(path, headers=BEARER)
    assert answer.status == 200, (path, answer.status)
    return await answer.json()


#: (path, key, whether the answer is a list): the records and list items the proxy reads.
SHAPES = [
    ("/api/v2/tasks/1", "task", False), ("/api/v2/parties/1", "party", False), ("/api/v2/parties/2", "party", False),
    ("/api/v2/opportunities/1", "opportunity", False), ("/api/v2/kases/1", "kase", False),
    ("/api/v2/users/current", "user", False), ("/api/v2/parties/1?embed=tags,fields", "party", False),
    ("/api/v2/parties/1/entries", "entries", True), ("/api/v2/parties/fields/definitions", "definitions", True),
    ("/api/v2/parties/tags", "tags", True), ("/api/v2/milestones", "milestones", True),
    ("/api/v2/categories", "categories", True), ("/api/v2/users", "users", True),
]


async def test_answers_have_the_emulators_fields(emulator, upstream_client):
    for path, key, listed in SHAPES:
        ours, theirs = (await _json(upstream_client, path))[key], (await _json(emulator, path))[key]
        if listed:
            ours, theirs = ours[0], theirs[0]
        assert set(ours) == set(theirs), (f"{path}: only canned: {set(ours) - set(theirs)}, "
                                          f"only emulator: {set(theirs) - set(ours)}")


async def test_pages_links_and_counts(upstream_client):
    answer = await upstream_client.get("/api/v2/parties?page=1&perPage=100", headers=BEARER)
    assert len((await answer.json())["parties"]) == 100
    assert 'page=2' in answer.headers["Link"] and 'rel="next"' in answer.headers["Link"]
    last = await upstream_client.get(f"/api/v2/parties?page={canned.DEFAULT_RECORDS // 100}&perPage=100",
                                      headers=BEARER)
    assert "Link" not in last.headers
    assert (await upstream_client.get("/api/v2/tasks/1")).status == 401
    await upstream_client.get("/api/v2/users", headers=BEARER)
    await upstream_client.get("/api/v2/no/such/thing", headers=BEARER)
    stats = await (await upstream_client.get("/_stats?reset=1")).json()
    assert stats["calls"] == {"GET /parties": 2, "unauthorized": 1, "GET /users": 1,
                              "unmatched GET /api/v2/no/such/thing": 1}
    assert stats["lookups"] == 1 and stats["total"] == 5
    assert (await (await upstream_client.get("/_stats")).json())["total"] == 0


def test_every_baseline_has_a_passthrough_route():
    import re
    patterns = [(method, re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", path) + "$")) for method, path, _, _ in ROUTES]
    for scenario in SCENARIOS:
        if scenario.baseline is not None:
            path = scenario.baseline.path.split("?")[0]
            assert any(m == scenario.baseline.method and p.match(path) for m, p in patterns), scenario.name
    assert target("/api/v2/parties/{id}?embed=tags", {"id": "7", "name": "VIP"}) == "/api/v2/parties/7?embed=tags"


@pytest.fixture
async def proxy(aiohttp_client, upstream):
    settings = load_settings(environ={}, flags={})
    return await aiohttp_client(create_proxy_app(settings, str(upstream.make_url("")).rstrip("/")))


async def test_every_scenario_is_served_within_its_fewest_calls(proxy, upstream_client):
    """What the suite relies on: every scenario's answer is a correct one, with no look-up in
    steady state and no more upstream calls than the scenario's fewest. Every family is translated
    now, so a 501 is a failure here too (the suite would report the scenario as not available)."""
    auth = "Basic " + base64.b64encode(b"tok-phillip:x").decode()
    served = []
    for scenario in SCENARIOS:
        req = scenario.proxy
        headers = {"Authorization": auth, **dict(req.headers)}

        async def send():
            answer = await proxy.request(req.method, req.path, data=req.body, headers=headers)
            return answer, await answer.read()
        answer, body = await send()
        assert answer.status in req.status, (scenario.name, answer.status, body[:300])
        if req.marker is not None:
            assert req.marker in body, (scenario.name, body[:300])
        if req.location_suffix is not None:
            assert answer.headers["Location"].endswith(req.location_suffix), scenario.name
        await upstream_client.get("/_stats?reset=1")
        await send()
        stats = await (await upstream_client.get("/_stats?reset=1")).json()
        assert stats["lookups"] == 0, (scenario.name, stats)
        assert stats["total"] <= scenario.max_calls, (scenario.name, stats)
        served.append(scenario.name)
    assert {"get_task", "post_task", "list_tasks", "get_party", "list_parties", "post_person"} <= set(served)
