"""Every v1 call of CONTRACT.md's "History, tags, custom fields" table is translated (none answers
501), on each parent kind; the 2010-era per-field custom-field calls still answer 501."""

from __future__ import annotations

import re

import pytest

from proxy.http.router import Match, Miss, Router
from proxy.resources import RESOURCES, UNTRANSLATED

from .conftest import PHILLIP

ROUTER = Router(RESOURCES, UNTRANSLATED)
SECTION = re.compile(r"### History, tags, custom fields.*?\n(\|.*?)(?:\n\n|\Z)", re.S)


def contract_calls(text: str) -> list[tuple[str, str]]:
    """(method, path) for each call of the table: each row's methods on each of its paths, the
    "(also `customfield`)" form included."""
    calls = []
    for row in SECTION.search(text).group(1).splitlines()[2:]:
        cell = row.split("|")[1]
        methods = sorted(set(re.findall(r"`(?:[^`]*\s)?(GET|PUT|POST|DELETE)[\s`]", cell)))
        paths = re.findall(r"(/api/[^`\s]+)", cell)
        if "(also `customfield`)" in cell:
            paths += [path.replace("customfields", "customfield") for path in paths]
        assert methods and paths, row
        calls += [(method, path) for method in methods for path in paths]
    return calls


def concrete(path: str, kind: str) -> str:
    return (path.replace("{kind}", kind).replace("{id}", "1").replace("{hid}", "2").replace("{name}", "VIP"))


def test_no_call_of_the_contract_table_answers_501(shared):
    calls = contract_calls((shared / "CONTRACT.md").read_text(encoding="utf-8"))
    assert len(calls) >= 17, calls
    for method, path in calls:
        for kind in ("party", "opportunity", "kase"):
            found = ROUTER.resolve(method, concrete(path, kind))
            assert isinstance(found, Match), (method, concrete(path, kind), found)


@pytest.mark.parametrize("method, path", [("PUT", "/api/party/1/customfield/5"),
                                          ("DELETE", "/api/kase/1/customfield/5"),
                                          ("GET", "/api/opportuntity/1/customfields")])
async def test_the_per_field_calls_are_still_501(proxy, recorder, method, path):
    found = ROUTER.resolve(method, path)
    assert isinstance(found, Miss) and found.status == 501
    response = await proxy.request(method, path, headers=PHILLIP)
    assert response.status == 501 and recorder.calls == []
