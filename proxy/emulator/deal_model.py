"""What a v2 opportunity or kase body may say, checked without touching the database.

Both have a name, a description, a party, an owner, dates, tags and custom fields, and take
`tracks` on create. An opportunity adds a milestone, a value, probability and duration; a kase
adds a status and a link to an opportunity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .body import parse_link, text_field
from .errors import field_error
from .field_values import decimal_text
from .party_model import check_team
from .refdata import SITE_CURRENCY, currency_code
from .subrecords import FieldOp, TagOp, parse_fields, parse_tags, parse_tracks
from .task_model import parse_due_on

DURATION_BASES = ("FIXED", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
KASE_STATUSES = ("OPEN", "CLOSED")


@dataclass
class DealInput:
    columns: dict[str, Any] = field(default_factory=dict)
    milestone: tuple[str, Any] | None = None  # ("id", N) or ("name", "X"); opportunities only
    names_owner: bool = False
    names_team: bool = False
    tags: list[TagOp] = field(default_factory=list)
    fields: list[FieldOp] = field(default_factory=list)
    tracks: list[tuple[int, int]] = field(default_factory=list)
    # Shape problems; the store adds what it finds against the account and answers one 422.
    errors: list[dict[str, str]] = field(default_factory=list)


def _common(fields: dict[str, Any], resource: str, creating: bool, errors: list[dict[str, str]]) -> DealInput:
    deal = DealInput(names_owner="owner" in fields, names_team="team" in fields)
    if creating or "name" in fields:
        name = text_field(fields, "name", resource, errors, required=True, nullable=False)
        if name is not None:
            deal.columns["name"] = name
    if "description" in fields:
        deal.columns["description"] = text_field(fields, "description", resource, errors)
    if "party" not in fields:
        if creating:
            errors.append(field_error(resource, "party", "party is required"))
    else:
        deal.columns["party_id"] = parse_link(fields, "party", resource, errors, nullable=False)
    if "owner" in fields:
        deal.columns["owner_id"] = parse_link(fields, "owner", resource, errors)
    check_team(fields, resource, errors)
    for name, column in (("expectedCloseOn", "expected_close_on"), ("closedOn", "closed_on")):
        if name in fields:
            value = fields[name]
            deal.columns[column] = None if value is None else parse_due_on(value)
            if value is not None and deal.columns[column] is None:
                errors.append(field_error(resource, name, f"{name} must be a date as YYYY-MM-DD, got {value!r}"))
    if "tags" in fields:
        deal.tags = parse_tags(fields, resource, errors)
    if "fields" in fields:
        deal.fields = parse_fields(fields, resource, errors)
    # Capsule applies tracks on create only ("a convenient shortcut ... to new records").
    if creating and "tracks" in fields:
        deal.tracks = parse_tracks(fields, resource, errors)
    return deal


def parse_opportunity(fields: dict[str, Any], creating: bool) -> DealInput:
    errors: list[dict[str, str]] = []
    deal = _common(fields, "opportunity", creating, errors)
    if "owner" in fields and fields["owner"] is None:
        errors.append(field_error("opportunity", "owner", "an opportunity needs an owner or a team"))
    if "milestone" not in fields:
        if creating:
            errors.append(field_error("opportunity", "milestone", "milestone is required"))
    else:
        deal.milestone = _milestone(fields["milestone"], errors)
    if "value" in fields:
        deal.columns.update(_value(fields["value"], errors))
    if "probability" in fields:
        value = fields["probability"]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
            deal.columns["probability"] = value
        else:
            errors.append(field_error("opportunity", "probability",
                                      f"probability must be a whole number from 0 to 100, got {value!r}"))
    if "durationBasis" in fields:
        if fields["durationBasis"] in DURATION_BASES:
            deal.columns["duration_basis"] = fields["durationBasis"]
        else:
            errors.append(field_error("opportunity", "durationBasis", f"durationBasis must be one of "
                                      f"{', '.join(DURATION_BASES)}, got {fields['durationBasis']!r}"))
    if "duration" in fields:
        value = fields["duration"]
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31):
            deal.columns["duration"] = value
        else:
            errors.append(field_error("opportunity", "duration",
                                      f"duration must be a whole number of durationBasis units, got {value!r}"))
    deal.errors = errors
    return deal


def _milestone(value: Any, errors: list[dict[str, str]]) -> tuple[str, Any] | None:
    if isinstance(value, dict):
        if "id" in value:
            link = parse_link({"milestone": value}, "milestone", "opportunity", errors)
            return None if link is None else ("id", link)
        if isinstance(value.get("name"), str) and value["name"].strip():
            return ("name", value["name"].strip())
    errors.append(field_error("opportunity", "milestone", 'milestone must be {"id": N} or {"name": "..."}'))
    return None


def _value(value: Any, errors: list[dict[str, str]]) -> dict[str, Any]:
    """`{"amount", "currency"}`; the amount is kept as the exact decimal text that was sent."""
    if value is None:
        return {"value_amount": None, "value_currency": None}
    if not isinstance(value, dict):
        errors.append(field_error("opportunity", "value", 'value must be {"amount": N, "currency": "GBP"}'))
        return {}
    amount = decimal_text(value.get("amount")) if not isinstance(value.get("amount"), str) else None
    if amount is None:
        errors.append(field_error("opportunity", "value.amount",
                                  f"amount must be a number, got {value.get('amount')!r}"))
    elif amount.startswith("-"):
        errors.append(field_error("opportunity", "value.amount", "amount cannot be negative"))
    currency = value.get("currency")
    code = SITE_CURRENCY if currency is None else currency_code(currency) if isinstance(currency, str) else None
    if code is None:
        errors.append(field_error("opportunity", "value.currency",
                                  f"currency must be an ISO 4217 code from /api/v2/currencies, got {currency!r}"))
    return {"value_amount": amount, "value_currency": code}


def parse_kase(fields: dict[str, Any], creating: bool) -> DealInput:
    errors: list[dict[str, str]] = []
    deal = _common(fields, "kase", creating, errors)
    if "status" in fields:
        if fields["status"] in KASE_STATUSES:
            deal.columns["status"] = fields["status"]
        else:
            errors.append(field_error("kase", "status", f"status must be OPEN or CLOSED, got {fields['status']!r}"))
    if "opportunity" in fields:
        deal.columns["opportunity_id"] = parse_link(fields, "opportunity", "kase", errors)
    if fields.get("stage") is not None:  # the emulator has no boards, so no stages
        errors.append(field_error("kase", "stage", "stage does not exist"))
    deal.errors = errors
    return deal
