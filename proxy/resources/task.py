"""The task family: v1 ``<task>`` <-> v2 ``task`` (decisions T1-T6).

Every element is a row. Two rules a row cannot say are written by hand below: the due-date
pair (``dueDate``/``dueDateTime`` <-> ``dueOn`` + ``dueTime`` in the owner's zone, T1, T2, P1)
and ``partyName`` (a person's first and last name, or an organisation's name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from ..translate import v2_data
from ..translate.dates import (due_date_time_to_v1, due_date_time_to_v2, due_date_to_v1, due_date_to_v2,
                               instant_to_local, is_transition_day, local_to_instant, parse_due_on,
                               parse_due_time, parse_instant, reads_back, zone_for)
from ..translate.errors import InvalidField
from ..translate.fields import (Context, Field, Rule, Shape, UnknownName, blank, by_name_in, ident,
                                nested, nested_id, nested_text, stamp, text, text_in)
from .base import PARENT_PATTERN, PARENTS, ListPlan, Resource, V2, route

_UTC = ZoneInfo("UTC")
LIST_STATUSES = ("open", "completed", "pending")


# --- the owner's zone (P1): one task, one instant, whoever reads it ----------------------------

def _zone_of_user(ctx: Context, user_id: int | None) -> ZoneInfo | None:
    if user_id is None:
        return None
    user = ctx.index("users", "username").records.get(user_id)
    return zone_for(v2_data.text(user, "timezone")) if user is not None else None


def _caller_zone(ctx: Context) -> ZoneInfo:
    return zone_for(v2_data.text(ctx.caller, "timezone")) if ctx.caller else _UTC


def _owner_id(v2_task: Mapping[str, Any] | None) -> int | None:
    owner = v2_data.record(v2_task, "owner") if v2_task else None
    return v2_data.id_number(owner) if owner else None


def _read_zone(v2_task: Mapping[str, Any], ctx: Context) -> ZoneInfo:
    if ctx.zone_override is not None:
        return ctx.zone_override
    zone = _zone_of_user(ctx, _owner_id(v2_task))
    if zone is None:
        ctx.warnings.append("the task's owner is not among the account's users; its due time is "
                            "read in UTC")
        return _UTC
    return zone


def _new_owner_id(v1: Mapping[str, Any], ctx: Context) -> int | None:
    """The owner the document names (resolved as the owner row resolves it), if any."""
    name = v1.get("owner")
    if not isinstance(name, str) or blank(name):
        return None
    return ctx.index("users", "username").find(name.strip())


def _write_zone(v1: Mapping[str, Any], ctx: Context) -> ZoneInfo:
    """The owner named in the document, else the task's current owner, else the caller."""
    if ctx.zone_override is not None:
        return ctx.zone_override
    for owner in (_new_owner_id(v1, ctx), _owner_id(ctx.current)):
        zone = _zone_of_user(ctx, owner)
        if zone is not None:
            return zone
    single = None if ctx.creating else _single_zone(ctx)
    return single if single is not None else _caller_zone(ctx)


def _single_zone(ctx: Context) -> ZoneInfo | None:
    """The zone every user of the account shares, when they all share one."""
    zones = {v2_data.text(user, "timezone") for user in ctx.index("users", "username").records.values()}
    return zone_for(zones.pop()) if len(zones) == 1 else None


def _due_instant(v2_task: Mapping[str, Any], zone: ZoneInfo) -> Any:
    due_on, due_time = v2_data.text(v2_task, "dueOn"), v2_data.text(v2_task, "dueTime")
    if not (due_on and due_time):
        return None
    return local_to_instant(parse_due_on(due_on), parse_due_time(due_time), zone)


# --- the due-date pair ------------------------------------------------------------------------

def read_due(v2: Mapping[str, Any], ctx: Context) -> dict[str, str]:
    """`dueOn` alone -> `dueDate`; `dueOn` + `dueTime` (the owner's wall time) -> `dueDateTime`."""
    due_on, due_time = v2_data.text(v2, "dueOn"), v2_data.text(v2, "dueTime")
    if not due_on:
        return {}
    if not due_time:
        return {"dueDate": due_date_to_v1(due_on)}
    return {"dueDateTime": due_date_time_to_v1(due_on, due_time, _read_zone(v2, ctx))}


def _due_read_lookups(v2: Mapping[str, Any]) -> tuple[str, ...]:
    return ("zones",) if v2.get("dueTime") else ()


def _due_needs(v1: Mapping[str, Any], ctx: Context) -> set[str]:
    """Look-ups for the due rule, asked again once the first ones are in (the HTTP layer loops
    until nothing new is asked). Date-only documents need none (P1); a time of day needs the
    owner's zone; the stored task is fetched only where it decides the answer."""
    time_given = isinstance(v1.get("dueDateTime"), str) and not blank(v1["dueDateTime"])
    owner_named = isinstance(v1.get("owner"), str) and not blank(v1["owner"])
    if ctx.creating:
        if not time_given or ctx.zone_override is not None:
            return set()
        return {"users"} if owner_named else {"caller"}
    if not time_given and (not owner_named or _date_given(v1)):
        return set()                          # no wall time to convert, or to move with its owner
    if ctx.zone_override is None and "users" not in ctx.lists:
        return {"users"}
    if ctx.current is not None:
        return set()
    single = ctx.zone_override or _single_zone(ctx)
    if time_given:
        # The stored wall time may be a DST gap's, read back as another: only the stored task
        # tells whether a PUT of what GET returned changes anything (T2). Without an owner in
        # the document, the owner's zone is the stored task's too, unless all users share one.
        zone = (single or _zone_of_user(ctx, _new_owner_id(v1, ctx))) if owner_named else single
        if zone is None or _near_transition(v1["dueDateTime"], zone):
            return {"current"}
    elif single is None:
        return {"current"}                    # the wall time moves with the owner's zone (P1)
    return set()


def _date_given(v1: Mapping[str, Any]) -> bool:
    return isinstance(v1.get("dueDate"), str) and not blank(v1["dueDate"])


def _near_transition(text_: str, zone: ZoneInfo) -> bool:
    try:
        instant = parse_instant(text_)
    except InvalidField:
        return False                          # the rule itself will say what is wrong
    return is_transition_day(instant, zone)


def write_due(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """`dueDate` -> `dueOn` (clearing any time); `dueDateTime` -> `dueOn` + `dueTime` in the
    owner's zone (T1). With neither, an owner change keeps the instant (P1)."""
    given = {f: v1[f] for f in ("dueDate", "dueDateTime") if isinstance(v1.get(f), str)}
    filled = {f: value for f, value in given.items() if not blank(value)}
    if len(filled) == 2:
        raise InvalidField("dueDateTime", "dueDate and dueDateTime were both given; send dueDate "
                                          "for a task without a time of day, dueDateTime for one with")
    if not filled:
        if given:
            field = next(iter(given))
            raise InvalidField(field, f"{field} cannot be empty: a task always has a due date, and "
                                      "Capsule cannot clear one (send a new date instead)")
        if ctx.creating:
            raise InvalidField("dueDate", "a new task needs a dueDate or a dueDateTime")
        return _keep_instant_for_new_owner(v1, ctx)
    if "dueDate" in filled:
        body: dict[str, Any] = {"dueOn": due_date_to_v2(filled["dueDate"])}
        if not ctx.creating:
            body["dueTime"] = None  # the task may have had a time of day; v1 dueDate means none
        return body
    text_ = filled["dueDateTime"]
    instant = parse_instant(text_)
    zone = _write_zone(v1, ctx)
    if ctx.current is not None and not ctx.creating:
        stored_zone = ctx.zone_override or _zone_of_user(ctx, _owner_id(ctx.current)) or zone
        if stored_zone == zone and _due_instant(ctx.current, stored_zone) == instant:
            return {}                         # what GET answered: the stored wall time stays
    due_on, due_time = due_date_time_to_v2(text_, zone)
    if instant.second:
        ctx.warnings.append(f"dueDateTime {text_.strip()!r}: Capsule keeps due times to the minute; "
                            "the seconds are dropped")
    if not reads_back(instant, zone):
        ctx.warnings.append(f"dueDateTime {text_.strip()!r} falls in the second pass of a repeated hour "
                            f"in {zone.key}; Capsule keeps wall time only, so it reads back "
                            "one daylight-saving step earlier")
    return {"dueOn": due_on, "dueTime": due_time}


def _keep_instant_for_new_owner(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    if ctx.current is None or ctx.zone_override is not None:
        return {}
    new_zone = _zone_of_user(ctx, _new_owner_id(v1, ctx))
    old_zone = _zone_of_user(ctx, _owner_id(ctx.current))
    instant = _due_instant(ctx.current, old_zone) if old_zone else None
    if instant is None or new_zone is None or new_zone == old_zone:
        return {}
    due_on, due_time = instant_to_local(instant, new_zone)
    return {"dueOn": due_on, "dueTime": due_time}


# --- partyName ----------------------------------------------------------------------------------

def party_name(party: Mapping[str, Any]) -> str | None:
    """A person's `firstName lastName`; anything else its `name` (a restricted record stays
    "Private"); T5."""
    name = v2_data.text(party, "name")
    joined = f"{v2_data.text(party, 'firstName') or ''} {v2_data.text(party, 'lastName') or ''}".strip()
    if party.get("type") == "person":
        return joined or name
    return name or joined or None


#: `partyName` as every family reads it.
read_party_name = nested("party", party_name)


def _links() -> tuple[Field, ...]:
    rows = []
    for parent in PARENTS.values():
        name_read = (nested_text(parent.link, "name") if parent.word != "party"
                     else read_party_name)
        rows += [Field(parent.id_element, read=nested_id(parent.link), source=f"{parent.link}.id"),
                 Field(parent.id_element.replace("Id", "Name"), read=name_read,
                       source=f"{parent.link}.name" if parent.word != "party"
                       else "party: firstName lastName, or name")]
    return tuple(rows)


TASK_SHAPE = Shape("task", (
    Field("id", read=ident(), source="id"),
    Field("description", read=text("description"), write=text_in("description", blank_is="error"),
          required=True, source="description", note="sent as written; never empty"),
    Field("detail", read=text("detail"), write=text_in("detail"), source="detail",
          note="blank clears it"),
    Field("category", read=nested_text("category", "name"),
          write=by_name_in("category", lookup="categories", name_key="name", what="task category",
                           listing="/api/task/categories"),
          lookups=frozenset({"categories"}), source="category.name (written as category.id)",
          note="by name; blank clears it"),
    Rule(("dueDate", "dueDateTime"), read=read_due, write=write_due, needs_fn=_due_needs,
         read_lookups=_due_read_lookups, always=True,
         source="dueOn, dueTime (the owner's wall time)",
         note="dueDate: the day as written; dueDateTime: the instant, in the owner's time zone"),
    Field("owner", read=nested_text("owner", "username"),
          write=by_name_in("owner", lookup="users", name_key="username", what="user",
                           listing="/api/users", blank_is="omit", why="a task always has an owner"),
          lookups=frozenset({"users"}), source="owner.username (written as owner.id)",
          note="by username; blank on create: the caller"),
    *_links(),
    Field("status", read=text("status"), source="status", note="changes through complete/reopen"),
    Field("createdOn", read=stamp("createdAt"), source="createdAt"),
    Field("updatedOn", read=stamp("updatedAt"), source="updatedAt"),
    Field("completedOn", read=stamp("completedAt"), source="completedAt"),
))


# --- lists ----------------------------------------------------------------------------------------

def list_status(raw: str | None) -> str:
    """v1 `status=` (OPEN, COMPLETED, PENDING; any case; comma-separated) -> v2 `status=` (T6)."""
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


def _list_needs(query: Mapping[str, str]) -> set[str]:
    wanted = set()
    if (query.get("user") or "").strip():
        wanted.add("users")
    if (query.get("category") or "").strip():
        wanted.add("categories")
    return wanted


def plan_tasks(query: Mapping[str, str], parent: tuple[str, int] | None, ctx: Context) -> ListPlan:
    """v2 has no per-parent or per-owner task list: the proxy scans `/tasks` and keeps the
    matches. Names filter by the rule writes use (T4): an unknown name (UnknownName) matches
    nothing, known at once from the cached list, without a scan."""
    status = list_status(query.get("status"))
    wanted: list[tuple[str, int]] = []
    for param, lookup, key, link in (("user", "users", "username", "owner"),
                                     ("category", "categories", "name", "category")):
        name = (query.get(param) or "").strip()
        if not name:
            continue
        found = ctx.index(lookup, key).find(name)
        if found is None:
            raise UnknownName(param, f"no {link} is named {name!r}", lookup)
        wanted.append((link, found))
    if parent is not None:
        wanted.append((PARENTS[parent[0]].link, parent[1]))
    keep = None
    if wanted:
        def keep(v2_task: Mapping[str, Any]) -> bool:
            for link, ident_ in wanted:
                linked = v2_data.record(v2_task, link)
                if not linked or linked.get("id") != ident_:
                    return False
            return True
    return ListPlan(TASK.v2.path, "tasks", params={"status": status}, keep=keep)


TASK = Resource(
    name="task", noun="task", shapes=(TASK_SHAPE,), list_root="tasks", v2=V2("tasks", "task"),
    location="/api/task/{id}", planner=plan_tasks, plan_needs=_list_needs,
    list_params=("start", "limit", "status", "user", "category"),
    routes=(
        route("GET", "/api/task/{id}", "show"),
        route("GET", "/api/tasks", "list"),
        route("GET", f"/api/{PARENT_PATTERN}/{{id}}/tasks", "list", parent="path"),
        route("POST", "/api/task", "create"),
        route("POST", f"/api/{PARENT_PATTERN}/{{id}}/task", "create", parent="link"),
        route("PUT", "/api/task/{id}", "update"),
        route("DELETE", "/api/task/{id}", "delete"),
        route("POST", "/api/task/{id}/complete", "action", body={"status": "COMPLETED"},
              doc="set the status to COMPLETED"),
        route("POST", "/api/task/{id}/reopen", "action", body={"status": "OPEN"},
              doc="set the status to OPEN"),
    ),
    doc="Tasks, on their own or linked to a party, opportunity or case.",
)
