"""GET /api/v2/tasks (filters, paging, Link headers, embed) and GET /api/v2/tasks/{ids}."""

from __future__ import annotations

import pytest
from yarl import URL

from .helpers import PHILLIP, STATUS_SEED, auth, create_task, links, list_ids, path_of, put_task

ANN = auth("tok-ann")


# --- status filter ---

@pytest.mark.parametrize("query, expected", [
    ("", [1, 4]),
    ("?status=open", [1, 4]),
    ("?status=completed", [2]),
    ("?status=pending", [3]),
    ("?status=open,completed", [1, 2, 4]),
    ("?status=completed,open", [1, 2, 4]),
    ("?status=pending,%20open", [1, 3, 4]),
    ("?status=open,completed,pending", [1, 2, 3, 4]),
])
async def test_status_filter(make_emulator, query, expected):
    client = await make_emulator(STATUS_SEED)
    assert await list_ids(client, query, headers=ANN) == expected


async def test_default_list_drops_a_task_once_completed(emulator):
    assert await list_ids(emulator) == [1, 2, 3]
    await put_task(emulator, 2, {"status": "COMPLETED"})
    assert await list_ids(emulator) == [1, 3]
    assert await list_ids(emulator, "?status=completed") == [2]
    await put_task(emulator, 2, {"status": "OPEN"})
    assert await list_ids(emulator) == [1, 2, 3]


@pytest.mark.parametrize("query", ["?status=done", "?status=open,bogus", "?status=all", "?status=OPEN"])
async def test_unknown_status_is_400(emulator, query):
    resp = await emulator.get(f"/api/v2/tasks{query}", headers=PHILLIP)
    assert resp.status == 400
    body = await resp.json()
    assert set(body) == {"message"} and "status" in body["message"]


# --- paging ---

@pytest.mark.parametrize("query, name", [
    ("perPage=0", "perPage"), ("perPage=101", "perPage"), ("perPage=abc", "perPage"),
    ("perPage=-1", "perPage"), ("perPage=1.5", "perPage"), ("perPage=", "perPage"),
    ("perPage=%D9%A3", "perPage"),  # an Arabic-Indic digit is not a number here
    ("page=0", "page"), ("page=abc", "page"), ("page=-2", "page"), ("page=", "page"),
])
async def test_bad_paging_parameters_are_400(emulator, query, name):
    resp = await emulator.get(f"/api/v2/tasks?{query}", headers=PHILLIP)
    assert resp.status == 400
    body = await resp.json()
    assert set(body) == {"message"} and name in body["message"]


@pytest.mark.parametrize("per_page", [1, 100])
async def test_per_page_bounds_are_accepted(emulator, per_page):
    resp = await emulator.get(f"/api/v2/tasks?perPage={per_page}", headers=PHILLIP)
    assert resp.status == 200
    assert len((await resp.json())["tasks"]) == min(per_page, 3)


async def test_per_page_defaults_to_50(emulator):
    for _ in range(52):
        await create_task(emulator)  # 3 seeded + 52 = 55 open tasks
    resp = await emulator.get("/api/v2/tasks", headers=PHILLIP)
    first = (await resp.json())["tasks"]
    assert len(first) == 50
    assert "next" in links(resp.headers)
    resp = await emulator.get(path_of(links(resp.headers)["next"]), headers=PHILLIP)
    assert len((await resp.json())["tasks"]) == 5
    assert "next" not in links(resp.headers)


async def test_list_is_ordered_by_id(emulator):
    for i in range(5):
        await create_task(emulator, description=f"t{i}", dueOn=f"2026-0{9 - i}-01")  # due dates descending
    ids = await list_ids(emulator)
    assert ids == sorted(ids) and len(ids) == 8


async def test_walking_next_links_gives_every_task_exactly_once(emulator):
    for i in range(20):
        await create_task(emulator, description=f"task {i}")
    expected = await list_ids(emulator, "?perPage=100")
    assert len(expected) == 23

    seen: list[int] = []
    sizes = []
    path = "/api/v2/tasks?perPage=5"
    page = 1
    while True:
        resp = await emulator.get(path, headers=PHILLIP)
        assert resp.status == 200
        ids = [task["id"] for task in (await resp.json())["tasks"]]
        sizes.append(len(ids))
        seen.extend(ids)
        rels = links(resp.headers)
        if page == 1:
            assert "prev" not in rels
        else:
            assert URL(rels["prev"]).query["page"] == str(page - 1)
        for url in rels.values():
            assert URL(url).is_absolute() and URL(url).scheme == "http"
            assert URL(url).path == "/api/v2/tasks"
            assert URL(url).query["perPage"] == "5"
        if "next" not in rels:
            break
        assert URL(rels["next"]).query["page"] == str(page + 1)
        path = path_of(rels["next"])
        page += 1
        assert page < 20, "the next links never end"
    assert sizes == [5, 5, 5, 5, 3]
    assert seen == expected  # no overlap, no gap, in id order


async def test_links_keep_the_other_query_parameters(emulator):
    for _ in range(4):
        await create_task(emulator)
    await put_task(emulator, 1, {"status": "COMPLETED"})  # 7 tasks: 6 open, 1 completed
    resp = await emulator.get("/api/v2/tasks?status=open,completed&perPage=3&embed=owner", headers=PHILLIP)
    seen = [task["id"] for task in (await resp.json())["tasks"]]
    next_url = URL(links(resp.headers)["next"])
    assert next_url.query["status"] == "open,completed"
    assert next_url.query["perPage"] == "3"
    assert next_url.query["embed"] == "owner"
    assert next_url.query["page"] == "2"
    while "next" in links(resp.headers):
        resp = await emulator.get(path_of(links(resp.headers)["next"]), headers=PHILLIP)
        seen += [task["id"] for task in (await resp.json())["tasks"]]
    assert seen == await list_ids(emulator, "?status=open,completed")
    assert 1 in seen


async def test_page_two_has_prev_and_last_page_has_no_next(emulator):
    resp = await emulator.get("/api/v2/tasks?perPage=2&page=2", headers=PHILLIP)
    assert [task["id"] for task in (await resp.json())["tasks"]] == [3]
    rels = links(resp.headers)
    assert set(rels) == {"prev"}
    resp = await emulator.get(path_of(rels["prev"]), headers=PHILLIP)
    assert [task["id"] for task in (await resp.json())["tasks"]] == [1, 2]
    assert set(links(resp.headers)) == {"next"}


async def test_single_page_has_no_link_header(emulator):
    resp = await emulator.get("/api/v2/tasks", headers=PHILLIP)
    assert len((await resp.json())["tasks"]) == 3
    assert "Link" not in resp.headers
    resp = await emulator.get("/api/v2/tasks?perPage=3", headers=PHILLIP)
    assert "Link" not in resp.headers


@pytest.mark.parametrize("page", ["4", "99999999999999999999"])
async def test_page_past_the_end_is_empty(emulator, page):
    resp = await emulator.get(f"/api/v2/tasks?perPage=1&page={page}", headers=PHILLIP)
    assert resp.status == 200
    assert (await resp.json())["tasks"] == []
    assert set(links(resp.headers)) == {"prev"}


# --- embed ---

@pytest.mark.parametrize("embed", ["party", "party,owner", "opportunity,kase,nextTask", "owner"])
async def test_supported_embed_is_accepted(emulator, embed):
    plain = await (await emulator.get("/api/v2/tasks", headers=PHILLIP)).json()
    resp = await emulator.get(f"/api/v2/tasks?embed={embed}", headers=PHILLIP)
    assert resp.status == 200
    assert await resp.json() == plain
    resp = await emulator.get(f"/api/v2/tasks/1?embed={embed}", headers=PHILLIP)
    assert resp.status == 200


@pytest.mark.parametrize("path", ["/api/v2/tasks?embed=bogus", "/api/v2/tasks?embed=party,bogus",
                                  "/api/v2/tasks/1?embed=bogus", "/api/v2/tasks/1,2?embed=tags"])
async def test_unsupported_embed_is_400(emulator, path):
    resp = await emulator.get(path, headers=PHILLIP)
    assert resp.status == 400
    body = await resp.json()
    assert set(body) == {"message"} and "embed" in body["message"]


# --- show ---

async def test_show_one_task(emulator):
    resp = await emulator.get("/api/v2/tasks/2", headers=PHILLIP)
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"task"}
    assert body["task"]["id"] == 2
    assert body["task"]["description"] == "Send the CRM System proposal"
    assert body["task"]["detail"] == "Pricing for 25 seats"


@pytest.mark.parametrize("ids, expected", [("1,2", [1, 2]), ("3,1", [3, 1]), ("2,3,1", [2, 3, 1])])
async def test_show_a_batch_in_the_asked_order(emulator, ids, expected):
    resp = await emulator.get(f"/api/v2/tasks/{ids}", headers=PHILLIP)
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"tasks"}
    assert [task["id"] for task in body["tasks"]] == expected


async def test_show_batch_of_ten_but_not_eleven(emulator):
    for _ in range(8):
        await create_task(emulator)  # ids 1..11
    ten = ",".join(str(i) for i in range(1, 11))
    resp = await emulator.get(f"/api/v2/tasks/{ten}", headers=PHILLIP)
    assert resp.status == 200
    assert [task["id"] for task in (await resp.json())["tasks"]] == list(range(1, 11))
    resp = await emulator.get(f"/api/v2/tasks/{ten},11", headers=PHILLIP)
    assert resp.status == 400
    assert set(await resp.json()) == {"message"}


async def test_show_shows_completed_tasks_too(emulator):
    await put_task(emulator, 3, {"status": "COMPLETED"})
    resp = await emulator.get("/api/v2/tasks/3", headers=PHILLIP)
    assert resp.status == 200
    assert (await resp.json())["task"]["status"] == "COMPLETED"


@pytest.mark.parametrize("ids", ["999", "1,999", "999,1", "2,3,4"])
async def test_show_missing_task_is_404(emulator, ids):
    resp = await emulator.get(f"/api/v2/tasks/{ids}", headers=PHILLIP)
    assert resp.status == 404
    body = await resp.json()
    assert set(body) == {"message"} and isinstance(body["message"], str)


@pytest.mark.parametrize("ids", ["abc", "-1", "0", "1.5", "01", "1,", ",1", "1,,2", "1,abc",
                                 "1%0A", "%D9%A1", "99999999999999999999"])
async def test_show_non_numeric_id_is_404(emulator, ids):
    resp = await emulator.get(f"/api/v2/tasks/{ids}", headers=PHILLIP)
    assert resp.status == 404
    assert set(await resp.json()) == {"message"}


async def test_non_ascii_digits_do_not_name_another_task(emulator):
    for _ in range(9):
        await create_task(emulator)  # ids 1..12
    assert (await emulator.get("/api/v2/tasks/12", headers=PHILLIP)).status == 200
    resp = await emulator.get("/api/v2/tasks/1%D9%A2", headers=PHILLIP)  # "1" + ARABIC-INDIC DIGIT TWO
    assert resp.status == 404
