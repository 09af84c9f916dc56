"""Malformed v2 data is the upstream's fault: the translation raises UpstreamDataError (→ 502)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from proxy.resources.directory import USER_SHAPE, category_name
from proxy.resources.task import TASK_SHAPE, plan_tasks
from proxy.translate.errors import UpstreamDataError
from proxy.translate.fields import Context, to_v1
from proxy.translate.ids import parse_id

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
        to_v1(TASK_SHAPE, GOOD | change, Context(zone_override=ZoneInfo("UTC")))


@pytest.mark.parametrize("change", [{"id": 0}, {"id": -3}, {"id": 10**18}, {"party": {"id": 0}},
                                    {"owner": {"id": 1, "username": "u"}, "party": {"id": 2**70}}])
def test_ids_from_upstream_are_positive_and_sane(change):
    # Issue 10 §6: an id v2 sends is a positive decimal of at most 18 digits, or the answer is a 502.
    with pytest.raises(UpstreamDataError):
        to_v1(TASK_SHAPE, GOOD | change, Context(zone_override=ZoneInfo("UTC")))


@pytest.mark.parametrize("text, ident", [("1", 1), ("999999999999999999", 10**18 - 1), ("0", None),
                                         ("01", None), ("1,2", None), ("-1", None), ("\uff13", None),
                                         ("9" * 19, None), ("", None), (" 1", None)])
def test_the_one_id_rule(text, ident):
    assert parse_id(text) == ident


def test_the_good_task_translates():
    assert to_v1(TASK_SHAPE, GOOD, Context(zone_override=ZoneInfo("UTC")))["partyName"] == "A B"


@pytest.mark.parametrize("bad", [{"username": 5}, {"party": 3}])
def test_malformed_users(bad):
    with pytest.raises(UpstreamDataError):
        to_v1(USER_SHAPE, bad, Context())


@pytest.mark.parametrize("bad", [{"name": 3}, {"name": ["x"]}])
def test_malformed_categories(bad):
    with pytest.raises(UpstreamDataError):
        category_name(bad)


@pytest.mark.parametrize("task, query, parent", [
    ({"party": "x"}, {}, ("party", 1)),
    ({"category": 1}, {"category": "c"}, None),
    ({"owner": []}, {"user": "u"}, None),
])
def test_list_filters_refuse_malformed_links(task, query, parent):
    ctx = Context(lists={"users": [{"id": 1, "username": "u"}], "categories": [{"id": 1, "name": "c"}]})
    with pytest.raises(UpstreamDataError):
        plan_tasks(query, parent, ctx).keep(task)
