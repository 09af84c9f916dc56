"""A party's contacts: email addresses, phone numbers, addresses and websites.

What each kind accepts on write and how it reads, shared by the API and the seed. A website's
`url` is derived from its service and address, as Capsule does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .body import is_id
from .errors import field_error
from .refdata import country_name

SERVICES = ("URL", "SKYPE", "TWITTER", "LINKED_IN", "FACEBOOK", "XING", "FEED", "GOOGLE_PLUS",
            "FLICKR", "GITHUB", "YOUTUBE", "INSTAGRAM", "PINTEREST")
# Services whose address is an account name (v2's Website model); the rest hold a URL.
_PROFILE_URLS = {"TWITTER": "https://twitter.com/{}", "GITHUB": "https://github.com/{}",
                 "YOUTUBE": "https://www.youtube.com/user/{}", "INSTAGRAM": "https://www.instagram.com/{}",
                 "PINTEREST": "https://www.pinterest.com/{}", "SKYPE": "skype:{}?call"}
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Kind:
    types: tuple[str, ...]
    fields: tuple[str, ...]  # the kind's text fields besides type
    required: tuple[str, ...]  # must be present and non-blank on a new item


KINDS = {
    "emailAddresses": Kind(("Home", "Work"), ("address",), ("address",)),
    "phoneNumbers": Kind(("Home", "Work", "Mobile", "Fax", "Direct"), ("number",), ("number",)),
    "addresses": Kind(("Home", "Office", "Postal", "Billing", "Shipping"),
                      ("street", "city", "state", "country", "zip"), ()),
    "websites": Kind(("Home", "Work"), ("service", "address"), ("service", "address")),
}


def website_url(service: str | None, address: str | None) -> str | None:
    if not address:
        return None
    account = address.strip()
    if service in _PROFILE_URLS:
        return _PROFILE_URLS[service].format(account.lstrip("@"))
    return account if _SCHEME.match(account) else f"http://{account}"


def contact_changes(kind: str, item: dict[str, Any], creating: bool
                    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Column changes for one item of a contact list, and (field, problem) pairs.

    Keys other than the kind's own (and id/_delete, handled by the caller) are ignored, as v2
    ignores read-only fields such as `url`.
    """
    spec = KINDS[kind]
    changes: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    if "type" in item:
        if item["type"] is not None and item["type"] not in spec.types:
            problems.append(("type", f"type must be one of {', '.join(spec.types)} (or null), "
                                     f"got {item['type']!r}"))
        changes["type"] = item["type"]
    for name in spec.fields:
        if name not in item:
            if creating and name in spec.required:
                problems.append((name, f"{name} is required"))
            continue
        value = item[name]
        if value is not None and not isinstance(value, str):
            problems.append((name, f"{name} must be a string"))
        elif name in spec.required and not (value or "").strip():
            problems.append((name, f"{name} cannot be blank"))
        elif name == "service" and value not in SERVICES:
            problems.append((name, f"service must be one of {', '.join(SERVICES)}, got {value!r}"))
        elif name == "country" and value is not None and value.strip():
            canonical = country_name(value)
            if canonical is None:
                problems.append((name, f"country {value!r} is not a country name from /api/v2/countries"))
            changes[name] = canonical
        else:
            changes[name] = value.strip() if isinstance(value, str) and name in spec.required else value
    if (creating and kind == "addresses" and not problems
            and not any((changes.get(name) or "").strip() for name in spec.fields)):
        problems.append(("street", "an address needs at least one of street, city, state, country, zip"))
    return changes, problems


def render_contact(kind: str, row: Any) -> dict[str, Any]:
    contact: dict[str, Any] = {"id": row["id"], "type": row["type"]}
    for name in KINDS[kind].fields:
        contact[name] = row[name]
    if kind == "websites":
        contact["url"] = row["url"]
    return contact


@dataclass(frozen=True)
class ContactOp:
    kind: str
    index: int
    action: str  # "add", "update" or "delete"
    contact_id: int | None
    changes: dict[str, Any]


def parse_contacts(fields: dict[str, Any], resource: str, errors: list[dict[str, str]]) -> list[ContactOp]:
    """The contact lists of a party write: no id adds, an id updates, `_delete: true` removes."""
    ops = []
    for kind in KINDS:
        if kind not in fields:
            continue
        items = fields[kind]
        if not isinstance(items, list):
            errors.append(field_error(resource, kind, f"{kind} must be an array"))
            continue
        for index, item in enumerate(items):
            where = f"{kind}[{index}]"
            if not isinstance(item, dict):
                errors.append(field_error(resource, where, f"{where} must be an object"))
                continue
            if "id" in item and not is_id(item["id"]):
                errors.append(field_error(resource, f"{where}.id", "id must be a contact id"))
                continue
            if item.get("_delete") is True:
                if "id" not in item:
                    errors.append(field_error(resource, f"{where}.id", "a contact to delete needs its id"))
                else:
                    ops.append(ContactOp(kind, index, "delete", item["id"], {}))
                continue
            creating = "id" not in item
            changes, problems = contact_changes(kind, item, creating)
            errors.extend(field_error(resource, f"{where}.{name}", message) for name, message in problems)
            ops.append(ContactOp(kind, index, "add" if creating else "update", item.get("id"), changes))
    return ops
