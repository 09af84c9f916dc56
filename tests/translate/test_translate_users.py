"""v2 users and categories -> v1 lists, and the owner/category id maps."""

from __future__ import annotations

import json

from proxy.resources.directory import USER_SHAPE, category_name
from proxy.translate.fields import Context, NameIndex, to_v1


def users_to_v1(users, current_user_id=None):
    ctx = Context(caller={"id": current_user_id} if current_user_id is not None else None)
    return [to_v1(USER_SHAPE, user, ctx) for user in users]


def user_to_v1(user):
    return to_v1(USER_SHAPE, user, Context())


def category_names(categories):
    return [name for category in categories if (name := category_name(category))]


def owner_ids(users):
    return NameIndex(users, "username").ids


def category_ids(categories):
    return NameIndex(categories, "name").ids

V2_USERS = [   # the v2 docs' list example, trimmed
    {"id": 1, "locale": "en_GB", "currency": "EUR", "status": "ACTIVE",
     "party": {"id": 1, "type": "person", "firstName": "Scott", "lastName": "Spacey"},
     "username": "scott", "timezone": "Europe/London", "lastLoginAt": "2015-12-11T14:01:15Z",
     "name": "Scott Spacey", "taskReminder": True},
    {"id": 12345682, "locale": "en_GB", "currency": "GBP", "status": "ACTIVE",
     "party": {"id": 448488, "type": "person", "firstName": "John", "lastName": "Spacey"},
     "username": "john", "timezone": "Europe/London", "lastLoginAt": "2015-11-24T16:45:53Z",
     "name": "John Spacey", "taskReminder": False},
]


def test_users_to_v1_in_v1_order_with_logged_in_for_the_caller():
    assert [list(user.items()) for user in users_to_v1(V2_USERS, current_user_id=12345682)] == [
        [("username", "scott"), ("currency", "EUR"), ("name", "Scott Spacey"),
         ("timezone", "Europe/London"), ("partyId", "1")],
        [("username", "john"), ("currency", "GBP"), ("name", "John Spacey"), ("loggedIn", "true"),
         ("timezone", "Europe/London"), ("partyId", "448488")],
    ]


def test_user_without_party_or_caller():
    user = {"id": 3, "username": "x", "name": "X", "timezone": None, "party": None}
    assert user_to_v1(user) == {"username": "x", "name": "X"}


def test_category_names_keep_upstream_order(shared):
    v1 = json.loads((shared / "fixtures/v1-real/mattbeedle--all_categories.json").read_text())
    names = v1["taskCategories"]["taskCategory"]
    v2 = [{"id": 100 - i, "name": name, "colour": "#000000"} for i, name in enumerate(names)]
    assert category_names(v2) == names


def test_id_maps():
    assert owner_ids(V2_USERS) == {"scott": 1, "john": 12345682}
    assert category_ids([{"id": 4, "name": "Call"}, {"id": 2, "name": "Meeting"}]) == {"Call": 4, "Meeting": 2}
