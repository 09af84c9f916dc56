"""Users, site, categories; routing errors and /healthz."""

from __future__ import annotations

import pytest
from yarl import URL

from .helpers import PHILLIP, SOFIA, create_task, links, path_of


def _assert_422(body, resource, fields):
    assert body["message"] == "Validation Failed"
    assert sorted(e["field"] for e in body["errors"]) == sorted(fields), body
    assert all(e["resource"] == resource and e["message"] for e in body["errors"])


async def _created(resp, path_prefix):
    assert resp.status == 201, await resp.text()
    location = URL(resp.headers["Location"])
    assert location.is_absolute()
    body = await resp.json()
    (record,) = body.values()
    assert location.path == f"{path_prefix}/{record['id']}"
    return record


# --- users and site ---

async def test_users(emulator):
    resp = await emulator.get("/api/v2/users", headers=PHILLIP)
    assert resp.status == 200
    users = (await resp.json())["users"]
    assert [(u["id"], u["username"], u["name"], u["timezone"]) for u in users] == [
        (1, "phillip", "Phillip Smith", "America/New_York"),
        (2, "sofia", "Sofia Rossi", "Europe/Rome"),
    ]
    assert all("token" not in u for u in users)


@pytest.mark.parametrize("headers, username", [(PHILLIP, "phillip"), (SOFIA, "sofia")])
async def test_current_user_matches_the_users_list(emulator, headers, username):
    current = (await (await emulator.get("/api/v2/users/current", headers=headers)).json())["user"]
    users = (await (await emulator.get("/api/v2/users", headers=headers)).json())["users"]
    assert current["username"] == username
    assert current in users


async def test_site(emulator):
    resp = await emulator.get("/api/v2/site", headers=PHILLIP)
    assert resp.status == 200
    assert await resp.json() == {"site": {"url": "https://sample.capsulecrm.com", "subdomain": "sample",
                                          "name": "Sample Ltd"}}


async def test_site_comes_from_the_seed(make_emulator):
    client = await make_emulator('[site]\nsubdomain = "acme"\nname = "Acme"\n'
                                 '[[users]]\nusername = "a"\ntoken = "t"\n')
    resp = await client.get("/api/v2/site", headers={"Authorization": "Bearer t"})
    assert (await resp.json())["site"] == {"url": "https://acme.capsulecrm.com", "subdomain": "acme",
                                           "name": "Acme"}


# --- categories ---

async def test_categories_list(emulator):
    resp = await emulator.get("/api/v2/categories", headers=PHILLIP)
    assert resp.status == 200
    assert "Link" not in resp.headers
    assert (await resp.json())["categories"] == [
        {"id": 1, "name": "Call", "colour": "#2196f3"},
        {"id": 2, "name": "Email", "colour": "#4caf50"},
        {"id": 3, "name": "Follow-up", "colour": "#9c27b0"},
        {"id": 4, "name": "Meeting", "colour": "#ff7700"},
    ]


async def test_categories_are_paged_with_links(emulator):
    await emulator.post("/api/v2/categories", headers=PHILLIP, json={"category": {"name": "Lunch"}})
    seen, pages = [], 0
    path = "/api/v2/categories?perPage=2"
    while path:
        resp = await emulator.get(path, headers=PHILLIP)
        assert resp.status == 200
        pages += 1
        seen += [c["id"] for c in (await resp.json())["categories"]]
        rels = links(resp.headers)
        assert ("prev" in rels) == (pages > 1)
        path = path_of(rels["next"]) if "next" in rels else None
        if path:
            assert URL(rels["next"]).query["perPage"] == "2"
    assert pages == 3
    assert seen == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("query", ["perPage=0", "perPage=101", "page=0", "page=x"])
async def test_categories_bad_paging_is_400(emulator, query):
    resp = await emulator.get(f"/api/v2/categories?{query}", headers=PHILLIP)
    assert resp.status == 400


async def test_create_category(emulator):
    resp = await emulator.post("/api/v2/categories", headers=PHILLIP,
                               json={"category": {"name": "Lunch", "colour": "#123abc"}})
    category = await _created(resp, "/api/v2/categories")
    assert category == {"id": 5, "name": "Lunch", "colour": "#123abc"}
    shown = await emulator.get(path_of(resp.headers["Location"]), headers=PHILLIP)
    assert await shown.json() == {"category": category}
    task = await create_task(emulator, category={"id": 5})
    assert task["category"] == category


async def test_create_category_default_colour(emulator):
    resp = await emulator.post("/api/v2/categories", headers=PHILLIP, json={"category": {"name": "Lunch"}})
    assert (await _created(resp, "/api/v2/categories"))["colour"] == "#999999"


@pytest.mark.parametrize("fields, bad", [
    ({"name": "Call"}, ["name"]),
    ({"name": "Call", "colour": "#000000"}, ["name"]),
    ({"name": "Lunch", "colour": "red"}, ["colour"]),
    ({"name": "Lunch", "colour": "#fff"}, ["colour"]),
    ({"name": "Lunch", "colour": "#gggggg"}, ["colour"]),
    ({"name": "Lunch", "colour": "#ffffff\n"}, ["colour"]),
    ({"name": "Lunch", "colour": 5}, ["colour"]),
    ({"name": "Lunch", "colour": None}, ["colour"]),
    ({}, ["name"]),
    ({"name": ""}, ["name"]),
    ({"name": "  "}, ["name"]),
    ({"name": 7, "colour": "red"}, ["name", "colour"]),
])
async def test_invalid_category_is_422(emulator, fields, bad):
    resp = await emulator.post("/api/v2/categories", headers=PHILLIP, json={"category": fields})
    assert resp.status == 422
    _assert_422(await resp.json(), "category", bad)
    listed = (await (await emulator.get("/api/v2/categories", headers=PHILLIP)).json())["categories"]
    assert len(listed) == 4


@pytest.mark.parametrize("raw", [b"nope", b"{}", b'{"category": "Lunch"}', b"[]"])
async def test_malformed_category_body_is_400(emulator, raw):
    resp = await emulator.post("/api/v2/categories", data=raw,
                               headers=PHILLIP | {"Content-Type": "application/json"})
    assert resp.status == 400
    assert set(await resp.json()) == {"message"}


async def test_show_category(emulator):
    resp = await emulator.get("/api/v2/categories/3", headers=PHILLIP)
    assert resp.status == 200
    assert await resp.json() == {"category": {"id": 3, "name": "Follow-up", "colour": "#9c27b0"}}


@pytest.mark.parametrize("ident", ["99", "0", "abc", "99999999999999999999", "%D9%A1"])
async def test_show_missing_category_is_404(emulator, ident):
    resp = await emulator.get(f"/api/v2/categories/{ident}", headers=PHILLIP)
    assert resp.status == 404
    assert set(await resp.json()) == {"message"}


# --- routing errors and health ---

@pytest.mark.parametrize("path", ["/api/v2/nothing", "/api/v2/tasks/1/extra", "/api/v1/tasks",
                                  "/api/v2/tasks/", "/api/v2/users/me", "/api/v2/tracks"])
async def test_unknown_route_is_404(emulator, path):
    resp = await emulator.get(path, headers=PHILLIP)
    assert resp.status == 404
    assert resp.content_type == "application/json"
    assert await resp.json() == {"message": "Could not find resource"}


async def test_unknown_route_outside_the_api_needs_no_auth(emulator):
    resp = await emulator.get("/nothing")
    assert resp.status == 404
    assert await resp.json() == {"message": "Could not find resource"}


@pytest.mark.parametrize("method, path, allowed", [
    ("PATCH", "/api/v2/tasks", "POST"),
    ("DELETE", "/api/v2/tasks", "GET"),
    ("POST", "/api/v2/tasks/1", "PUT"),
    ("PATCH", "/api/v2/tasks/1", "DELETE"),
    ("PUT", "/api/v2/users", "GET"),
    ("POST", "/api/v2/site", "GET"),
    ("DELETE", "/api/v2/categories/1", "GET"),
    ("POST", "/api/v2/parties/1", "PUT"),
    ("PUT", "/api/v2/entries", "POST"),
])
async def test_wrong_method_is_405(emulator, method, path, allowed):
    resp = await emulator.request(method, path, headers=PHILLIP)
    assert resp.status == 405
    assert resp.content_type == "application/json"
    assert await resp.json() == {"message": "Method not allowed"}
    assert allowed in resp.headers["Allow"].split(",")


async def test_healthz_needs_no_auth(emulator):
    resp = await emulator.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}
    assert "X-RateLimit-Limit" not in resp.headers
