"""Malformed v2 data is the upstream's fault: the translation raises UpstreamDataError (→ 502)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from proxy.translate import tasks, users
from proxy.translate.errors import UpstreamDataError

GOOD = {"id": 5, "description": "d", "dueOn": "2026-01-02", "owner": {"id": 1, "username": "u"},
        "party": {"id": 2, "type": "person", "firstName": "A", "lastName": "B"}, "status": "OPEN"}


@pytest.mark.parametrize("change", [
    {"id": "5"}, {"id": True}, {"description": {"text": "x"}}, {"detail": 3}, {"owner": "u"},
    {"owner": {"username": 7}}, {"party": 7}, {"party": {"id": "2"}}, {"party": {"id": 2, "name": []}},
    {"category": ["x"]}, {"opportunity": {"id": 1, "name": 5}}, {"kase": "k"}, {"dueOn": 20260102},
    {"dueTime": 9}, {"status": 1}, {"createdAt": 0},
])
def test_wrongly_typed_v2_fields_raise_upstream_data_error(change):
    with pytest.raises(UpstreamDataError):
        tasks.task_to_v1(GOOD | change, zone=ZoneInfo("UTC"))


def test_the_good_task_translates():
    assert tasks.task_to_v1(GOOD, zone=ZoneInfo("UTC"))["partyName"] == "A B"


@pytest.mark.parametrize("bad", ["nope", [1], [{"username": 5}], [{"party": 3}]])
def test_malformed_user_lists(bad):
    with pytest.raises(UpstreamDataError):
        users.users_to_v1(bad)


@pytest.mark.parametrize("bad", [{"categories": []}, [None], [{"name": 3}]])
def test_malformed_category_lists(bad):
    with pytest.raises(UpstreamDataError):
        users.category_names(bad)


def test_list_filters_refuse_malformed_links():
    with pytest.raises(UpstreamDataError):
        tasks.parent_matches({"party": "x"}, "party", 1)
    with pytest.raises(UpstreamDataError):
        tasks.matches_filters({"category": 1}, "c", None)
    with pytest.raises(UpstreamDataError):
        tasks.matches_filters({"owner": []}, None, "u")
