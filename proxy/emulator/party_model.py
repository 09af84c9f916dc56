"""What a v2 party body may say, checked without touching the database.

A person has title, firstName, lastName, jobTitle, about and an organisation; an organisation
has name and about. Fields of the other type, and read-only ones, are ignored as v2 does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .body import parse_link, text_field
from .contact_model import ContactOp, parse_contacts
from .errors import ValidationFailed, field_error
from .subrecords import FieldOp, TagOp, parse_fields, parse_tags

TYPES = ("person", "organisation")
_COLUMNS = {"person": {"title": "title", "firstName": "first_name", "lastName": "last_name",
                       "jobTitle": "job_title", "about": "about"},
            "organisation": {"name": "name", "about": "about"}}


@dataclass
class PartyInput:
    kind: str
    columns: dict[str, Any] = field(default_factory=dict)
    # ("id", N), ("name", "X") or ("clear", None); None leaves the organisation as it is.
    organisation: tuple[str, Any] | None = None
    contacts: list[ContactOp] = field(default_factory=list)
    tags: list[TagOp] = field(default_factory=list)
    fields: list[FieldOp] = field(default_factory=list)
    # Shape problems; the store adds what it finds against the account and answers one 422.
    errors: list[dict[str, str]] = field(default_factory=list)


def parse_party(fields: dict[str, Any], kind: str | None, creating: bool) -> PartyInput:
    """Column changes, sub-record ops and the shape problems found.

    kind is the party's type for an update, None for a create (it comes from the body then).
    """
    errors: list[dict[str, str]] = []
    if creating:
        kind = fields.get("type")
        if kind not in TYPES:
            raise ValidationFailed([field_error("party", "type", "type must be person or organisation")])
    elif "type" in fields and fields["type"] != kind:
        errors.append(field_error("party", "type", f"type cannot be changed; this party is a {kind}"))
    assert kind is not None
    party = PartyInput(kind)
    for name, column in _COLUMNS[kind].items():
        if name in fields:
            party.columns[column] = text_field(fields, name, "party", errors)
    if kind == "person":
        if creating and not errors and not any((party.columns.get(c) or "").strip()
                                               for c in ("first_name", "last_name")):
            errors.append(field_error("party", "firstName", "a person needs a firstName or lastName"))
        if "organisation" in fields:
            party.organisation = _organisation(fields["organisation"], errors)
    elif creating or "name" in fields:
        if not (party.columns.get("name") or "").strip():
            errors.append(field_error("party", "name", "name is required"))   # one per field is kept
        else:
            party.columns["name"] = party.columns["name"].strip()
    if "owner" in fields:
        party.columns["owner_id"] = parse_link(fields, "owner", "party", errors)
    check_team(fields, "party", errors)
    party.contacts = parse_contacts(fields, "party", errors)
    if "tags" in fields:
        party.tags = parse_tags(fields, "party", errors)
    if "fields" in fields:
        party.fields = parse_fields(fields, "party", errors)
    party.errors = errors
    return party


def _organisation(value: Any, errors: list[dict[str, str]]) -> tuple[str, Any] | None:
    if value is None:
        return ("clear", None)
    if isinstance(value, dict):
        if "id" in value:
            link = parse_link({"organisation": value}, "organisation", "party", errors)
            return None if link is None else ("id", link)
        if isinstance(value.get("name"), str) and value["name"].strip():
            return ("name", value["name"].strip())
    errors.append(field_error("party", "organisation",
                              'organisation must be {"id": N}, {"name": "..."} or null'))
    return None


def check_team(fields: dict[str, Any], resource: str, errors: list[dict[str, str]]) -> None:
    """The emulator's account has no teams, so the only team a write can name is null."""
    if "team" in fields and fields["team"] is not None:
        team = fields["team"]
        ident = team.get("id") if isinstance(team, dict) else team
        errors.append(field_error(resource, "team", f"team {ident!r} does not exist"))
