"""The task resource: v1 neutral dict -> v2 body, v2 task -> v1 neutral dict, and the list plan."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from proxy.resources.task import TASK as TASK_FAMILY, TASK_SHAPE, list_status, plan_tasks
from proxy.translate.errors import InvalidField
from proxy.translate.fields import Context, NameIndex, UnknownName, needs, resolve
from proxy.translate.fields import to_v1 as engine_to_v1
from proxy.translate.fields import to_v2 as engine_to_v2

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
OWNERS = {"phillip": 1, "a.user": 2, "Jane.Doe": 3}
CATEGORIES = {"Call": 10, "Meeting": 11, "Follow-up": 12}


def users(ids: dict[str, int]) -> list[dict]:
    return [{"id": ident, "username": name, "timezone": "America/New_York"} for name, ident in ids.items()]


def categories(ids: dict[str, int]) -> list[dict]:
    return [{"id": ident, "name": name} for name, ident in ids.items()]


def to_v2(v1, creating=True, zone=NY, owners=OWNERS, categories_=CATEGORIES):
    ctx = Context(creating=creating, lists={"users": users(owners), "categories": categories(categories_)},
                  zone_override=zone)
    return engine_to_v2(TASK_SHAPE, v1, ctx)


def task_to_v1(v2, zone):
    return engine_to_v1(TASK_SHAPE, v2, Context(zone_override=zone))


def tasks_to_v1(v2_tasks, zone):
    return [task_to_v1(task, zone) for task in v2_tasks]


def resolve_category(name, ids):
    return resolve(Context(lists={"categories": categories(ids)}), "category", name, "categories", "name",
                   "task category", "/api/task/categories")


def resolve_owner(name, ids):
    return resolve(Context(lists={"users": users(ids)}), "owner", name, "users", "username", "user", "/api/users")


def lookup_id(name, ids):
    return NameIndex(categories(ids), "name").find(name)


def invalid(v1, creating=True, **kwargs) -> InvalidField:
    with pytest.raises(InvalidField) as caught:
        to_v2(v1, creating, **kwargs)
    return caught.value


# --- create ---

def test_create_from_the_v1_docs_example():
    v1 = {"description": "Call customer", "dueDateTime": "2010-04-21T15:00:00Z"}
    assert to_v2(v1) == {"description": "Call customer", "dueOn": "2010-04-21", "dueTime": "11:00:00"}


def test_create_with_every_writable_field():
    v1 = {"dueDate": "2012-02-24T00:00:00Z", "category": "Meeting", "description": "Meet with customer",
          "owner": "a.user", "detail": "Meeting at Coffee shop"}
    assert to_v2(v1) == {"description": "Meet with customer", "detail": "Meeting at Coffee shop",
                         "category": {"id": 11}, "dueOn": "2012-02-24", "owner": {"id": 2}}


def test_create_with_due_date_sends_no_due_time():
    assert "dueTime" not in to_v2({"description": "x", "dueDate": "2012-02-24"})


def test_create_from_the_philipbrown_request_fixture(shared):
    body = json.loads((shared / "fixtures/v1-real/philipbrown--post-task-request.json").read_text())
    assert to_v2(body["task"], zone=UTC) == {"description": "Call customer", "dueOn": "2012-04-21",
                                             "dueTime": "15:00:00"}


@pytest.mark.parametrize("v1, field, words", [
    ({"dueDate": "2012-02-24"}, "description", ["description is required"]),
    ({"description": "", "dueDate": "2012-02-24"}, "description", ["cannot be empty"]),
    ({"description": " \n ", "dueDate": "2012-02-24"}, "description", ["cannot be empty"]),
    ({"description": "x"}, "dueDate", ["dueDate or a dueDateTime"]),
    ({"description": "x", "dueDate": "2012-02-24", "dueDateTime": "2012-02-24T15:00:00Z"},
     "dueDateTime", ["both given"]),
    ({"description": "x", "dueDate": ""}, "dueDate", ["cannot be empty"]),
    ({"description": "x", "dueDateTime": " "}, "dueDateTime", ["cannot be empty"]),
])
def test_create_errors(v1, field, words):
    error = invalid(v1)
    assert error.field == field
    assert all(word in error.message for word in words)


def test_a_blank_partner_due_field_is_ignored():
    # Serialisers that write every element send the unused due field empty.
    assert to_v2({"description": "x", "dueDate": "", "dueDateTime": "2012-02-24T15:00:00Z"},
                 zone=UTC) == {"description": "x", "dueOn": "2012-02-24", "dueTime": "15:00:00"}
    assert to_v2({"description": "x", "dueDate": "2012-02-24", "dueDateTime": ""}) == {
        "description": "x", "dueOn": "2012-02-24"}


def test_blank_optional_fields_on_create():
    v1 = {"description": "x", "dueDate": "2012-02-24", "detail": "", "category": "", "owner": ""}
    assert to_v2(v1) == {"description": "x", "detail": None, "category": None, "dueOn": "2012-02-24"}


def test_description_is_sent_as_written():
    assert to_v2({"description": "  Call  ", "dueDate": "2012-02-24"})["description"] == "  Call  "


def test_none_values_from_v1_json_read_as_empty():
    assert to_v2({"description": "x", "dueDate": "2012-02-24", "detail": None})["detail"] is None


# --- update (partial) ---

@pytest.mark.parametrize("v1, body", [
    ({}, {}),
    ({"description": "Update time sheets"}, {"description": "Update time sheets"}),
    ({"description": "Update time sheets", "dueDate": "2010-04-21T00:00:00Z"},   # the v1 docs' PUT
     {"description": "Update time sheets", "dueOn": "2010-04-21", "dueTime": None}),
    ({"dueDateTime": "2010-04-21T15:00:00Z"}, {"dueOn": "2010-04-21", "dueTime": "11:00:00"}),
    ({"detail": ""}, {"detail": None}),
    ({"detail": "more"}, {"detail": "more"}),
    ({"category": ""}, {"category": None}),
    ({"category": "call"}, {"category": {"id": 10}}),
    ({"owner": "phillip"}, {"owner": {"id": 1}}),
])
def test_update_sends_only_what_is_present(v1, body):
    assert to_v2(v1, creating=False) == body


@pytest.mark.parametrize("v1, field", [
    ({"description": ""}, "description"),
    ({"owner": ""}, "owner"),
    ({"dueDate": ""}, "dueDate"),
    ({"dueDateTime": ""}, "dueDateTime"),
    ({"dueDate": "2010-04-21", "dueDateTime": "2010-04-21T15:00:00Z"}, "dueDateTime"),
])
def test_update_errors(v1, field):
    assert invalid(v1, creating=False).field == field


def test_read_only_fields_are_ignored_so_get_edit_put_works(shared):
    fixture = json.loads((shared / "fixtures/v1-real/philipbrown--get-task.json").read_text())["task"]
    fixture = fixture | {"caseId": "3", "caseName": "c", "opportunityId": "5", "opportunityName": "o",
                         "createdOn": "2015-11-30T10:15:10Z", "updatedOn": "2015-11-30T10:29:14Z",
                         "completedOn": "2015-11-30T10:29:14Z"}
    assert to_v2(fixture, creating=False) == {
        "description": "Meet with customer", "detail": "Meeting at Coffee shop",
        "category": {"id": 11}, "dueOn": "2012-02-24", "dueTime": None, "owner": {"id": 2}}


# --- owner and category look-ups ---

@pytest.mark.parametrize("name, expected", [
    ("phillip", 1), ("Phillip", 1), ("PHILLIP", 1), (" phillip ", 1), ("jane.doe", 3), ("Jane.Doe", 3),
])
def test_owner_lookup(name, expected):
    assert to_v2({"owner": name}, creating=False) == {"owner": {"id": expected}}


def test_unknown_owner_names_the_username():
    error = invalid({"owner": "bob"}, creating=False)
    assert error.field == "owner"
    assert "'bob'" in error.message and "/api/users" in error.message


@pytest.mark.parametrize("name, expected", [
    ("Meeting", 11), ("meeting", 11), ("MEETING", 11), ("follow-up", 12), ("\n Call\n", 10),
])
def test_category_lookup(name, expected):
    assert to_v2({"category": name}, creating=False) == {"category": {"id": expected}}


def test_unknown_category_names_the_value():
    error = invalid({"category": "Lunch"}, creating=False)
    assert error.field == "category"
    assert "'Lunch'" in error.message and "/api/task/categories" in error.message


def test_exact_name_wins_over_case_variants():
    categories = {"call": 1, "Call": 2, "CALL": 3}
    assert resolve_category("Call", categories) == 2
    assert resolve_category("call", categories) == 1


def test_several_case_insensitive_matches_are_ambiguous():
    with pytest.raises(InvalidField) as caught:
        resolve_category("cAll", {"Call": 2, "CALL": 3})
    assert caught.value.field == "category"
    assert "several" in caught.value.message and "CALL, Call" in caught.value.message
    assert lookup_id("cAll", {"Call": 2, "CALL": 3}) is None
    with pytest.raises(UnknownName) as unknown:
        resolve_category("Lunch", {"Call": 2})
    assert unknown.value.lookup == "categories"       # the HTTP layer reads that list once more


def test_casefold_matching():
    assert resolve_owner("STRASSE", {"straße": 9}) == 9


def test_the_look_ups_a_document_needs():
    create, update = Context(creating=True), Context()
    v1 = {"description": "x", "owner": " Phillip ", "category": "", "dueDate": "2012-02-24"}
    assert needs(TASK_SHAPE, v1, create) == {"users"}          # a blank category needs no look-up
    assert needs(TASK_SHAPE, {"category": "Call", "owner": "a"}, update) == {"users", "categories"}
    assert needs(TASK_SHAPE, {"description": "x", "dueDate": "2012-02-24"}, create) == set()  # P1
    assert needs(TASK_SHAPE, {"description": "x", "dueDateTime": "2012-02-24T10:00:00Z"}, create) == {"caller"}
    assert lookup_id("Meeting", CATEGORIES) == 11 and lookup_id("bob", CATEGORIES) is None


# --- v2 -> v1 ---

V2_DOCS_TASK = {   # the v2 docs' show example
    "id": 493, "category": {"id": 47, "name": "Billing", "colour": "#d36c00"},
    "description": "Send quarterly invoice", "status": "OPEN",
    "party": {"id": 448322, "type": "organisation", "name": "ABC Furniture",
              "pictureURL": "https://capsulecrm.com/theme/default/images/org_avatar_70.png"},
    "owner": {"id": 1, "username": "owner", "name": "Rupert Ada"},
    "createdAt": "2015-10-26T14:37:52Z", "updatedAt": "2015-10-26T14:37:52Z", "dueOn": "2015-10-01",
    "hasTrack": False, "repeat": {"interval": 3, "frequency": "MONTHLY", "on": "1"},
}


def test_v2_docs_example_to_v1():
    v1 = task_to_v1(V2_DOCS_TASK, zone=NY)
    assert list(v1.items()) == [
        ("id", "493"), ("description", "Send quarterly invoice"), ("category", "Billing"),
        ("dueDate", "2015-10-01T00:00:00Z"), ("owner", "owner"), ("partyId", "448322"),
        ("partyName", "ABC Furniture"), ("status", "OPEN"), ("createdOn", "2015-10-26T14:37:52Z"),
        ("updatedOn", "2015-10-26T14:37:52Z")]


def test_v2_created_fixture_to_v1(shared):
    v2 = json.loads((shared / "fixtures/v2-real/amplabs--task-created.json").read_text())["task"]
    assert list(task_to_v1(v2, zone=NY).items()) == [
        ("id", "147248893"), ("description", "Brand new task from postman"),
        ("dueDate", "2025-05-20T00:00:00Z"), ("owner", "integration.test"), ("status", "OPEN"),
        ("createdOn", "2025-04-24T21:00:49Z"), ("updatedOn", "2025-04-24T21:00:49Z")]


def test_v1_fixture_field_order_is_ours(shared):
    """philipbrown's get-task fixture lists its fields in the order task_to_v1 writes them."""
    expected = json.loads((shared / "fixtures/v1-real/philipbrown--get-task.json").read_text())["task"]
    v2 = {"id": 100, "description": "Meet with customer", "detail": "Meeting at Coffee shop",
          "category": {"id": 11, "name": "Meeting", "colour": "#fff"}, "dueOn": "2012-02-24",
          "dueTime": None, "owner": {"id": 2, "username": "a.user", "name": "A User"},
          "party": {"id": 1, "type": "person", "firstName": "Eric", "lastName": "Jones"},
          "opportunity": None, "kase": None, "status": "OPEN"}
    assert list(task_to_v1(v2, zone=NY).items()) == list(expected.items())


def test_v1_list_fixture_from_v2(shared):
    """mattbeedle's all_tasks: party, opportunity, kase and unlinked tasks."""
    expected = json.loads((shared / "fixtures/v1-real/mattbeedle--all_tasks.json").read_text())["tasks"]["task"]
    common = {"dueOn": "2012-02-24", "category": {"id": 11, "name": "Meeting"},
              "owner": {"id": 2, "username": "a.user"}}
    v2 = [
        common | {"id": 100, "description": "Meet with customer", "detail": "Meeting at Coffee shop",
                  "party": {"id": 1, "type": "person", "firstName": "Eric", "lastName": "Jones"}},
        common | {"id": 101, "description": "Waste some time",
                  "detail": "Writing an open source gem instead of working",
                  "opportunity": {"id": 5, "name": "meeting"}},
        common | {"id": 102, "description": "Innovation time", "detail": "Go and get drunk",
                  "kase": {"id": 3, "name": "I can't think of a good name"}},
        common | {"id": 103, "description": "An orphan task", "detail": "Do something interesting"},
    ]
    assert tasks_to_v1(v2, zone=NY) == expected   # dict equality: same fields, any order


def test_due_time_becomes_due_date_time_in_the_zone():
    v2 = {"id": 530, "description": "Email product details", "dueOn": "2014-05-20", "dueTime": "18:00:00"}
    assert task_to_v1(v2, zone=NY)["dueDateTime"] == "2014-05-20T22:00:00Z"
    assert task_to_v1(v2, zone=ZoneInfo("Australia/Sydney"))["dueDateTime"] == "2014-05-20T08:00:00Z"
    assert "dueDate" not in task_to_v1(v2, zone=NY)


def test_no_due_on_gives_no_due_field():
    assert task_to_v1({"id": 1, "description": "x", "dueTime": "10:00:00"}, zone=NY) == {
        "id": "1", "description": "x"}


@pytest.mark.parametrize("party, name", [
    ({"id": 11587, "type": "person", "firstName": "Scott", "lastName": "Spacey"}, "Scott Spacey"),
    ({"id": 1, "type": "person", "firstName": "Cher", "lastName": None}, "Cher"),
    ({"id": 1, "type": "person", "firstName": None, "lastName": "Smith"}, "Smith"),
    ({"id": 1, "type": "organisation", "name": "ABC Furniture"}, "ABC Furniture"),
    ({"id": 5, "name": "Private", "isRestricted": True}, "Private"),
    ({"id": 5, "type": "person", "name": "Private", "isRestricted": True}, "Private"),
])
def test_party_names(party, name):
    v1 = task_to_v1({"id": 9, "party": party}, zone=NY)
    assert v1 == {"id": "9", "partyId": str(party["id"]), "partyName": name}


@pytest.mark.parametrize("link, expected", [
    ({"opportunity": {"id": 2, "name": "CRM System"}}, {"opportunityId": "2", "opportunityName": "CRM System"}),
    ({"kase": {"id": 3, "name": "Invoicing"}}, {"caseId": "3", "caseName": "Invoicing"}),
    ({"opportunity": {"id": 6, "name": "Private", "isRestricted": True}},
     {"opportunityId": "6", "opportunityName": "Private"}),
    ({"kase": {"id": 7, "name": "Private", "isRestricted": True}}, {"caseId": "7", "caseName": "Private"}),
    ({"party": None, "opportunity": None, "kase": None}, {}),
])
def test_other_links(link, expected):
    assert task_to_v1({"id": 9} | link, zone=NY) == {"id": "9"} | expected


def test_completed_task_and_dropped_v2_only_fields():
    v2 = {"id": 1, "description": "x", "detail": "", "status": "COMPLETED", "dueOn": "2015-10-01",
          "createdAt": "2015-10-26T14:37:52.5Z", "updatedAt": "2015-10-27T10:00:00+00:00",
          "completedAt": "2015-10-27T10:00:00Z", "completedBy": "phillip", "hasTrack": True,
          "nextTask": {"id": 2, "description": "y"}, "taskDelayRule": "LAST_TASK", "daysAfter": 3,
          "active": False, "repeat": None, "category": None, "owner": None}
    assert list(task_to_v1(v2, zone=NY).items()) == [
        ("id", "1"), ("description", "x"), ("dueDate", "2015-10-01T00:00:00Z"), ("status", "COMPLETED"),
        ("createdOn", "2015-10-26T14:37:52Z"), ("updatedOn", "2015-10-27T10:00:00Z"),
        ("completedOn", "2015-10-27T10:00:00Z")]


def test_open_task_has_no_completed_on():
    assert "completedOn" not in task_to_v1({"id": 1, "status": "OPEN", "completedAt": None}, zone=NY)


# --- parents: v2 has no per-parent task list, so the plan keeps the parent's tasks ---

def keep(query=None, parent=None, owners=OWNERS, categories_=CATEGORIES):
    ctx = Context(lists={"users": users(owners), "categories": categories(categories_)})
    return plan_tasks(query or {}, parent, ctx).keep


def test_parent_plan():
    task = {"id": 1, "party": {"id": 7, "type": "person"}, "opportunity": None}
    assert keep(parent=("party", 7))(task)
    assert not keep(parent=("party", 8))(task)
    assert not keep(parent=("opportunity", 7))(task)
    assert not keep(parent=("kase", 7))(task)
    assert keep() is None                                   # nothing to filter: the window is paged


# --- lists and status ---

@pytest.mark.parametrize("raw, v2", [
    (None, "open"), ("", "open"), ("OPEN", "open"), ("open", "open"), ("Completed", "completed"),
    ("PENDING", "pending"), ("OPEN,COMPLETED", "open,completed"), ("open, pending", "open,pending"),
    ("OPEN,open", "open"), ("open,,completed,", "open,completed"), (",", "open"),
])
def test_list_status_filter(raw, v2):
    assert list_status(raw) == v2
    assert plan_tasks({"status": raw} if raw is not None else {}, None, Context()).params == {"status": v2}


@pytest.mark.parametrize("raw, bad", [("closed", "'closed'"), ("OPEN,done", "'done'"), ("ALL", "'ALL'")])
def test_unknown_list_status(raw, bad):
    with pytest.raises(InvalidField) as caught:
        list_status(raw)
    assert caught.value.field == "status" and bad in caught.value.message


def test_complete_and_reopen_are_declared_actions():
    actions = {route.path: route.options["body"] for route in TASK_FAMILY.routes if route.op == "action"}
    assert actions == {"/api/task/{id}/complete": {"status": "COMPLETED"},
                       "/api/task/{id}/reopen": {"status": "OPEN"}}


TASK = {"id": 1, "category": {"id": 11, "name": "Meeting"}, "owner": {"id": 1, "username": "phillip"}}


@pytest.mark.parametrize("task, category, user, expected", [
    (TASK, None, None, True),
    (TASK, "", "", True),
    (TASK, "Meeting", None, True),
    (TASK, "meeting", None, True),
    (TASK, "Call", None, False),
    (TASK, None, "phillip", True),
    (TASK, None, "PHILLIP", True),
    (TASK, None, "a.user", False),
    (TASK, "Meeting", "phillip", True),
    (TASK, "Meeting", "a.user", False),
    ({"id": 2, "category": None, "owner": None}, "Meeting", None, False),
    ({"id": 2, "category": None, "owner": None}, None, "phillip", False),
    ({"id": 2}, None, None, True),
])
def test_matches_filters(task, category, user, expected):
    query = {key: value for key, value in (("category", category), ("user", user)) if value is not None}
    kept = keep(query)
    assert (kept is None or kept(task)) is expected


@pytest.mark.parametrize("query", [{"user": "nobody"}, {"category": "Lunch"}, {"user": "Mixed.Case"}])
def test_an_unknown_name_matches_nothing_without_a_scan(query):
    with pytest.raises(UnknownName):
        keep(query, owners=OWNERS | {"mixed.case": 4, "MIXED.CASE": 5})


def test_filters_resolve_names_as_writes_do():
    owners = OWNERS | {"Mixed.Case": 4, "mixed.case": 5}
    mine = {"id": 1, "owner": {"id": 4, "username": "Mixed.Case"}}
    theirs = {"id": 2, "owner": {"id": 5, "username": "mixed.case"}}
    assert keep({"user": "Mixed.Case"}, owners=owners)(mine)
    assert not keep({"user": "Mixed.Case"}, owners=owners)(theirs)   # exact name first (T4)
