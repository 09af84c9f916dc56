"""v1 lists: start/limit windows with the fewest upstream pages, filters, per-parent lists."""

from __future__ import annotations

import pytest
from lxml import etree

from .conftest import JSON, PHILLIP

# 250 open tasks (ids 1..250), no time of day, so no time-zone look-up is needed.
MANY = ('[[users]]\nid = 1\nusername = "ann"\ntoken = "tok-phillip"\ntimezone = "Europe/London"\n'
        '[[users]]\nid = 2\nusername = "bob"\ntoken = "tok-bob"\n'
        '[[categories]]\nid = 1\nname = "Call"\n[[categories]]\nid = 2\nname = "Email"\n'
        '[[parties]]\nid = 1\ntype = "person"\nfirstName = "Eric"\n'
        '[[parties]]\nid = 2\ntype = "organisation"\nname = "Org"\n')
for n in range(1, 251):
    MANY += (f'[[tasks]]\ndescription = "t{n}"\ndueOn = 2026-01-01\n'
             f'owner = {1 if n % 2 else 2}\ncategory = {1 if n % 5 else 2}\nparty = {1 if n % 10 else 2}\n')


def ids(body: bytes) -> list[int]:
    root = etree.fromstring(body)
    assert root.tag == "tasks" and root.get("size") == str(len(root))
    return [int(task.findtext("id")) for task in root]


def pages(recorder) -> list[str]:
    return [path for path in recorder.paths("GET") if path.startswith("/api/v2/tasks?")]


async def listing(proxy, query: str, headers=PHILLIP, status=200):
    response = await proxy.get(f"/api/tasks{query}", headers=headers)
    assert response.status == status, await response.text()
    return await response.read()


class TestWindows:
    @pytest.fixture
    def seed_text(self):
        return MANY

    @pytest.mark.parametrize("query, expected, page_numbers", [
        ("?start=95&limit=10", list(range(96, 106)), [1, 2]),
        ("?start=100&limit=100", list(range(101, 201)), [2]),
        ("?start=0&limit=1", [1], [1]),
        ("?start=199&limit=2", [200, 201], [2, 3]),
        ("?start=240", list(range(241, 251)), [3]),
        ("?limit=0", [], []),
        ("?start=5000&limit=10", [], [51]),
        ("", list(range(1, 251)), [1, 2, 3]),
        ("?start=&limit=", list(range(1, 251)), [1, 2, 3]),
    ])
    async def test_window_costs_exactly_the_covering_pages(self, proxy, recorder, query, expected, page_numbers):
        assert ids(await listing(proxy, query)) == expected
        assert pages(recorder) == [f"/api/v2/tasks?status=open&page={p}&perPage=100" for p in page_numbers]

    async def test_steady_state_makes_no_lookup_calls(self, proxy, recorder):
        await listing(proxy, "?start=0&limit=5")
        recorder.clear()
        await listing(proxy, "?start=0&limit=5")
        assert recorder.calls == [("GET", "/api/v2/tasks?status=open&page=1&perPage=100")]

    @pytest.mark.parametrize("query, keep", [
        ("?category=Email", lambda n: n % 5 == 0),
        ("?category=email", lambda n: n % 5 == 0),
        ("?user=bob", lambda n: n % 2 == 0),
        ("?user=ann&category=Call", lambda n: n % 2 == 1 and n % 5 != 0),
    ])
    async def test_filters(self, proxy, query, keep):
        assert ids(await listing(proxy, query)) == [n for n in range(1, 251) if keep(n)]

    async def test_filtered_scan_stops_when_the_window_is_full(self, proxy, recorder):
        # The 3rd..5th Email tasks are 15, 20, 25: all on page 1.
        assert ids(await listing(proxy, "?category=Email&start=2&limit=3")) == [15, 20, 25]
        assert len(pages(recorder)) == 1
        recorder.clear()
        # The 21st Email task is 105, on page 2.
        assert ids(await listing(proxy, "?category=Email&start=20&limit=1")) == [105]
        assert len(pages(recorder)) == 2

    async def test_per_party_list_scans_and_stops(self, proxy, recorder):
        assert ids(await listing_for(proxy, "/api/party/2/tasks")) == list(range(10, 251, 10))
        recorder.clear()
        assert ids(await listing_for(proxy, "/api/party/2/tasks?limit=3")) == [10, 20, 30]
        assert len(pages(recorder)) == 1

    async def test_unknown_filter_value_matches_nothing(self, proxy):
        assert ids(await listing(proxy, "?category=Nope")) == []


async def listing_for(proxy, path, headers=PHILLIP, status=200):
    response = await proxy.get(path, headers=headers)
    assert response.status == status, await response.text()
    return await response.read()


async def test_status_filter(proxy):
    assert ids(await listing(proxy, "")) == [1, 2, 3]
    await proxy.post("/api/task/2/complete", headers=PHILLIP)
    assert ids(await listing(proxy, "")) == [1, 3]
    assert ids(await listing(proxy, "?status=COMPLETED")) == [2]
    assert ids(await listing(proxy, "?status=completed,open")) == [1, 2, 3]


@pytest.mark.parametrize("query, named", [("?status=DONE", "DONE"), ("?start=-1", "start"),
                                          ("?limit=ten", "limit"), ("?start=1.5", "start")])
async def test_bad_list_parameters_are_400(proxy, recorder, query, named):
    body = await listing(proxy, query, status=400)
    assert named.encode() in body
    assert pages(recorder) == []


@pytest.mark.parametrize("path, expected", [
    ("/api/party/1/tasks", [1]), ("/api/opportunity/1/tasks", [2]), ("/api/kase/1/tasks", [3]),
    ("/api/party/2/tasks", [])])
async def test_per_parent_lists(proxy, path, expected):
    assert ids(await listing_for(proxy, path)) == expected


@pytest.mark.parametrize("path", ["/api/party/999/tasks", "/api/opportunity/999/tasks", "/api/kase/999/tasks"])
async def test_per_parent_list_of_a_missing_parent_is_404(proxy, recorder, path):
    await listing_for(proxy, path, status=404)
    assert pages(recorder) == []


@pytest.mark.parametrize("path", ["/api/party/abc/tasks", "/api/party/1,2/tasks", "/api/kase/-1/tasks"])
async def test_per_parent_bad_id_never_reaches_upstream(proxy, recorder, path):
    await listing_for(proxy, path, status=404)
    assert recorder.calls == []


async def test_json_lists_follow_v1_shapes(proxy):
    many = await (await proxy.get("/api/tasks", headers={**PHILLIP, **JSON})).json()
    assert many["tasks"]["@size"] == "3" and isinstance(many["tasks"]["task"], list)
    one = await (await proxy.get("/api/tasks?limit=1", headers={**PHILLIP, **JSON})).json()
    assert one["tasks"]["@size"] == "1" and one["tasks"]["task"]["id"] == "1"  # bare object, as v1
    none = await (await proxy.get("/api/tasks?status=pending", headers={**PHILLIP, **JSON})).json()
    assert none == {"tasks": {"@size": "0"}}


async def test_json_always_list_switch(make_proxy):
    proxy = await make_proxy(translate={"json_always_list": True})
    one = await (await proxy.get("/api/tasks?limit=1", headers={**PHILLIP, **JSON})).json()
    assert isinstance(one["tasks"]["task"], list) and len(one["tasks"]["task"]) == 1
