"""People and organisations: v1 ``<person>`` / ``<organisation>`` <-> the v2 ``party`` (decisions
PA1-PA6).

Two v1 roots share one v2 object, told apart by its ``type``. Rows say every element; two rules
are written by hand: the contacts (four v1 kinds grouped in ``<contacts>`` <-> four v2 arrays,
with add / update / ``delete="true"``) and the organisation link (``organisationId`` or
``organisationName``, which joins or creates the organisation of that name, as v2 does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..translate import v2_data
from ..translate.errors import InvalidField
from ..translate.fields import Context, Field, Rule, Shape, blank, ident, stamp, text, text_in
from .base import ListPlan, Resource, V2, route
from .query import filtered


# --- contacts --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContactKind:
    """One kind of contact: the v1 element in ``<contacts>``, the v2 array, and their fields
    ((v1, v2) pairs; ``read_only`` ones are answered but never sent)."""

    element: str
    array: str
    fields: tuple[tuple[str, str], ...]
    read_only: tuple[str, ...] = ()

    @cached_property
    def writable(self) -> tuple[tuple[str, str], ...]:
        return tuple(pair for pair in self.fields if pair[0] not in self.read_only)


#: Grouped in this order, as v1 wrote them. Types and services pass through both ways: v2 widened
#: them (Billing, Shipping, Direct, INSTAGRAM, PINTEREST), and v2 validates what it accepts (PA3).
CONTACT_KINDS = (
    ContactKind("address", "addresses", (("type", "type"), ("street", "street"), ("city", "city"),
                                         ("state", "state"), ("zip", "zip"), ("country", "country"))),
    ContactKind("email", "emailAddresses", (("type", "type"), ("emailAddress", "address"))),
    ContactKind("phone", "phoneNumbers", (("type", "type"), ("phoneNumber", "number"))),
    ContactKind("website", "websites", (("type", "type"), ("webAddress", "address"),
                                        ("webService", "service"), ("url", "url")), read_only=("url",)),
)


def read_contacts(v2: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """The four v2 arrays -> ``<contacts>``, always present (real v1 wrote ``<contacts/>``)."""
    contacts: dict[str, Any] = {}
    for kind in CONTACT_KINDS:
        items = v2.get(kind.array)
        if not items:
            continue
        rows = []
        for item in v2_data.records(items, kind.array):
            contact_id = v2_data.ident(item)
            row = {"id": contact_id} if contact_id else {}
            for v1_name, v2_name in kind.fields:
                value = item.get(v2_name)
                if value is not None:
                    if type(value) is not str:
                        value = v2_data.text(item, v2_name)     # raises: v2 sent no text
                    if value:
                        row[v1_name] = value
            rows.append(row)
        contacts[kind.element] = rows
    return {"contacts": contacts}


def write_contacts(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """A contact without an id is added, one with an id is updated (only the fields it holds),
    ``delete="true"`` removes it (PA2). An id that is not this party's is a 400 naming it."""
    contacts = v1.get("contacts")
    if not isinstance(contacts, dict):
        return {}
    known = _contact_ids(ctx.current) if ctx.current is not None else None
    body: dict[str, list[dict[str, Any]]] = {}
    for kind in CONTACT_KINDS:
        writable = kind.writable
        for index, row in enumerate(contacts.get(kind.element, ()), 1):
            contact_id = (row.get("id") or "").strip()
            if contact_id and known is not None and int(contact_id) not in known.get(kind.array, ()):
                raise InvalidField(kind.element, f"{kind.element} {index} in contacts: this party has no "
                                                 f"{kind.element} with id {contact_id}")
            if row.get("@delete") == "true":
                if not contact_id:
                    raise InvalidField(kind.element, f"{kind.element} {index} in contacts: delete=\"true\" "
                                                     "needs the contact's id")
                body.setdefault(kind.array, []).append(v2_data.removal(int(contact_id)))
                continue
            item: dict[str, Any] = {"id": int(contact_id)} if contact_id else {}
            for v1_name, v2_name in writable:
                if v1_name not in row:
                    continue
                value = row[v1_name]
                if blank(value):
                    if contact_id:
                        item[v2_name] = None          # an update clears that field
                    continue
                item[v2_name] = value.strip()
            if not contact_id and len(item) == 0:
                raise InvalidField(kind.element, f"{kind.element} {index} in contacts is empty: a new "
                                                 "contact needs a value")
            body.setdefault(kind.array, []).append(item)
    return body


def _contact_ids(party: Mapping[str, Any]) -> dict[str, set[int]]:
    return {kind.array: {item.get("id") for item in party.get(kind.array) or () if isinstance(item, dict)}
            for kind in CONTACT_KINDS}


def contact_array(party: Mapping[str, Any], contact_id: int) -> str | None:
    """Which v2 array of a party holds that contact id (DELETE .../contact/{id})."""
    held = _contact_ids(party)
    return next((kind.array for kind in CONTACT_KINDS if contact_id in held[kind.array]), None)


# --- the organisation link ------------------------------------------------------------------------

def read_organisation(v2: Mapping[str, Any], ctx: Context) -> dict[str, str | None]:
    organisation = v2_data.record(v2, "organisation")
    if not organisation:
        return {}
    return {"organisationId": v2_data.ident(organisation), "organisationName": v2_data.text(organisation, "name")}


def write_organisation(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """``organisationId`` links that organisation; else ``organisationName`` joins the one of that
    name or creates it (v2 does both; PA5). Both blank: the person leaves their organisation.
    The id wins when both are given, so a GET -> PUT round trip changes nothing."""
    by_id = (v1.get("organisationId") or "").strip()
    by_name = v1.get("organisationName")
    if by_id:
        return {"organisation": {"id": int(by_id)}}
    if isinstance(by_name, str) and not blank(by_name):
        return {"organisation": {"name": by_name.strip()}}
    return {"organisation": None}


# --- the root and its type -------------------------------------------------------------------------

def _type_rule(kind: str) -> Rule:
    """A create says which type it makes; an update of the other type is a 400 (PA4)."""
    other = "organisation" if kind == "person" else "person"

    def write(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        if ctx.creating:
            return {"type": kind}
        stored = v2_data.text(ctx.current, "type") if ctx.current is not None else kind
        if stored != kind:
            raise InvalidField(kind, f"party {v2_data.ident(ctx.current)} is {'an' if stored == 'organisation' else 'a'} "
                                     f"{stored}, not {'an' if kind == 'organisation' else 'a'} {kind}: "
                                     f"send <{stored}> to PUT /api/{stored}/{{id}}")
        return {}

    def needs(v1: Mapping[str, Any], ctx: Context) -> set[str]:
        return set() if ctx.creating or ctx.current is not None else {"current"}
    return Rule((), write=write, needs_fn=needs, always=True, source="type",
                note=f"the root says the type; a {kind} document for {'an' if other == 'organisation' else 'a'} "
                     f"{other} is a 400")


def _person_needs_a_name(v1: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """v2 refuses a person with neither name; say so in v1's words, before any call."""
    if ctx.creating and all(blank(v1.get(name) or "") for name in ("firstName", "lastName")):
        raise InvalidField("firstName", "a new person needs a firstName or a lastName")
    return {}


_COMMON_HEAD = (
    Field("id", read=ident(), source="id"),
    # No look-up: contact ids are checked against the stored party, which an update reads anyway (PA4).
    Rule(("contacts",), read=read_contacts, write=write_contacts,
         source="addresses, emailAddresses, phoneNumbers, websites",
         note="a contact without id is added, with id updated, delete=\"true\" removed"),
    Field("pictureURL", read=text("pictureURL"), source="pictureURL"),
)
_COMMON_TAIL = (
    Field("about", read=text("about"), write=text_in("about"), source="about", note="blank clears it"),
    Field("createdOn", read=stamp("createdAt"), source="createdAt"),
    Field("updatedOn", read=stamp("updatedAt"), source="updatedAt"),
    Field("lastContactedOn", read=stamp("lastContactedAt"), source="lastContactedAt"),
)

PERSON_SHAPE = Shape("person", (
    *_COMMON_HEAD,
    Field("title", read=text("title"), write=text_in("title"), source="title",
          note="passed through (v2 allows custom titles)"),
    Field("firstName", read=text("firstName"), write=text_in("firstName"), source="firstName"),
    Field("lastName", read=text("lastName"), write=text_in("lastName"), source="lastName"),
    Field("jobTitle", read=text("jobTitle"), write=text_in("jobTitle"), source="jobTitle"),
    Rule(("organisationId", "organisationName"), read=read_organisation, write=write_organisation,
         source="organisation.id, organisation.name",
         note="written by id, else by name (joins the organisation of that name, or creates it)"),
    *_COMMON_TAIL,
    _type_rule("person"),
    Rule((), write=_person_needs_a_name, always=True, source="firstName, lastName",
         note="a new person needs one of them"),
))

ORGANISATION_SHAPE = Shape("organisation", (
    *_COMMON_HEAD,
    Field("name", read=text("name"), write=text_in("name", blank_is="error"), required=True, source="name",
          note="required; v2 refuses a second organisation of the same name (PA6)"),
    *_COMMON_TAIL,
    _type_rule("organisation"),
))


def shape_for(v2: Mapping[str, Any]) -> Shape:
    return PERSON_SHAPE if v2.get("type") == "person" else ORGANISATION_SHAPE


# --- lists -----------------------------------------------------------------------------------------

def plan_parties(query: Mapping[str, str], parent: tuple[str, int] | None, ctx: Context) -> ListPlan:
    """v1's filters, "one of" (PA1): `q` -> `/parties/search`; `email`, `tag` -> v2 filters (both
    together: both conditions; `GET /api/person` adds `type is person`); `lastmodified` -> `since`.
    `q` with another is a 400."""
    given = {name: value.strip() for name, value in query.items()
             if name in ("q", "email", "tag", "lastmodified", "type") and value.strip()}
    if parent is not None:                    # /api/party/{id}/people
        return ListPlan(f"{PARTY.v2.path}/{parent[1]}/people", "parties")
    if "q" in given:
        others = sorted(set(given) - {"q"})
        if others:
            raise InvalidField(others[0], f"q searches on its own; it cannot be combined with {', '.join(others)}")
        return ListPlan(f"{PARTY.v2.path}/search", "parties", params={"q": given["q"]})
    return filtered(PARTY.v2.path, "parties", given, ("email", "tag", "type"))


#: v1 allowed two organisations of one name; v2 refuses the second (422 on `name`). Say so, and
#: never answer the existing one's id as if it had been created (PA6).
_DUPLICATE = {"name": "an organisation named {name!r} already exists in Capsule, which allows one "
                      "organisation per name (v1 allowed several): use that organisation's id, or another name"}

PARTY = Resource(
    name="party", noun="party", shapes=(PERSON_SHAPE, ORGANISATION_SHAPE), list_root="parties",
    v2=V2("parties", "party"), location="/api/party/{id}", shape_for=shape_for, planner=plan_parties,
    list_params=("start", "limit", "q", "email", "tag", "lastmodified"),
    routes=(
        route("GET", "/api/party/{id}", "show"),
        route("GET", "/api/person/{id}", "show"),              # BB and MC read these forms
        route("GET", "/api/organisation/{id}", "show"),
        route("GET", "/api/party", "list"),
        route("GET", "/api/person", "list", query={"type": "person"}),
        route("GET", "/api/organisation", "list", query={"type": "organisation"}),
        route("GET", "/api/party/{id}/people", "list", parent="scoped"),
        route("POST", "/api/person", "create", roots=("person",)),
        route("POST", "/api/organisation", "create", roots=("organisation",), rejected=_DUPLICATE),
        route("PUT", "/api/person/{id}", "update", roots=("person",)),
        route("PUT", "/api/organisation/{id}", "update", roots=("organisation",), rejected=_DUPLICATE),
        route("DELETE", "/api/party/{id}", "delete"),
        route("DELETE", "/api/person/{id}", "delete"),
        route("DELETE", "/api/organisation/{id}", "delete"),
        route("DELETE", "/api/party/{id}/contact/{item}", "remove_item", locate=contact_array, item_noun="contact",
              doc="remove the contact (v2: the party's PUT with _delete)",
              example={"contacts": {"phone": [{"phoneNumber": "+44 20 7946 0000"}]}}),
    ),
    doc="People and organisations, with their contacts.",
)
