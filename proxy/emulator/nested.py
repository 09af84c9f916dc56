"""The short nested forms v2 puts inside other records: a user, a party, a named record."""

from __future__ import annotations

from typing import Any

PERSON_PICTURE = "https://capsulecrm.com/theme/default/images/person_avatar_70.png"
ORGANISATION_PICTURE = "https://capsulecrm.com/theme/default/images/org_avatar_70.png"

# The columns nested_party_from reads, selected from a parties table aliased `p`.
PARTY_COLUMNS = ("p.type AS party_type, p.first_name AS party_first_name, "
                 "p.last_name AS party_last_name, p.name AS party_name")


def nested_user(user_id: int | None, username: str | None, name: str | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    initial = (name or username or "?")[:1].upper()
    return {"id": user_id, "deleted": False, "username": username,
            "pictureURL": f"https://facehub.appspot.com/default/person?text={initial}&size=100",
            "name": name}


def nested_party(party_id: int | None, kind: str | None, first: str | None, last: str | None,
                 name: str | None) -> dict[str, Any] | None:
    if party_id is None:
        return None
    if kind == "person":
        return {"id": party_id, "type": "person", "firstName": first, "lastName": last,
                "pictureURL": PERSON_PICTURE}
    return {"id": party_id, "type": "organisation", "name": name, "pictureURL": ORGANISATION_PICTURE}


def nested_party_from(row: Any, id_column: str = "party_id") -> dict[str, Any] | None:
    """The nested party of a row that selected PARTY_COLUMNS."""
    return nested_party(row[id_column], row["party_type"], row["party_first_name"],
                        row["party_last_name"], row["party_name"])


def nested_named(record_id: int | None, name: str | None) -> dict[str, Any] | None:
    """An opportunity, kase or milestone reference: `{"id", "name"}`."""
    return None if record_id is None else {"id": record_id, "name": name}
