"""The task resource: v1 `<task>` fields <-> the v2 `task` object, as small pure rules.

In the style of Stripe's version-change modules and Cadwyn's `VersionChange`: each function
below is one documented difference between v1 and v2, and the two entry points only compose
them. Nothing here does I/O: the caller fetches the owner/category id maps and the user's
zone, and these functions only read what they are given.

Requests go forward (`task_to_v2`: the neutral v1 dict from the codec -> the v2 `task` body),
responses go backward (`task_to_v1`: a v2 task -> the ordered neutral v1 dict the codec
renders). The list, per-parent and complete/reopen helpers sit at the end.

Decisions where the documents are silent:

* A value that is empty or only whitespace is "blank". Blank `detail`/`category` clears the
  field (`null`); blank `description` is an error; blank `owner` is left out on create (v1's
  default: the authenticated user) and an error on update (a v2 task always has an owner).
* A blank due field next to a non-blank one is ignored (serialisers that write every element
  send the unused one empty); only blank due fields are an error: v2 cannot clear `dueOn`.
* `description` and `detail` are sent as written, not trimmed; names to look up are trimmed.
* Owner and category names resolve by exact name first, then by a unique case-insensitive
  match (casefold); several case-insensitive matches is an error asking for the exact name.
* Read-only v1 fields are ignored on write, so GET -> edit -> PUT works; `status` is one of
  them (it changes only through complete/reopen).
* `status=` on lists: comma-separated, any case, blank items ignored, default open only;
  OPEN does not include PENDING.
* `category=`/`user=` list filters compare trimmed and case-insensitively; blank = no filter.
* A v2 `status` is passed to v1 verbatim (including PENDING, which v1 may never have had).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from .dates import (due_date_time_to_v1, due_date_time_to_v2, due_date_to_v1, due_date_to_v2,
                    timestamp_to_v1)
from . import v2_data
from .errors import InvalidField

WRITABLE = ("description", "detail", "category", "dueDate", "dueDateTime", "owner")
READ_ONLY = ("id", "partyId", "partyName", "opportunityId", "opportunityName", "caseId",
             "caseName", "status", "createdOn", "updatedOn", "completedOn")
_KNOWN = frozenset(WRITABLE + READ_ONLY)

# v1 path word for a parent -> (v2 link field, v1 id element that names it in errors).
PARENTS = {"party": ("party", "partyId"), "opportunity": ("opportunity", "opportunityId"),
           "kase": ("kase", "caseId")}
LIST_STATUSES = ("open", "completed", "pending")
_STATUS_CHANGES = {"complete": {"status": "COMPLETED"}, "reopen": {"status": "OPEN"}}


def _text(v1: Mapping[str, str], key: str) -> str:
    # The codec hands over strings; a v1 JSON null is read as empty rather than crashing.
    value = v1.get(key)
    return "" if value is None else str(value)


def _blank(text: str) -> bool:
    return not text.strip()


def _fold(name: str) -> str:
    return name.strip().casefold()


# --- names the caller must resolve to ids ---

def names_to_resolve(v1: Mapping[str, str]) -> dict[str, str]:
    """{"owner": username, "category": name} for the look-ups this request needs (trimmed)."""
    names = {}
    for field in ("owner", "category"):
        if field in v1 and not _blank(_text(v1, field)):
            names[field] = _text(v1, field).strip()
    return names


def needs_zone(v1: Mapping[str, str]) -> bool:
    """Whether translating this document reads the caller's time zone (only a dueDateTime does)."""
    return "dueDateTime" in v1 and not _blank(_text(v1, "dueDateTime"))


def lookups_needed(v1: Mapping[str, str]) -> set[str]:
    """Which id maps ("owner", "category") the caller has to fetch before `task_to_v2`."""
    return set(names_to_resolve(v1))


def _matches(name: str, ids: Mapping[str, int]) -> list[str]:
    wanted = _fold(name)
    return [known for known in ids if _fold(known) == wanted]


def lookup_id(name: str, ids: Mapping[str, int]) -> int | None:
    """The id for `name`: exact match first, then the one case-insensitive match; else None.

    The caller can use a None to refresh a stale cache before translating.
    """
    if name in ids:
        return ids[name]
    found = _matches(name, ids)
    return ids[found[0]] if len(found) == 1 else None


def _resolve(field: str, name: str, ids: Mapping[str, int], what: str, listing: str) -> int:
    found = lookup_id(name, ids)
    if found is not None:
        return found
    several = _matches(name, ids)
    if several:
        raise InvalidField(field, f"{field} {name!r} matches several {what}s that differ only in "
                                  f"case ({', '.join(sorted(several))}); send the exact name")
    raise InvalidField(field, f"unknown {field} {name!r}: no {what} has that name "
                              f"(see GET {listing})")


def resolve_owner(username: str, owner_ids: Mapping[str, int]) -> int:
    """v1 `owner` username -> v2 user id; InvalidField naming the username on a miss."""
    return _resolve("owner", username, owner_ids, "user", "/api/users")


def resolve_category(name: str, category_ids: Mapping[str, int]) -> int:
    """v1 `category` name -> v2 category id; InvalidField naming the category on a miss."""
    return _resolve("category", name, category_ids, "task category", "/api/task/categories")


# --- v1 -> v2, one rule per field ---

def check_fields(v1: Mapping[str, str]) -> None:
    """Every key is a v1 task element; read-only ones are tolerated (and ignored later)."""
    for key in v1:
        if key not in _KNOWN:
            raise InvalidField(key, f"a task has no element <{key}>")


def description_to_v2(v1: Mapping[str, str], creating: bool) -> dict[str, Any]:
    """`description` is required on create and can never be blank; sent as written."""
    if "description" not in v1:
        if creating:
            raise InvalidField("description", "description is required for a new task")
        return {}
    text = _text(v1, "description")
    if _blank(text):
        raise InvalidField("description", f"description cannot be empty, got {text!r}")
    return {"description": text}


def detail_to_v2(v1: Mapping[str, str]) -> dict[str, Any]:
    """`detail` passes through; a blank one clears it (`null`)."""
    if "detail" not in v1:
        return {}
    text = _text(v1, "detail")
    return {"detail": None if _blank(text) else text}


def category_to_v2(v1: Mapping[str, str], category_ids: Mapping[str, int]) -> dict[str, Any]:
    """v1 names the category, v2 links it by id; a blank one clears it (`null`)."""
    if "category" not in v1:
        return {}
    name = _text(v1, "category")
    if _blank(name):
        return {"category": None}
    return {"category": {"id": resolve_category(name.strip(), category_ids)}}


def owner_to_v2(v1: Mapping[str, str], owner_ids: Mapping[str, int], creating: bool) -> dict[str, Any]:
    """v1 names the owner by username, v2 links the user by id.

    Blank on create -> left out, so v2 defaults to the authenticated user as v1 did; blank on
    update -> error, since a v2 task cannot lose its owner.
    """
    if "owner" not in v1:
        return {}
    username = _text(v1, "owner")
    if _blank(username):
        if creating:
            return {}
        raise InvalidField("owner", "owner cannot be empty: a task always has an owner")
    return {"owner": {"id": resolve_owner(username.strip(), owner_ids)}}


def due_to_v2(v1: Mapping[str, str], zone: ZoneInfo, creating: bool) -> dict[str, Any]:
    """`dueDate` -> `dueOn` (clearing any time); `dueDateTime` -> `dueOn` + `dueTime` in `zone`.

    Exactly one of the two must be given on create; both is always an error. `dueTime: null`
    is sent on update only: there a task may have a time to clear, on create it has none.
    """
    given = {f: _text(v1, f) for f in ("dueDate", "dueDateTime") if f in v1}
    filled = {f: text for f, text in given.items() if not _blank(text)}
    if len(filled) == 2:
        raise InvalidField("dueDateTime", "dueDate and dueDateTime were both given; send dueDate "
                                          "for a task without a time of day, dueDateTime for one with")
    if not filled:
        if given:
            field = next(iter(given))
            raise InvalidField(field, f"{field} cannot be empty: a task always has a due date")
        if creating:
            raise InvalidField("dueDate", "a new task needs a dueDate or a dueDateTime")
        return {}
    if "dueDate" in filled:
        body: dict[str, Any] = {"dueOn": due_date_to_v2(filled["dueDate"])}
        if not creating:
            body["dueTime"] = None  # the task may have had a time of day; v1 dueDate means none
        return body
    due_on, due_time = due_date_time_to_v2(filled["dueDateTime"], zone)
    return {"dueOn": due_on, "dueTime": due_time}


def task_to_v2(v1: Mapping[str, str], *, zone: ZoneInfo, owner_ids: Mapping[str, int],
               category_ids: Mapping[str, int], creating: bool) -> dict[str, Any]:
    """The v2 `task` object for a POST (creating=True) or a partial PUT (creating=False).

    On update only the fields present in `v1` are sent, so the result may be `{}`. The link
    to a party/opportunity/kase is not in the body: add `link_for_parent(...)` for creates
    under a parent URL. Raises InvalidField for the first field that cannot be translated.
    """
    check_fields(v1)
    return (description_to_v2(v1, creating) | detail_to_v2(v1)
            | category_to_v2(v1, category_ids) | due_to_v2(v1, zone, creating)
            | owner_to_v2(v1, owner_ids, creating))


# --- v2 -> v1, one rule per field ---

def due_to_v1(v2: Mapping[str, Any], zone: ZoneInfo) -> dict[str, str]:
    """`dueOn` alone -> `dueDate`; `dueOn` + `dueTime` (wall time in `zone`) -> `dueDateTime`.

    v1 never gets both. A v2 task without `dueOn` (older v2 models made it optional) gets neither.
    """
    due_on, due_time = v2_data.text(v2, "dueOn"), v2_data.text(v2, "dueTime")
    if not due_on:
        return {}
    if not due_time:
        return {"dueDate": due_date_to_v1(due_on)}
    return {"dueDateTime": due_date_time_to_v1(due_on, due_time, zone)}


def party_name(party: Mapping[str, Any]) -> str | None:
    """v1 `partyName`: an organisation's `name`; a person's `firstName lastName`.

    A restricted record carries only `name` (e.g. "Private"), which is passed through.
    """
    name = v2_data.text(party, "name")
    joined = f"{v2_data.text(party, 'firstName') or ''} {v2_data.text(party, 'lastName') or ''}".strip()
    if party.get("type") == "person":
        return joined or name
    return name or joined or None


def links_to_v1(v2: Mapping[str, Any]) -> dict[str, str | None]:
    """`party`/`opportunity`/`kase` -> `partyId`/`partyName`, ... `caseId`/`caseName`."""
    party, opportunity, kase = (v2_data.record(v2, "party"), v2_data.record(v2, "opportunity"),
                                v2_data.record(v2, "kase"))
    return {
        "partyId": v2_data.ident(party) if party else None,
        "partyName": party_name(party) if party else None,
        "opportunityId": v2_data.ident(opportunity) if opportunity else None,
        "opportunityName": v2_data.text(opportunity, "name") if opportunity else None,
        "caseId": v2_data.ident(kase) if kase else None,
        "caseName": v2_data.text(kase, "name") if kase else None,
    }


def timestamps_to_v1(v2: Mapping[str, Any]) -> dict[str, str | None]:
    """`createdAt`/`updatedAt`/`completedAt` -> `createdOn`/`updatedOn`/`completedOn` (UTC, Z)."""
    stamps = {}
    for v1_name, v2_name in (("createdOn", "createdAt"), ("updatedOn", "updatedAt"),
                             ("completedOn", "completedAt")):
        value = v2_data.text(v2, v2_name)
        stamps[v1_name] = timestamp_to_v1(value) if value else None
    return stamps


def task_to_v1(v2: Mapping[str, Any], *, zone: ZoneInfo) -> dict[str, str]:
    """A v2 task -> the ordered neutral v1 dict (the order v1 documents); empty values left out.

    v2-only fields (repeat, hasTrack, nextTask, taskDelayRule, daysAfter, completedBy,
    active, ...) have no v1 element and are dropped. A malformed v2 value raises
    UpstreamDataError.
    """
    category, owner = v2_data.record(v2, "category"), v2_data.record(v2, "owner")
    fields = {
        "id": v2_data.ident(v2),
        "description": v2_data.text(v2, "description"),
        "detail": v2_data.text(v2, "detail"),
        "category": v2_data.text(category, "name") if category else None,
        **due_to_v1(v2, zone),
        "owner": v2_data.text(owner, "username") if owner else None,
        **links_to_v1(v2),
        "status": v2_data.text(v2, "status"),
        **timestamps_to_v1(v2),
    }
    return {key: value for key, value in fields.items() if value}


# --- parents, lists, status ---

def _parent(kind: str) -> tuple[str, str]:
    try:
        return PARENTS[kind]
    except KeyError:
        raise ValueError(f"not a task parent: {kind!r} (expected one of {', '.join(PARENTS)})") from None


def parent_id(kind: str, raw: int | str) -> int:
    """A parent id from a v1 path: a plain decimal number (so `1,2` is no v2 batch call).

    At most 19 digits: v2 ids are Longs, and it keeps int() away from absurd strings.
    """
    field = _parent(kind)[1]
    text = str(raw)
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) == 0:
        raise InvalidField(field, f"{field} must be a positive whole number, got {text!r}")
    return int(text)


def link_for_parent(kind: str, raw_id: int | str) -> dict[str, dict[str, int]]:
    """`POST /api/{party|opportunity|kase}/{id}/task` -> the v2 link, e.g. `{"party": {"id": 7}}`."""
    return {_parent(kind)[0]: {"id": parent_id(kind, raw_id)}}


def parent_filter(kind: str, raw_id: int | str) -> Callable[[Mapping[str, Any]], bool]:
    """A test for "this v2 task belongs to that parent" (v2 has no per-parent task list).
    The id is checked once here, not once per task scanned."""
    link_name, wanted = _parent(kind)[0], parent_id(kind, raw_id)

    def belongs(v2_task: Mapping[str, Any]) -> bool:
        link = v2_data.record(v2_task, link_name)
        return bool(link) and link.get("id") == wanted
    return belongs


def parent_matches(v2_task: Mapping[str, Any], kind: str, raw_id: int | str) -> bool:
    """Whether a v2 task belongs to that parent."""
    return parent_filter(kind, raw_id)(v2_task)


def list_status_filter(raw: str | None) -> str:
    """v1 `status=` (OPEN, COMPLETED, PENDING; any case; comma-separated) -> v2 `status=`.

    Absent or blank -> "open", v1's and v2's default. Unknown values are an InvalidField
    naming them. Duplicates are dropped, order kept.
    """
    wanted: list[str] = []
    for item in (raw or "").split(","):
        status = item.strip().lower()
        if not status:
            continue
        if status not in LIST_STATUSES:
            raise InvalidField("status", f"status must be OPEN, COMPLETED or PENDING, got {item.strip()!r}")
        if status not in wanted:
            wanted.append(status)
    return ",".join(wanted) or "open"


def status_change(action: str) -> dict[str, str]:
    """`POST /api/task/{id}/complete` or `/reopen` -> the v2 PUT body's task object."""
    try:
        return dict(_STATUS_CHANGES[action])
    except KeyError:
        raise ValueError(f"not a task status action: {action!r}") from None


def _same_name(wanted: str | None, actual: Any) -> bool:
    return isinstance(actual, str) and _fold(actual) == _fold(wanted or "")


def matches_filters(v2_task: Mapping[str, Any], category: str | None, user: str | None) -> bool:
    """v1 list filters over a v2 task: `category` by name, `user` by owner username.

    Names compare trimmed and case-insensitively; None or blank means no filter.
    """
    if category and not _blank(category):
        if not _same_name(category, (v2_data.record(v2_task, "category") or {}).get("name")):
            return False
    if user and not _blank(user):
        if not _same_name(user, (v2_data.record(v2_task, "owner") or {}).get("username")):
            return False
    return True


def tasks_to_v1(v2_tasks: Iterable[Mapping[str, Any]], *, zone: ZoneInfo) -> list[dict[str, str]]:
    """`task_to_v1` over a list, in order."""
    return [task_to_v1(task, zone=zone) for task in v2_tasks]
