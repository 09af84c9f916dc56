"""Small helpers shared by the emulator tests: auth headers, task calls, Link parsing, 422 checks."""

from __future__ import annotations

import re
from typing import Any, Iterable

from aiohttp.test_utils import TestClient
from yarl import URL


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


PHILLIP = auth("tok-phillip")  # demo seed user 1, America/New_York
SOFIA = auth("tok-sofia")  # demo seed user 2, Europe/Rome
DUE = "2026-12-24"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# A tiny account with a 3-requests-per-hour limit and two users.
LIMITED_SEED = """
[limits]
requests_per_hour = 3

[[users]]
username = "ann"
token = "tok-ann"

[[users]]
username = "bob"
token = "tok-bob"
"""

# One task per status (and a second OPEN one), for the list filters.
STATUS_SEED = """
[[users]]
id = 1
username = "ann"
token = "tok-ann"

[[tasks]]
id = 1
description = "open one"
dueOn = 2026-01-01

[[tasks]]
id = 2
description = "completed one"
dueOn = 2026-01-02
status = "COMPLETED"

[[tasks]]
id = 3
description = "pending one"
dueOn = 2026-01-03
status = "PENDING"

[[tasks]]
id = 4
description = "open two"
dueOn = 2026-01-04
"""


async def create_task(client: TestClient, headers: dict[str, str] = PHILLIP, **fields: Any) -> dict[str, Any]:
    """POST a task (description and dueOn filled in unless given) and return the created task."""
    body = {"description": "a task", "dueOn": DUE} | fields
    resp = await client.post("/api/v2/tasks", json={"task": body}, headers=headers)
    assert resp.status == 201, await resp.text()
    return (await resp.json())["task"]


async def get_task(client: TestClient, task_id: int, headers: dict[str, str] = PHILLIP) -> dict[str, Any]:
    resp = await client.get(f"/api/v2/tasks/{task_id}", headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["task"]


async def put_task(client: TestClient, task_id: int, fields: dict[str, Any],
                   headers: dict[str, str] = PHILLIP, status: int = 200) -> dict[str, Any]:
    resp = await client.put(f"/api/v2/tasks/{task_id}", json={"task": fields}, headers=headers)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def list_tasks(client: TestClient, query: str = "", headers: dict[str, str] = PHILLIP
                     ) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/v2/tasks{query}", headers=headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["tasks"]


async def list_ids(client: TestClient, query: str = "", headers: dict[str, str] = PHILLIP) -> list[int]:
    return [task["id"] for task in await list_tasks(client, query, headers)]


_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]*)"')


def links(headers: Any) -> dict[str, str]:
    """rel -> URL from an RFC 5988 Link header (URLs may hold commas, so no naive split)."""
    return {rel: url for url, rel in _LINK.findall(headers.get("Link", ""))}


def path_of(url: str) -> str:
    """The path and query of an absolute URL, for following it with the test client."""
    parsed = URL(url)
    assert parsed.is_absolute(), url
    return str(parsed.relative())


def assert_validation(body: dict[str, Any], fields: Iterable[str]) -> None:
    """A v2 422 body naming exactly these task fields."""
    assert body["message"] == "Validation Failed"
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"message", "resource", "field"}, error
        assert error["resource"] == "task"
        assert isinstance(error["message"], str) and error["message"]
    assert sorted(error["field"] for error in body["errors"]) == sorted(fields), body


async def call(client: TestClient, method: str, path: str, body: Any = None, status: int = 200,
               headers: dict[str, str] = PHILLIP) -> Any:
    """One request; asserts the status and returns the JSON body (None for an empty one)."""
    resp = await client.request(method, path, json=body, headers=headers)
    text = await resp.text()
    assert resp.status == status, f"{method} {path}: {resp.status} {text}"
    return await resp.json() if text else None


async def post_created(client: TestClient, path: str, key: str, fields: dict[str, Any],
                       headers: dict[str, str] = PHILLIP) -> dict[str, Any]:
    """POST `{key: fields}`; checks the 201, the Location and that showing it gives the same record."""
    resp = await client.post(path, json={key: fields}, headers=headers)
    assert resp.status == 201, await resp.text()
    record = (await resp.json())[key]
    location = URL(resp.headers["Location"])
    assert location.is_absolute() and location.path == f"{path}/{record['id']}" and not location.query_string
    return record


def assert_422(body: dict[str, Any], resource: str, fields: Iterable[str]) -> None:
    """A v2 422 body naming exactly these fields of this resource."""
    assert body["message"] == "Validation Failed", body
    for error in body["errors"]:
        assert set(error) == {"message", "resource", "field"}, error
        assert error["resource"] == resource and error["message"], error
    assert sorted(error["field"] for error in body["errors"]) == sorted(fields), body


async def ids_of(client: TestClient, path: str, key: str, body: Any = None, headers: dict[str, str] = PHILLIP
                 ) -> list[int]:
    """The ids of every record a list (or a POSTed filter) gives, following the Link headers."""
    found: list[int] = []
    method = "GET" if body is None else "POST"
    while path:
        resp = await client.request(method, path, json=body, headers=headers)
        assert resp.status == 200, await resp.text()
        found += [record["id"] for record in (await resp.json())[key]]
        rels = links(resp.headers)
        path = path_of(rels["next"]) if "next" in rels else ""
    return found
