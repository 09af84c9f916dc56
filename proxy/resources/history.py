"""History: v1 ``<historyItem>`` <-> the v2 ``entry`` of a party, an opportunity or a case
(decisions HI1-HI6).

Rows say every element; three rules are written by hand: the subject (v1 wrote a truncated copy
of a note's text), the creator (v2 always records the caller) and the type of a new item (v2
creates notes only).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..translate import v2_data
from ..translate.dates import format_utc, parse_instant
from ..translate.fields import (Context, Field, Rule, Shape, blank, ident, nested_id, nested_text, stamp,
                                text, text_in)
from .base import PARENT_PATTERN, PARENTS, ListPlan, Resource, V2, route
from .task import read_party_name

#: v2 entry types as v1 named them. A completed task leaves a "task" entry: v1 clients see it as
#: `Task` (HI1).
TYPES = {"note": "Note", "email": "Email", "task": "Task"}

#: v1's subject of a note: its first 75 characters and "..." (mattbeedle's history.json, HI2).
SUBJECT_LENGTH = 75
_SPACE = re.compile(r"\s+")


def read_type(v2: Mapping[str, Any], ctx: Context) -> str | None:
    kind = v2_data.text(v2, "type")
    return TYPES.get(kind, kind.capitalize()) if kind else None


def subject_of(content: str | None) -> str | None:
    """A one-line summary of the text: whitespace runs as one space, cut at 75 characters."""
    if not content:
        return None
    line = _SPACE.sub(" ", content).strip()
    return line if len(line) <= SUBJECT_LENGTH else line[:SUBJECT_LENGTH] + "..."


def read_subject(v2: Mapping[str, Any], ctx: Context) -> str | None:
    """An email's own subject; for notes and tasks, derived from the text (HI2)."""
    return v2_data.text(v2, "subject") or subject_of(v2_data.text(v2, "content"))


def read_attachments(v2: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    rows = [{"id": v2_data.ident(item), "filename": v2_data.text(item, "filename"),
             "contentType": v2_data.text(item, "contentType")}
            for item in v2_data.records(v2.get("attachments") or [], "attachments")]
    return {"attachments": {"attachment": rows}} if rows else {}


def read_participants(v2: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    # v2 participants have no id; v1's participant id is left out.
    rows = [{"name": v2_data.text(item, "name"), "emailAddress": v2_data.text(item, "address"),
             "role": v2_data.text(item, "role")}
            for item in v2_data.records(v2.get("participants") or [], "participants")]
    return {"participants": {"participant": rows}} if rows else {}


def write_entry_date(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """An instant, sent as UTC; a day alone is midnight UTC (v1's date form). Blank: left out,
    since v2 cannot clear it (a create then takes now)."""
    value = v1.get("entryDate")
    if not isinstance(value, str) or blank(value):
        return {}
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII):
        value += "T00:00:00Z"
    return {"entryAt": format_utc(parse_instant(value, "entryDate"))}


def read_creator(v2: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    creator = v2_data.record(v2, "creator")
    if not creator:
        return {}
    return {"creator": v2_data.text(creator, "username"), "creatorName": v2_data.text(creator, "name")}


def write_creator(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """v2 records every entry as written by the caller and cannot change it afterwards (HI3): a
    create naming someone else is kept, as the caller, with a Warning; an update ignores it, so
    GET -> edit -> PUT works."""
    name = v1.get("creator")
    if not ctx.creating or not isinstance(name, str) or blank(name) or ctx.caller is None:
        return {}
    caller = v2_data.text(ctx.caller, "username") or ""
    if name.strip().casefold() != caller.casefold():
        ctx.warnings.append(f"creator {name.strip()!r} ignored: Capsule records a history item as "
                            f"written by the user whose token sent it ({caller})")
    return {}


def _creator_needs(v1: Mapping[str, Any], ctx: Context) -> set[str]:
    name = v1.get("creator")
    return {"caller"} if ctx.creating and isinstance(name, str) and not blank(name) else set()


def write_type(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    return {"type": "note"} if ctx.creating else {}


HISTORY_SHAPE = Shape("historyItem", (
    Field("id", read=ident(), source="id"),
    Field("type", read=read_type, source="type", note="note: Note, email: Email, task: Task (a completed task)"),
    Field("entryDate", read=stamp("entryAt"), write=write_entry_date, source="entryAt",
          note="UTC; a date alone is midnight; blank is left out"),
    Rule(("creator", "creatorName"), read=read_creator, write=write_creator, needs_fn=_creator_needs,
         source="creator.username, creator.name",
         note="always the caller: another creator on a create is ignored with a Warning"),
    Field("subject", read=read_subject, source="subject (emails); else the note's first 75 characters"),
    Field("note", read=text("content"), write=text_in("note", "content", blank_is="error"), required=True,
          source="content", note="sent as written; never empty"),
    Rule(("attachments",), read=read_attachments, source="attachments[] (id, filename, contentType)"),
    Rule(("participants",), read=read_participants, source="participants[] (name, address, role)"),
    Field("partyId", read=nested_id("party"), source="party.id"),
    Field("partyName", read=read_party_name, source="party: firstName lastName, or name"),
    Field("partyPictureURL", read=nested_text("party", "pictureURL"), source="party.pictureURL"),
    Field("opportunityId", read=nested_id("opportunity"), source="opportunity.id"),
    Field("opportunityName", read=nested_text("opportunity", "name"), source="opportunity.name"),
    Field("caseId", read=nested_id("kase"), source="kase.id"),
    Field("caseName", read=nested_text("kase", "name"), source="kase.name"),
    Rule((), write=write_type, always=True, source="type", note="a new history item is a note"),
))

#: v2 pages entries by 50 at most.
ENTRY_PAGE = 50


def plan_history(query: Mapping[str, str], parent: tuple[str, int] | None, ctx: Context) -> ListPlan:
    """A record's entries, newest first, as v2 lists them."""
    assert parent is not None, "history is listed per parent"
    kind = PARENTS[parent[0]]
    return ListPlan(f"/api/v2/{kind.collection}/{parent[1]}/entries", "entries", page_size=ENTRY_PAGE)


HISTORY = Resource(
    name="history", noun="history item", shapes=(HISTORY_SHAPE,), list_root="history",
    v2=V2("entries", "entry"), location="/api/history/{id}", planner=plan_history,
    routes=(
        route("GET", f"/api/{PARENT_PATTERN}/{{id}}/history", "list", parent="scoped"),
        route("POST", f"/api/{PARENT_PATTERN}/{{id}}/history", "create", parent="link"),
        route("GET", "/api/history/{id}", "show"),
        route("PUT", "/api/history/{id}", "update"),
        route("DELETE", "/api/history/{id}", "delete"),
        route("PUT", f"/api/{PARENT_PATTERN}/{{id}}/history/{{item}}", "update_in_parent",
              doc="update the item, after checking it belongs to that record"),
        route("DELETE", f"/api/{PARENT_PATTERN}/{{id}}/history/{{item}}", "delete_in_parent",
              doc="delete the item, after checking it belongs to that record"),
    ),
    doc="Notes, emails and completed tasks on a party, an opportunity or a case (v2 entries).",
)
